"""aiida-vasp 5.1's parser, with the one gap the search meets fixed in one place.

aiida-vasp reads the run status (finished, electronic and ionic convergence, NELM breaches) only from the OUTCAR,
although vasprun.xml holds all of it; a run whose OUTCAR is missing (lost, or not retrieved) then ends with exit
1002 instead of its real status. ``cryspai.vasp`` reads the status from vasprun.xml in that case, with the keys
aiida-vasp's VaspWorkChain handlers read, so that an unconverged relaxation is reported as such (exit 702) and
restarted from its last structure.
"""

from __future__ import annotations

import numpy as np
from aiida_vasp.parsers.vasp import VaspParser


def vasprun_run_status(handle) -> dict:
    """The OUTCAR-style ``run_status`` of a vasprun.xml (an open binary file)."""
    from parsevasp.vasprun import Xml

    xml = Xml(file_handler=handle)
    parameters = xml.get_parameters()
    energies = xml.get_energies("all", nosc=False)
    steps = np.atleast_1d(energies["electronic_steps"]) if energies else np.array([], dtype=int)
    nelm, nsw, finished = int(parameters["nelm"]), int(parameters["nsw"]), not xml.truncated
    return {
        "nelm": nelm,
        "nsw": nsw,
        "nbands": int(parameters["nbands"]),
        "last_iteration_index": [int(len(steps)), int(steps[-1]) if len(steps) else 0],
        "finished": finished,
        "electronic_converged": bool(len(steps) and steps[-1] < nelm and finished),
        "ionic_converged": None if nsw < 1 else bool(len(steps) < nsw and finished),
        "consistent_nelm_breach": bool(len(steps) and np.all(steps >= nelm)),
        "contains_nelm_breach": bool(np.any(steps >= nelm)),
    }


class CryspaiVaspParser(VaspParser):
    """``vasp.vasp`` parser; the run status from vasprun.xml where the OUTCAR gives none."""

    def _post_process_quantities(self):
        has_status = any(parsed.get("run_status") for parsed in self.quantities_each.values())
        if not has_status and "vasprun.xml" in self.retrieve_object_names:
            with self.retrieved.open("vasprun.xml", "rb") as handle:
                self.quantities_each.setdefault("vasprun.xml", {})["run_status"] = vasprun_run_status(handle)
        return super()._post_process_quantities()

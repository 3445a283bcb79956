"""``cryspai.abinit`` parser: aiida-abinit 0.5.0's ``AbinitParser`` for aiida-core 2.9 (see docs/engines.md).

- (d) ``TrajectoryData`` given the symbols as a list (a numpy array raised, so the calculation ended Excepted);
- node attributes read through ``node.base.attributes`` (``Node.get_attribute`` is gone from aiida-core 2);
- the stdout events, GSR and HIST files parsed with aiida-abinit's own methods otherwise.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from aiida import orm
from aiida.engine import ExitCode
from aiida_abinit.parsers import AbinitParser
from ase.units import Bohr, Hartree


class CryspaiAbinitParser(AbinitParser):
    """aiida-abinit's ``AbinitParser`` for aiida-core 2 (attributes) with a valid trajectory (defect d)."""

    def parse(self, **kwargs):
        try:
            retrieved = self.retrieved
        except Exception:  # noqa: BLE001 - aiida raises NotExistent
            return self.exit_codes.ERROR_NO_RETRIEVED_FOLDER
        parameters = self.node.inputs.parameters.get_dict()
        is_relaxation = parameters.get("ionmov", 0) != 0 or parameters.get("optcell", 0) != 0
        attributes = self.node.base.attributes
        prefix = attributes.get("prefix", "aiida")
        names = retrieved.base.repository.list_object_names()
        with TemporaryDirectory() as folder:
            retrieved.base.repository.copy_tree(folder)
            stdout = attributes.get("output_filename")
            if stdout not in names:
                return self.exit_codes.ERROR_OUTPUT_MISSING
            self._warnings: dict[str, int] = {}
            exit_code = self._parse_stdout(str(Path(folder) / stdout), error_on_warning=False, report_comments=False)
            for first_line, count in self._warnings.items():
                self.logger.warning(f"Abinit warning ({count}x): {first_line}")
            gsr_ok = f"{prefix}o_GSR.nc" in names
            hist_ok = f"{prefix}o_HIST.nc" in names
            if hist_ok:
                self._parse_trajectory(str(Path(folder) / f"{prefix}o_HIST.nc"))
            if exit_code is not None:
                return exit_code
            if not gsr_ok:
                return self.exit_codes.ERROR_MISSING_GSR_OUTPUT_FILE
            self._parse_gsr(str(Path(folder) / f"{prefix}o_GSR.nc"), is_relaxation)
            if is_relaxation and not hist_ok:
                return self.exit_codes.ERROR_MISSING_HIST_OUTPUT_FILE
            return self._ionic_convergence(Path(folder) / stdout, parameters, is_relaxation)

    def _report_message(self, level, message):
        """Abinit's warnings are collected (one log line per kind, with its count; the full text is in the
        retrieved log), errors are logged as they come."""
        if str(level).upper() == "WARNING":
            first_line = next((line.strip() for line in message.splitlines() if line.strip()), "")
            self._warnings[first_line] = self._warnings.get(first_line, 0) + 1
            return
        super()._report_message(level, message)

    def _ionic_convergence(self, stdout: Path, parameters: dict, is_relaxation: bool):
        """Exit 501 when a relaxation used all ``ntime`` steps without reaching ``tolmxf``; 500 for SCF."""
        text = stdout.read_text(errors="replace")
        if "ScfConvergenceWarning" in text and not is_relaxation:
            return self.exit_codes.ERROR_SCF_CONVERGENCE_NOT_REACHED
        if is_relaxation and "RelaxConvergenceWarning" in text:
            return self.exit_codes.ERROR_GEOMETRY_CONVERGENCE_NOT_REACHED
        return ExitCode(0)

    def _parse_trajectory(self, filepath):
        import netCDF4

        with netCDF4.Dataset(filepath, "r") as data:
            cells = np.asarray(data.variables["rprimd"][:]) * Bohr
            reduced = np.asarray(data.variables["xred"][:])
            energies = np.asarray(data.variables["etotal"][:]) * Hartree
            forces = np.asarray(data.variables["fcart"][:]) * Hartree / Bohr
            stress_voigt = np.asarray(data.variables["strten"][:]) * Hartree / Bohr**3
        structure = self.node.inputs.structure
        symbols = [site.kind_name for site in structure.sites]
        kinds = {kind.name: kind.symbol for kind in structure.kinds}
        positions = np.einsum("tij,tjk->tik", reduced, cells)
        stress = np.zeros((len(stress_voigt), 3, 3))
        for (i, j), column in zip([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)], range(6)):
            stress[:, i, j] = stress[:, j, i] = stress_voigt[:, column]
        trajectory = orm.TrajectoryData()
        trajectory.set_trajectory(symbols=[kinds[s] for s in symbols], positions=positions,
                                  stepids=np.arange(len(energies)), cells=cells, pbc=structure.pbc)
        trajectory.set_array("energy", energies)  # eV
        trajectory.set_array("forces", forces)  # eV/Angstrom
        trajectory.set_array("stress", stress)  # eV/Angstrom^3
        self.out("output_trajectory", trajectory)
        last = structure.clone()
        last.reset_cell(cells[-1].tolist())
        last.reset_sites_positions(positions[-1].tolist())
        self.out("output_structure", last)

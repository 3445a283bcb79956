"""The ``abinit`` engine: one ``cryspai.abinit.relax`` work chain (restarts on failure) per structure."""

from __future__ import annotations

import copy

import numpy as np
from ase.units import Bohr, GPa, Hartree

from ..protocols import get_protocol
from .base import PerStructureEngine
from .dft import calculation_options, check_settings, kpoints_mesh
from .pseudos import ABINIT_TABLES, DEBIAN_PSP_ROOT, psp8_valence, select_psp8_files

CELL_RELAXATIONS = {"fixed": 0, "full": 2, "shape": 3}  # Abinit's optcell


def abinit_protocol(name: str = "fast", overrides: dict | None = None) -> dict:
    """The Abinit relaxation settings of protocol ``name`` (``protocols/abinit.yaml``); ``parameters`` takes any
    Abinit input variable."""
    return get_protocol(name, overrides, filename="abinit.yaml", free_form=("parameters",))


SMEARED_OCCUPATIONS = (3, 4, 5, 6, 7, 8)  # Abinit's occopt with smearing


def bands_for_smearing(electrons: float) -> int:
    """Bands for a smeared occupation: 20 % above the occupied ones, and at least 4 more, so that the highest band
    stays nearly empty (Abinit warns when its occupation exceeds 0.01)."""
    occupied = int(np.ceil(electrons / 2.0))
    return max(occupied + 4, int(np.ceil(1.2 * occupied)))


class AbinitEngine(PerStructureEngine):
    """Abinit (Debian 9.6.2) through aiida-abinit's ``AbinitCalculation`` (``cryspai.abinit``), one
    ``cryspai.abinit.relax`` restart work chain per structure."""

    code_label = "abinit"
    process_entry_point = "cryspai.abinit.relax"

    def __init__(self, functional: str = "PBE"):
        self.functional = functional

    @property
    def name(self) -> str:
        return "abinit" if self.functional == "PBE" else f"abinit:{self.functional.lower()}"

    def __repr__(self) -> str:
        return f"AbinitEngine({self.functional!r})"

    def unsupported_elements(self, symbols: list[str]) -> list[str]:
        """The elements of ``symbols`` without a pseudopotential in Debian's table of the functional."""
        table = next(t for t in ABINIT_TABLES if t.functional == self.functional)
        available = select_psp8_files(DEBIAN_PSP_ROOT / table.folder)
        return sorted({s for s in symbols if s not in available})

    def default_parameters(self) -> dict:
        return {"dft_protocol": "fast", "abinit": {}}

    def tight_parameters(self, parameters: dict, fmax: float, max_steps: int) -> dict:
        """``tolmxf`` = ``fmax`` in Ha/bohr, ``ntime`` = ``max_steps``, and the full cell relaxed (optcell 2, with
        the protocol's ``ecutsm``) whatever the search's ``cell_relaxation``."""
        abinit = copy.deepcopy(parameters.get("abinit") or {})
        abinit["cell_relaxation"] = "full"
        abinit.setdefault("parameters", {}).update({"tolmxf": fmax / (Hartree / Bohr), "ntime": int(max_steps)})
        return {**parameters, "abinit": abinit}

    def with_pressure(self, parameters: dict, pressure_gpa: float) -> dict:
        """``strtarget`` = -P on the diagonal (Abinit's stress is negative under compression; Ha/bohr^3) and the
        full cell relaxed (optcell 2: the volume must follow the pressure) instead of the protocol's fixed-volume
        ``shape``; ``cell_relaxation: fixed`` (ions only) is refused."""
        if not pressure_gpa:
            return parameters
        if self.settings(parameters)["cell_relaxation"] == "fixed":
            raise ValueError(f"engine {self.name} relaxes the ions only (oracle.abinit.cell_relaxation fixed): it "
                             f"cannot apply a pressure of {pressure_gpa:g} GPa; use full")
        abinit = copy.deepcopy(parameters.get("abinit") or {})
        abinit["cell_relaxation"] = "full"
        stress = -float(pressure_gpa) * GPa / (Hartree / Bohr**3)
        abinit.setdefault("parameters", {})["strtarget"] = [stress] * 3 + [0.0] * 3
        return {**parameters, "abinit": abinit}

    def settings(self, parameters: dict) -> dict:
        """The Abinit protocol of ``parameters['dft_protocol']`` with ``parameters['abinit']`` merged in, checked:
        raises ProtocolError (unknown key) or ValueError (bad value)."""
        settings = abinit_protocol(parameters.get("dft_protocol") or "fast", dict(parameters.get("abinit") or {}))
        return check_settings(settings, "abinit", CELL_RELAXATIONS)

    def pseudopotentials(self, settings: dict, symbols: list[str]) -> dict:
        """Element -> pseudopotential of the family; raises PseudoError naming the missing elements."""
        from .pseudos import pseudos_for

        return pseudos_for(settings["pseudo_family"], symbols)

    @staticmethod
    def relaxation_outputs(node):
        """(relaxed structure, the node the frames are read from) of a finished work chain, or None."""
        if node.is_finished_ok and "output_trajectory" in node.outputs and "output_structure" in node.outputs:
            return node.outputs.output_structure, node.outputs.output_trajectory
        return None

    def structure_inputs(self, structure, parameters: dict, code, options: dict) -> dict:
        """Inputs of ``cryspai.abinit.relax`` for one structure (a StructureData).

        ``parameters``: ``dft_protocol`` (fast, moderate, precise) and ``abinit`` (overrides of that protocol's
        values); the search's own oracle settings (``fmax``, ``relax_cell``, ...) are for the ase engines only.
        """
        from aiida import orm

        settings = self.settings(parameters)
        natoms = len(structure.sites)
        abinit = dict(settings["parameters"])
        abinit["toldfe"] = settings["energy_tolerance_ev_per_atom"] * natoms / Hartree
        relaxation = settings["cell_relaxation"]
        abinit["optcell"] = CELL_RELAXATIONS[relaxation]
        if relaxation != "fixed":
            abinit.setdefault("dilatmx", 1.15)
        kpoints = orm.KpointsData()
        kpoints.set_kpoints_mesh(kpoints_mesh(np.array(structure.cell), settings["kpoints_distance"]))
        kinds = {kind.name: kind.symbol for kind in structure.kinds}
        symbols = sorted(set(kinds.values()))
        pseudos = self.pseudopotentials(settings, symbols)
        if int(abinit.get("occopt", 1)) in SMEARED_OCCUPATIONS and "nband" not in abinit:
            valence = {s: psp8_valence(pseudos[s].get_content()) for s in symbols}
            electrons = sum(valence[kinds[site.kind_name]] for site in structure.sites)
            abinit["nband"] = bands_for_smearing(electrons)
        calc_options = calculation_options(options)
        return {
            "abinit": {
                "code": code,
                "structure": structure,
                "kpoints": kpoints,
                "parameters": orm.Dict(abinit),
                "pseudos": {name: pseudos[symbol] for name, symbol in kinds.items()},
                "metadata": {"options": calc_options},
            },
            "max_iterations": orm.Int(int(settings["max_restarts"]) + 1),
        }

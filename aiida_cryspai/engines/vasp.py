"""The ``vasp`` engine: one aiida-vasp ``VaspWorkChain`` (``vasp.vasp``, its own restart handlers) per structure.

VASP needs a licence and a POTCAR family uploaded with aiida-vasp (``verdi data vasp-potcar uploadfamily``); the
settings are ``protocols/vasp.yaml`` (``precise`` = the paper's INCAR). The frames of a relaxation are read from
its ``vasprun.xml`` with ASE (one frame per ionic step, energy = the free energy F, consistent with the forces).
"""

from __future__ import annotations

import copy

import numpy as np

from ..protocols import get_protocol
from .base import PerStructureEngine
from .dft import calculation_options, check_settings, kpoints_mesh
from .pseudos import PseudoError

CELL_RELAXATIONS = {"fixed": 2, "full": 3, "shape": 4}  # VASP's ISIF


def vasp_protocol(name: str = "fast", overrides: dict | None = None) -> dict:
    """The VASP relaxation settings of protocol ``name`` (``protocols/vasp.yaml``); ``parameters`` takes any INCAR
    tag and ``potential_mapping`` any element."""
    return get_protocol(name, overrides, filename="vasp.yaml", free_form=("parameters", "potential_mapping"))


class VaspEngine(PerStructureEngine):
    """VASP through aiida-vasp's ``VaspCalculation``, one ``VaspWorkChain`` per structure."""

    name = "vasp"
    code_label = "vasp"
    process_entry_point = "vasp.vasp"

    def unsupported_elements(self, symbols: list[str]) -> list[str]:
        """Known only against the POTCAR family in the profile: checked by :meth:`pseudopotentials`."""
        return []

    def default_parameters(self) -> dict:
        return {"dft_protocol": "fast", "vasp": {}}

    def tight_parameters(self, parameters: dict, fmax: float, max_steps: int) -> dict:
        """``EDIFFG`` = -``fmax`` (a force criterion), ``NSW`` = ``max_steps``, and the full cell relaxed (ISIF 3)
        whatever the search's ``cell_relaxation``."""
        vasp = copy.deepcopy(parameters.get("vasp") or {})
        vasp["cell_relaxation"] = "full"
        tags = {k: v for k, v in (vasp.get("parameters") or {}).items() if k.lower() not in ("ediffg", "nsw", "isif")}
        vasp["parameters"] = {**tags, "ediffg": -float(fmax), "nsw": int(max_steps)}
        return {**parameters, "vasp": vasp}

    def with_pressure(self, parameters: dict, pressure_gpa: float) -> dict:
        """``PSTRESS`` = 10 x P (kBar, positive under compression) and the full cell relaxed (ISIF 3) instead of
        the protocol's fixed-volume ``shape``; ``cell_relaxation: fixed`` or an ``ISIF`` below 3 is refused."""
        if not pressure_gpa:
            return parameters
        settings = self.settings(parameters)
        isif = {k.lower(): v for k, v in settings["parameters"].items()}.get("isif")
        if settings["cell_relaxation"] == "fixed" or (isif is not None and int(isif) < 3):
            raise ValueError(f"engine {self.name} keeps the cell fixed (oracle.vasp.cell_relaxation fixed or ISIF "
                             f"< 3): it cannot apply a pressure of {pressure_gpa:g} GPa; use full")
        vasp = copy.deepcopy(parameters.get("vasp") or {})
        vasp["cell_relaxation"] = "full"
        tags = {k: v for k, v in (vasp.get("parameters") or {}).items() if k.lower() not in ("pstress", "isif")}
        vasp["parameters"] = {**tags, "isif": 3, "pstress": 10.0 * float(pressure_gpa)}
        return {**parameters, "vasp": vasp}

    def settings(self, parameters: dict) -> dict:
        """The VASP protocol of ``parameters['dft_protocol']`` with ``parameters['vasp']`` merged in, checked:
        raises ProtocolError (unknown key) or ValueError (bad value)."""
        settings = vasp_protocol(parameters.get("dft_protocol") or "fast", dict(parameters.get("vasp") or {}))
        check_settings(settings, "vasp", CELL_RELAXATIONS)
        if not settings["potential_family"]:
            raise ValueError("oracle.vasp.potential_family must name an aiida-vasp POTCAR family")
        return settings

    def incar(self, settings: dict) -> dict:
        """The INCAR tags (lower case) of ``settings``: the protocol's, with ISIF from ``cell_relaxation``."""
        tags = {key.lower(): value for key, value in settings["parameters"].items()}
        tags.setdefault("isif", CELL_RELAXATIONS[settings["cell_relaxation"]])
        return tags

    def potential_mapping(self, settings: dict, symbols: list[str]) -> dict[str, str]:
        return {symbol: settings["potential_mapping"].get(symbol, symbol) for symbol in sorted(set(symbols))}

    def pseudopotentials(self, settings: dict, symbols: list[str]) -> dict:
        """Element -> PotcarData of the family; raises PseudoError naming the family and the missing elements."""
        from aiida.common.exceptions import NotExistent
        from aiida_vasp.data.potcar import PotcarData

        family = settings["potential_family"]
        if PotcarData.get_potcar_group(family) is None:
            raise PseudoError(f"no POTCAR family {family!r} in this profile: upload one with `verdi data "
                              f"vasp-potcar uploadfamily --path ... --name {family}` (aiida-vasp)")
        mapping = self.potential_mapping(settings, symbols)
        found, missing = {}, []
        for symbol, name in mapping.items():
            try:
                found[symbol] = PotcarData.get_potcars_dict([symbol], family, mapping={symbol: name})[symbol]
            except NotExistent:
                missing.append(f"{symbol} ({name})")
        if missing:
            raise PseudoError(f"POTCAR family {family!r} has no POTCAR for {', '.join(missing)}")
        return found

    def kpoints(self, structure, settings: dict):
        """Gamma-centred mesh of VASP's KSPACING = ``kpoints_distance`` (written to KPOINTS)."""
        from aiida import orm

        kpoints = orm.KpointsData()
        kpoints.set_cell_from_structure(structure)
        kpoints.set_kpoints_mesh(kpoints_mesh(np.array(structure.cell), settings["kpoints_distance"]),
                                 offset=[0.0, 0.0, 0.0])
        return kpoints

    def calculation_options(self, options: dict) -> dict:
        """``metadata.options`` of every VaspCalculation: serial unless ``options`` asks for MPI."""
        calc_options = calculation_options(options, mpiprocs=int(options.get("mpiprocs", 1)))
        calc_options["withmpi"] = bool(options.get("withmpi", False))
        calc_options["parser_name"] = "cryspai.vasp"  # aiida-vasp's parser, run status also from vasprun.xml
        return calc_options

    @staticmethod
    def parser_settings() -> dict:
        """Only vasprun.xml is needed (status, structures, energies, forces and stress of every ionic step; OUTCAR
        adds timings): a run without an OUTCAR is still parsed, and a truncated one ends with an exit code, not an
        exception."""
        return {"parser_settings": {"check_completeness": False, "critical_objects": ["vasprun.xml"],
                                    "required_quantity": ["run_status"]}}

    def calculation_inputs(self, structure, parameters: dict, code, options: dict) -> dict:
        """Inputs of one ``vasp.vasp`` VaspCalculation (what the work chain runs), e.g. for a dry run."""
        from aiida import orm

        settings = self.settings(parameters)
        symbols = [kind.symbol for kind in structure.kinds]
        potentials = self.pseudopotentials(settings, symbols)
        return {
            "code": code,
            "structure": structure,
            "kpoints": self.kpoints(structure, settings),
            "parameters": orm.Dict(self.incar(settings)),
            "potential": {kind.name: potentials[kind.symbol] for kind in structure.kinds},
            "settings": orm.Dict(self.parser_settings()),
            "metadata": {"options": self.calculation_options(options)},
        }

    def structure_inputs(self, structure, parameters: dict, code, options: dict) -> dict:
        """Inputs of aiida-vasp's ``VaspWorkChain`` for one structure (a StructureData)."""
        from aiida import orm

        settings = self.settings(parameters)
        symbols = [kind.symbol for kind in structure.kinds]
        self.pseudopotentials(settings, symbols)
        mapping = self.potential_mapping(settings, symbols)
        return {
            "code": code,
            "structure": structure,
            "kpoints": self.kpoints(structure, settings),
            "parameters": orm.Dict({"incar": self.incar(settings)}),
            "potential_family": orm.Str(settings["potential_family"]),
            "potential_mapping": orm.Dict({kind.name: mapping[kind.symbol] for kind in structure.kinds}),
            "settings": orm.Dict(self.parser_settings()),
            "max_iterations": orm.Int(int(settings["max_restarts"]) + 1),
            "calc": {"metadata": {"options": self.calculation_options(options)}},
        }

    @staticmethod
    def relaxation_outputs(node):
        """(relaxed structure, the node the frames are read from) of a finished work chain, or None."""
        if node.is_finished_ok and "structure" in node.outputs and "retrieved" in node.outputs:
            return node.outputs.structure, node.outputs.retrieved
        return None

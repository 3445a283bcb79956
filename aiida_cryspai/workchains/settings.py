"""The settings the work chains hand to their relaxations, assembled in one place from the search parameters."""

from __future__ import annotations

from aiida.common import AttributeDict

from ..engines import get_engine
from ..search.budget import OracleBudget
from ..search.composition import parse_composition
from ..search.geometry import min_volume_per_atom
from ..search.objective import Objective


class SearchSettings:
    """What a search work chain (one composition's ``cryspai.main``, a system's ``cryspai.system``) reads from its
    inputs and context: its parameters, the objective of every ranking, the oracle budget."""

    @property
    def parameters(self) -> AttributeDict:
        return AttributeDict(self.inputs.parameters.get_dict())

    @property
    def objective(self) -> Objective:
        """What every ranking minimises: the energy per atom, or the enthalpy per atom under pressure."""
        return Objective(pressure_gpa=self.inputs.pressure.value)

    @property
    def budget(self) -> OracleBudget:
        """The oracle budget (``search/budget.py``); ``ctx.oracle_calls`` is what has been spent."""
        return OracleBudget(**self.ctx.budget)


def calcjob_options(options: dict | None, threads: int = 1) -> dict:
    """``metadata.options`` of a search's CalcJob: ``threads`` for its script, then the user's ``options``."""
    return {"threads": threads, **(options or {})}


def dft_settings(parameters: dict, protocol: str) -> dict:
    """The DFT engine's protocol name and overrides (``oracle.abinit``, ``oracle.vasp``) from the search
    parameters."""
    oracle = parameters["oracle"]
    return {"dft_protocol": oracle.get("dft_protocol") or protocol,
            **{key: oracle.get(key) or {} for key in ("abinit", "vasp")}}


def pseudopotentials(engine_name: str, parameters: dict, protocol: str, composition: str) -> dict:
    """Element -> pseudopotential of the DFT engine (``volume_radii: pseudopotentials``)."""
    engine = get_engine(engine_name)
    try:
        return engine.pseudopotentials(engine.settings(dft_settings(parameters, protocol)),
                                       parse_composition(composition).symbols)
    except ValueError as error:
        raise ValueError(f"volume_radii pseudopotentials needs a DFT engine: {error}") from None


def guard_settings(parameters: dict, composition: str, volume: float, length_scale: float = 1.0) -> dict:
    """The guards of every relaxation of a search at the cell volume ``volume``: the cell's volume range, the
    shortest contacts (bond lengths x ``length_scale`` under pressure), the energy margin and the repulsion."""
    symbols = parse_composition(composition).expanded()
    low, high = parameters["guard_volume_range"]
    per_atom = volume / len(symbols)
    guards = parameters["guards"]
    return {"min_volume_per_atom": max(low * per_atom, min_volume_per_atom(symbols)),
            "max_volume_per_atom": high * per_atom, "length_scale": length_scale,
            "contact_factor": guards["contact_factor"], "energy_margin": guards["energy_margin"],
            "repulsion": guards["repulsion"]}


def relaxation_parameters(engine, parameters: dict, protocol: str, guards: dict, pressure_gpa: float,
                          only: tuple[str, ...] | None = None, tight: bool = False) -> dict:
    """The parameters of ``engine``'s relaxations in a search: its defaults, the search's ``oracle`` settings (only
    the keys ``only`` for another engine than the oracle: the prior's screening), the DFT protocol, the guards, the
    refinement's thresholds when ``tight``, under the pressure."""
    relaxation = engine.default_parameters()
    relaxation.update({k: v for k, v in parameters["oracle"].items() if only is None or k in only})
    if only is None:
        relaxation["dft_protocol"] = relaxation.get("dft_protocol") or protocol
    relaxation["guards"] = {**relaxation.get("guards", {}), **guards}
    if tight:
        refine = parameters["refine"]
        relaxation = engine.tight_parameters(relaxation, refine["fmax"], refine["max_steps"])
    return engine.with_pressure(relaxation, pressure_gpa)

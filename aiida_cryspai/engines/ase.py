"""The ``ase:<calculator>`` engines: ``cryspai.relax`` with a calculator of the registry in ``ml/potentials.py``."""

from __future__ import annotations

from ..ml.potentials import CALCULATORS, CalculatorSpec
from ..ml.repulsion import DEFAULT_STRENGTH as REPULSION_STRENGTH
from ..protocols.schema import OracleParameters
from .base import BatchEngine


class AseEngine(BatchEngine):
    """A batch engine relaxing with the registry's calculator ``calculator`` (``emt``, ``chgnet``)."""

    def __init__(self, calculator: str):
        self.calculator = calculator

    @property
    def spec(self) -> CalculatorSpec:
        return CALCULATORS[self.calculator]

    @property
    def name(self) -> str:
        return f"ase:{self.calculator}"

    def __repr__(self) -> str:
        return f"AseEngine({self.calculator!r})"

    @property
    def default_prior(self) -> str | None:
        return self.spec.default_prior

    def unsupported_elements(self, symbols: list[str]) -> list[str]:
        return self.spec.unsupported_elements(symbols)

    def default_parameters(self) -> dict:
        defaults = OracleParameters()
        return {
            "fmax": defaults.fmax,
            "max_steps": defaults.max_steps,
            "relax_cell": defaults.relax_cell,
            # the short-range repulsion (zero beyond the contact floor) keeps relaxations out of the holes of
            # universal potentials (ml/repulsion.py); 0 switches it off
            "guards": {**self.spec.energy_bounds(), "max_seconds": 900.0, "repulsion": REPULSION_STRENGTH},
        }

    def tight_parameters(self, parameters: dict, fmax: float, max_steps: int) -> dict:
        """The cell's generalised forces (stress x volume / atoms, FrechetCellFilter) meet ``fmax`` too."""
        return {**parameters, "fmax": fmax, "max_steps": max_steps, "relax_cell": True}

    def with_pressure(self, parameters: dict, pressure_gpa: float) -> dict:
        """ASE's ``FrechetCellFilter`` with ``scalar_pressure``: the cell must relax (``oracle.relax_cell``)."""
        if not pressure_gpa:
            return {**parameters, "pressure_gpa": 0.0}
        if not parameters.get("relax_cell", True):
            raise ValueError(f"engine {self.name} keeps the cell fixed (oracle.relax_cell false): it cannot apply "
                             f"a pressure of {pressure_gpa:g} GPa; set oracle.relax_cell true")
        return {**parameters, "pressure_gpa": float(pressure_gpa)}

    def get_inputs(self, structures: dict, parameters: dict, code, options: dict) -> dict:
        """Inputs of one batch relaxation of ``structures`` (key -> StructureData)."""
        from aiida.orm import Dict

        return {
            "code": code,
            "structures": structures,
            "parameters": Dict({"calculator": self.calculator, **parameters}),
            "metadata": {"options": dict(options)},
        }

"""The ``ase`` engine: ``cryspai.relax`` with an ASE calculator (EMT, CHGNet)."""

from __future__ import annotations

from dataclasses import dataclass

# energies per atom above this are unphysical for engines whose zero is the free atoms
_MAX_ENERGY_PER_ATOM = {"chgnet": 0.0, "emt": None}
# ASE's EMT has parameters for these elements only; CHGNet was trained on elements up to Pu
_ELEMENTS = {"emt": ("H", "C", "N", "O", "Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au"), "chgnet": None}


@dataclass
class AseEngine:
    calculator: str

    code_label = "cryspai-relax"
    process_entry_point = "cryspai.relax"
    per_structure = False

    @property
    def name(self) -> str:
        return f"ase:{self.calculator}"

    def unsupported_elements(self, symbols: list[str]) -> list[str]:
        """The elements of ``symbols`` this engine cannot compute."""
        from ase.data import atomic_numbers

        known = _ELEMENTS[self.calculator]
        if known is None:
            return [s for s in symbols if atomic_numbers[s] > 94]
        return [s for s in symbols if s not in known]

    def default_parameters(self) -> dict:
        return {
            "fmax": 0.05,
            "max_steps": 300,
            "relax_cell": True,
            "guards": {"max_energy_per_atom": _MAX_ENERGY_PER_ATOM[self.calculator], "max_seconds": 900.0},
        }

    def get_inputs(self, structures: dict, parameters: dict, code, options: dict) -> dict:
        """Inputs of one batch relaxation of ``structures`` (key -> StructureData)."""
        from aiida.orm import Dict

        return {
            "code": code,
            "structures": structures,
            "parameters": Dict({"calculator": self.calculator, **parameters}),
            "metadata": {"options": dict(options)},
        }

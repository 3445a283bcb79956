"""The one quantity every ranking of the search minimises (GA selection, recommendation, results, dedup ties).

Today the energy per atom E/N; under an external pressure P the enthalpy per atom (E + PV)/N. The network and
the oracle give energies; the objective is formed from an energy and a volume wherever a ranking is made, so PV
is exact and no model ever learns it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ase import Atoms
from ase.units import GPa


@dataclass(frozen=True)
class Objective:
    """Energy per atom, or enthalpy per atom at ``pressure_gpa`` (eV/atom either way)."""

    pressure_gpa: float = 0.0

    @property
    def name(self) -> str:
        """The key the value has in the results: ``energy_per_atom`` or ``enthalpy_per_atom``."""
        return "enthalpy_per_atom" if self.pressure_gpa else "energy_per_atom"

    @property
    def pressure(self) -> float:
        """The pressure in eV/Å^3."""
        return self.pressure_gpa * GPa

    def per_atom(self, energy: float, volume: float, n_atoms: int) -> float:
        """The objective of a cell of ``n_atoms`` with total ``energy`` (eV) and ``volume`` (Å^3)."""
        return (float(energy) + self.pressure * float(volume)) / n_atoms

    def of_atoms(self, atoms: Atoms, energy: float) -> float:
        """The objective of ``atoms`` whose total energy is ``energy`` (eV)."""
        return self.per_atom(energy, atoms.get_volume(), len(atoms))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> Objective:
        return cls(**(values or {}))

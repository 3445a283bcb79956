"""A short-range pair repulsion added to a potential while it relaxes, so that relaxations do not fall into its
holes (``search/plausibility.py``).

E = sum over pairs closer than r_c of ``strength`` x (1 - d / r_c)^3, with r_c = ``factor`` x the sum of the
covalent radii (x ``length_scale`` under pressure). It is exactly zero beyond r_c, and r_c is the contact floor
below which no relaxed structure is accepted anyway: a sane structure's energies, forces and stresses are the
potential's own, to the last digit. Energy and force go smoothly to zero at r_c (the cube).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from ..analysis.neighbours import neighbour_pairs
from ..protocols.schema import GuardParameters
from ..search.plausibility import CONTACT_FACTOR

# eV per pair at d = 0 (the parameter schema's default: 10 eV/Å of push at 0.8 r_c for Al-O, r_c 1.22 Å)
DEFAULT_STRENGTH = GuardParameters().repulsion


@dataclass(frozen=True)
class ShortRangeRepulsion:
    """The pair term; ``strength`` in eV."""

    strength: float = DEFAULT_STRENGTH
    factor: float = CONTACT_FACTOR
    length_scale: float = 1.0

    def __call__(self, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
        """Energy (eV), forces (eV/Å) and stress (3x3, eV/Å^3, ASE's sign) of the term on ``atoms``."""
        numbers = atoms.get_atomic_numbers()
        scale = self.factor * self.length_scale
        cutoff = 2.0 * float(max(covalent_radii[numbers])) * scale
        forces = np.zeros((len(atoms), 3))
        stress = np.zeros((3, 3))
        i, j, d, vectors = neighbour_pairs("ijdD", atoms, cutoff)  # every pair twice, vectors from i to j
        r_c = scale * (covalent_radii[numbers[i]] + covalent_radii[numbers[j]])
        inside = d < r_c
        if not inside.any():
            return 0.0, forces, stress
        i, d, vectors, r_c = i[inside], d[inside], vectors[inside], r_c[inside]
        gap = 1.0 - d / r_c
        energy = 0.5 * float(np.sum(self.strength * gap**3))
        slope = -3.0 * self.strength * gap**2 / r_c  # dE_pair/dd
        along = (slope / d)[:, None] * vectors
        np.add.at(forces, i, along)
        volume = atoms.get_volume() if atoms.pbc.all() else None
        if volume:
            stress = 0.5 * np.einsum("pa,pb->ab", along, vectors) / volume
        return energy, forces, stress


def with_repulsion(evaluate, repulsion: ShortRangeRepulsion):
    """A batch evaluator that returns ``evaluate``'s results plus ``repulsion``'s, and for each structure the
    repulsion energy alone (so that frames can be kept only where it is zero)."""

    def evaluate_with(structures: list[Atoms]) -> list[tuple[float, np.ndarray, np.ndarray | None, float]]:
        out = []
        for atoms, (energy, forces, stress) in zip(structures, evaluate(structures)):
            extra, extra_forces, extra_stress = repulsion(atoms)
            if extra:
                energy, forces = energy + extra, forces + extra_forces
                stress = None if stress is None else stress + extra_stress
            out.append((energy, forces, stress, extra))
        return out

    return evaluate_with

"""Geometric sanity of a cell: shortest distances against covalent radii, volume per atom."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from ..analysis.neighbours import neighbour_pairs

MIN_DISTANCE_FACTOR = 0.6


def shortest_distance_ratio(atoms: Atoms) -> float:
    """Smallest d_ij / (r_i + r_j) over all pairs (covalent radii); ``inf`` for a lone atom."""
    numbers = atoms.get_atomic_numbers()
    cutoff = 2.0 * float(max(covalent_radii[numbers]))
    i, j, d = neighbour_pairs("ijd", atoms, cutoff)
    if len(d) == 0:
        return float("inf")
    return float(np.min(d / (covalent_radii[numbers[i]] + covalent_radii[numbers[j]])))


def distances_are_sane(atoms: Atoms, factor: float = MIN_DISTANCE_FACTOR) -> bool:
    """True when no two atoms are closer than ``factor`` times the sum of their covalent radii."""
    return shortest_distance_ratio(atoms) >= factor

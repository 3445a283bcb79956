"""A cheap structure fingerprint (Oganov & Valle, J. Chem. Phys. 130, 104504 (2009)) that rules out duplicates
before pymatgen's StructureMatcher is asked.

For each pair of species (A, B) the fingerprint is the radial distribution of B around A, smeared by Gaussians,
divided by the ideal-gas density (so it tends to 0 at large distances) and minus 1. Distances are in units of
(V/N)^(1/3), so the fingerprint ignores the cell's scale as StructureMatcher does with ``scale=True``, and it is
the same for a cell and any supercell of it. Two structures whose fingerprints are far apart in cosine distance
are certainly different; close ones go to StructureMatcher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from .neighbours import neighbour_pairs


@dataclass(frozen=True)
class FingerprintSettings:
    cutoff: float = 3.0  # in units of (V/N)^(1/3)
    bin_width: float = 0.02
    smearing: float = 0.08  # Gaussian sigma, same units


Fingerprint = dict[tuple[int, int], np.ndarray]


def fingerprint(atoms: Atoms, settings: FingerprintSettings = FingerprintSettings()) -> Fingerprint:
    """The pair-resolved fingerprint: ``{(Z_A, Z_B): F_AB on the distance grid}``."""
    n_atoms = len(atoms)
    volume = atoms.get_volume()
    length = (volume / n_atoms) ** (1.0 / 3.0)
    grid = np.arange(settings.bin_width / 2, settings.cutoff, settings.bin_width)
    first, second, distance = neighbour_pairs("ijd", atoms, settings.cutoff * length + 4 * settings.smearing * length)
    distance = distance / length
    numbers = atoms.numbers
    counts = species_counts(atoms)
    shell = 4.0 * np.pi * grid**2 * settings.bin_width
    result = {}
    for a in counts:
        for b in counts:
            mask = (numbers[first] == a) & (numbers[second] == b)
            d = distance[mask]
            smeared = np.exp(-0.5 * ((grid[None, :] - d[:, None]) / settings.smearing) ** 2).sum(axis=0)
            smeared *= settings.bin_width / (np.sqrt(2.0 * np.pi) * settings.smearing)
            density = counts[b] / (volume / length**3)
            result[(a, b)] = smeared / (counts[a] * density * shell) - 1.0
    return result


def fingerprint_distance(first: Fingerprint, second: Fingerprint, counts: dict[int, int]) -> float:
    """Cosine distance (0: same, up to 1) of two fingerprints, pairs weighted by N_A N_B as Oganov & Valle do."""
    if set(first) != set(second):
        return 1.0
    total = sum(counts[a] * counts[b] for a, b in first)
    dot = norm_first = norm_second = 0.0
    for pair in first:
        weight = counts[pair[0]] * counts[pair[1]] / total
        dot += weight * float(first[pair] @ second[pair])
        norm_first += weight * float(first[pair] @ first[pair])
        norm_second += weight * float(second[pair] @ second[pair])
    if norm_first == 0.0 or norm_second == 0.0:
        return 0.0 if norm_first == norm_second else 1.0
    return 0.5 * (1.0 - dot / np.sqrt(norm_first * norm_second))


def species_counts(atoms: Atoms) -> dict[int, int]:
    numbers, counts = np.unique(atoms.numbers, return_counts=True)
    return {int(z): int(c) for z, c in zip(numbers, counts)}

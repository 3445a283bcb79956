"""Geometric sanity of a cell, one check for every structure the search makes or relaxes: shortest distances
against covalent radii, the number of close neighbours, and a floor on the volume per atom derived from the
composition (van der Waals radii), so that no engine ever sees a collapsed cell.

The floor: ``DENSEST_PACKING`` x the mean van der Waals sphere volume per atom. Real solids at ambient pressure lie
well above it (diamond, the densest relative to its van der Waals radii, is at 0.28; metals 0.35-0.55, ionic solids
~0.5, molecular solids ~1); a cell below it has its atoms inside each other's cores.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from ..analysis.neighbours import neighbour_pairs

MIN_DISTANCE_FACTOR = 0.6  # generated structures: no pair closer than this x the sum of covalent radii
BOND_FACTOR = 1.2  # neighbours closer than this x the sum of covalent radii count as close neighbours
# bcc counts 14 within 1.2 x; real crystals of the AFLOW prototype library up to 30 (CaB6; CsCl-type and cubic
# perovskite 26, their large cations' second shells); a collapsed cell counts dozens to hundreds
MAX_CLOSE_NEIGHBOURS = 32
DENSEST_PACKING = 0.15  # volume floor: this fraction of the mean van der Waals sphere volume per atom


def tabulated_radius(symbol: str, attribute: str) -> float:
    """Radius in Å of ``symbol`` from pymatgen's periodic table (``atomic_radius``, ``van_der_waals_radius``)."""
    from pymatgen.core.periodic_table import Element

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        radius = getattr(Element(symbol), attribute)
    if radius is None:
        name = attribute.removesuffix("_radius").replace("_", " ")
        raise ValueError(f"no {name} radius is tabulated for {symbol}; give the volume explicitly")
    return float(radius)


@lru_cache(maxsize=128)
def van_der_waals_volume(symbol: str) -> float:
    """Volume (Å^3) of the van der Waals sphere of ``symbol`` (pymatgen's radii, Alvarez 2013)."""
    return 4.0 / 3.0 * math.pi * tabulated_radius(symbol, "van_der_waals_radius") ** 3


def min_volume_per_atom(symbols: list[str]) -> float:
    """The floor of the volume per atom (Å^3) of a cell holding ``symbols`` (one entry per atom)."""
    return DENSEST_PACKING * float(np.mean([van_der_waals_volume(s) for s in symbols]))


@dataclass
class Crowding:
    shortest_ratio: float  # smallest d_ij / (r_i + r_j); inf for a lone atom without close images
    max_neighbours: int  # most neighbours of one atom within BOND_FACTOR x (r_i + r_j)


def contact_ratios(atoms: Atoms, within: float, length_scale: float = 1.0
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j), distances d and d / (length_scale x (r_i + r_j)) (covalent radii) of every pair of ``atoms``
    closer than ``within`` x the largest covalent bond length, from one neighbour list."""
    numbers = atoms.get_atomic_numbers()
    cutoff = within * 2.0 * float(max(covalent_radii[numbers])) * length_scale
    i, j, d = neighbour_pairs("ijd", atoms, cutoff)
    return i, j, d, d / (length_scale * (covalent_radii[numbers[i]] + covalent_radii[numbers[j]]))


def crowding(atoms: Atoms, length_scale: float = 1.0) -> Crowding:
    """Shortest distance and largest number of close neighbours, from one neighbour list; bond lengths are
    ``length_scale`` x the sums of covalent radii (below 1 under pressure: (V_P / V_0)^(1/3))."""
    i, _, d, ratio = contact_ratios(atoms, BOND_FACTOR, length_scale)
    if len(d) == 0:
        return Crowding(float("inf"), 0)
    counts = np.bincount(i[ratio < BOND_FACTOR], minlength=len(atoms))
    return Crowding(float(np.min(ratio)), int(counts.max()))


def cell_problem(atoms: Atoms, min_distance_factor: float | None = MIN_DISTANCE_FACTOR,
                 max_neighbours: int | None = MAX_CLOSE_NEIGHBOURS, length_scale: float = 1.0) -> str | None:
    """Why ``atoms`` is not a sane cell (too dense, atoms too close, too many close neighbours), or None. Under
    pressure (``length_scale`` = (V_P / V_0)^(1/3) < 1) the cell is judged as it would be at 0 GPa: the floor and
    the bond lengths shrink with it."""
    floor = min_volume_per_atom(atoms.get_chemical_symbols()) * length_scale**3
    per_atom = atoms.get_volume() / len(atoms)
    if per_atom < floor:
        return f"volume per atom {per_atom:.2f} Å^3 below the floor {floor:.2f} of this composition"
    found = crowding(atoms, length_scale)
    if min_distance_factor is not None and found.shortest_ratio < min_distance_factor:
        return f"shortest distance {found.shortest_ratio:.2f} x sum of covalent radii"
    if max_neighbours is not None and found.max_neighbours > max_neighbours:
        return f"{found.max_neighbours} neighbours within {BOND_FACTOR} x covalent bond lengths of one atom"
    return None


def cell_is_sane(atoms: Atoms, length_scale: float = 1.0) -> bool:
    """True when the cell passes :func:`cell_problem` with its defaults (the check of every generated cell), judged
    as at 0 GPa under pressure (``length_scale``), so that a sane solid compressed by the pressure still passes."""
    return cell_problem(atoms, length_scale=length_scale) is None

"""Is a relaxed structure physical? The checks against the holes of universal potentials.

Universal potentials (CHGNet, SevenNet-0) have unphysical attractive regions at short distances and in compressed
cells: a relaxation that enters one falls without bound (SevenNet-0 on Al4O6 at a collapsed volume: -9.3 to
-1.04e8 eV/atom, sane structures -6.3 to -7.4, shortest distances 0.90-1.50 Å against Al-O bonds of 1.85 Å).
Nothing a potential relaxes may reach a ranking, an oracle batch or the dataset unchecked. Two tests, each with
its reason:

- **contacts**: no pair closer than :data:`CONTACT_FACTOR` x the sum of the covalent radii (ASE's table), bond
  lengths scaled by ``length_scale`` under pressure. The factor is taken from real crystals: over the 283
  prototypes of the AFLOW library (pymatgen) the shortest contact is below 0.65 x only in two entries whose own
  coordinates are off (GeS2 with S-S at 1.28 Å, high-pressure Cf); multiple bonds (N2 0.74, CO 0.75, C-N 0.78) and
  the actinide metals (U, Np, Pu 0.66-0.70) lie above it.
- **energy**: no energy per atom more than ``margin`` eV/atom (or :data:`MAD_FACTOR` robust deviations, the larger)
  below the median of the sane structures of the same composition on the same potential. Random relaxed structures
  spread over about 1 eV/atom, with the ground state up to about 1 eV/atom below their median (unrelaxed Al4O6
  prototypes on SevenNet-0: corundum 1.2 below); the holes lie eV below (-9.3 eV/atom and lower for Al4O6, whose
  sane structures lie at -6.3 to -7.4).
  Needs at least :data:`MIN_REFERENCE` energies: a smaller batch is judged by its contacts alone.
  Where the whole set spreads more than any set of real structures does (:data:`MAD_FACTOR` robust deviations
  beyond :data:`SPREAD_LIMIT`), the median and the deviation are taken over its densest cluster (the window of
  :data:`CLUSTER_WIDTH` x ``margin`` holding the most) instead: sane structures of one composition lie within a few
  eV/atom of each other, holes scatter over orders of magnitude, and where holes are the majority the median of the
  whole set lies among them. SevenNet-0 screening O4 at a compressed volume (12.3 Å^3 a cell): of 86
  relaxations 63 were refused as collapsed, exploded or too close, and of the 23 that passed those checks 16 lay at
  -9.1 to -8.6e10 eV/atom against seven at -5.7 to -3.5 (O2 crystals at -4.9); over the whole set the floor fell to
  -119 eV/atom and five holes reached the first oracle batch; over the cluster it is -6.9. With no cluster of
  :data:`MIN_REFERENCE` energies the whole set is used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from ..protocols.schema import GuardParameters
from .geometry import contact_ratios

_GUARDS = GuardParameters()  # the defaults live in the parameter schema
CONTACT_FACTOR = _GUARDS.contact_factor  # relaxed structures: no pair closer than this x the sum of covalent radii
ENERGY_MARGIN = _GUARDS.energy_margin  # eV/atom below the median of the sane structures
MAD_FACTOR = 6.0  # ... or this many robust standard deviations (1.4826 x the median absolute deviation)
MIN_REFERENCE = 5  # energies needed before the energy test judges
CLUSTER_WIDTH = 2.0  # the sane structures' cluster: the densest window of this x the margin (4 eV/atom by default)
SPREAD_LIMIT = 10.0  # eV/atom: MAD_FACTOR robust deviations beyond it, a set is judged by its densest cluster


def shortest_contact(atoms: Atoms, length_scale: float = 1.0) -> tuple[float, str]:
    """The smallest d_ij / (length_scale x (r_i + r_j)) of ``atoms`` and the pair it belongs to (``'Al-O 1.12 Å'``);
    ``(inf, '')`` for a cell without close pairs."""
    i, j, d, ratio = contact_ratios(atoms, 1.0, length_scale)
    if len(d) == 0:
        return float("inf"), ""
    k = int(np.argmin(ratio))
    symbols = atoms.get_chemical_symbols()
    return float(ratio[k]), f"{symbols[i[k]]}-{symbols[j[k]]} {d[k]:.2f} Å"


def contact_problem(atoms: Atoms, factor: float = CONTACT_FACTOR, length_scale: float = 1.0) -> str | None:
    """Why the shortest contact of ``atoms`` is unphysical, or None."""
    ratio, pair = shortest_contact(atoms, length_scale)
    if ratio < factor:
        return f"contact {pair} is {ratio:.2f} x the sum of covalent radii (below {factor})"
    return None


def densest_cluster(values: np.ndarray, width: float) -> np.ndarray:
    """The values in the window of ``width`` that holds the most of them (the lowest such window on a tie)."""
    ordered = np.sort(values)
    ends = np.searchsorted(ordered, ordered + width, side="right")
    start = int(np.argmax(ends - np.arange(len(ordered))))
    return ordered[start:ends[start]]


def _floor_and_median(energies_per_atom: Sequence[float | None], margin: float) -> tuple[float, float] | None:
    values = np.array([e for e in energies_per_atom if e is not None and np.isfinite(e)], dtype=float)
    if len(values) < MIN_REFERENCE:
        return None
    median, spread = _median_and_spread(values)
    if MAD_FACTOR * spread > SPREAD_LIMIT:  # no set of real structures spreads so: holes weigh in its statistics
        cluster = densest_cluster(values, CLUSTER_WIDTH * margin)
        if len(cluster) >= MIN_REFERENCE:
            median, spread = _median_and_spread(cluster)
    return median - max(margin, MAD_FACTOR * spread), median


def _median_and_spread(values: np.ndarray) -> tuple[float, float]:
    """The median and the robust standard deviation (1.4826 x the median absolute deviation)."""
    median = float(np.median(values))
    return median, 1.4826 * float(np.median(np.abs(values - median)))


def energy_floor(energies_per_atom: Sequence[float | None], margin: float = ENERGY_MARGIN) -> float | None:
    """The lowest plausible energy per atom given a set of energies per atom of one composition on one potential:
    the median less ``margin`` or :data:`MAD_FACTOR` robust deviations, the larger; None with fewer than
    :data:`MIN_REFERENCE` finite energies. The median and the deviation are robust, and those of the densest cluster
    where the set spreads like no real one (see the module): holes scattered over orders of magnitude cannot move
    them far, however many they are."""
    found = _floor_and_median(energies_per_atom, margin)
    return None if found is None else found[0]


def implausible_energies(energies_per_atom: Sequence[float | None], margin: float = ENERGY_MARGIN,
                         reference: Sequence[float | None] = ()) -> dict[int, str]:
    """Index -> reason for every energy per atom of ``energies_per_atom`` below the plausible floor of the set
    (:func:`energy_floor`, over the set and ``reference``: more energies of the same composition on the same
    potential); None entries are skipped."""
    found = _floor_and_median([*energies_per_atom, *reference], margin)
    if found is None:
        return {}
    floor, median = found
    return {index: f"energy {value:.3f} eV/atom below the plausible floor {floor:.3f} (median of the sane "
                   f"structures less {median - floor:.2f})"
            for index, value in enumerate(energies_per_atom)
            if value is not None and np.isfinite(value) and value < floor}


def implausible_keys(results: Sequence[tuple[str, float]], margin: float | None) -> dict[str, str]:
    """Key -> reason for each (key, objective per atom) of ``results`` implausibly far below the others
    (:func:`implausible_energies`: a potential's hole); none without a ``margin``."""
    if margin is None:
        return {}
    found = implausible_energies([value for _, value in results], margin)
    return {results[index][0]: reason for index, reason in found.items()}

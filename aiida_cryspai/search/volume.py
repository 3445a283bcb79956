"""Cell volume: from atomic radii (the paper's Eq. 2, V = sum_i N_i (4/3) pi R_i^3 A), or from a scan of E(V) of
known or random structures on a potential (``volume_method: scan``).

Random structures scaled rigidly sit at the volume of their own disorder: an ionic solid's random arrangement has
like charges too close and comes out 15-40 % looser than the crystal, a covalent one denser than an open network.
So the scan of random structures is followed by short variable-cell relaxations of the lowest ones on the same
potential (guarded like every relaxation), and the search volume is that of the lowest relaxed structure
(``docs/design.md``; the table of 17 compositions in ``docs/benchmarks.md``).

R comes from the periodic table or, as the paper allows, from the pseudopotentials' core radii: ``RCORE`` of a
VASP POTCAR (the outmost cutoff radius) or the largest ``r_core`` of an Abinit psp8 file (ONCVPSP).
"""

from __future__ import annotations

import math
import re

import numpy as np
from ase import Atoms

from .composition import Composition
from .geometry import cell_problem, min_volume_per_atom, tabulated_radius
from .objective import Objective
from .plausibility import contact_problem, implausible_energies

DEFAULT_ADJUSTMENT = 1.2
BOHR_ANGSTROM = 0.529177210903


def psp8_core_radius(text: str) -> float:
    """Core radius in Å of an ONCVPSP psp8 file: the largest ``r_core`` (bohr) of its first line."""
    first = text.splitlines()[0] if text else ""
    match = re.search(r"r_core=\s*([-+0-9.eEdD\s]+)", first)
    if match is None:
        raise ValueError(f"no r_core on the first line of the psp8 file: {first[:80]!r}")
    values = [float(v.replace("D", "E").replace("d", "e")) for v in match.group(1).split()]
    return max(values) * BOHR_ANGSTROM


def potcar_core_radius(text: str) -> float:
    """Core radius in Å of a VASP POTCAR (one element): ``RCORE`` (bohr), the outmost cutoff radius."""
    match = re.search(r"RCORE\s*=\s*([0-9.]+)", text)
    if match is None:
        raise ValueError("no RCORE in the POTCAR header")
    return float(match.group(1)) * BOHR_ANGSTROM


def atomic_radius(symbol: str) -> float:
    """Empirical atomic radius in Å from the periodic table (pymatgen's ``Element.atomic_radius``)."""
    return tabulated_radius(symbol, "atomic_radius")


def estimate_volume(
    composition: Composition,
    adjustment: float = DEFAULT_ADJUSTMENT,
    radii: dict[str, float] | None = None,
) -> float:
    """Cell volume in Å^3 for ``composition`` by Eq. 2; ``radii`` (Å) override the periodic table.

    Never below the composition's floor (:func:`~.geometry.min_volume_per_atom`): Eq. 2 with tabulated radii puts
    H-containing cells far inside it (H2O: 1.24 Å^3 for three atoms), where no structure is sane."""
    if adjustment <= 0:
        raise ValueError(f"the volume adjustment factor must be positive, got {adjustment}")
    radii = radii or {}
    total = 0.0
    for symbol, count in composition.counts:
        radius = radii.get(symbol) or atomic_radius(symbol)
        total += count * 4.0 / 3.0 * math.pi * radius**3
    return max(total * adjustment, composition.n_atoms * min_volume_per_atom(composition.expanded()))


# -- the volume from a scan of E(V) on a potential -----------------------------------------------------------------

# volume factors of the scan (x the reference volume): 15 steps, evenly spaced in ln V from 0.35 to 3.5
SCAN_FACTORS: tuple[float, ...] = tuple(float(f) for f in np.exp(np.linspace(np.log(0.35), np.log(3.5), 15)))
# a random structure's minimum is trusted within these factors of Eq. 2's volume: loose random cells of CHGNet show
# spurious minima at 8-27 x (isolated atoms: Al, K, Si), real solids lie at 0.6-3 x (Si, with covalent radii, 3 x)
RANDOM_SCAN_LIMITS = (0.5, 4.0)
# a scan of random structures whose volume is below this x Eq. 2's is not trusted: universal potentials have holes in
# compressed cells (SevenNet-0 chose 46.5 Å^3 for Al4O6 where corundum has 85) and Eq. 2 itself errs low (oxides,
# covalent solids), never high by this much; the larger of the two is the safer start (relaxations shrink a loose
# cell, a collapsed one falls into the holes)
SCAN_TRUST_FLOOR = 0.8
ENERGY = Objective()  # at 0 GPa the scans' minima are those of the energy per atom
# random structures scanned per crystal system (28 in all: 7 left Si2 without a diamond-like draw, 21 % too dense)
RANDOM_SCAN_PER_SYSTEM = 4
# the lowest of them relaxed (variable cell) on the scan's potential from their own minimum, and how: relaxed to a
# loose tolerance, the volume is what counts (SevenNet-0: 8 of 10-atom Al4O6 in 30 s on one core)
RANDOM_SCAN_RELAXED = 8
# where too few random structures can be drawn at the scan's volume, they are drawn at least this x the volume floor
SCAN_DRAW_FLOOR = 2.0
RANDOM_SCAN_RELAX_SETTINGS = {"fmax": 0.1, "max_steps": 150, "relax_cell": True}


def scan_problem(atoms: Atoms) -> str | None:
    """Why a scaled cell is not scanned: the sanity check of generated cells, or a contact below the floor of
    relaxed structures (``plausibility.py``: a potential's energy there is not physical)."""
    return cell_problem(atoms) or contact_problem(atoms)


def scan_energies(structures: list[Atoms], evaluate, factors: tuple[float, ...] = SCAN_FACTORS,
                  problem=scan_problem, floor: float | None = None) -> list[list[float | None]]:
    """Energies per atom of each structure scaled isotropically by each volume factor, from one call of the batch
    evaluator ``evaluate``; None where ``problem(atoms)`` names one (by default the sanity check of every generated
    cell: below the volume floor, atoms too close or too crowded — such cells cost a universal potential gigabytes:
    CHGNet took 17.7 GB for the unfiltered scan of the 13 C2 prototypes), the energy is not finite or it lies below
    ``floor`` (eV/atom: the potential's ``min_energy_per_atom``, a hole)."""
    scaled, where = [], []
    energies: list[list[float | None]] = [[None] * len(factors) for _ in structures]
    for i, atoms in enumerate(structures):
        for k, factor in enumerate(factors):
            copy = atoms.copy()
            copy.set_cell(atoms.cell[:] * factor ** (1 / 3), scale_atoms=True)
            if problem is None or problem(copy) is None:
                scaled.append(copy)
                where.append((i, k))
    for (i, k), (energy, _, _) in zip(where, evaluate(scaled) if scaled else []):
        if np.isfinite(energy) and (floor is None or energy / len(structures[i]) >= floor):
            energies[i][k] = float(energy) / len(structures[i])
    return energies


def scan_minimum(energies: list[float | None], factors: tuple[float, ...] = SCAN_FACTORS) -> tuple[float, float] | None:
    """(volume factor, energy per atom) at the minimum of one structure's scan: the parabola in ln V through the
    lowest point and its two neighbours; None when that point lies at an end of the scan or next to a missing
    energy (no minimum bracketed)."""
    values = np.array([np.inf if e is None else e for e in energies], dtype=float)
    if not np.isfinite(values).any():
        return None
    k = int(np.argmin(values))
    if k == 0 or k == len(values) - 1 or not np.isfinite(values[k - 1:k + 2]).all():
        return None
    x = np.log(np.asarray(factors[k - 1:k + 2]))
    a, b, c = np.polyfit(x, values[k - 1:k + 2], 2)
    if a <= 0:
        return float(factors[k]), float(values[k])
    best = float(np.clip(-b / (2 * a), x[0], x[2]))
    return float(np.exp(best)), float(np.polyval([a, b, c], best))


def volume_from_scan(minima: list[tuple[float, float] | None], reference_volume: float,
                     limits: tuple[float, float] | None = None) -> float | None:
    """The cell volume at the lowest of the scans' minima ((volume, energy per atom) each), only those within
    ``limits`` x ``reference_volume`` counting; None when there is none."""
    kept = [m for m in minima if m is not None
            and (limits is None or limits[0] <= m[0] / reference_volume <= limits[1])]
    implausible = implausible_energies([m[1] for m in kept])  # a minimum inside a hole of the potential
    kept = [m for k, m in enumerate(kept) if k not in implausible]
    if not kept:
        return None
    return min(kept, key=lambda m: m[1])[0]


def scan_minima(volumes: list[float], energies: list[list[float | None]],
                factors: tuple[float, ...] = SCAN_FACTORS, objective: Objective = ENERGY, n_atoms: int = 1
                ) -> list[tuple[float, float] | None]:
    """(volume, objective per atom) at the minimum of each structure's scan (``volumes``: the structures' own
    volumes, which the factors scale; ``energies`` per atom), None where the scan has none. Under a pressure (the
    ``objective``'s, cells of ``n_atoms``) the minimum is that of the enthalpy per atom: the volume shrinks with the
    potential's own compressibility."""
    minima = []
    for volume, values in zip(volumes, energies):
        values = [None if e is None else objective.per_atom(e * n_atoms, f * volume, n_atoms)
                  for e, f in zip(values, factors)]
        found = scan_minimum(values, factors)
        minima.append(None if found is None else (found[0] * volume, found[1]))
    return minima


def relaxation_starts(minima: list[tuple[float, float] | None], n: int = RANDOM_SCAN_RELAXED) -> list[int]:
    """Indices of the (at most) ``n`` structures to relax after a scan of random ones: those with the lowest
    plausible minima (a minimum inside a hole of the potential is left out)."""
    implausible = implausible_energies([m[1] if m is not None else None for m in minima])
    return [k for k in lowest_first(minima) if minima[k] is not None and k not in implausible][:n]


def lowest_first(minima: list[tuple[float, float] | None]) -> list[int]:
    """Indices by the energy at each scan's minimum, lowest first; those without one last, in their order."""
    return sorted(range(len(minima)), key=lambda k: (minima[k] is None, minima[k][1] if minima[k] else 0.0, k))


def scan_compression(at_pressure: list[tuple[float, float] | None], at_zero: list[tuple[float, float] | None],
                     reference_volume: float, known: bool) -> float:
    """How much a pressure compresses the scanned structures: the lowest plausible minimum of the enthalpy scans
    (``at_pressure``) over that of the same scans at 0 GPa (``at_zero``); 1 where either has none."""
    limits = None if known else RANDOM_SCAN_LIMITS
    compressed = volume_from_scan(at_pressure, reference_volume, limits)
    uncompressed = volume_from_scan(at_zero, reference_volume, limits)
    return compressed / uncompressed if compressed and uncompressed else 1.0


def scan_draw_volume(composition: Composition, volume: float) -> float:
    """A volume at which random structures can be drawn for the scan when ``volume`` is too tight for them: Eq. 2
    falls to the composition's volume floor for light covalent solids (Si4C4, C8, B4N4), where most random
    arrangements have atoms too close and a seed can miss all 28. The looser of 1.5 x ``volume`` and
    ``SCAN_DRAW_FLOOR`` x the floor; the scan spans 0.35-3.5 x the structures' own volume, so nothing is lost."""
    floor = composition.n_atoms * min_volume_per_atom(composition.expanded())
    return max(1.5 * volume, SCAN_DRAW_FLOOR * floor)


def trust_floor(reference_volume: float, compression: float = 1.0) -> float:
    """The smallest volume a scan of random structures may set: ``SCAN_TRUST_FLOOR`` x Eq. 2's ``reference_volume``,
    x the pressure's ``compression`` (:func:`scan_compression`; Eq. 2 is a 0 GPa volume)."""
    return SCAN_TRUST_FLOOR * reference_volume * min(1.0, compression)


def place_at_minima(minima: list[tuple[float, float] | None], reference_volume: float, known: bool,
                    relaxed: list[tuple[float, float] | None] = (), compression: float = 1.0
                    ) -> tuple[float, list[float], list[int]]:
    """From the scans' minima: the search volume (the lowest plausible minimum; of random structures, ``known``
    False, the lowest plausible of the ``relaxed`` ones ((volume, energy or enthalpy per atom) each) when any, else
    of the minima, only those within ``RANDOM_SCAN_LIMITS`` x ``reference_volume`` counting, and never below
    :func:`trust_floor`; ``reference_volume`` where none counts), each structure's volume (its own minimum, the
    search volume without one) and their order, lowest first."""
    if known:
        volume = volume_from_scan(minima, reference_volume) or reference_volume
    else:
        volume = (volume_from_scan(list(relaxed), reference_volume, RANDOM_SCAN_LIMITS)
                  or volume_from_scan(minima, reference_volume, RANDOM_SCAN_LIMITS) or reference_volume)
        volume = max(volume, trust_floor(reference_volume, compression))
    return volume, [m[0] if m is not None else volume for m in minima], lowest_first(minima)


def scan_for_volume(structures: list[Atoms], evaluate, reference_volume: float, known: bool,
                    objective: Objective = ENERGY, relax=None) -> tuple[float, list[Atoms]]:
    """The search volume from the scans of ``structures`` (known structures, or random ones: ``known`` False) and,
    for known ones, each at its own minimum, lowest first (:func:`place_at_minima`) — what the work chain's
    ``scan_volume``/``volume_from_scan`` do, in one process. Under the ``objective``'s pressure: minima of the enthalpy.
    ``relax`` (random structures): a function relaxing a list of structures, each to (volume, enthalpy per atom) or
    None (refused), given :func:`relaxation_starts`' structures at their own minima."""
    from .generation import scale_to_volume

    n_atoms = len(structures[0]) if structures else 1
    volumes, energies = [a.get_volume() for a in structures], scan_energies(structures, evaluate)
    minima = scan_minima(volumes, energies, objective=objective, n_atoms=n_atoms)
    compression = (scan_compression(minima, scan_minima(volumes, energies), reference_volume, known)
                   if objective.pressure_gpa else 1.0)
    relaxed = []
    if not known and relax is not None:
        relaxed = relax([scale_to_volume(structures[k], minima[k][0]) for k in relaxation_starts(minima)])
    volume, volumes, order = place_at_minima(minima, reference_volume, known, relaxed, compression)
    if not known:
        return volume, []
    return volume, [scale_to_volume(structures[k], volumes[k]) for k in order]

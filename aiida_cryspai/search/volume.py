"""Cell volume from atomic radii: the paper's Eq. 2, V = sum_i N_i (4/3) pi R_i^3 A.

R comes from the periodic table or, as the paper allows, from the pseudopotentials' core radii: ``RCORE`` of a
VASP POTCAR (the outmost cutoff radius) or the largest ``r_core`` of an Abinit psp8 file (ONCVPSP).
"""

from __future__ import annotations

import math
import re

from .composition import Composition
from .geometry import min_volume_per_atom, tabulated_radius

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

"""Cell volume from atomic radii: the paper's Eq. 2, V = sum_i N_i (4/3) pi R_i^3 A."""

from __future__ import annotations

import math
import warnings

from .composition import Composition

DEFAULT_ADJUSTMENT = 1.2


def atomic_radius(symbol: str) -> float:
    """Empirical atomic radius in Å from the periodic table (pymatgen's ``Element.atomic_radius``)."""
    from pymatgen.core.periodic_table import Element

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        radius = Element(symbol).atomic_radius
    if radius is None:
        raise ValueError(f"no atomic radius is tabulated for {symbol}; give the volume explicitly")
    return float(radius)


def estimate_volume(
    composition: Composition,
    adjustment: float = DEFAULT_ADJUSTMENT,
    radii: dict[str, float] | None = None,
) -> float:
    """Cell volume in Å^3 for ``composition`` by Eq. 2; ``radii`` (Å) override the periodic table."""
    if adjustment <= 0:
        raise ValueError(f"the volume adjustment factor must be positive, got {adjustment}")
    radii = radii or {}
    total = 0.0
    for symbol, count in composition.counts:
        radius = radii.get(symbol) or atomic_radius(symbol)
        total += count * 4.0 / 3.0 * math.pi * radius**3
    return total * adjustment

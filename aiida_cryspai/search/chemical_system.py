"""A chemical system such as ``Li-O`` and the compositions searched in it: every composition of its elements with
at most ``max_atoms`` atoms per cell (the elements included), or the user's list."""

from __future__ import annotations

import re
from fractions import Fraction
from itertools import product
from math import gcd

from ase.data import atomic_numbers

from .composition import Composition, CompositionError, parse_composition

_SYSTEM = re.compile(r"^[A-Z][a-z]?(?:-[A-Z][a-z]?)+$")


def is_chemical_system(text: str) -> bool:
    """Whether ``text`` names a chemical system (elements joined by ``-``) rather than one composition."""
    return isinstance(text, str) and "-" in text


def parse_system(text: str) -> list[str]:
    """The elements of ``text`` (``Li-O`` -> ``['Li', 'O']``); :class:`CompositionError` with the reason otherwise."""
    text = (text or "").strip()
    if not _SYSTEM.match(text):
        raise CompositionError(f"malformed chemical system {text!r}: write two or more element symbols joined by '-', "
                               "like 'Li-O' or 'Cu-Au'")
    elements = text.split("-")
    for symbol in elements:
        if symbol not in atomic_numbers or symbol == "X":
            raise CompositionError(f"unknown element {symbol!r} in chemical system {text!r}")
    repeated = sorted({s for s in elements if elements.count(s) > 1})
    if repeated:
        raise CompositionError(f"element {', '.join(repeated)} appears twice in chemical system {text!r}")
    return elements


def _cell(elements: list[str], reduced: tuple[int, ...], max_atoms: int) -> Composition:
    """The composition ``reduced`` in the largest cell of at most ``max_atoms`` atoms."""
    per_unit = sum(reduced)
    units = max_atoms // per_unit
    return Composition(tuple((s, n * units) for s, n in zip(elements, reduced) if n))


def system_compositions(elements: list[str], max_atoms: int) -> list[Composition]:
    """Every composition of ``elements`` whose formula unit has at most ``max_atoms`` atoms, each in the largest cell
    of at most ``max_atoms`` atoms (``Li-O``, 8: Li8, Li6O, …, Li4O2, …, O8); ordered by the fraction of the elements
    after the first, then by cell size."""
    if max_atoms < 1:
        raise CompositionError(f"--max-atoms must be at least 1, got {max_atoms}")
    seen, cells = set(), []
    for counts in product(range(max_atoms + 1), repeat=len(elements)):
        total = sum(counts)
        if not 0 < total <= max_atoms:
            continue
        divisor = 0
        for n in counts:
            divisor = gcd(divisor, n)
        reduced = tuple(n // divisor for n in counts)
        if reduced in seen:
            continue
        seen.add(reduced)
        cells.append((tuple(Fraction(n, total) for n in reduced[1:]), _cell(elements, reduced, max_atoms)))
    return [cell for _, cell in sorted(cells, key=lambda item: (item[0], item[1].n_atoms))]


def parse_compositions(text: str, elements: list[str], max_atoms: int = 200) -> list[Composition]:
    """The user's list (``Li2O,Li2O2,LiO2``), each made of the system's ``elements`` only, each once."""
    compositions, seen = [], set()
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        composition = parse_composition(item, max_atoms=max_atoms)
        foreign = [s for s in composition.symbols if s not in elements]
        if foreign:
            raise CompositionError(f"composition {item} has {', '.join(foreign)}, not an element of the system "
                                   f"{'-'.join(elements)}")
        if composition.formula in seen:
            raise CompositionError(f"composition {item} is given twice")
        seen.add(composition.formula)
        compositions.append(composition)
    if not compositions:
        raise CompositionError("no composition given: list them like 'Li2O,Li2O2,LiO2'")
    return compositions


# how far above the current hull (eV/atom) a composition still gets its whole oracle batch, and half of it
NEAR_HULL, FAR_HULL = 0.05, 0.15


def allocate_oracle(above_hull: dict[str, float | None], batch: int, left: int | None = None,
                    available: dict[str, int] | None = None) -> dict[str, int]:
    """Oracle relaxations per composition for the next batch of a shared budget: ``batch`` each where the
    composition has no result yet or its best is within :data:`NEAR_HULL` of the current hull, half within
    :data:`FAR_HULL`, one beyond (its GA may still find lower: none is dropped); never more than the composition has
    candidates (``available``). With ``left`` relaxations in the budget, the compositions farthest above the hull
    give theirs up first."""
    def share(formula: str, distance: float | None) -> int:
        if distance is None or distance <= NEAR_HULL:
            wanted = batch
        else:
            wanted = max(1, batch // 2) if distance <= FAR_HULL else 1
        return wanted if available is None else min(wanted, available.get(formula, 0))

    shares = {formula: share(formula, distance) for formula, distance in above_hull.items()}
    if left is not None:
        excess = sum(shares.values()) - max(0, left)
        # the farthest above the hull first, then the nearer; a composition without a result yet last of all
        for formula in sorted(shares, key=lambda f: -above_hull[f] if above_hull[f] is not None else 1.0):
            taken = min(shares[formula], max(0, excess))
            shares[formula] -= taken
            excess -= taken
    return shares

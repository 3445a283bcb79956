"""Parse and validate a composition such as ``Si8``, ``Ti4O8`` or ``CaTiO3``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ase.data import atomic_numbers

_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*)")
_WHOLE = re.compile(r"^(?:[A-Z][a-z]?\d*)+$")


class CompositionError(ValueError):
    """The composition string cannot be used."""


@dataclass(frozen=True)
class Composition:
    """Element symbols and the number of atoms of each in the cell, in the order given."""

    counts: tuple[tuple[str, int], ...]

    @property
    def symbols(self) -> list[str]:
        return [s for s, _ in self.counts]

    @property
    def numbers(self) -> list[int]:
        return [n for _, n in self.counts]

    @property
    def n_atoms(self) -> int:
        return sum(self.numbers)

    def expanded(self) -> list[str]:
        """One chemical symbol per atom."""
        return [s for s, n in self.counts for _ in range(n)]

    @property
    def formula(self) -> str:
        return "".join(f"{s}{n}" for s, n in self.counts)

    def __str__(self) -> str:
        return self.formula


def parse_composition(text: str, max_atoms: int = 200) -> Composition:
    """Parse ``text`` into a :class:`Composition`; raise :class:`CompositionError` with a clear reason."""
    if not isinstance(text, str) or not text.strip():
        raise CompositionError("the composition is empty; give one like 'Si8', 'Ti4O8' or 'CaTiO3'")
    text = text.strip()
    if not _WHOLE.match(text):
        raise CompositionError(
            f"malformed composition {text!r}: write element symbols each followed by an optional count, "
            "like 'Si8', 'Ti4O8' or 'CaTiO3'"
        )
    merged: dict[str, int] = {}
    for symbol, count in _TOKEN.findall(text):
        if symbol not in atomic_numbers or symbol == "X":
            raise CompositionError(f"unknown element {symbol!r} in composition {text!r}")
        number = int(count) if count else 1
        if number <= 0:
            raise CompositionError(f"element {symbol} has zero atoms in composition {text!r}")
        merged[symbol] = merged.get(symbol, 0) + number
    total = sum(merged.values())
    if total > max_atoms:
        raise CompositionError(f"composition {text!r} has {total} atoms; at most {max_atoms} are supported")
    return Composition(tuple(merged.items()))

"""The elite of a search: each crystal system's lowest oracle structures, which seed that system's GA."""

from __future__ import annotations

from ase import Atoms

from ..analysis.symmetry import spacegroup


def keep_lowest(elite: dict[str, list], entries: list[tuple[float, str, Atoms]], per_system: int) -> dict[str, list]:
    """``elite`` (crystal system -> [(objective, id), ...], lowest first) with ``entries`` (objective per atom, id,
    relaxed structure) added to their crystal systems, at most ``per_system`` kept in each."""
    updated = {system: list(kept) for system, kept in elite.items()}
    for objective, identifier, atoms in entries:
        kept = updated.setdefault(spacegroup(atoms).crystal_system, [])
        kept.append((objective, identifier))
        kept.sort()
        del kept[per_system:]
    return updated

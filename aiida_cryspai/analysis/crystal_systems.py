"""The seven crystal systems and their space-group ranges."""

from __future__ import annotations

CRYSTAL_SYSTEMS: dict[str, tuple[int, int]] = {
    "triclinic": (1, 2),
    "monoclinic": (3, 15),
    "orthorhombic": (16, 74),
    "tetragonal": (75, 142),
    "trigonal": (143, 167),
    "hexagonal": (168, 194),
    "cubic": (195, 230),
}


class CrystalSystemError(ValueError):
    """Unknown crystal system name."""


def crystal_system_of(spacegroup_number: int) -> str:
    """The crystal system of an international space-group number (1–230)."""
    for name, (low, high) in CRYSTAL_SYSTEMS.items():
        if low <= spacegroup_number <= high:
            return name
    raise ValueError(f"space-group number {spacegroup_number} is outside 1-230")


def spacegroups_of(system: str) -> range:
    """All space-group numbers of a crystal system."""
    low, high = CRYSTAL_SYSTEMS[check_crystal_system(system)]
    return range(low, high + 1)


def check_crystal_system(name: str) -> str:
    """Return ``name`` if it names a crystal system, else raise :class:`CrystalSystemError`."""
    if name not in CRYSTAL_SYSTEMS:
        raise CrystalSystemError(
            f"unknown crystal system {name!r}; choose 'all' or one of: {', '.join(CRYSTAL_SYSTEMS)}"
        )
    return name


def resolve_crystal_systems(name: str) -> list[str]:
    """``'all'`` gives the seven systems; a single name gives itself."""
    if name == "all":
        return list(CRYSTAL_SYSTEMS)
    return [check_crystal_system(name)]

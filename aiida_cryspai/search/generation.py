"""Random symmetric structures in a crystal system (pyxtal), scaled to a target volume."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from functools import lru_cache
from itertools import islice

import numpy as np
from ase import Atoms

from .composition import Composition
from .crystal_systems import spacegroups_of
from .geometry import cell_is_sane


@lru_cache(maxsize=256)
def compatible_spacegroups(system: str, numbers: tuple[int, ...]) -> tuple[int, ...]:
    """Space groups of ``system`` whose Wyckoff positions can hold ``numbers`` atoms of each species."""
    from pyxtal.symmetry import Group

    found = []
    for number in spacegroups_of(system):
        compatible, _ = Group(number).check_compatible(list(numbers))
        if compatible:
            found.append(number)
    return tuple(found)


def random_symmetric_structure(
    composition: Composition,
    system: str,
    volume: float,
    rng: np.random.Generator,
    max_tries: int = 30,
    spacegroup: int | None = None,
    length_scale: float = 1.0,
) -> Atoms | None:
    """One random structure with a random compatible space group of ``system`` at ``volume`` (Å^3).

    Returns ``None`` when no structure with sane interatomic distances (at 0 GPa: ``length_scale``, see
    :func:`~.geometry.cell_is_sane`) was found in ``max_tries``.
    """
    from pyxtal import pyxtal

    choices = compatible_spacegroups(system, tuple(composition.numbers))
    if not choices:
        return None
    for _ in range(max_tries):
        number = spacegroup or int(rng.choice(choices))
        crystal = pyxtal()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                crystal.from_random(
                    3,
                    number,
                    composition.symbols,
                    composition.numbers,
                    random_state=int(rng.integers(2**31 - 1)),
                )
        except Exception:  # pyxtal signals an impossible draw with several exception types
            continue
        if not crystal.valid:
            continue
        atoms = crystal.to_ase()
        atoms = scale_to_volume(atoms, volume)
        if cell_is_sane(atoms, length_scale):
            atoms.info["spacegroup_generated"] = number
            atoms.info["crystal_system"] = system
            return atoms
    return None


def scale_to_volume(atoms: Atoms, volume: float) -> Atoms:
    """A copy of ``atoms`` with its cell scaled isotropically to ``volume`` (Å^3)."""
    scaled = atoms.copy()
    factor = (volume / scaled.get_volume()) ** (1.0 / 3.0)
    scaled.set_cell(scaled.cell[:] * factor, scale_atoms=True)
    return scaled


def random_structures(
    composition: Composition,
    systems: list[str],
    per_system: int,
    volume: float,
    seed: int,
) -> list[Atoms]:
    """``per_system`` random symmetric structures in each of ``systems``, reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    structures = []
    for system in systems:
        made = 0
        for _ in range(per_system * 3):
            if made == per_system:
                break
            atoms = random_symmetric_structure(composition, system, volume, rng)
            if atoms is not None:
                structures.append(atoms)
                made += 1
    return structures


def symmetric_draws(composition: Composition, systems: list[str], volume: float, seed: int,
                    max_failures: int = 200, length_scale: float = 1.0) -> Iterator[Atoms]:
    """Endless random symmetric structures, each in a space group drawn uniformly from the compatible groups of
    all ``systems`` (the random symmetric search), reproducible by ``seed``.

    Stops only when ``max_failures`` draws in a row give no structure with sane distances."""
    rng = np.random.default_rng(seed)
    groups = [(number, system) for system in systems
              for number in compatible_spacegroups(system, tuple(composition.numbers))]
    failures = 0
    while groups and failures < max_failures:
        number, system = groups[int(rng.integers(len(groups)))]
        atoms = random_symmetric_structure(composition, system, volume, rng, max_tries=5, spacegroup=number,
                                           length_scale=length_scale)
        if atoms is None:
            failures += 1
            continue
        failures = 0
        yield atoms


def random_structures_by_spacegroup(composition: Composition, systems: list[str], count: int, volume: float,
                                    seed: int, length_scale: float = 1.0) -> list[Atoms]:
    """The first ``count`` structures of :func:`symmetric_draws`: the first oracle batch is exactly the start of
    a random symmetric search with the same seed, so the loop can only add to what random search finds."""
    return list(islice(symmetric_draws(composition, systems, volume, seed, length_scale=length_scale), count))

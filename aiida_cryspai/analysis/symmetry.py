"""Space groups of structures with spglib."""

from __future__ import annotations

from dataclasses import dataclass

import spglib
from ase import Atoms
from ase.cell import Cell

from .crystal_systems import crystal_system_of

DEFAULT_SYMPREC = 0.1


@dataclass(frozen=True)
class Symmetry:
    number: int
    symbol: str
    crystal_system: str


def _cell(atoms: Atoms) -> tuple:
    return (atoms.cell[:], atoms.get_scaled_positions(), atoms.get_atomic_numbers())


def spacegroup(atoms: Atoms, symprec: float = DEFAULT_SYMPREC) -> Symmetry:
    """Space group (number, Hermann–Mauguin symbol, crystal system) of ``atoms``; P1 if spglib finds none."""
    dataset = spglib.get_symmetry_dataset(_cell(atoms), symprec=symprec)
    if dataset is None:
        return Symmetry(1, "P1", "triclinic")
    return Symmetry(int(dataset.number), str(dataset.international), crystal_system_of(int(dataset.number)))


def _standardized(atoms: Atoms, symprec: float) -> tuple | None:
    """spglib's standardised conventional cell (lattice, scaled positions, numbers), or None without symmetry."""
    return spglib.standardize_cell(_cell(atoms), to_primitive=False, no_idealize=False, symprec=symprec)


def conventional_lattice(atoms: Atoms, symprec: float = DEFAULT_SYMPREC) -> tuple[float, float, float]:
    """Lattice lengths a, b, c (Å) of the standardised conventional cell of ``atoms`` (spglib), whatever its size:
    a supercell and its primitive cell give the same answer. ``atoms``' own cell if spglib finds no symmetry."""
    result = _standardized(atoms, symprec)
    cell = atoms.cell if result is None else Cell(result[0])
    a, b, c = cell.cellpar()[:3]
    return float(a), float(b), float(c)


def refined(atoms: Atoms, symprec: float = DEFAULT_SYMPREC) -> Atoms:
    """The symmetrised conventional cell of ``atoms`` (spglib ``standardize_cell``), same atom count if possible.

    Falls back to ``atoms`` unchanged when spglib would change the number of atoms.
    """
    result = _standardized(atoms, symprec)
    if result is None:
        return atoms.copy()
    lattice, positions, numbers = result
    if len(numbers) != len(atoms):
        return atoms.copy()
    out = Atoms(numbers=numbers, cell=lattice, scaled_positions=positions, pbc=True)
    out.info.update(atoms.info)
    return out


def primitive(atoms: Atoms, symprec: float = 1e-3) -> Atoms | None:
    """The primitive cell of ``atoms`` (spglib ``standardize_cell(to_primitive=True)``), Niggli-reduced, with
    ``atoms``' info; None when spglib finds no symmetry."""
    from ase.build import niggli_reduce

    result = spglib.standardize_cell(_cell(atoms), to_primitive=True, no_idealize=False, symprec=symprec)
    if result is None:
        return None
    lattice, positions, numbers = result
    out = Atoms(numbers=numbers, cell=lattice, scaled_positions=positions, pbc=True)
    niggli_reduce(out)
    out.wrap()
    out.info.update(atoms.info)
    return out

"""Structure comparison: pymatgen's StructureMatcher for duplicates."""

from __future__ import annotations

import warnings

from ase import Atoms


def to_pymatgen(atoms: Atoms):
    from pymatgen.io.ase import AseAtomsAdaptor

    return AseAtomsAdaptor.get_structure(atoms)


def matcher(ltol: float = 0.2, stol: float = 0.3, angle_tol: float = 5.0):
    from pymatgen.analysis.structure_matcher import StructureMatcher

    return StructureMatcher(ltol=ltol, stol=stol, angle_tol=angle_tol, primitive_cell=True, scale=True)


def unique_indices(
    structures: list[Atoms],
    energies: list[float] | None = None,
    energy_tolerance: float = 0.01,
) -> list[int]:
    """Indices of the structures that are not duplicates of an earlier one in the list.

    Two structures are duplicates when StructureMatcher matches them and, if energies per atom are given,
    their energies differ by less than ``energy_tolerance`` eV/atom. Earlier entries win: sort first.
    """
    sm = matcher()
    kept: list[int] = []
    converted = [to_pymatgen(a) for a in structures]
    for index, structure in enumerate(converted):
        duplicate = False
        for other in kept:
            if energies is not None and abs(energies[index] - energies[other]) > energy_tolerance:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if sm.fit(structure, converted[other]):
                    duplicate = True
                    break
        if not duplicate:
            kept.append(index)
    return kept

"""Structure comparison: pymatgen's StructureMatcher for duplicates, behind a cheap fingerprint prefilter."""

from __future__ import annotations

import warnings

from ase import Atoms

from .fingerprint import fingerprint, fingerprint_distance, species_counts

# Pairs of structures farther apart than this in fingerprint cosine distance are different without asking
# StructureMatcher. Measured: structures that StructureMatcher (ltol 0.2, stol 0.3) matches after rattling by
# 0.2 Å and straining by 2% stay below 0.13 (Si8, Ti4O8, Ca4Ti4O12); 95% of pairs of random symmetric Ti4O8
# structures lie above 0.18. StructureMatcher costs 6-17 ms per pair there, a fingerprint 2 ms per structure.
FINGERPRINT_TOLERANCE = 0.15


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
    fingerprint_tolerance: float | None = FINGERPRINT_TOLERANCE,
) -> list[int]:
    """Indices of the structures that are not duplicates of an earlier one in the list.

    Two structures are duplicates when StructureMatcher matches them and, if energies per atom are given,
    their energies differ by less than ``energy_tolerance`` eV/atom. Pairs whose fingerprints differ by more
    than ``fingerprint_tolerance`` (None: no prefilter) are different without StructureMatcher.
    Earlier entries win: sort first.
    """
    found = representatives(structures, energies, energy_tolerance, fingerprint_tolerance)
    return [index for index, kept in enumerate(found) if index == kept]


def representatives(
    structures: list[Atoms],
    energies: list[float] | None = None,
    energy_tolerance: float = 0.01,
    fingerprint_tolerance: float | None = FINGERPRINT_TOLERANCE,
) -> list[int]:
    """For each structure, the index of the first earlier structure it duplicates, or its own index (see
    :func:`unique_indices`)."""
    sm = matcher()
    kept: list[int] = []
    found: list[int] = []
    converted = [to_pymatgen(a) for a in structures]
    prints = [fingerprint(a) for a in structures] if fingerprint_tolerance is not None else None
    counts = [species_counts(a) for a in structures]
    for index, structure in enumerate(converted):
        match = index
        for other in kept:
            if energies is not None and abs(energies[index] - energies[other]) > energy_tolerance:
                continue
            if prints is not None and fingerprint_distance(
                    prints[index], prints[other], counts[index]) > fingerprint_tolerance:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if sm.fit(structure, converted[other]):
                    match = other
                    break
        if match == index:
            kept.append(index)
        found.append(match)
    return found


def lowest_distinct(structures: list[Atoms], objectives: list[float], window: float, n: int) -> list[int]:
    """Indices of at most ``n`` distinct structures, lowest objective first, within ``window`` (eV/atom) of the
    lowest (the refinement's choice)."""
    order = sorted(range(len(structures)), key=lambda i: objectives[i])
    if not order:
        return []
    keep = unique_indices([structures[i] for i in order], [objectives[i] for i in order])
    lowest = objectives[order[0]]
    return [order[k] for k in keep if objectives[order[k]] <= lowest + window][:n]

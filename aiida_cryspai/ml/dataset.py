"""Training frames as flat arrays (the on-disk and in-graph form) and their selection.

Arrays: ``n_atoms`` (n), ``cells`` (n,3,3), ``positions`` (N,3), ``numbers`` (N), ``energies`` (n, eV),
``forces`` (N,3, NaN if unknown), ``stress`` (n,6, Voigt, eV/Å^3, NaN if unknown), ``groups`` (n, one
relaxation trajectory per group) and ``sources`` (n, text naming the oracle calculation and structure).

Optional arrays (:data:`OPTIONAL_ARRAYS`) carry per-frame or per-atom extras, e.g. a prior model's energies and
forces on the oracle's frames, computed once and stored with the dataset. They travel with every operation here;
where one part of a concatenation lacks an optional array the other has, its values are NaN (unknown).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

ARRAY_NAMES = ("n_atoms", "cells", "positions", "numbers", "energies", "forces", "stress", "groups", "sources")
# name -> (per "frame" or per "atom", shape of one entry): extras a dataset may carry
OPTIONAL_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "prior_energies": ("frame", ()),  # eV, of the whole frame
    "prior_forces": ("atom", (3,)),  # eV/Å
    "prior_stress": ("frame", (6,)),  # eV/Å^3, Voigt
}
_PER_ATOM = {"positions", "numbers", "forces"} | {n for n, (kind, _) in OPTIONAL_ARRAYS.items() if kind == "atom"}


def array_names(arrays: dict[str, np.ndarray]) -> list[str]:
    """The names of ``arrays`` in their canonical order: the required ones, then the optional ones present;
    raises ``ValueError`` for a required one missing or an unknown one."""
    missing = [name for name in ARRAY_NAMES if name not in arrays]
    unknown = sorted(set(arrays) - set(ARRAY_NAMES) - set(OPTIONAL_ARRAYS))
    if missing or unknown:
        raise ValueError(f"dataset arrays: missing {missing}, unknown {unknown} (optional ones: "
                         f"{', '.join(OPTIONAL_ARRAYS)})")
    return [*ARRAY_NAMES, *(name for name in OPTIONAL_ARRAYS if name in arrays)]


def with_optional(arrays: dict[str, np.ndarray], name: str, values) -> dict[str, np.ndarray]:
    """``arrays`` with the optional array ``name`` set to ``values`` (checked against its shape)."""
    kind, shape = OPTIONAL_ARRAYS[name]
    count = int(arrays["n_atoms"].sum()) if kind == "atom" else len(arrays["n_atoms"])
    values = np.asarray(values, dtype=float).reshape((count, *shape))
    return {**arrays, name: values}


def _unknown(name: str, n_atoms: np.ndarray) -> np.ndarray:
    kind, shape = OPTIONAL_ARRAYS[name]
    return np.full((int(n_atoms.sum()) if kind == "atom" else len(n_atoms), *shape), np.nan)


def has_forces(atoms: Atoms) -> bool:
    """True when ``atoms`` carries forces from its calculator (an oracle frame or a labelled structure)."""
    return atoms.calc is not None and "forces" in atoms.calc.results


def empty_arrays() -> dict[str, np.ndarray]:
    return {
        "n_atoms": np.zeros(0, dtype=np.int64),
        "cells": np.zeros((0, 3, 3)),
        "positions": np.zeros((0, 3)),
        "numbers": np.zeros(0, dtype=np.int64),
        "energies": np.zeros(0),
        "forces": np.zeros((0, 3)),
        "stress": np.zeros((0, 6)),
        "groups": np.zeros(0, dtype=np.int64),
        "sources": np.zeros(0, dtype="<U80"),
    }


def frames_to_arrays(frames: list[Atoms], groups, sources: list[str] | None = None) -> dict[str, np.ndarray]:
    """Flatten frames carrying single-point results (energy; forces and stress where known) and the optional arrays
    every frame carries as :func:`arrays_to_frames` puts them (the inverse of it); ``sources`` default to the group
    numbers."""
    if not frames:
        return empty_arrays()
    if sources is None:
        sources = [str(group) for group in groups]

    def result(atoms: Atoms, name: str, shape):
        calc = atoms.calc
        if calc is not None and name in calc.results:
            return np.asarray(calc.results[name], dtype=float).reshape(shape)
        return np.full(shape, np.nan)

    arrays = {
        "n_atoms": np.array([len(a) for a in frames], dtype=np.int64),
        "cells": np.array([a.cell[:] for a in frames], dtype=float),
        "positions": np.concatenate([a.positions for a in frames]),
        "numbers": np.concatenate([a.numbers for a in frames]).astype(np.int64),
        "energies": np.array([a.get_potential_energy() for a in frames], dtype=float),
        "forces": np.concatenate([result(a, "forces", (len(a), 3)) for a in frames]),
        "stress": np.array([result(a, "stress", (6,)) for a in frames]),
        "groups": np.asarray(groups, dtype=np.int64),
        "sources": np.asarray(sources, dtype="<U80"),
    }
    for name in OPTIONAL_ARRAYS:
        if name in _PER_ATOM and all(name in atoms.arrays for atoms in frames):
            arrays = with_optional(arrays, name, np.concatenate([atoms.arrays[name] for atoms in frames]))
        elif name not in _PER_ATOM and all(name in atoms.info for atoms in frames):
            arrays = with_optional(arrays, name, [atoms.info[name] for atoms in frames])
    return arrays


def arrays_to_frames(arrays: dict[str, np.ndarray]) -> list[Atoms]:
    """Atoms with single-point calculators; ``info`` holds ``group``, ``source`` and the per-frame optional
    arrays, ``arrays`` the per-atom ones."""
    optional = [name for name in array_names(arrays) if name in OPTIONAL_ARRAYS]
    frames = structures_of(arrays)
    offsets = np.concatenate([[0], np.cumsum(arrays["n_atoms"])])
    for k, atoms in enumerate(frames):
        lo, hi = offsets[k], offsets[k + 1]
        results = {"energy": float(arrays["energies"][k])}
        forces = arrays["forces"][lo:hi]
        if not np.isnan(forces).any():
            results["forces"] = forces
        if not np.isnan(arrays["stress"][k]).any():
            results["stress"] = arrays["stress"][k]
        atoms.calc = SinglePointCalculator(atoms, **results)
        atoms.info["group"] = int(arrays["groups"][k])
        atoms.info["source"] = str(arrays["sources"][k])
        for name in optional:
            if name in _PER_ATOM:
                atoms.arrays[name] = np.array(arrays[name][lo:hi])
            else:
                atoms.info[name] = np.array(arrays[name][k])
    return frames


def structures_of(arrays: dict[str, np.ndarray]) -> list[Atoms]:
    """The geometry of every frame (periodic Atoms without results): what descriptors and models read; the labels
    stay in ``arrays``."""
    offsets = np.concatenate([[0], np.cumsum(arrays["n_atoms"])])
    return [Atoms(arrays["numbers"][lo:hi], positions=arrays["positions"][lo:hi], cell=cell, pbc=True)
            for lo, hi, cell in zip(offsets[:-1], offsets[1:], arrays["cells"])]


def per_frame(arrays: dict[str, np.ndarray], name: str) -> list[np.ndarray]:
    """The per-atom array ``name`` split into one block per frame."""
    return np.split(arrays[name], np.cumsum(arrays["n_atoms"])[:-1]) if len(arrays["n_atoms"]) else []


def species_counts(arrays: dict[str, np.ndarray], numbers: list[int]) -> np.ndarray:
    """(frames, species) the number of atoms of each of ``numbers`` in every frame."""
    return np.array([[np.count_nonzero(block == z) for z in numbers] for block in per_frame(arrays, "numbers")],
                    dtype=float).reshape(len(arrays["n_atoms"]), len(numbers))


def concatenate(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``second`` appended to ``first``, its groups renumbered after the last group of ``first``."""
    offset = int(first["groups"].max()) + 1 if len(first["groups"]) else 0
    second = dict(second)
    second["groups"] = second["groups"] + offset - (int(second["groups"].min()) if len(second["groups"]) else 0)
    optional = sorted(set(array_names(first) + array_names(second)) - set(ARRAY_NAMES), key=list(OPTIONAL_ARRAYS).index)
    first = {**{name: _unknown(name, first["n_atoms"]) for name in optional}, **first}
    second = {**{name: _unknown(name, second["n_atoms"]) for name in optional}, **second}
    out = {}
    for name in [*ARRAY_NAMES, *optional]:
        a, b = first[name], second[name]
        if name == "sources":
            width = max(a.dtype.itemsize, b.dtype.itemsize) // 4 or 1
            out[name] = np.concatenate([a.astype(f"<U{width}"), b.astype(f"<U{width}")])
        else:
            out[name] = np.concatenate([a, b])
    return out


def rows(arrays: dict[str, np.ndarray], name: str, frames) -> np.ndarray:
    """The rows of array ``name`` that belong to the frames at ``frames`` (the frames themselves, or their atoms
    for a per-atom array), in the given order."""
    frames = np.asarray(frames, dtype=np.int64)
    if name not in _PER_ATOM:
        return frames
    offsets = np.concatenate([[0], np.cumsum(arrays["n_atoms"])])
    if not len(frames):
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in frames])


def subset(arrays: dict[str, np.ndarray], indices) -> dict[str, np.ndarray]:
    """The frames at ``indices`` (in the given order)."""
    return {name: arrays[name][rows(arrays, name, indices)] for name in array_names(arrays)}


def select_trajectory_frames(energies_per_atom: np.ndarray, min_change: float) -> np.ndarray:
    """Indices of the frames of one trajectory worth keeping: the first, every frame whose energy moved
    by more than ``min_change`` eV/atom from the last kept one, and the last (the relaxed structure)."""
    if len(energies_per_atom) == 0:
        return np.zeros(0, dtype=np.int64)
    kept = [0]
    for k in range(1, len(energies_per_atom) - 1):
        if abs(energies_per_atom[k] - energies_per_atom[kept[-1]]) > min_change:
            kept.append(k)
    if len(energies_per_atom) > 1:
        kept.append(len(energies_per_atom) - 1)
    return np.asarray(kept, dtype=np.int64)


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    np.savez(path, **arrays)


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays saved by :func:`save_arrays`: the required ones and the optional ones present."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in array_names({name: None for name in data.files})}

"""GA operators that keep a structure in its crystal system's lattice type.

Lattice strain respects the system's free cell parameters; cut-and-splice crossover mixes two parents'
fractional coordinates on a random plane and averages their lattices; rattle and species permutation
move atoms. Every operator returns a structure with the parent composition and target volume, or ``None``.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.geometry import cellpar_to_cell

from .generation import scale_to_volume
from .geometry import cell_is_sane

# which of (a, b, c, alpha, beta, gamma) a strain may change independently
_FREE_PARAMETERS = {
    "cubic": [],
    "tetragonal": ["c"],
    "hexagonal": ["c"],
    "trigonal": ["c"],
    "orthorhombic": ["b", "c"],
    "monoclinic": ["b", "c", "beta"],
    "triclinic": ["b", "c", "alpha", "beta", "gamma"],
}
_INDEX = {"a": 0, "b": 1, "c": 2, "alpha": 3, "beta": 4, "gamma": 5}


def _finish(atoms: Atoms, volume: float, length_scale: float = 1.0) -> Atoms | None:
    atoms = scale_to_volume(atoms, volume)
    atoms.wrap()
    return atoms if cell_is_sane(atoms, length_scale) else None


def strain(atoms: Atoms, system: str, volume: float, rng: np.random.Generator, amplitude: float = 0.15,
           length_scale: float = 1.0):
    """Change the free lattice parameters of ``system`` by up to ``amplitude`` (relative; angles ±10°)."""
    cellpar = atoms.cell.cellpar()
    for name in _FREE_PARAMETERS[system]:
        k = _INDEX[name]
        if k < 3:
            cellpar[k] *= 1.0 + rng.uniform(-amplitude, amplitude)
        else:
            cellpar[k] = float(np.clip(cellpar[k] + rng.uniform(-10.0, 10.0), 60.0, 120.0))
    out = Atoms(atoms.numbers, cell=cellpar_to_cell(cellpar), scaled_positions=atoms.get_scaled_positions(),
                pbc=True)
    return _finish(out, volume, length_scale)


def rattle(atoms: Atoms, volume: float, rng: np.random.Generator, sigma: float = 0.25, length_scale: float = 1.0):
    out = atoms.copy()
    out.positions += rng.normal(0.0, sigma, size=out.positions.shape)
    return _finish(out, volume, length_scale)


def permute(atoms: Atoms, volume: float, rng: np.random.Generator, length_scale: float = 1.0):
    """Swap the species of two atoms of different elements; ``None`` for an elemental structure."""
    numbers = atoms.get_atomic_numbers()
    if len(set(numbers)) < 2:
        return None
    first = int(rng.integers(len(numbers)))
    others = np.nonzero(numbers != numbers[first])[0]
    second = int(rng.choice(others))
    out = atoms.copy()
    numbers[first], numbers[second] = numbers[second], numbers[first]
    out.set_atomic_numbers(numbers)
    return _finish(out, volume, length_scale)


def crossover(mother: Atoms, father: Atoms, volume: float, rng: np.random.Generator, length_scale: float = 1.0):
    """Cut-and-splice of fractional coordinates on a random plane, composition repaired, lattices averaged."""
    axis = int(rng.integers(3))
    cut = rng.uniform(0.25, 0.75)
    shift_m, shift_f = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    frac_m = (mother.get_scaled_positions() + shift_m) % 1.0
    frac_f = (father.get_scaled_positions() + shift_f) % 1.0
    take_m = frac_m[:, axis] < cut
    take_f = frac_f[:, axis] >= cut
    numbers_m, numbers_f = mother.get_atomic_numbers(), father.get_atomic_numbers()
    positions, numbers = [], []
    for z in np.unique(numbers_m):
        target = int(np.sum(numbers_m == z))
        from_m = frac_m[take_m & (numbers_m == z)]
        from_f = frac_f[take_f & (numbers_f == z)]
        chosen = np.concatenate([from_m, from_f])
        if len(chosen) > target:
            chosen = chosen[rng.permutation(len(chosen))[:target]]
        elif len(chosen) < target:
            spare = np.concatenate([frac_m[~take_m & (numbers_m == z)], frac_f[~take_f & (numbers_f == z)]])
            if len(spare) < target - len(chosen):
                return None
            # fill from the atoms nearest to the cut plane
            distance = np.abs(spare[:, axis] - cut)
            chosen = np.concatenate([chosen, spare[np.argsort(distance)[: target - len(chosen)]]])
        positions.append(chosen)
        numbers += [int(z)] * target
    weight = rng.uniform(0.3, 0.7)
    cellpar = weight * mother.cell.cellpar() + (1.0 - weight) * father.cell.cellpar()
    child = Atoms(numbers, cell=cellpar_to_cell(cellpar), scaled_positions=np.concatenate(positions), pbc=True)
    return _finish(child, volume, length_scale)

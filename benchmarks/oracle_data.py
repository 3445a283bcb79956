"""Oracle-labelled datasets for the network benchmarks: random symmetric structures (all 7 crystal systems)
and frames of their relaxations, labelled by the oracle (CHGNet by default; any calculator of the registry) with
energy, forces and stress. Cached as extxyz.

    python benchmarks/oracle_data.py Si8 --relaxations 120 --workers 2 [--oracle sevennet]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"


def _relax_batch(job: tuple) -> list:
    composition_text, volume, seed, n, steps, stride, oracle = job
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
    from aiida_cryspai.ml.potentials import get_calculator
    from aiida_cryspai.ml.relax import RelaxGuards, relax
    from aiida_cryspai.search.composition import parse_composition
    from aiida_cryspai.search.generation import random_structures

    composition = parse_composition(composition_text)
    systems = list(CRYSTAL_SYSTEMS)
    calculator = get_calculator(oracle)
    frames = []
    per_atom = volume / composition.n_atoms
    # no clock: ``steps`` bounds each relaxation, and a time limit would make the data depend on the machine's load
    guards = RelaxGuards(min_volume_per_atom=0.4 * per_atom, max_volume_per_atom=3.0 * per_atom,
                         max_energy_per_atom=0.0, max_seconds=None)
    structures = random_structures(composition, systems, -(-n // len(systems)), volume, seed)[:n]
    for index, atoms in enumerate(structures):
        result = relax(atoms, calculator, fmax=0.05, max_steps=steps, guards=guards)
        kept = result.frames[::stride] + ([result.frames[-1]] if result.frames else [])
        for frame in kept:
            frame.info["group"] = seed * 10000 + index
            frame.info["crystal_system"] = atoms.info["crystal_system"]
        frames += kept
    return frames


def oracle_dataset(composition: str, relaxations: int, volume: float, workers: int = 2, steps: int = 80,
                   stride: int = 4, seed: int = 0, oracle: str = "chgnet") -> Path:
    """Path of the cached extxyz dataset, made if missing."""
    from ase.io import write

    CACHE.mkdir(exist_ok=True)
    suffix = "" if stride == 4 else f"_every{stride}"
    path = CACHE / f"{composition}_{oracle}_{relaxations}_s{seed}{suffix}.extxyz"
    if path.exists():
        return path
    per_job = 14
    jobs = [(composition, volume, seed * 1000 + k, per_job, steps, stride, oracle)
            for k in range(-(-relaxations // per_job))]
    start = time.perf_counter()
    if workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(workers) as pool:
            batches = pool.map(_relax_batch, jobs)
    else:
        batches = [_relax_batch(job) for job in jobs]
    frames = [frame for batch in batches for frame in batch]
    write(path, frames, format="extxyz")
    print(f"{composition}: {len(frames)} frames from {len(jobs) * per_job} relaxations in "
          f"{time.perf_counter() - start:.0f} s -> {path}")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("composition")
    parser.add_argument("--relaxations", type=int, default=112)
    parser.add_argument("--volume", type=float, required=True, help="cell volume of the random structures (Å^3)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stride", type=int, default=4, help="keep every n-th relaxation frame and the last")
    parser.add_argument("--oracle", default="chgnet", help="calculator of the registry that labels the frames")
    args = parser.parse_args()
    oracle_dataset(args.composition, args.relaxations, args.volume, args.workers, stride=args.stride, seed=args.seed,
                   oracle=args.oracle)

"""What batching buys the prior's screening on this machine: SevenNet-0 (and CHGNet) evaluated on the screening's
kind of structures one by one (as the relaxer evaluates them today) against the same structures in batches of one
graph (``ml/potentials.py``), side by side in one process, several rounds interleaved so that a load beside it
weighs on both alike. A relaxation is a sequence of such evaluations (one per FIRE step), so the ratio of the two is
the most a batched relaxer can gain.

    cd benchmarks && python screening_batch.py Ti4O8 Mg2Al4O8 --structures 56 --output results/screening_batch.jsonl
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rows import emit_row

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
from aiida_cryspai.ml.potentials import _chgnet_batch, _sevennet_batch, _single, get_calculator
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_structures_by_spacegroup
from aiida_cryspai.search.volume import estimate_volume

BATCHED = {"sevennet": _sevennet_batch, "chgnet": _chgnet_batch}


def structures(composition: str, count: int, seed: int = 0):
    """The screening's kind of structures: random symmetric ones over the seven systems at 2 x Eq. 2's volume
    (Eq. 2 puts these oxides about half their known volume)."""
    parsed = parse_composition(composition)
    return random_structures_by_spacegroup(parsed, list(CRYSTAL_SYSTEMS), count, 2.0 * estimate_volume(parsed),
                                           seed)


def measure(composition: str, potential: str, count: int, rounds: int, batch_sizes: list[int]) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    calculator = get_calculator(potential)
    cells = structures(composition, count)
    layouts = {"one by one": lambda: [_single(calculator, atoms) for atoms in cells]}
    for size in batch_sizes:
        layouts[f"batches of {size}"] = lambda size=size: [
            result for start in range(0, len(cells), size)
            for result in BATCHED[potential](calculator, cells[start:start + size])]
    for run in layouts.values():  # warm up: first calls build caches
        run()
    walls = {name: [] for name in layouts}
    reference = np.array([energy for energy, _, _ in layouts["one by one"]()])
    for _ in range(rounds):
        for name, run in layouts.items():
            start = time.perf_counter()
            energies = np.array([energy for energy, _, _ in run()])
            walls[name].append(time.perf_counter() - start)
            assert np.allclose(energies, reference, atol=1e-3 * len(cells[0])), name
    base = float(np.median(walls["one by one"]))
    return [{"composition": composition, "potential": potential, "structures": len(cells),
             "atoms": len(cells[0]), "layout": name, "rounds": rounds,
             "median_s": round(float(np.median(times)), 2),
             "ms_per_structure": round(1000 * float(np.median(times)) / len(cells), 1),
             "speedup": round(base / float(np.median(times)), 2), "threads": 1} for name, times in walls.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compositions", nargs="+")
    parser.add_argument("--potentials", nargs="+", default=["sevennet", "chgnet"], choices=sorted(BATCHED))
    parser.add_argument("--structures", type=int, default=56)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 56])
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    for composition in args.compositions:
        for potential in args.potentials:
            for row in measure(composition, potential, args.structures, args.rounds, args.batch_sizes):
                emit_row(row, args.output)


if __name__ == "__main__":
    main()

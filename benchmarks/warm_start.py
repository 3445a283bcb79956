"""Training from scratch against training on from the previous network (warm start), as the loop retrains: the
dataset grows by a few relaxations per iteration, and each iteration's network is trained either from new random
weights (cold) or from the previous iteration's (warm).

The pool is oracle-labelled relaxations (``oracle_data.py``, CHGNet by default) within the protocol's energy window;
the first relaxations up to ``min_samples`` frames make the first training set, then ``oracle_per_iteration``
relaxations join per iteration. Held-out relaxations of another seed are the test set. One JSON row per iteration
and start (cold, warm): wall time, L-BFGS steps, validation RMSE, test RMSE (all, and within 0.2 eV/atom of the
lowest pool frame). Rows are appended to ``--output`` as they finish.

    cd benchmarks && python warm_start.py Si8 --volume 160 --iterations 6 --output results/warm_start_<commit>.jsonl
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase.io import read
from learning_curve import near_ground_state, within_window
from oracle_data import oracle_dataset
from rows import emit_row

from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.evaluation import evaluate
from aiida_cryspai.ml.training import TrainingSettings, train
from aiida_cryspai.protocols import get_protocol


def growing_sets(pool: list, min_samples: int, per_iteration: int, iterations: int) -> list[list]:
    """The training set of each iteration: whole relaxations (groups) in the pool's order."""
    groups = list(dict.fromkeys(a.info["group"] for a in pool))
    by_group = {g: [a for a in pool if a.info["group"] == g] for g in groups}
    first, count = 0, 0
    while first < len(groups) and count < min_samples:
        count += len(by_group[groups[first]])
        first += 1
    sets = []
    for iteration in range(iterations):
        chosen = groups[: first + iteration * per_iteration]
        sets.append([frame for g in chosen for frame in by_group[g]])
        if len(chosen) >= len(groups):
            break
    return sets


def compare(composition: str, volume: float, protocol: str, iterations: int, pool_relaxations: int,
            test_relaxations: int, output: str | None, commit: str) -> None:
    parameters = get_protocol(protocol)
    window = parameters["dataset"]["energy_window"]
    pool = read(oracle_dataset(composition, pool_relaxations, volume, seed=0), index=":")
    test = read(oracle_dataset(composition, test_relaxations, volume, seed=1), index=":")
    lowest = min(a.get_potential_energy() / len(a) for a in pool)
    pool, test = within_window(pool, lowest, window), within_window(test, lowest, window)
    species = sorted({s for a in pool for s in a.get_chemical_symbols()})
    descriptor = DescriptorSettings(species=species, **parameters["descriptor"])
    settings = TrainingSettings(**parameters["training"])
    previous = None
    for iteration, frames in enumerate(growing_sets(pool, parameters["min_samples"],
                                                    parameters["oracle_per_iteration"], iterations), start=1):
        arrays = frames_to_arrays(frames, np.array([a.info["group"] for a in frames]))
        for start_name in ("cold", "warm"):
            start = previous if start_name == "warm" else None
            began = time.perf_counter()
            model, metrics = train(arrays, descriptor, settings, log=lambda _: None, start=start)
            row = {"composition": composition, "protocol": protocol, "commit": commit, "iteration": iteration,
                   "start": start_name, "n_frames": len(frames), "warm_started": metrics["warm_started"],
                   "train_s": round(time.perf_counter() - began, 1), "steps": metrics["epochs"],
                   "validation_rmse": round(metrics["rmse_validation_mev_per_atom"], 1),
                   "test_rmse": round(evaluate(model, test)["rmse_mev_per_atom"], 1), "n_test": len(test),
                   **near_ground_state(model, test, lowest)}
            emit_row(row, output)
        previous = model  # the warm run's (at the first iteration there is nothing to start from: from new weights)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("composition")
    parser.add_argument("--volume", type=float, required=True, help="cell volume of the random structures (Å^3)")
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--pool-relaxations", type=int, default=42)
    parser.add_argument("--test-relaxations", type=int, default=14)
    parser.add_argument("--output", default=None)
    parser.add_argument("--commit", default="working tree")
    args = parser.parse_args()
    compare(args.composition, args.volume, args.protocol, args.iterations, args.pool_relaxations,
            args.test_relaxations, args.output, args.commit)

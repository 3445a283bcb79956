"""Out-of-sample RMSE of the atomic-energy network against training-set size, on CHGNet-labelled data.

Training pool and test set are different relaxations (different seeds). Both are restricted to the energy window
the workchain trains on (``dataset.energy_window`` above the lowest frame). One JSON line per training size.

    python benchmarks/learning_curve.py Si8 --volume 160 --sizes 100 250 500 1000 2000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from ase.io import read
from oracle_data import oracle_dataset

from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.evaluation import evaluate
from aiida_cryspai.ml.training import TrainingSettings, train
from aiida_cryspai.protocols import get_protocol


def within_window(frames: list, lowest: float, window: float) -> list:
    return [a for a in frames if a.get_potential_energy() / len(a) <= lowest + window]


def near_ground_state(model, test: list, lowest: float, window: float = 0.2) -> dict:
    """RMSE on the test frames within ``window`` eV/atom of the lowest pool frame: the region the search ranks."""
    near = within_window(test, lowest, window)
    if not near:
        return {"n_test_near": 0}
    return {"rmse_near_mev_per_atom": round(evaluate(model, near)["rmse_mev_per_atom"], 2), "n_test_near": len(near)}


def learning_curve(composition: str, volume: float, sizes: list[int], pool_relaxations: int, test_relaxations: int,
                   training: dict, protocol: str, window: float, seed: int = 0,
                   descriptor: dict | None = None) -> list[dict]:
    pool = read(oracle_dataset(composition, pool_relaxations, volume, seed=0), index=":")
    test = read(oracle_dataset(composition, test_relaxations, volume, seed=1), index=":")
    lowest = min(a.get_potential_energy() / len(a) for a in pool)
    pool, test = within_window(pool, lowest, window), within_window(test, lowest, window)
    parameters = get_protocol(protocol)
    species = sorted({s for a in pool for s in a.get_chemical_symbols()})
    descriptor = DescriptorSettings(species=species, **{**parameters["descriptor"], **(descriptor or {})})
    settings = TrainingSettings(**{**parameters["training"], **training, "seed": seed})
    rows = []
    rng = np.random.default_rng(seed)
    for size in sizes:
        if size > len(pool):
            print(f"# {size} frames asked, the pool has {len(pool)}: using all of them")
            size = len(pool)
        chosen = rng.permutation(len(pool))[:size]
        frames = [pool[k] for k in chosen]
        groups = np.array([a.info["group"] for a in frames])
        start = time.perf_counter()
        model, metrics = train(frames_to_arrays(frames, groups), descriptor, settings, log=lambda _: None)
        row = {"composition": composition, "n_train_frames": size, "optimizer": settings.optimizer,
               "ensemble_size": settings.ensemble_size, "force_weight": settings.force_weight,
               "descriptor": {k: v for k, v in descriptor.as_dict().items() if k != "species"},
               "train_s": round(time.perf_counter() - start, 1), "steps": metrics["epochs"],
               "validation_rmse": round(metrics["rmse_validation_mev_per_atom"], 1),
               **{k: round(v, 2) for k, v in evaluate(model, test).items() if isinstance(v, float)},
               "n_test": len(test), **near_ground_state(model, test, lowest)}
        print(json.dumps(row), flush=True)
        rows.append(row)
        if size == len(pool):
            break
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("composition")
    parser.add_argument("--volume", type=float, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000, 2000])
    parser.add_argument("--pool-relaxations", type=int, default=112)
    parser.add_argument("--test-relaxations", type=int, default=28)
    parser.add_argument("--energy-window", type=float, default=1.0, help="eV/atom above the lowest pool frame")
    parser.add_argument("--protocol", default="precise")
    parser.add_argument("--training", default="{}", help="JSON overrides of the protocol's training settings")
    parser.add_argument("--descriptor", default="{}", help="JSON overrides of the protocol's descriptor settings")
    args = parser.parse_args()
    learning_curve(args.composition, args.volume, args.sizes, args.pool_relaxations, args.test_relaxations,
                   json.loads(args.training), args.protocol, args.energy_window,
                   descriptor=json.loads(args.descriptor))

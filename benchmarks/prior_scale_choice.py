"""Can the work chain choose between the prior's offset alone and the scaled prior (offset + factor) from its own
training relaxations? Leave one relaxation out, compare the two fits on its frames within 0.2 eV/atom of the lowest
training frame, and set that choice beside the error of both on the test relaxations of ``prior_learning_curve.py``
(same cached datasets: run that first).

    cd benchmarks && python prior_scale_choice.py Ti4O8 CaTiO3 --sizes 3 10
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from ase.io import read
from oracle_data import CACHE
from prior_learning_curve import _errors, _labelled, prior_line

from aiida_cryspai.ml.potentials import get_calculator


def _predicted(frames: list, scaled: bool, fitted_on: list) -> np.ndarray:
    """Total energies of ``frames`` from the prior line fitted on ``fitted_on``."""
    scale, offset = prior_line(fitted_on, scaled)
    return np.array([scale * f.info["prior_energies"] + offset * len(f) for f in frames])


def _largest(composition: str, oracle: str, seed: int):
    """The cached dataset of ``composition`` with the most relaxations for ``seed``."""
    paths = CACHE.glob(f"{composition}_{oracle}_*_s{seed}.extxyz")
    return max(paths, key=lambda path: int(path.stem.split("_")[-2]))


def compare(composition: str, sizes: list[int], prior_name: str, oracle: str) -> None:
    prior = get_calculator(prior_name)
    pool = _labelled(read(_largest(composition, oracle, 0), index=":"), prior)
    test = _labelled(read(_largest(composition, oracle, 1), index=":"), prior)
    energies = np.array([f.get_potential_energy() / len(f) for f in test])
    near = energies <= energies.min() + 0.2
    groups = sorted({f.info["group"] for f in pool})
    for size in sizes:
        chosen = groups[:size]
        frames = [f for f in pool if f.info["group"] in chosen]
        lowest = min(f.get_potential_energy() / len(f) for f in frames)
        frames = [f for f in frames if f.get_potential_energy() / len(f) <= lowest + 1.0]
        row = {"composition": composition, "relaxations": size, "oracle": oracle, "prior": prior_name}
        for scaled, name in ((False, "offset"), (True, "scaled")):
            held_out, predicted = [], []
            for group in chosen:
                train = [f for f in frames if f.info["group"] != group]
                held = [f for f in frames if f.info["group"] == group
                        and f.get_potential_energy() / len(f) <= lowest + 0.2]
                if train and held:
                    held_out += held
                    predicted += list(_predicted(held, scaled, train))
            row[f"{name}_cv_near_mev_per_atom"] = (
                _errors(np.array(predicted), held_out, np.ones(len(held_out), bool)) if held_out else None)
            row[f"{name}_test_near_mev_per_atom"] = _errors(_predicted(test, scaled, frames), test, near)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compositions", nargs="+")
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--oracle", default="chgnet")
    parser.add_argument("--prior", default="sevennet")
    args = parser.parse_args()
    for name in args.compositions:
        compare(name, args.sizes, args.prior, args.oracle)

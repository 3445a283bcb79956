"""Which correction generalises to the basin: variants of the correction network's training on the same split as
``prior_learning_curve.py`` (pool seed 0, test seed 1), near-basin and window RMSE in meV/atom.

    python benchmarks/correction_variants.py Si8 --volume 160 --relaxations 10 --oracle chgnet --prior sevennet
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from ase.io import read
from oracle_data import oracle_dataset
from prior_learning_curve import _errors, _labelled
from rows import emit_row

from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.potentials import get_calculator
from aiida_cryspai.ml.prior import Surrogate, train_correction
from aiida_cryspai.ml.training import TrainingSettings
from aiida_cryspai.protocols import get_protocol

VARIANTS = {
    "protocol": {},
    "weight decay 1e-5": {"correction_weight_decay": 1e-5},
    "weight decay 1e-5, energies only": {"correction_weight_decay": 1e-5, "force_weight": 0.0},
    "weight decay 1e-2": {"correction_weight_decay": 1e-2},
    "energies only": {"force_weight": 0.0},
    "validation 0.3": {"validation_fraction": 0.3},
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("composition")
    parser.add_argument("--volume", type=float, required=True)
    parser.add_argument("--relaxations", type=int, nargs="+", default=[10])
    parser.add_argument("--pool", type=int, default=30)
    parser.add_argument("--oracle", default="chgnet")
    parser.add_argument("--prior", default="sevennet")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--output", default=None, help="a .jsonl file the rows are appended to")
    args = parser.parse_args()
    pool = read(oracle_dataset(args.composition, args.pool, args.volume, seed=0, oracle=args.oracle), index=":")
    test = read(oracle_dataset(args.composition, 14, args.volume, seed=1, oracle=args.oracle), index=":")
    prior = get_calculator(args.prior)
    pool, test = _labelled(pool, prior), _labelled(test, prior)
    energies = np.array([a.get_potential_energy() / len(a) for a in test])
    near, window = energies <= energies.min() + 0.2, energies <= energies.min() + 1.0
    parameters = get_protocol("fast")
    descriptor = DescriptorSettings(species=sorted({s for a in pool for s in a.get_chemical_symbols()}),
                                    **parameters["descriptor"])
    base = TrainingSettings(**parameters["training"])
    groups = sorted({a.info["group"] for a in pool})
    for size in args.relaxations:
        frames = [a for a in pool if a.info["group"] in set(groups[:size])]
        lowest = min(a.get_potential_energy() / len(a) for a in frames)
        frames = [a for a in frames if a.get_potential_energy() / len(a) <= lowest + 1.0]
        for name in args.variants:
            start = time.perf_counter()
            correction, metrics = train_correction(frames_to_arrays(frames, [a.info["group"] for a in frames]),
                                                   descriptor, replace(base, **VARIANTS[name]), args.prior,
                                                   log=lambda _: None)
            predicted = np.array([e for e, _, _ in Surrogate(args.prior, correction, prior).evaluate(test)])
            row = {"composition": args.composition, "oracle": args.oracle, "prior": args.prior, "relaxations": size,
                   "variant": name, "network_used": metrics["network_used"],
                   "validation": metrics["rmse_validation_mev_per_atom"],
                   "near": _errors(predicted, test, near), "window": _errors(predicted, test, window),
                   "wall_s": round(time.perf_counter() - start)}
            emit_row(row, args.output)

"""Throughput of the network: descriptors (atoms/s), batched relaxation vs one-by-one ASE relaxation
(structures/s) on random symmetric structures of 8-20 atoms, and training time.

    cd benchmarks && python network_throughput.py --composition Si8 --volume 160 \
        --output results/network_throughput.jsonl --commit <commit>
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from ase.io import read
from oracle_data import oracle_dataset
from rows import emit_row

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings, features_of
from aiida_cryspai.ml.network import NetworkCalculator
from aiida_cryspai.ml.relax import RelaxGuards, relax, relax_batch
from aiida_cryspai.ml.training import TrainingSettings, train
from aiida_cryspai.protocols import get_protocol
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_structures


def main(composition: str, volume: float, n_structures: int, steps: int, relaxations: int = 112) -> dict:
    torch.set_num_threads(1)
    frames = read(oracle_dataset(composition, relaxations, volume, seed=0), index=":")
    parameters = get_protocol("precise")
    species = sorted({s for a in frames for s in a.get_chemical_symbols()})
    descriptor = DescriptorSettings(species=species, **parameters["descriptor"])
    out = {"composition": composition, "threads": 1, "dataset_relaxations": relaxations}

    start = time.perf_counter()
    for atoms in frames:
        features_of(atoms, descriptor)
    out["descriptor_atoms_per_s"] = round(sum(len(a) for a in frames) / (time.perf_counter() - start))

    energies = np.array([a.get_potential_energy() for a in frames])
    lowest = (energies / np.array([len(a) for a in frames])).min()
    window = [k for k, a in enumerate(frames) if a.get_potential_energy() / len(a) < lowest + 1.0][:500]
    chosen = [frames[k] for k in window]
    for size in (1, 4):
        settings = TrainingSettings(**{**parameters["training"], "ensemble_size": size})
        start = time.perf_counter()
        model, metrics = train(frames_to_arrays(chosen, [a.info["group"] for a in chosen]), descriptor, settings,
                               log=lambda _: None)
        out[f"train_500_frames_ensemble_{size}_s"] = round(time.perf_counter() - start, 1)

    structures = random_structures(parse_composition(composition), list(CRYSTAL_SYSTEMS),
                                   -(-n_structures // 7), volume, seed=5)[:n_structures]
    guards = RelaxGuards(max_seconds=None)
    start = time.perf_counter()
    batch = relax_batch(structures, model, fmax=0.05, max_steps=steps, guards=guards, record_frames=False)
    batch_s = time.perf_counter() - start
    calculator = NetworkCalculator(model)
    start = time.perf_counter()
    single = [relax(a, calculator, fmax=0.05, max_steps=steps, guards=guards, record_frames=False) for a in structures]
    single_s = time.perf_counter() - start
    out.update({
        "relaxations": len(structures), "max_steps": steps,
        "batched_structures_per_s": round(len(structures) / batch_s, 2),
        "batched_steps": int(sum(r.n_steps for r in batch)),
        "ase_fire_structures_per_s": round(len(structures) / single_s, 2),
        "ase_fire_steps": int(sum(r.n_steps for r in single)),
        "ensemble_size": len(model),
    })
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--composition", default="Si8")
    parser.add_argument("--volume", type=float, default=160.0)
    parser.add_argument("--structures", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--relaxations", type=int, default=112, help="oracle relaxations of the training data")
    parser.add_argument("--output", default=None)
    parser.add_argument("--commit", default="working tree")
    args = parser.parse_args()
    row = main(args.composition, args.volume, args.structures, args.steps, args.relaxations)
    emit_row({**row, "commit": args.commit}, args.output)

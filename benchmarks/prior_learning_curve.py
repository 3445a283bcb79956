"""Out-of-sample error against the number of oracle relaxations trained on: prior alone (offsets fitted), prior scaled
(offsets and one factor on the prior fitted), prior + correction (the scale, then the network where it beats the
scaled prior on held-out relaxations: what the work chain trains), and the pure network. The oracle and the prior
are different models (SevenNet-0 as oracle, CHGNet as prior by default: they disagree by ~50 meV/atom RMS on TiO2
polymorphs, the size of a potential's error against DFT).

Training relaxations and test relaxations come from different seeds. Errors are measured near the basin (test
frames within 0.2 eV/atom of the lowest test frame: the region the search ranks) and over the 1 eV/atom window the
work chain trains on (training frames are cut to that window too). One JSON line per (composition, relaxations,
method), appended as it finishes; a rerun skips the rows already written.

    python benchmarks/prior_learning_curve.py Si8 --volume 160 --relaxations 1 3 10 30
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ase.io import read
from oracle_data import oracle_dataset
from rows import emit_row

from aiida_cryspai.ml.dataset import arrays_to_frames, frames_to_arrays, with_optional
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.potentials import get_calculator
from aiida_cryspai.ml.prior import Surrogate, fit_prior_scale, prior_labels, train_correction
from aiida_cryspai.ml.training import TrainingSettings, train
from aiida_cryspai.protocols import get_protocol

RESULTS = Path(__file__).parent / "results" / "prior_learning_curve.jsonl"


def _labelled(frames: list, prior) -> list:
    """``frames`` with the prior's energies and forces as their optional arrays (computed once)."""
    groups = [int(a.info["group"]) for a in frames]
    arrays = frames_to_arrays(frames, groups, [str(g) for g in groups])
    for name, values in prior_labels(frames, prior).items():
        arrays = with_optional(arrays, name, values)
    return arrays_to_frames(arrays)


def fine_tuned_chgnet(frames: list, test: list, epochs: int, seed: int = 0) -> np.ndarray:
    """Total energies of ``test`` from CHGNet fine-tuned on ``frames`` (energies and forces) with CHGNet's own
    trainer, as its fine-tuning tutorial does: embeddings, bond/angle layers and all but the last atom convolution
    frozen; the last convolution and the readout trained. The per-element reference energies (AtomRef) are first
    shifted by the least-squares offsets between the oracle and CHGNet on ``frames`` (what "prior alone" fits): by
    gradient steps they would take hundreds of epochs to cross the eV/atom between two reference schemes."""
    import tempfile

    import torch
    from chgnet.data.dataset import StructureData, get_train_val_test_loader
    from chgnet.model import CHGNet
    from chgnet.trainer import Trainer
    from pymatgen.io.ase import AseAtomsAdaptor

    model = CHGNet.load(verbose=False)
    counts = np.array([np.bincount(a.numbers, minlength=95)[1:] for a in frames], dtype=float)
    residual = np.array([a.get_potential_energy() - a.info["prior_energies"] for a in frames])
    offsets = np.linalg.lstsq(counts, residual, rcond=None)[0]
    with torch.no_grad():
        model.composition_model.fc.weight += torch.tensor(offsets[: model.composition_model.max_num_elements],
                                                          dtype=model.composition_model.fc.weight.dtype)
    frozen = [model.atom_embedding, model.bond_embedding, model.angle_embedding, model.bond_basis_expansion,
              model.angle_basis_expansion, *model.atom_conv_layers[:-1], model.bond_conv_layers, model.angle_layers]
    for layer in frozen:
        for parameter in layer.parameters():
            parameter.requires_grad = False
    structures = [AseAtomsAdaptor.get_structure(a) for a in frames]
    dataset = StructureData(structures=structures, energies=[a.get_potential_energy() / len(a) for a in frames],
                            forces=[a.get_forces() for a in frames])
    train_loader, val_loader, _ = get_train_val_test_loader(dataset, batch_size=8, train_ratio=0.9, val_ratio=0.1)
    trainer = Trainer(model=model, targets="ef", optimizer="Adam", scheduler="CosLR", criterion="MSE",
                      epochs=epochs, learning_rate=1e-3, use_device="cpu", print_freq=10**6, torch_seed=seed,
                      data_seed=seed)
    with tempfile.TemporaryDirectory() as save_dir:
        trainer.train(train_loader, val_loader, save_dir=save_dir)
    best = trainer.best_model or trainer.model
    predictions = best.predict_structure([AseAtomsAdaptor.get_structure(a) for a in test], task="e", batch_size=16)
    return np.array([float(p["e"]) * len(a) for p, a in zip(predictions, test, strict=True)])


def prior_line(frames: list, scaled: bool) -> tuple[float, float]:
    """(a, b) of E_oracle = a E_prior + N b on ``frames``: b alone (a = 1, one offset per atom: one composition
    here), or a by least squares too (``fit_prior_scale``) and b as the mean residual per atom."""
    scale = fit_prior_scale(frames_to_arrays(frames, [a.info["group"] for a in frames])) if scaled else 1.0
    offset = np.mean([(a.get_potential_energy() - scale * a.info["prior_energies"]) / len(a) for a in frames])
    return scale, float(offset)


def _errors(predicted: np.ndarray, frames: list, mask: np.ndarray) -> float:
    reference = np.array([a.get_potential_energy() / len(a) for a in frames])
    n_atoms = np.array([len(a) for a in frames])
    return round(float(np.sqrt(np.mean(((predicted / n_atoms - reference)[mask]) ** 2))) * 1000, 1)


def run(composition: str, volume: float, sizes: list[int], oracle: str, prior_name: str, test_relaxations: int,
        protocol: str, fine_tune_epochs: int = 30) -> None:
    done = set()
    if RESULTS.exists():
        done = {(r["composition"], r["relaxations"], r["method"], r["oracle"], r["prior"])
                for r in map(json.loads, RESULTS.read_text().splitlines())}
    pool = read(oracle_dataset(composition, max(sizes), volume, seed=0, oracle=oracle), index=":")
    test = read(oracle_dataset(composition, test_relaxations, volume, seed=1, oracle=oracle), index=":")
    prior = get_calculator(prior_name)
    pool, test = _labelled(pool, prior), _labelled(test, prior)
    energies = np.array([a.get_potential_energy() / len(a) for a in test])
    near, window = energies <= energies.min() + 0.2, energies <= energies.min() + 1.0
    parameters = get_protocol(protocol)
    species = sorted({s for a in pool for s in a.get_chemical_symbols()})
    descriptor = DescriptorSettings(species=species, **parameters["descriptor"])
    settings = TrainingSettings(**parameters["training"])
    groups = sorted({a.info["group"] for a in pool})
    window_ev = parameters["dataset"]["energy_window"]
    for size in sizes:
        chosen = set(groups[:size])
        frames = [a for a in pool if a.info["group"] in chosen]
        # what the work chain trains on: frames within the dataset's energy window of the lowest one
        lowest = min(a.get_potential_energy() / len(a) for a in frames)
        frames = [a for a in frames if a.get_potential_energy() / len(a) <= lowest + window_ev]
        frame_groups = np.array([a.info["group"] for a in frames])
        methods = ["prior alone", "prior scaled", "prior + correction", "network alone"]
        if prior_name == "chgnet":
            methods.append("fine-tuned prior")
        for method in methods:
            key = (composition, size, method, oracle, prior_name)
            if key in done:
                continue
            start = time.perf_counter()
            if method in ("prior alone", "prior scaled"):
                scale, offset = prior_line(frames, scaled=method == "prior scaled")
                predicted = np.array([scale * a.info["prior_energies"] + offset * len(a) for a in test])
            elif method == "prior + correction":
                correction, fit = train_correction(frames_to_arrays(frames, frame_groups), descriptor, settings,
                                                   prior_name, log=lambda _: None)
                predicted = np.array([e for e, _, _ in Surrogate(prior_name, correction, prior).evaluate(test)])
            elif method == "fine-tuned prior":
                predicted = fine_tuned_chgnet(frames, test, epochs=fine_tune_epochs)
            else:
                model, _ = train(frames_to_arrays(frames, frame_groups), descriptor, settings, log=lambda _: None)
                predicted = model.predict_energies(test)
            row = {"composition": composition, "oracle": oracle, "prior": prior_name, "relaxations": size,
                   "frames": len(frames), "method": method, "protocol": protocol,
                   "rmse_near_mev_per_atom": _errors(predicted, test, near), "n_test_near": int(near.sum()),
                   "rmse_window_mev_per_atom": _errors(predicted, test, window), "n_test_window": int(window.sum()),
                   "wall_s": round(time.perf_counter() - start, 1)}
            if method == "prior + correction":
                row.update(prior_scale=round(fit["prior_scale"], 4), network_used=fit["network_used"])
            elif method == "fine-tuned prior":
                row.update(epochs=fine_tune_epochs)
            elif method == "prior scaled":
                row.update(prior_scale=round(scale, 4))
            emit_row(row, RESULTS)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("composition")
    parser.add_argument("--volume", type=float, required=True, help="cell volume of the random structures (Å^3)")
    parser.add_argument("--relaxations", type=int, nargs="+", default=[1, 3, 10, 30])
    parser.add_argument("--test-relaxations", type=int, default=14)
    parser.add_argument("--oracle", default="sevennet")
    parser.add_argument("--prior", default="chgnet")
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--fine-tune-epochs", type=int, default=30, help="epochs of CHGNet's trainer")
    args = parser.parse_args()
    run(args.composition, args.volume, args.relaxations, args.oracle, args.prior, args.test_relaxations,
        args.protocol, args.fine_tune_epochs)

"""Errors of a model on labelled structures: energy RMSE/MAE per atom (paper Eq. 1) and force RMSE."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from .dataset import has_forces
from .potentials import batch_evaluator


def evaluate(model, structures: list[Atoms]) -> dict:
    """``rmse_mev_per_atom``, ``mae_mev_per_atom``, ``n_structures``, and ``force_rmse_ev_per_angstrom`` (with
    ``n_force_components``) when every structure carries forces, of ``model`` (a network, or a prior plus its
    correction) on ``structures``."""
    if not structures:
        raise ValueError("no structures to evaluate")
    reference = np.array([a.get_potential_energy() for a in structures])
    n_atoms = np.array([len(a) for a in structures])
    with_forces = all(has_forces(a) for a in structures)
    evaluate_batch = batch_evaluator(model)
    predicted, force_errors = [], []
    for start in range(0, len(structures), 32):
        part = structures[start:start + 32]
        for atoms, (energy, forces, _) in zip(part, evaluate_batch(part)):
            predicted.append(energy)
            if with_forces:
                force_errors.append((forces - atoms.calc.results["forces"]).ravel())
    errors = (np.asarray(predicted) - reference) / n_atoms * 1000.0
    result = {
        "rmse_mev_per_atom": float(np.sqrt(np.mean(errors**2))),
        "mae_mev_per_atom": float(np.mean(np.abs(errors))),
        "n_structures": len(structures),
    }
    if with_forces:
        components = np.concatenate(force_errors)
        result["force_rmse_ev_per_angstrom"] = float(np.sqrt(np.mean(components**2)))
        result["n_force_components"] = int(components.size)
    return result

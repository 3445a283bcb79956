"""A surrogate that starts from a universal potential: the prior's energy plus the network's atomic corrections.

E = E_prior + sum_atoms correction; forces and stress are the prior's plus the autograd of the correction (ASE's
``SumCalculator`` for one structure; :meth:`Surrogate.evaluate` for a batch). The network learns oracle − prior
on every frame; its per-species reference energies absorb the constant shift between the two. The prior's
values on a frame are computed once (:func:`prior_labels`) and stored with the dataset as optional arrays
(``prior_energies``, ``prior_forces``, ``prior_stress``), so retraining never recomputes them. The data stay in that
one form, the dataset's arrays, from the dataset to the trainer: labels and residual are arrays added or replaced.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.stress import full_3x3_to_voigt_6_stress

from .dataset import _unknown, rows, species_counts, structures_of, subset, with_optional
from .network import EnsembleModel, Potential, load_potential
from .potentials import CALCULATORS, _network_batch, batch_evaluator, get_calculator

PRIOR_ARRAYS = ("prior_energies", "prior_forces", "prior_stress")
MIN_SCALE_SPREAD = 0.05  # eV/atom: the prior's energies must spread this much before a scale is fitted to them
SCALE_LIMITS = (0.5, 1.5)


class PriorError(ValueError):
    """A prior that cannot serve: unknown, the oracle itself, or another checkpoint than the model was trained on."""


def check_prior(prior: str | None, oracle: str, symbols: list[str]) -> None:
    """Raise :class:`PriorError` for an unknown prior, a prior that is the oracle's own model (its correction would
    be zero by construction), or one that cannot compute an element of ``symbols``."""
    if prior is None:
        return
    if prior not in CALCULATORS:
        raise PriorError(f"unknown prior {prior!r}; choose none or one of {', '.join(CALCULATORS)}")
    if oracle == f"ase:{prior}":
        raise PriorError(f"the prior {prior} is the oracle's own model: its correction would be zero; choose another "
                         "prior or none")
    missing = CALCULATORS[prior].unsupported_elements(symbols)
    if missing:
        raise PriorError(f"the prior {prior} cannot compute {', '.join(missing)}")


def prior_labels(frames: list[Atoms], calculator) -> dict[str, np.ndarray]:
    """The prior's energies (eV), forces (eV/Å, all atoms stacked) and stresses (Voigt, eV/Å^3) on ``frames``, as
    the dataset's optional arrays."""
    energies, forces, stresses = [], [], []
    evaluate = batch_evaluator(calculator)
    results = [result for start in range(0, len(frames), 32) for result in evaluate(frames[start:start + 32])]
    for energy, force, stress in results:
        energies.append(energy)
        forces.append(force)
        stresses.append(full_3x3_to_voigt_6_stress(stress) if stress is not None else np.full(6, np.nan))
    return {"prior_energies": np.asarray(energies, dtype=float),
            "prior_forces": np.concatenate(forces) if forces else np.zeros((0, 3)),
            "prior_stress": np.asarray(stresses, dtype=float).reshape(-1, 6)}


def _prior_energies(arrays: dict[str, np.ndarray]) -> np.ndarray:
    prior = arrays.get("prior_energies")
    if prior is None or not np.isfinite(prior).all():
        raise ValueError("a frame has no prior energy: compute the prior's labels first (label_with_prior)")
    return prior


def fit_prior_scale(arrays: dict[str, np.ndarray], min_spread: float = MIN_SCALE_SPREAD,
                    limits: tuple[float, float] = SCALE_LIMITS) -> float:
    """The factor ``a`` of E_oracle ≈ a E_prior + sum_species n_s b_s, least squares over the frames of the
    dataset ``arrays`` (which carry the prior's labels).

    Universal potentials are systematically soft (their energy differences smaller than DFT's); one factor on the
    prior corrects most of it and, with two numbers, cannot overfit a single relaxation as a network can. 1 when the
    prior's energies per atom (less their composition's mean) span less than ``min_spread`` eV/atom — too little
    to tell a slope — and clipped to ``limits``."""
    prior = _prior_energies(arrays)
    numbers = sorted(set(arrays["numbers"].tolist()), key=lambda z: chemical_symbols[z])  # by symbol, as ever
    counts = species_counts(arrays, numbers)
    oracle = np.asarray(arrays["energies"], dtype=float)
    if len(oracle) < len(numbers) + 2:
        return 1.0
    # the prior's energy per atom with the best per-species fit removed: what the slope is measured on
    offsets = np.linalg.lstsq(counts, prior, rcond=None)[0]
    if np.ptp((prior - counts @ offsets) / counts.sum(1)) < min_spread:
        return 1.0
    solution = np.linalg.lstsq(np.column_stack([prior, counts]), oracle, rcond=None)[0]
    return float(np.clip(solution[0], *limits))


def residual_arrays(arrays: dict[str, np.ndarray], scale: float = 1.0) -> dict[str, np.ndarray]:
    """The dataset ``arrays`` labelled with oracle − ``scale`` × prior: energies, and forces and stresses where both
    are known (unknown, NaN, elsewhere)."""
    residual = {**arrays, "energies": arrays["energies"] - scale * _prior_energies(arrays)}
    for label, prior in (("forces", "prior_forces"), ("stress", "prior_stress")):
        residual[label] = arrays[label] - scale * arrays[prior] if prior in arrays else np.full_like(arrays[label],
                                                                                                     np.nan)
    return residual


class Surrogate:
    """``scale`` × the prior (an ASE calculator) plus the correction network (one or an ensemble); ``scale`` is the
    one the correction was trained with (``correction.prior_scale``, 1 when absent)."""

    def __init__(self, prior_name: str, correction: Potential, prior=None):
        self.prior_name = prior_name
        self.prior = prior if prior is not None else get_calculator(prior_name)
        self.correction = correction
        self.scale = float(getattr(correction, "prior_scale", 1.0))

    def __len__(self) -> int:
        return len(self.correction) if hasattr(self.correction, "__len__") else 1

    def evaluate(self, structures: list[Atoms]) -> list[tuple[float, np.ndarray, np.ndarray | None]]:
        """Energies, forces and stresses of ``structures``: the prior's batch evaluator, the correction in one
        graph."""
        corrections = _network_batch(self.correction, structures)
        priors = batch_evaluator(self.prior)(structures)
        out = []
        for (e_p, f_p, s_p), (e_c, f_c, s_c) in zip(priors, corrections):
            a = self.scale
            out.append((a * e_p + e_c, a * f_p + f_c, None if s_p is None else a * s_p + s_c))
        return out

    def energies_and_spread(self, structures: list[Atoms]) -> tuple[np.ndarray, np.ndarray]:
        """Total energies (eV) and the ensemble's spread (eV; the prior is deterministic)."""
        corrections, spreads = self.correction.energies_and_spread(structures)
        priors = np.asarray([energy for energy, _, _ in batch_evaluator(self.prior)(structures)])
        return self.scale * priors + corrections, spreads

    def calculator(self):
        """One ASE calculator: ASE's ``LinearCombinationCalculator`` of the prior (weight ``scale``) and the
        correction (weight 1)."""
        from ase.calculators.mixing import LinearCombinationCalculator

        from .network import NetworkCalculator

        return LinearCombinationCalculator([self.prior, NetworkCalculator(self.correction)], [self.scale, 1.0])


def train_correction(arrays: dict[str, np.ndarray], descriptor, settings, prior: str, log=print, start=None):
    """The correction to ``prior`` on the dataset ``arrays``, labelled by the prior where it is not yet
    (:func:`label_with_prior`): the prior's scale fitted first (:func:`fit_prior_scale`), then the network on the
    residual (:func:`residual_arrays`) with the stronger ``correction_weight_decay``, kept only where it beats its
    reference energies on held-out relaxations; from the previous correction ``start`` where given (a warm start).
    The model records the prior and its scale."""
    from dataclasses import replace

    from .training import train

    arrays = label_with_prior(arrays, prior)
    scale = fit_prior_scale(arrays)
    log(f"prior {prior} scaled by {scale:.4f}")
    correction = replace(settings, only_if_better=True, weight_decay=settings.correction_weight_decay)
    model, metrics = train(residual_arrays(arrays, scale), descriptor, correction, log=log, start=start)
    model.prior = CALCULATORS[prior].provenance()
    model.prior_scale = scale
    metrics = {**metrics, "prior": model.prior, "prior_scale": scale}
    return model, metrics


def load_surrogate(path) -> EnsembleModel | Surrogate:
    """The model in ``path`` ready to predict: the network alone, or, for a model trained on a prior, the prior plus
    the correction; raises :class:`PriorError` when the installed prior is not the checkpoint the model learned."""
    model = load_potential(path)
    if not model.prior:
        return model
    name = model.prior["name"]
    if name not in CALCULATORS:
        raise PriorError(f"{path} was trained on the prior {name!r}, which is not installed")
    installed = CALCULATORS[name].provenance()
    if installed["checkpoint_sha256"] != model.prior["checkpoint_sha256"]:
        raise PriorError(f"{path} was trained on {name} {model.prior['version']} (checkpoint "
                         f"{str(model.prior['checkpoint_sha256'])[:12]}…), but {name} {installed['version']} "
                         f"(checkpoint {str(installed['checkpoint_sha256'])[:12]}…) is installed")
    return Surrogate(name, model)


def predicted_energies(model: EnsembleModel, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Total energies (eV) that ``model`` predicts for the frames of ``arrays``: the network's, plus the prior's
    stored ``prior_energies`` for a model trained on a prior (never recomputed here)."""
    predicted = model.predict_energies(structures_of(arrays))
    if not model.prior:
        return predicted
    prior = arrays.get("prior_energies")
    if prior is None or not np.isfinite(prior).all():
        raise PriorError(f"frames without the prior's ({model.prior['name']}) energies: label them first")
    return predicted + model.prior_scale * prior


def label_with_prior(arrays: dict[str, np.ndarray], prior: str) -> dict[str, np.ndarray]:
    """``arrays`` with the prior's energies, forces and stresses on every frame that has none yet."""
    known = arrays.get("prior_energies")
    missing = np.arange(len(arrays["energies"])) if known is None else np.flatnonzero(~np.isfinite(known))
    if len(missing) == 0:
        return arrays
    labels = prior_labels(structures_of(subset(arrays, missing)), get_calculator(prior))
    out = dict(arrays)
    for name, values in labels.items():
        full = np.array(out[name] if name in out else _unknown(name, arrays["n_atoms"]), dtype=float)
        full[rows(arrays, name, missing)] = values
        out = with_optional(out, name, full)
    return out

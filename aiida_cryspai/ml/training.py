"""Training of the atomic-energy network: reference energies by regression, then an optimiser, early stopping.

The metric is the per-atom energy RMSE (paper Eq. 1), reported in meV/atom. The validation set is held
out by *group* (one relaxation trajectory is one group) so that its RMSE is out of sample. Optimisers:

- ``lbfgs`` (default): full-batch L-BFGS with a strong-Wolfe line search, as aenet trains its networks; on
  datasets of a few thousand structures it reaches a lower loss than Adam in a fraction of the time;
- ``adam``: mini-batch back-propagation;
- ``swarm``: the paper's swarm training (its ref. 40): a particle swarm over the network weights finds a
  starting point, which L-BFGS then refines (the hybrid of swarm and gradient).

``ensemble_size`` networks are trained from different initial weights on the same split; their spread is the
uncertainty the workchain uses to choose candidates for the oracle.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from ..protocols.schema import TrainingParameters
from .dataset import per_frame, structures_of
from .descriptors import DescriptorSettings, PairJacobian, build_graph, features_of, pair_jacobian, species_indices
from .device import on_device
from .network import AtomicEnergyModel, EnsembleModel, Potential

_DEFAULT = TrainingParameters()  # the defaults live in the parameter schema

OPTIMISERS = ("lbfgs", "adam", "swarm")


@dataclass
class TrainingSettings:
    hidden: int = _DEFAULT.hidden
    activation: str = "tanh"
    optimizer: str = _DEFAULT.optimizer
    learning_rate: float = _DEFAULT.learning_rate  # Adam only
    max_epochs: int = _DEFAULT.max_epochs  # Adam epochs, or L-BFGS steps of up to 20 iterations each
    patience: int = _DEFAULT.patience  # epochs (steps) without a better validation RMSE before stopping
    batch_size: int = _DEFAULT.batch_size  # structures per Adam mini-batch
    validation_fraction: float = _DEFAULT.validation_fraction
    weight_decay: float = _DEFAULT.weight_decay  # L2 penalty on the weights, added to the loss
    correction_weight_decay: float = _DEFAULT.correction_weight_decay  # the same for a correction to a prior
    force_weight: float = _DEFAULT.force_weight  # force error (eV/Å)^2 against energy error (eV/atom)^2
    ensemble_size: int = _DEFAULT.ensemble_size
    warm_start: bool = _DEFAULT.warm_start  # the caller passes the previous ensemble to train(start=...)
    # the network is switched off (its reference energies alone remain) when it does not beat them on the held-out
    # relaxations, or when there is none to tell: a correction to a prior must never make the prior worse
    only_if_better: bool = False
    swarm_particles: int = 24
    swarm_iterations: int = 300
    seed: int = 0

    def __post_init__(self):
        if self.optimizer not in OPTIMISERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMISERS)}")
        if self.ensemble_size < 1:
            raise ValueError("ensemble_size must be at least 1")


@dataclass
class FeatureSet:
    """Descriptors of many structures concatenated over atoms."""

    features: torch.Tensor
    species: torch.Tensor
    structure: torch.Tensor  # index of the structure of each atom
    n_atoms: torch.Tensor
    energies: torch.Tensor  # total energies, eV

    @property
    def n_structures(self) -> int:
        return len(self.n_atoms)

    def subset(self, indices: np.ndarray) -> FeatureSet:
        indices = torch.as_tensor(np.sort(indices), dtype=torch.long)
        mask = torch.isin(self.structure, indices)
        remap = torch.full((self.n_structures,), -1, dtype=torch.long)
        remap[indices] = torch.arange(len(indices))
        return FeatureSet(
            self.features[mask],
            self.species[mask],
            remap[self.structure[mask]],
            self.n_atoms[indices],
            self.energies[indices],
        )


def build_features(structures: list[Atoms], energies: np.ndarray, settings: DescriptorSettings) -> FeatureSet:
    features, species, structure = [], [], []
    for k, atoms in enumerate(structures):
        features.append(features_of(atoms, settings))
        species.append(species_indices(atoms, settings))
        structure.append(torch.full((len(atoms),), k, dtype=torch.long))
    return FeatureSet(
        torch.cat(features),
        torch.cat(species),
        torch.cat(structure),
        torch.as_tensor([len(a) for a in structures], dtype=torch.float64),
        torch.as_tensor(np.asarray(energies, dtype=float)),
    )


def split_by_group(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation), whole groups (relaxations) at a time. Each group's side is fixed by (``seed``,
    group) alone: it draws a number in [0, 1) and is held out when the draw is below ``fraction``. A dataset that
    grows therefore keeps its held-out relaxations held out, and a network warm started from the previous one never
    trained on them. Where no draw is below ``fraction`` the lowest is held out; never every group."""
    groups = np.asarray(groups)
    unique = np.unique(groups)
    if len(unique) < 2 or fraction <= 0:
        return np.arange(len(groups)), np.zeros(0, dtype=int)
    draws = np.array([np.random.default_rng([seed % 2**32, int(g) % 2**63]).random() for g in unique])
    held = draws < fraction
    if not held.any():
        held[np.argmin(draws)] = True
    if held.all():
        held[np.argmax(draws)] = False
    is_val = np.isin(groups, unique[held])
    return np.nonzero(~is_val)[0], np.nonzero(is_val)[0]


def fit_reference_energies(data: FeatureSet, n_species: int) -> torch.Tensor:
    """Per-species energies by least squares of total energies on species counts."""
    counts = torch.zeros(data.n_structures, n_species, dtype=torch.float64)
    counts.index_put_((data.structure, data.species), torch.ones_like(data.structure, dtype=torch.float64),
                      accumulate=True)
    solution = torch.linalg.lstsq(counts, data.energies[:, None], rcond=None).solution.squeeze(1)
    return solution


@dataclass
class _Chunk:
    """A mini-batch: precomputed descriptors, and for force training their pair Jacobian (computed once) and the
    oracle's forces."""

    data: FeatureSet
    jacobian: PairJacobian | None
    forces: torch.Tensor | None


def _chunks(structures: list[Atoms], data: FeatureSet, descriptor: DescriptorSettings, size: int,
            forces: list[np.ndarray] | None, rng: np.random.Generator) -> list[_Chunk]:
    """Mini-batches of ``size`` structures in a random order; with ``forces`` (the oracle's, one block per
    structure), each carries their pair Jacobian and those forces."""
    order = rng.permutation(len(structures))
    chunks = []
    for start in range(0, len(order), size):
        members = np.sort(order[start : start + size])
        part = [structures[k] for k in members]
        jacobian = pair_jacobian(build_graph(part, descriptor))[1] if forces is not None else None
        target = torch.as_tensor(np.concatenate([forces[k] for k in members])) if forces is not None else None
        chunks.append(_Chunk(data.subset(members), jacobian, target))
    return chunks


def _loss(model: AtomicEnergyModel, chunk: _Chunk, settings: TrainingSettings, use_forces: bool) -> torch.Tensor:
    data = chunk.data
    features = data.features.clone().requires_grad_(True) if use_forces else data.features
    predicted = model.structure_energies(features, data.species, data.structure, data.n_structures)
    loss = torch.mean(((predicted - data.energies) / data.n_atoms) ** 2)
    if use_forces:
        gradient = torch.autograd.grad(predicted.sum(), features, create_graph=True)[0]
        forces = chunk.jacobian.forces(gradient)
        loss = loss + settings.force_weight * torch.mean((forces - chunk.forces) ** 2)
    if settings.weight_decay > 0:
        loss = loss + settings.weight_decay * _weight_norm(model)
    return loss


def _weight_norm(model: AtomicEnergyModel) -> torch.Tensor:
    return sum((p**2).sum() for name, p in model.named_parameters() if name.endswith("weight"))


def rmse_mev_per_atom(model: Potential, data: FeatureSet) -> float:
    with torch.no_grad():
        predicted = model.structure_energies(data.features, data.species, data.structure, data.n_structures)
        error = (predicted - data.energies) / data.n_atoms
        return float(torch.sqrt(torch.mean(error**2)) * 1000.0)


class _EarlyStopping:
    """Keeps the weights with the lowest monitored RMSE after a step (a warm start's own weights are not kept as
    they are: it must learn the new relaxations, which the held-out ones may not show); says stop after ``patience``
    steps without a better one."""

    def __init__(self, model: AtomicEnergyModel, monitor: FeatureSet, patience: int):
        self.model, self.monitor, self.patience = model, monitor, patience
        self.best = math.inf
        self.last = math.inf
        self.best_state = {k: v.clone() for k, v in model.state_dict().items()}
        self.since_best = 0
        self.steps = 0

    def __call__(self) -> bool:
        self.steps += 1
        current = self.last = rmse_mev_per_atom(self.model, self.monitor)
        if not math.isfinite(current):
            return True
        if current < self.best - 1e-6:
            self.best, self.since_best = current, 0
            self.best_state = {k: v.clone() for k, v in self.model.state_dict().items()}
        else:
            self.since_best += 1
        return self.since_best >= self.patience

    def restore(self) -> None:
        self.model.load_state_dict(self.best_state)


def _fit_lbfgs(model, chunks, stopping, settings, use_forces, log) -> None:
    optimiser = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=20, history_size=50,
                                  line_search_fn="strong_wolfe")
    chunk = chunks[0]

    def closure():
        optimiser.zero_grad()
        loss = _loss(model, chunk, settings, use_forces)
        loss.backward()
        return loss

    for step in range(settings.max_epochs):
        optimiser.step(closure)
        if stopping():
            break
        if step % 50 == 0:
            log(f"L-BFGS step {step:5d}  monitored RMSE (best) {stopping.best:8.2f} meV/atom")


def _fit_adam(model, chunks, stopping, settings, use_forces, log, rng) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    # halve the step when the monitored RMSE stalls for half of the early-stopping patience
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5,
                                                           patience=max(1, settings.patience // 2), min_lr=1e-5)
    for epoch in range(settings.max_epochs):
        model.train()
        for k in rng.permutation(len(chunks)):
            optimiser.zero_grad()
            _loss(model, chunks[k], settings, use_forces).backward()
            optimiser.step()
        model.eval()
        if stopping():
            break
        scheduler.step(stopping.last)
        if epoch % 100 == 0:
            log(f"epoch {epoch:5d}  monitored RMSE (best) {stopping.best:8.2f} meV/atom")


def swarm_search(model: AtomicEnergyModel, chunk: _Chunk, settings: TrainingSettings,
                 rng: np.random.Generator) -> float:
    """Particle swarm over the weights of ``model`` on the energy loss of ``chunk``; leaves the best particle in
    ``model`` and returns its training RMSE (meV/atom). Inertia 0.72, cognitive and social weights 1.49."""
    from torch.nn.utils import parameters_to_vector, vector_to_parameters

    parameters = list(model.parameters())
    start = parameters_to_vector(parameters).detach()
    scale = start.abs().mean().item() or 0.1
    n = settings.swarm_particles
    positions = start[None, :] + torch.as_tensor(rng.normal(0.0, scale, (n, start.numel())))
    positions[0] = start
    velocities = torch.zeros_like(positions)

    def loss_of(vector: torch.Tensor) -> float:
        vector_to_parameters(vector, parameters)
        with torch.no_grad():
            value = _loss(model, chunk, settings, use_forces=False)
        return float(value) if torch.isfinite(value) else math.inf

    own_best = positions.clone()
    own_loss = torch.as_tensor([loss_of(p) for p in positions])
    leader = int(torch.argmin(own_loss))
    for _ in range(settings.swarm_iterations):
        r1 = torch.as_tensor(rng.random(positions.shape))
        r2 = torch.as_tensor(rng.random(positions.shape))
        velocities = 0.72 * velocities + 1.49 * r1 * (own_best - positions) + 1.49 * r2 * (own_best[leader] - positions)
        positions = positions + velocities
        for k in range(n):
            value = loss_of(positions[k])
            if value < own_loss[k]:
                own_loss[k] = value
                own_best[k] = positions[k]
        leader = int(torch.argmin(own_loss))
    vector_to_parameters(own_best[leader], parameters)
    return rmse_mev_per_atom(model, chunk.data)


def _new_member(descriptor: DescriptorSettings, settings: TrainingSettings, train_set: FeatureSet) -> AtomicEnergyModel:
    model = AtomicEnergyModel(descriptor, settings.hidden, settings.activation)
    model.feature_mean.copy_(train_set.features.mean(0))
    model.feature_std.copy_(train_set.features.std(0).clamp_min(1e-6))
    model.reference_energies.copy_(fit_reference_energies(train_set, len(descriptor.species)))
    with torch.no_grad():
        reference = torch.zeros(train_set.n_structures, dtype=torch.float64).index_add(
            0, train_set.structure, model.reference_energies[train_set.species]
        )
        residual = (train_set.energies - reference) / train_set.n_atoms
        scale = float(torch.std(residual)) if train_set.n_structures > 1 else 0.1
    model.energy_scale.fill_(max(scale, 1e-3))
    return model


def _warm_state(start: EnsembleModel | None, k: int, descriptor: DescriptorSettings,
                settings: TrainingSettings) -> dict | None:
    """The weights, normalisation and reference energies of the previous ensemble's ``k``-th network, to train on
    from there (a warm start); None where there is none, where it does not fit (another descriptor, width or
    activation) or where its network was switched off."""
    if start is None or k >= len(start.members):
        return None
    member = start.members[k]
    fits = (member.settings == descriptor and member.hidden == settings.hidden
            and member.activation == settings.activation)
    return member.state_dict() if fits and float(member.energy_scale) != 0.0 else None


def _network_beats_references(ensemble: EnsembleModel, validation: FeatureSet) -> tuple[bool, str]:
    """Whether the ensemble's networks beat its reference energies alone on the held-out relaxations; if not, the
    networks are switched off (``energy_scale`` 0). Returns (used, a log line)."""
    with_network = rmse_mev_per_atom(ensemble, validation)
    scales = [member.energy_scale.clone() for member in ensemble.members]
    for member in ensemble.members:
        member.energy_scale.fill_(0.0)
    references_only = rmse_mev_per_atom(ensemble, validation)
    if with_network < references_only:
        for member, scale in zip(ensemble.members, scales):
            member.energy_scale.copy_(scale)
        return True, (f"network kept: held-out RMSE {with_network:.1f} meV/atom against {references_only:.1f} with "
                      "the reference energies alone")
    return False, (f"network switched off: held-out RMSE {with_network:.1f} meV/atom against {references_only:.1f} "
                   "with the reference energies alone")


@on_device
def train(
    arrays: dict[str, np.ndarray],
    descriptor: DescriptorSettings,
    settings: TrainingSettings,
    log=print,
    start: EnsembleModel | None = None,
) -> tuple[EnsembleModel, dict]:
    """Train ``settings.ensemble_size`` networks on the frames of the dataset ``arrays`` (:mod:`.dataset`): their
    total ``energies`` (eV), their ``forces`` where every training frame has them, split by ``groups``. With
    ``start`` (the previous ensemble) each network whose counterpart fits starts from its weights (warm start).

    Returns the ensemble (one network when the size is 1) and its metrics."""
    began = time.perf_counter()
    structures = structures_of(arrays)
    forces = per_frame(arrays, "forces")
    data = build_features(structures, arrays["energies"], descriptor)
    train_idx, val_idx = split_by_group(np.asarray(arrays["groups"]), settings.validation_fraction, settings.seed)
    train_set = data.subset(train_idx)
    val_set = data.subset(val_idx) if len(val_idx) else None
    monitor = val_set if val_set is not None else train_set
    use_forces = settings.force_weight > 0 and all(np.isfinite(forces[k]).all() for k in train_idx)
    rng = np.random.default_rng(settings.seed)
    members, member_metrics = [], []
    # nothing held out to show that a network helps: it would be switched off, so none is trained (nor its
    # descriptors' Jacobians computed); the reference energies alone remain
    untrained = settings.only_if_better and val_set is None
    if untrained:
        log("nothing held out to show that a network helps: reference energies alone")
        model = _new_member(descriptor, settings, train_set)
        model.energy_scale.fill_(0.0)
        model.eval()
        members.append(model)
        member_metrics.append({"epochs": 0, "rmse_monitored_mev_per_atom": rmse_mev_per_atom(model, train_set)})
    else:
        batch = len(train_idx) if settings.optimizer != "adam" else settings.batch_size
        chunks = _chunks([structures[k] for k in train_idx], train_set, descriptor, batch,
                         [forces[k] for k in train_idx] if use_forces else None, rng)
    for k in range(0 if untrained else settings.ensemble_size):
        torch.manual_seed(settings.seed + k)
        member_rng = np.random.default_rng(settings.seed + k)
        model = _new_member(descriptor, settings, train_set)
        warm = _warm_state(start, k, descriptor, settings)
        if warm is not None:
            model.load_state_dict(warm)
        extra = {"warm_started": warm is not None}
        if settings.optimizer == "swarm":
            extra["rmse_after_swarm_mev_per_atom"] = swarm_search(model, chunks[0], settings, member_rng)
        stopping = _EarlyStopping(model, monitor, settings.patience)
        if settings.optimizer == "adam":
            _fit_adam(model, chunks, stopping, settings, use_forces, log, member_rng)
        else:
            _fit_lbfgs(model, chunks, stopping, settings, use_forces, log)
        stopping.restore()
        model.eval()
        members.append(model)
        member_metrics.append({"epochs": stopping.steps, "rmse_monitored_mev_per_atom": stopping.best, **extra})
        log(f"network {k + 1}/{settings.ensemble_size}{' (warm start)' if warm is not None else ''}: "
            f"{stopping.steps} steps, monitored RMSE "
            f"{stopping.best:.2f} meV/atom")
    ensemble = EnsembleModel(members)
    network_used = not untrained
    if settings.only_if_better and not untrained:
        network_used, note = _network_beats_references(ensemble, val_set)
        log(note)
    metrics = {
        "optimizer": settings.optimizer,
        "forces_in_loss": use_forces,
        "ensemble_size": len(members),
        "rmse_train_mev_per_atom": rmse_mev_per_atom(ensemble, train_set),
        "rmse_validation_mev_per_atom": rmse_mev_per_atom(ensemble, val_set) if val_set is not None else None,
        "network_used": network_used,
        "n_train": int(train_set.n_structures),
        "n_validation": int(val_set.n_structures) if val_set is not None else 0,
        "epochs": max(m["epochs"] for m in member_metrics),
        "warm_started": sum(bool(m.get("warm_started")) for m in member_metrics),
        "members": member_metrics,
        "wall_s": time.perf_counter() - began,
    }
    ensemble.metrics = metrics
    return ensemble, metrics

"""Training of the atomic-energy network: reference energies by regression, Adam, early stopping.

The metric is the per-atom energy RMSE (paper Eq. 1), reported in meV/atom. The validation set is held
out by *group* (one relaxation trajectory is one group) so that its RMSE is out of sample.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from .dataset import has_forces
from .descriptors import DescriptorSettings, Graph, build_graph, features_of, species_indices
from .network import AtomicEnergyModel


@dataclass
class TrainingSettings:
    hidden: int = 32
    activation: str = "tanh"
    learning_rate: float = 3e-3
    max_epochs: int = 2000
    patience: int = 40
    batch_size: int = 256
    validation_fraction: float = 0.15
    weight_decay: float = 0.0
    force_weight: float = 0.0  # weight of the force error (eV/Å)^2 against the energy error (eV/atom)^2
    seed: int = 0


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
    """Indices (train, validation): whole groups go to validation until ``fraction`` of them is reached."""
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(unique)
    n_val = max(1, int(round(fraction * len(unique)))) if len(unique) > 1 else 0
    val_groups = set(unique[:n_val].tolist())
    is_val = np.array([g in val_groups for g in groups])
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
    """A mini-batch: precomputed descriptors, and for force training the graph to differentiate."""

    data: FeatureSet
    graph: Graph | None
    forces: torch.Tensor | None


def _chunks(structures: list[Atoms], data: FeatureSet, descriptor: DescriptorSettings, size: int, forces: bool,
            rng: np.random.Generator) -> list[_Chunk]:
    order = rng.permutation(len(structures))
    chunks = []
    for start in range(0, len(order), size):
        members = np.sort(order[start : start + size])
        part = [structures[k] for k in members]
        graph = build_graph(part, descriptor) if forces else None
        target = torch.as_tensor(np.concatenate([a.calc.results["forces"] for a in part])) if forces else None
        chunks.append(_Chunk(data.subset(members), graph, target))
    return chunks


def _loss(model: AtomicEnergyModel, chunk: _Chunk, force_weight: float) -> torch.Tensor:
    data = chunk.data
    if force_weight > 0:
        positions = chunk.graph.positions.clone().requires_grad_(True)
        features = chunk.graph.features(positions)
    else:
        features = data.features
    predicted = model.structure_energies(features, data.species, data.structure, data.n_structures)
    loss = torch.mean(((predicted - data.energies) / data.n_atoms) ** 2)
    if force_weight > 0:
        forces = -torch.autograd.grad(predicted.sum(), positions, create_graph=True)[0]
        loss = loss + force_weight * torch.mean((forces - chunk.forces) ** 2)
    return loss


def rmse_mev_per_atom(model: AtomicEnergyModel, data: FeatureSet) -> float:
    with torch.no_grad():
        predicted = model.structure_energies(data.features, data.species, data.structure, data.n_structures)
        error = (predicted - data.energies) / data.n_atoms
        return float(torch.sqrt(torch.mean(error**2)) * 1000.0)


def train(
    structures: list[Atoms],
    energies: np.ndarray,
    groups: np.ndarray,
    descriptor: DescriptorSettings,
    settings: TrainingSettings,
    log=print,
) -> tuple[AtomicEnergyModel, dict]:
    """Train a new model on ``structures`` with total ``energies`` (eV); returns the model and its metrics."""
    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    data = build_features(structures, energies, descriptor)
    train_idx, val_idx = split_by_group(np.asarray(groups), settings.validation_fraction, settings.seed)
    train_set = data.subset(train_idx)
    val_set = data.subset(val_idx) if len(val_idx) else None

    model = AtomicEnergyModel(descriptor, settings.hidden, settings.activation)
    model.feature_mean.copy_(train_set.features.mean(0))
    model.feature_std.copy_(train_set.features.std(0).clamp_min(1e-6))
    model.reference_energies.copy_(fit_reference_energies(train_set, len(descriptor.species)))
    with torch.no_grad():
        reference = torch.zeros(train_set.n_structures).index_add(
            0, train_set.structure, model.reference_energies[train_set.species]
        )
        residual = (train_set.energies - reference) / train_set.n_atoms
        scale = float(torch.std(residual)) if train_set.n_structures > 1 else 0.1
    model.energy_scale.fill_(max(scale, 1e-3))

    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    # halve the step when the monitored RMSE stalls for a quarter of the early-stopping patience
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, factor=0.5,
                                                           patience=max(1, settings.patience // 4))
    monitor = val_set if val_set is not None else train_set
    use_forces = settings.force_weight > 0 and all(has_forces(structures[k]) for k in train_idx)
    rng = np.random.default_rng(settings.seed)
    chunks = _chunks([structures[k] for k in train_idx], train_set, descriptor, settings.batch_size, use_forces, rng)
    best = math.inf
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    since_best = 0
    epochs = 0
    for epoch in range(settings.max_epochs):
        epochs = epoch + 1
        model.train()
        for chunk in rng.permutation(len(chunks)):
            optimiser.zero_grad()
            _loss(model, chunks[chunk], settings.force_weight if use_forces else 0.0).backward()
            optimiser.step()
        model.eval()
        current = rmse_mev_per_atom(model, monitor)
        scheduler.step(current)
        if current < best - 1e-6:
            best = current
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
            since_best = 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                break
        if epoch % 100 == 0:
            log(f"epoch {epoch:5d}  monitored RMSE {current:8.2f} meV/atom  (best {best:.2f})")
    model.load_state_dict(best_state)
    model.eval()
    metrics = {
        "forces_in_loss": use_forces,
        "rmse_train_mev_per_atom": rmse_mev_per_atom(model, train_set),
        "rmse_validation_mev_per_atom": rmse_mev_per_atom(model, val_set) if val_set is not None else None,
        "n_train": int(train_set.n_structures),
        "n_validation": int(val_set.n_structures) if val_set is not None else 0,
        "epochs": epochs,
        "wall_s": time.perf_counter() - start,
    }
    return model, metrics

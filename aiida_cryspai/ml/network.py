"""Atomic-energy network: one feed-forward net with two equal hidden layers per species (paper Fig. 3).

E = sum_atoms (E_ref[s] + scale * NN_s(normalised descriptor)); forces and stress by autograd.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress
from torch import nn

from .descriptors import DescriptorSettings, build_graph, features_of, species_indices
from .device import on_device


class Potential(nn.Module):
    """Energy, forces and stress by autograd from ``atomic_energies(features, species)`` on ``settings``."""

    settings: DescriptorSettings

    def atomic_energies(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def structure_energies(
        self, features: torch.Tensor, species: torch.Tensor, structure: torch.Tensor, n_structures: int
    ) -> torch.Tensor:
        energies = self.atomic_energies(features, species)
        return torch.zeros(n_structures, dtype=energies.dtype).index_add(0, structure, energies)

    @on_device
    def energies_forces_virials(self, structures: list[Atoms]) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Energies (eV), forces (eV/Å, one array per structure) and virials -dE/d(strain) (eV, n x 3 x 3) of
        ``structures``, all in one graph."""
        graph = build_graph(structures, self.settings)
        positions = graph.positions.clone().requires_grad_(True)
        strain = torch.zeros(len(structures), 3, 3, dtype=torch.float64, requires_grad=True)
        deformation = torch.eye(3, dtype=torch.float64) + 0.5 * (strain + strain.transpose(1, 2))
        energies = self.structure_energies(graph.features(positions, deformation), graph.species, graph.structure,
                                           len(structures))
        d_positions, d_strain = torch.autograd.grad(energies.sum(), (positions, strain))
        # back to numpy through the CPU (the model may compute on a GPU, ``ml/device.py``)
        forces = [f.cpu().numpy() for f in torch.split(-d_positions, [len(a) for a in structures])]
        return energies.detach().cpu().numpy(), forces, -d_strain.cpu().numpy()

    def energy_forces_stress(self, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
        """Energy (eV), forces (eV/Å) and stress (eV/Å^3, 3x3, ASE sign convention) of one structure."""
        energies, forces, virials = self.energies_forces_virials([atoms])
        volume = abs(float(np.linalg.det(atoms.cell[:])))
        return float(energies[0]), forces[0], -virials[0] / volume

    @on_device
    def predict_energies(self, structures: list[Atoms]) -> np.ndarray:
        """Total energies (eV) of ``structures`` without gradients."""
        with torch.no_grad():
            return np.asarray(
                [float(self.atomic_energies(features_of(a, self.settings), species_indices(a, self.settings)).sum())
                 for a in structures]
            )


class AtomicEnergyModel(Potential):
    """Per-species MLPs on Chebyshev descriptors, with per-species reference energies."""

    def __init__(self, settings: DescriptorSettings, hidden: int = 32, activation: str = "tanh"):
        super().__init__()
        self.settings = settings
        self.hidden = hidden
        self.activation = activation
        n_features = settings.n_features
        act = {"tanh": nn.Tanh, "silu": nn.SiLU}[activation]
        self.nets = nn.ModuleList(
            nn.Sequential(nn.Linear(n_features, hidden), act(), nn.Linear(hidden, hidden), act(), nn.Linear(hidden, 1))
            for _ in settings.species
        )
        n_species = len(settings.species)
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_std", torch.ones(n_features))
        self.register_buffer("reference_energies", torch.zeros(n_species))
        self.register_buffer("energy_scale", torch.ones(()))
        # double precision throughout, set on the module rather than torch's global default, which would break
        # other torch models in the same process (CHGNet runs in float32)
        self.double()

    # -- evaluation -------------------------------------------------------------------------------------
    def atomic_energies(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        normalised = (features - self.feature_mean) / self.feature_std
        out = torch.zeros(features.shape[0], dtype=features.dtype)
        for k, net in enumerate(self.nets):
            mask = species == k
            if mask.any():
                out = out.index_put((mask.nonzero().squeeze(1),), net(normalised[mask]).squeeze(1))
        return self.reference_energies[species] + self.energy_scale * out

    # -- persistence ------------------------------------------------------------------------------------
    def save(self, path: str | Path, metrics: dict | None = None) -> None:
        torch.save(
            {
                "settings": self.settings.as_dict(),
                "hidden": self.hidden,
                "activation": self.activation,
                "state_dict": self.state_dict(),
                "metrics": metrics or {},
            },
            path,
        )

    @classmethod
    @on_device
    def load(cls, path: str | Path) -> AtomicEnergyModel:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        model = cls(DescriptorSettings(**payload["settings"]), payload["hidden"], payload["activation"])
        model.load_state_dict(payload["state_dict"])
        model.metrics = payload.get("metrics", {})
        model.eval()
        return model


class EnsembleModel(Potential):
    """K atomic-energy networks on the same descriptor: the mean is the prediction, the spread its uncertainty."""

    def __init__(self, members: list[AtomicEnergyModel]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one network")
        self.members = nn.ModuleList(members)
        self.settings = members[0].settings
        self.metrics: dict = {}
        self.prior: dict | None = None  # the prior this correction was trained on (name, version, checkpoint)
        self.prior_scale: float = 1.0  # the factor on the prior's energy the correction was trained with

    def __len__(self) -> int:
        return len(self.members)

    def atomic_energies(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        return torch.stack([m.atomic_energies(features, species) for m in self.members]).mean(0)

    @on_device
    def energies_and_spread(self, structures: list[Atoms]) -> tuple[np.ndarray, np.ndarray]:
        """Mean total energy (eV) of each structure and the standard deviation of the members (eV)."""
        means, spreads = [], []
        with torch.no_grad():
            for atoms in structures:
                features = features_of(atoms, self.settings)
                species = species_indices(atoms, self.settings)
                totals = torch.stack([m.atomic_energies(features, species).sum() for m in self.members])
                means.append(float(totals.mean()))
                spreads.append(float(totals.std(unbiased=False)) if len(self.members) > 1 else 0.0)
        return np.asarray(means), np.asarray(spreads)

    def save(self, path: str | Path, metrics: dict | None = None) -> None:
        torch.save(
            {
                "settings": self.settings.as_dict(),
                "members": [{"hidden": m.hidden, "activation": m.activation, "state_dict": m.state_dict()}
                            for m in self.members],
                "metrics": metrics if metrics is not None else self.metrics,
                "prior": self.prior,
                "prior_scale": self.prior_scale,
            },
            path,
        )

    @classmethod
    @on_device
    def load(cls, path: str | Path) -> EnsembleModel:
        """An ensemble from a model file (a single network loads as an ensemble of one)."""
        payload = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(payload, dict) or "settings" not in payload:
            raise ValueError(f"{path} is not a cryspai model file")
        settings = DescriptorSettings(**payload["settings"])
        entries = payload.get("members") or [payload]
        members = []
        for entry in entries:
            member = AtomicEnergyModel(settings, entry["hidden"], entry["activation"])
            member.load_state_dict(entry["state_dict"])
            members.append(member)
        ensemble = cls(members)
        ensemble.metrics = payload.get("metrics", {})
        ensemble.prior = payload.get("prior")
        ensemble.prior_scale = float(payload.get("prior_scale", 1.0))
        ensemble.eval()
        return ensemble


def load_potential(path: str | Path) -> EnsembleModel:
    """The trained network(s) in a model file written by ``cryspai-train`` or ``cryspai train`` (for a model trained
    on a prior, the correction alone: ``ml.prior.load_surrogate`` adds the prior)."""
    return EnsembleModel.load(path)


class NetworkCalculator(Calculator):
    """Energy, forces and stress from the atomic-energy network."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, model: Potential, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy, forces, stress = self.model.energy_forces_stress(self.atoms)
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces,
            "stress": full_3x3_to_voigt_6_stress(stress),
        }

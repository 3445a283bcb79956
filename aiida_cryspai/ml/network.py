"""Atomic-energy network: one feed-forward net with two equal hidden layers per species (paper Fig. 3).

E = sum_atoms (E_ref[s] + scale * NN_s(normalised descriptor)); forces and stress by autograd.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from torch import nn

from .descriptors import DescriptorSettings, compute_features, find_neighbours, species_indices

torch.set_default_dtype(torch.float64)


class AtomicEnergyModel(nn.Module):
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

    # -- evaluation -------------------------------------------------------------------------------------
    def atomic_energies(self, features: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        normalised = (features - self.feature_mean) / self.feature_std
        out = torch.zeros(features.shape[0], dtype=features.dtype)
        for k, net in enumerate(self.nets):
            mask = species == k
            if mask.any():
                out = out.index_put((mask.nonzero().squeeze(1),), net(normalised[mask]).squeeze(1))
        return self.reference_energies[species] + self.energy_scale * out

    def structure_energies(
        self, features: torch.Tensor, species: torch.Tensor, structure: torch.Tensor, n_structures: int
    ) -> torch.Tensor:
        energies = self.atomic_energies(features, species)
        return torch.zeros(n_structures, dtype=energies.dtype).index_add(0, structure, energies)

    def energy_forces_stress(self, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
        """Energy (eV), forces (eV/Å) and stress (eV/Å^3, 3x3, ASE sign convention) of one structure."""
        positions = torch.as_tensor(atoms.positions, dtype=torch.float64).clone().requires_grad_(True)
        cell = torch.as_tensor(atoms.cell[:], dtype=torch.float64)
        strain = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
        deformation = torch.eye(3, dtype=torch.float64) + 0.5 * (strain + strain.T)
        features = compute_features(
            positions @ deformation,
            cell @ deformation,
            species_indices(atoms, self.settings),
            find_neighbours(atoms, self.settings),
            self.settings,
        )
        energy = self.atomic_energies(features, species_indices(atoms, self.settings)).sum()
        d_positions, d_strain = torch.autograd.grad(energy, (positions, strain))
        volume = abs(float(np.linalg.det(atoms.cell[:])))
        return float(energy.detach()), -d_positions.numpy(), d_strain.numpy() / volume

    def predict_energies(self, structures: list[Atoms]) -> np.ndarray:
        """Total energies (eV) of ``structures`` without gradients."""
        from .descriptors import features_of

        with torch.no_grad():
            out = []
            for atoms in structures:
                features = features_of(atoms, self.settings)
                out.append(float(self.atomic_energies(features, species_indices(atoms, self.settings)).sum()))
        return np.asarray(out)

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
    def load(cls, path: str | Path) -> AtomicEnergyModel:
        payload = torch.load(path, map_location="cpu", weights_only=False)
        model = cls(DescriptorSettings(**payload["settings"]), payload["hidden"], payload["activation"])
        model.load_state_dict(payload["state_dict"])
        model.metrics = payload.get("metrics", {})
        model.eval()
        return model

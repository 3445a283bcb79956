"""Chebyshev descriptors of local atomic environments (Artrith, Urban & Ceder, PRB 96, 014112 (2017)).

Radial and angular distribution functions are expanded in Chebyshev polynomials inside a smooth cosine
cutoff. A structural part (all neighbours weighted 1) and, for more than one species, a species-weighted
part (neighbour weights w_s) keep the length independent of the number of species. Descriptors are torch
functions of positions and cell, so forces and stress follow by autograd.

``angular_radial_channels`` > 1 extends the angular part beyond Artrith's: channel c weights each triplet by
T_c(x_a) T_c(x_b), Chebyshev polynomials of the two bond lengths, so that bond angles of the first and second
shells are told apart (channel 0 is Artrith's angular function).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from ase import Atoms

from ..analysis.neighbours import neighbour_pairs
from ..protocols.schema import DescriptorParameters

_DEFAULT = DescriptorParameters()  # the defaults live in the parameter schema


@dataclass
class DescriptorSettings:
    """Cutoffs (Å) and expansion orders of the radial and angular parts, and the species in order."""

    species: list[str] = field(default_factory=list)
    radial_cutoff: float = _DEFAULT.radial_cutoff
    radial_order: int = _DEFAULT.radial_order
    angular_cutoff: float = _DEFAULT.angular_cutoff
    angular_order: int = _DEFAULT.angular_order
    angular_radial_channels: int = _DEFAULT.angular_radial_channels

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def typed(self) -> bool:
        return len(self.species) > 1

    @property
    def n_features(self) -> int:
        base = (self.radial_order + 1) + self.angular_radial_channels * (self.angular_order + 1)
        return base * (2 if self.typed else 1)

    def species_weights(self) -> np.ndarray:
        """Weights of the species-resolved part: symmetric around 0, never 0 (1, -1, 2, -2, ...)."""
        weights = []
        for k in range(len(self.species)):
            magnitude = k // 2 + 1
            weights.append(magnitude if k % 2 == 0 else -magnitude)
        return np.asarray(weights, dtype=float)


def chebyshev(x: torch.Tensor, order: int) -> torch.Tensor:
    """T_0..T_order evaluated at ``x`` (values in [-1, 1]); shape ``x.shape + (order + 1,)``."""
    terms = [torch.ones_like(x), x]
    for _ in range(2, order + 1):
        terms.append(2.0 * x * terms[-1] - terms[-2])
    return torch.stack(terms[: order + 1], dim=-1)


def cosine_cutoff(r: torch.Tensor, cutoff: float) -> torch.Tensor:
    return torch.where(r < cutoff, 0.5 * (torch.cos(math.pi * r / cutoff) + 1.0), torch.zeros_like(r))


@dataclass
class Neighbours:
    """Pairs (i, j, integer cell shift) within the largest cutoff, and the angular triplets (i; a, b)."""

    i: np.ndarray
    j: np.ndarray
    shifts: np.ndarray
    triplet_a: np.ndarray  # indices into the pair arrays
    triplet_b: np.ndarray


def find_neighbours(atoms: Atoms, settings: DescriptorSettings) -> Neighbours:
    cutoff = max(settings.radial_cutoff, settings.angular_cutoff)
    i, j, shifts, d = neighbour_pairs("ijSd", atoms, cutoff)
    angular = np.nonzero(d < settings.angular_cutoff)[0]
    order = np.argsort(i[angular], kind="stable")
    angular = angular[order]
    centres = i[angular]
    triplet_a, triplet_b = [], []
    if len(angular):
        boundaries = np.flatnonzero(np.diff(centres)) + 1
        for group in np.split(angular, boundaries):
            a, b = np.triu_indices(len(group), k=1)
            triplet_a.append(group[a])
            triplet_b.append(group[b])
    cat = np.concatenate if triplet_a else (lambda _: np.zeros(0, dtype=int))
    return Neighbours(i, j, shifts, cat(triplet_a), cat(triplet_b))


def compute_features(
    positions: torch.Tensor,
    cell: torch.Tensor,
    species_index: torch.Tensor,
    neighbours: Neighbours,
    settings: DescriptorSettings,
) -> torch.Tensor:
    """Descriptor matrix of shape (n_atoms, n_features), differentiable in ``positions`` and ``cell``."""
    i = torch.as_tensor(neighbours.i, dtype=torch.long)
    j = torch.as_tensor(neighbours.j, dtype=torch.long)
    shifts = torch.as_tensor(neighbours.shifts, dtype=positions.dtype)
    vectors = positions[j] - positions[i] + shifts @ cell
    a = torch.as_tensor(neighbours.triplet_a, dtype=torch.long)
    b = torch.as_tensor(neighbours.triplet_b, dtype=torch.long)
    return features_from_vectors(vectors, i, j, a, b, species_index, settings)


def features_from_vectors(
    vectors: torch.Tensor,
    i: torch.Tensor,
    j: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    species_index: torch.Tensor,
    settings: DescriptorSettings,
) -> torch.Tensor:
    """Descriptors from pair vectors r_j - r_i (pairs i, j; angular triplets as pair indices a, b)."""
    n_atoms = species_index.shape[0]
    dtype = vectors.dtype
    r = torch.linalg.norm(vectors, dim=1)

    fc_rad = cosine_cutoff(r, settings.radial_cutoff)
    x = torch.clamp(2.0 * r / settings.radial_cutoff - 1.0, -1.0, 1.0)
    radial_terms = chebyshev(x, settings.radial_order) * fc_rad[:, None]
    radial = torch.zeros(n_atoms, settings.radial_order + 1, dtype=dtype).index_add(0, i, radial_terms)

    fc_ang = cosine_cutoff(r, settings.angular_cutoff)
    cos_theta = torch.clamp((vectors[a] * vectors[b]).sum(dim=1) / (r[a] * r[b]), -1.0, 1.0)
    angular_terms = chebyshev(cos_theta, settings.angular_order) * (fc_ang[a] * fc_ang[b])[:, None]
    channels = settings.angular_radial_channels
    if channels > 1:
        bond = chebyshev(torch.clamp(2.0 * r / settings.angular_cutoff - 1.0, -1.0, 1.0), channels - 1)
        weights = bond[a] * bond[b]  # (T, channels)
        # explicit width: a cell without any bond angle inside the cut-off has zero triplets
        angular_terms = (angular_terms[:, None, :] * weights[:, :, None]).reshape(
            len(a), channels * (settings.angular_order + 1))
    angular = torch.zeros(n_atoms, angular_terms.shape[1], dtype=dtype).index_add(0, i[a], angular_terms)
    parts = [radial, angular]

    if settings.typed:
        w_pair = torch.as_tensor(settings.species_weights(), dtype=dtype)[species_index][j]
        parts.append(torch.zeros_like(radial).index_add(0, i, radial_terms * w_pair[:, None]))
        w_triplet = w_pair[a] * w_pair[b]
        parts.append(torch.zeros_like(angular).index_add(0, i[a], angular_terms * w_triplet[:, None]))
    return torch.cat(parts, dim=1)


@dataclass
class Graph:
    """Many structures as one graph: atoms concatenated, pairs and triplets re-indexed, cell shifts as vectors."""

    positions: torch.Tensor  # (N, 3)
    species: torch.Tensor  # (N,)
    structure: torch.Tensor  # (N,) index of each atom's structure
    i: torch.Tensor
    j: torch.Tensor
    shift_vectors: torch.Tensor  # (P, 3) = S @ cell of each pair's structure
    a: torch.Tensor
    b: torch.Tensor
    n_structures: int
    settings: DescriptorSettings

    def features(self, positions: torch.Tensor | None = None, deformation: torch.Tensor | None = None) -> torch.Tensor:
        """Descriptors of every atom; pass ``positions`` that require grad to get forces, and a deformation
        per structure (n_structures x 3 x 3) that requires grad to get virials."""
        positions = self.positions if positions is None else positions
        vectors = positions[self.j] - positions[self.i] + self.shift_vectors
        if deformation is not None:
            vectors = torch.einsum("pk,pkl->pl", vectors, deformation[self.structure[self.i]])
        return features_from_vectors(vectors, self.i, self.j, self.a, self.b, self.species, self.settings)


@dataclass
class PairJacobian:
    """The derivatives of each atom's descriptors with respect to its pair vectors, computed once per frame so that
    training on forces needs no second pass through the descriptors: pair p (atoms i -> j, v_p = r_j - r_i + shift)
    moves only atom i's descriptors, so dE/dr = sum_p (dE/dG_i . dG_i/dv_p) (+ at j, - at i); the pairs of the
    same two atoms (periodic images) are summed into one entry."""

    i: torch.Tensor  # (P,) centre atom of each atom pair
    j: torch.Tensor  # (P,) neighbour (never i)
    values: torch.Tensor  # (P, 3, n_features) = sum over images of dG_i / dv_p

    def forces(self, energy_gradient: torch.Tensor) -> torch.Tensor:
        """Forces (N, 3) from dE/dG (N, n_features), differentiable in ``energy_gradient``."""
        # a product and a sum: several times faster than einsum's batched 1 x F by F x 3 products on the CPU
        per_pair = (self.values * energy_gradient[self.i][:, None, :]).sum(-1)
        gradient = torch.zeros(energy_gradient.shape[0], 3, dtype=per_pair.dtype)
        gradient = gradient.index_add(0, self.j, per_pair).index_add(0, self.i, -per_pair)
        return -gradient


def pair_jacobian(graph: Graph) -> tuple[torch.Tensor, PairJacobian]:
    """The descriptors of ``graph`` (N, n_features) and their :class:`PairJacobian` (one backward pass per
    descriptor component: each pair vector feeds one atom's descriptors only)."""
    vectors = (graph.positions[graph.j] - graph.positions[graph.i] + graph.shift_vectors).requires_grad_(True)
    features = features_from_vectors(vectors, graph.i, graph.j, graph.a, graph.b, graph.species, graph.settings)
    columns = []
    for f in range(features.shape[1]):
        (column,) = torch.autograd.grad(features[:, f].sum(), vectors, retain_graph=f < features.shape[1] - 1,
                                        allow_unused=True)
        columns.append(torch.zeros_like(vectors) if column is None else column)
    values = torch.stack(columns, dim=2) if columns else torch.zeros(len(vectors), 3, 0, dtype=vectors.dtype)
    # periodic images of one neighbour move together: one entry per (i, j) atom pair, summed over images (a small
    # cell has a few atoms but dozens of images inside the cut-off); an atom's own images cancel (+ at j, - at i)
    n_atoms = len(graph.positions)
    keys, inverse = torch.unique(graph.i * n_atoms + graph.j, return_inverse=True)
    summed = torch.zeros(len(keys), *values.shape[1:], dtype=values.dtype).index_add(0, inverse, values)
    i, j = keys // n_atoms, keys % n_atoms
    distinct = i != j
    return features.detach(), PairJacobian(i[distinct], j[distinct], summed[distinct])


def build_graph(structures: list[Atoms], settings: DescriptorSettings) -> Graph:
    """One :class:`Graph` of ``structures`` (neighbour lists computed once)."""
    positions, species, structure, i, j, shifts, a, b = [], [], [], [], [], [], [], []
    atom_offset = pair_offset = 0
    for index, atoms in enumerate(structures):
        neighbours = find_neighbours(atoms, settings)
        positions.append(atoms.positions)
        species.append(species_indices(atoms, settings))
        structure.append(np.full(len(atoms), index))
        i.append(neighbours.i + atom_offset)
        j.append(neighbours.j + atom_offset)
        shifts.append(neighbours.shifts @ atoms.cell[:])
        a.append(neighbours.triplet_a + pair_offset)
        b.append(neighbours.triplet_b + pair_offset)
        atom_offset += len(atoms)
        pair_offset += len(neighbours.i)

    def cat(parts, dtype):
        return torch.as_tensor(np.concatenate(parts), dtype=dtype)

    return Graph(cat(positions, torch.float64), torch.cat(species), cat(structure, torch.long), cat(i, torch.long),
                  cat(j, torch.long), cat(shifts, torch.float64), cat(a, torch.long), cat(b, torch.long),
                  len(structures), settings)


def species_indices(atoms: Atoms, settings: DescriptorSettings) -> torch.Tensor:
    symbols = atoms.get_chemical_symbols()
    missing = sorted(set(symbols) - set(settings.species))
    if missing:
        raise ValueError(f"the model knows species {settings.species}, not {missing}")
    lookup = {s: k for k, s in enumerate(settings.species)}
    return torch.as_tensor([lookup[s] for s in symbols], dtype=torch.long)


def features_of(atoms: Atoms, settings: DescriptorSettings) -> torch.Tensor:
    """Descriptors of one structure, without gradients (for training sets)."""
    with torch.no_grad():
        return compute_features(
            torch.as_tensor(atoms.positions, dtype=torch.float64),
            torch.as_tensor(atoms.cell[:], dtype=torch.float64),
            species_indices(atoms, settings),
            find_neighbours(atoms, settings),
            settings,
        )

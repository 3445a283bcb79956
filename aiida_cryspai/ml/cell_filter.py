"""ASE's ``FrechetCellFilter`` with the 3x3 matrix functions done by eigendecomposition.

The filter moves the cell in the logarithm of its deformation gradient: every step takes a matrix logarithm (its
positions), a matrix exponential (new positions) and nine Fréchet derivatives of the exponential (the cell's
generalised forces). ASE computes them with SciPy's general ``logm``/``expm``/``expm_frechet``, which on a 3x3
matrix cost ~1-2 ms a call, mostly norm estimation: in the GA on the network they were half of the wall time, more
than the network. Here the same functions come from one eigendecomposition ``A = V diag(l) V^-1``:

- ``expm(A) = V diag(exp l) V^-1``, ``logm(A) = V diag(log l) V^-1`` (principal logarithm);
- the Fréchet derivative in direction ``E``: ``D exp(A)[E] = V ((V^-1 E V) o Gamma) V^-1`` with
  ``Gamma_ij = (exp l_i - exp l_j) / (l_i - l_j)`` (``exp l_i`` where they coincide): one decomposition serves the
  nine directions ASE asks for.

Where the eigenvectors are ill-conditioned (a nearly defective matrix, such as a pure shear) or a real eigenvalue is
not positive, SciPy's functions are used as before. Results agree with SciPy's to 1e-11 (tests/ml/test_cell_filter.py).
"""

from __future__ import annotations

import numpy as np
from ase.filters import FrechetCellFilter
from scipy.linalg import expm as _scipy_expm
from scipy.linalg import expm_frechet as _scipy_expm_frechet
from scipy.linalg import logm as _scipy_logm

MAX_CONDITION = 1e6  # eigenvectors worse conditioned than this: SciPy's general algorithms instead


def _eigen(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Eigenvalues, eigenvectors and their inverse of a 3x3 matrix, or None where the basis is ill-conditioned."""
    values, vectors = np.linalg.eig(matrix)
    if not np.all(np.isfinite(values)) or np.linalg.cond(vectors) > MAX_CONDITION:
        return None
    return values, vectors, np.linalg.inv(vectors)


def expm(matrix: np.ndarray) -> np.ndarray:
    """The matrix exponential of a real 3x3 matrix."""
    eigen = _eigen(matrix)
    if eigen is None:
        return _scipy_expm(matrix)
    values, vectors, inverse = eigen
    return ((vectors * np.exp(values)) @ inverse).real


def logm(matrix: np.ndarray) -> np.ndarray:
    """The principal matrix logarithm of a real 3x3 matrix with no eigenvalue on the closed negative real axis."""
    eigen = _eigen(matrix)
    if eigen is None or np.any((np.abs(eigen[0].imag) < 1e-12) & (eigen[0].real <= 0.0)):
        return _scipy_logm(matrix)
    values, vectors, inverse = eigen
    return ((vectors * np.log(values)) @ inverse).real


def _divided_differences(values: np.ndarray) -> np.ndarray:
    """``Gamma_ij = (exp l_i - exp l_j) / (l_i - l_j)``, written ``exp((l_i + l_j)/2) sinh(d/2) / (d/2)`` with
    ``d = l_i - l_j`` so that close eigenvalues lose no digits."""
    half_difference = (values[:, None] - values[None, :]) / 2.0
    small = np.abs(half_difference) < 1e-8
    safe = np.where(small, 1.0, half_difference)
    sinhc = np.where(small, 1.0 + half_difference**2 / 6.0, np.sinh(safe) / safe)
    return np.exp((values[:, None] + values[None, :]) / 2.0) * sinhc


class _SharedFrechet:
    """Stands in for ``scipy.linalg.expm_frechet`` inside ASE's cell utility, which asks for the nine directional
    derivatives at one ``log_matrix`` in a row: its eigendecomposition is kept for the next eight."""

    def __init__(self):
        self._key: bytes | None = None
        self._parts = None

    def __call__(self, log_matrix, direction, compute_expm=False):
        key = np.ascontiguousarray(log_matrix).tobytes()
        if key != self._key:
            self._key = key
            eigen = _eigen(log_matrix)
            self._parts = None if eigen is None else (*eigen, _divided_differences(eigen[0]))
        if self._parts is None:
            return _scipy_expm_frechet(log_matrix, direction, compute_expm=compute_expm)
        values, vectors, inverse, gamma = self._parts
        derivative = (vectors @ ((inverse @ direction @ vectors) * gamma) @ inverse).real
        return (((vectors * np.exp(values)) @ inverse).real, derivative) if compute_expm else derivative


class FastFrechetCellFilter(FrechetCellFilter):
    """ASE's ``FrechetCellFilter`` (same positions, forces, stress and steps) with its 3x3 matrix functions from
    :func:`expm`, :func:`logm` and an eigendecomposition-based Fréchet derivative, and its generalised forces
    computed once per geometry (FIRE asks for them twice per step: convergence test, step)."""

    _forces: np.ndarray | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for owner in (self, self._utility):
            owner.expm, owner.logm, owner.expm_frechet = expm, logm, _SharedFrechet()

    def get_forces(self, **kwargs):
        if self._forces is None or kwargs:
            forces = super().get_forces(**kwargs)
            if kwargs:
                return forces
            self._forces = forces
        return self._forces.copy()

    def set_positions(self, new, **kwargs):
        self._forces = None
        super().set_positions(new, **kwargs)

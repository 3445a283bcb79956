"""Batched relaxation on the network: many structures, one graph, one forward and backward pass per step.

FIRE (Bitzek et al., PRL 97, 170201 (2006), with ASE's parameters) runs on every structure at once, each with its
own time step and mixing. Cell degrees of freedom as in ASE's ``UnitCellFilter``: a symmetric strain scaled by
the number of atoms, driven by the virial -V sigma. Neighbour lists are rebuilt at every step (matscipy);
a structure that converges, collapses or brings atoms too close stops moving.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from .network import Potential
from .relax import STATUS_OK, RelaxGuards, _Abandon, check_geometry


@dataclass
class BatchRelaxResult:
    atoms: list[Atoms]
    energies: np.ndarray  # eV, NaN where the relaxation was abandoned
    n_steps: np.ndarray
    converged: np.ndarray
    statuses: list[str]
    wall_s: float


def relax_many(
    model: Potential,
    structures: list[Atoms],
    fmax: float = 0.05,
    max_steps: int = 200,
    relax_cell: bool = True,
    guards: RelaxGuards | None = None,
) -> BatchRelaxResult:
    """Relax copies of ``structures`` together on ``model``; never raises for a bad structure, flags it
    (statuses as :func:`~.relax.relax`; ``guards.max_seconds`` does not apply to a batch)."""
    start = time.perf_counter()
    guards = guards or RelaxGuards(max_seconds=None)
    work = [a.copy() for a in structures]
    n = len(work)
    # FIRE parameters of ASE
    dt0, dtmax, maxstep, nmin, finc, fdec, astart, fa = 0.1, 1.0, 0.2, 5, 1.1, 0.5, 0.1, 0.99
    dt = np.full(n, dt0)
    alpha = np.full(n, astart)
    since_negative = np.zeros(n, dtype=int)
    velocities = [np.zeros((len(a) + 3, 3)) for a in work]
    statuses = [STATUS_OK] * n
    converged = np.zeros(n, dtype=bool)
    steps = np.zeros(n, dtype=int)
    energies = np.full(n, np.nan)
    active = np.ones(n, dtype=bool)

    def stop(k: int, status: str) -> None:
        statuses[k] = status
        active[k] = False

    for k, atoms in enumerate(work):
        try:
            check_geometry(atoms, guards)
        except _Abandon as abandon:
            stop(k, abandon.status)
    for _step in range(max_steps + 1):
        indices = np.flatnonzero(active)
        if len(indices) == 0:
            break
        batch = [work[k] for k in indices]
        e, forces, virials = model.energies_forces_virials(batch)
        for slot, k in enumerate(indices):
            atoms = work[k]
            energies[k] = e[slot]
            cell_factor = float(len(atoms))
            generalised = np.vstack([forces[slot], virials[slot] / cell_factor if relax_cell else np.zeros((3, 3))])
            if np.sqrt((generalised**2).sum(axis=1)).max() < fmax:
                converged[k] = True
                active[k] = False
                continue
            if steps[k] >= max_steps:
                active[k] = False
                continue
            v = velocities[k]
            power = float((generalised * v).sum())
            if power > 0.0:
                f_norm = np.sqrt((generalised**2).sum())
                v_norm = np.sqrt((v**2).sum())
                v = (1.0 - alpha[k]) * v + alpha[k] * generalised / f_norm * v_norm
                if since_negative[k] > nmin:
                    dt[k] = min(dt[k] * finc, dtmax)
                    alpha[k] *= fa
                since_negative[k] += 1
            else:
                v = np.zeros_like(v)
                alpha[k] = astart
                dt[k] *= fdec
                since_negative[k] = 0
            v = v + dt[k] * generalised
            dr = dt[k] * v
            longest = np.sqrt((dr**2).sum(axis=1)).max()
            if longest > maxstep:
                dr *= maxstep / longest
            velocities[k] = v
            atoms.positions = atoms.positions + dr[:-3]
            if relax_cell:
                strain = dr[-3:] / cell_factor
                deformation = np.eye(3) + 0.5 * (strain + strain.T)
                atoms.set_cell(atoms.cell[:] @ deformation, scale_atoms=False)
                atoms.positions = atoms.positions @ deformation
            steps[k] += 1
            try:
                check_geometry(atoms, guards)
            except _Abandon as abandon:
                stop(k, abandon.status)
    for k, status in enumerate(statuses):
        limit = guards.max_energy_per_atom
        if status == STATUS_OK and limit is not None and energies[k] / len(work[k]) > limit:
            statuses[k] = "unphysical"
        if statuses[k] != STATUS_OK:
            energies[k] = np.nan
    return BatchRelaxResult(work, energies, steps, converged, statuses, time.perf_counter() - start)

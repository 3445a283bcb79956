"""Local relaxation with any ASE calculator (FIRE on positions and, optionally, the cell), with guards.

A relaxation is stopped and flagged as soon as the cell collapses or explodes (volume per atom out of
range), atoms come too close, or it runs out of time; the frames it visited are kept for the dataset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from ..search.geometry import MAX_CLOSE_NEIGHBOURS, crowding

STATUS_OK = "ok"


@dataclass
class RelaxGuards:
    """Ranges outside which a relaxation is abandoned; ``None`` switches a check off."""

    min_volume_per_atom: float | None = None
    max_volume_per_atom: float | None = None
    min_distance_factor: float | None = 0.4
    max_neighbours: int | None = MAX_CLOSE_NEIGHBOURS  # close neighbours of one atom (a collapsing cell)
    max_energy_per_atom: float | None = None
    max_seconds: float | None = 600.0


@dataclass
class RelaxResult:
    atoms: Atoms
    energy: float | None
    n_steps: int
    converged: bool
    status: str
    reason: str = ""
    frames: list[Atoms] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


class _Abandon(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _snapshot(atoms: Atoms) -> Atoms:
    """A copy of ``atoms`` carrying its current energy, forces and stress."""
    frame = atoms.copy()
    results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    try:
        results["stress"] = atoms.get_stress()
    except Exception:  # calculators without stress
        pass
    frame.calc = SinglePointCalculator(frame, **results)
    return frame


def check_geometry(atoms: Atoms, guards: RelaxGuards) -> None:
    volume_per_atom = atoms.get_volume() / len(atoms)
    if guards.min_volume_per_atom is not None and volume_per_atom < guards.min_volume_per_atom:
        raise _Abandon("collapsed", f"volume per atom {volume_per_atom:.2f} Å^3 below {guards.min_volume_per_atom:.2f}")
    if guards.max_volume_per_atom is not None and volume_per_atom > guards.max_volume_per_atom:
        raise _Abandon("exploded", f"volume per atom {volume_per_atom:.2f} Å^3 above {guards.max_volume_per_atom:.2f}")
    found = crowding(atoms)
    if guards.min_distance_factor is not None and found.shortest_ratio < guards.min_distance_factor:
        raise _Abandon("too_close", f"shortest distance {found.shortest_ratio:.2f} x sum of covalent radii")
    if guards.max_neighbours is not None and found.max_neighbours > guards.max_neighbours:
        raise _Abandon("collapsed", f"{found.max_neighbours} close neighbours of one atom")


def relax(
    atoms: Atoms,
    calculator,
    fmax: float = 0.05,
    max_steps: int = 200,
    relax_cell: bool = True,
    guards: RelaxGuards | None = None,
    record_frames: bool = True,
) -> RelaxResult:
    """Relax a copy of ``atoms`` with ``calculator``; never raises for a bad structure, flags it instead."""
    guards = guards or RelaxGuards()
    work = atoms.copy()
    work.calc = calculator
    frames: list[Atoms] = []
    start = time.perf_counter()
    target = FrechetCellFilter(work) if relax_cell else work
    optimiser = FIRE(target, logfile=None)

    def observe() -> None:
        check_geometry(work, guards)
        if record_frames:
            frames.append(_snapshot(work))
        if guards.max_seconds is not None and time.perf_counter() - start > guards.max_seconds:
            raise _Abandon("timeout", f"relaxation exceeded {guards.max_seconds:.0f} s")

    optimiser.attach(observe, interval=1)
    status, reason, converged = STATUS_OK, "", False
    try:
        check_geometry(work, guards)
        converged = bool(optimiser.run(fmax=fmax, steps=max_steps))
    except _Abandon as abandon:
        status, reason = abandon.status, abandon.reason
    except Exception as error:  # the calculator itself failed on this geometry
        status, reason = "failed", f"{type(error).__name__}: {error}"
    energy = None
    if status == STATUS_OK:
        energy = float(work.get_potential_energy())
        if not np.isfinite(energy):
            status, reason = "failed", "non-finite energy"
        elif guards.max_energy_per_atom is not None and energy / len(work) > guards.max_energy_per_atom:
            status, reason = "unphysical", f"energy {energy / len(work):.3f} eV/atom above {guards.max_energy_per_atom}"
    final = work.copy()
    final.calc = None
    return RelaxResult(final, energy, optimiser.nsteps, converged, status, reason, frames)

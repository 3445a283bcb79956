"""Local relaxation, one structure or a batch, with any ASE calculator or the network, with guards.

One treatment of the cell for every path: ASE's ``FrechetCellFilter`` (positions and the log of the cell
deformation, ready for an external ``scalar_pressure``; its 3x3 matrix functions done by eigendecomposition,
``ml/cell_filter.py``) driven by ASE's ``FIRE``, one optimiser per structure.
A batch moves in lock step: at each step the energies, forces and stresses of every structure still moving come
from one call of the calculator's batch evaluator (the network: one graph; others: one structure after the other,
``ml/potentials.py``), are attached to each structure as its single-point result, and each optimiser takes its
step. :func:`relax` is the batch of one.

A relaxation is stopped and flagged as soon as the cell collapses or explodes (volume per atom out of range),
atoms come too close or crowd, the energy is unphysical, or time runs out; the geometry is checked before the
calculator sees it. A relaxed structure whose shortest contact is below the physical floor
(``search/plausibility.py``) is refused. With ``guards.repulsion`` a short-range pair repulsion that is zero beyond
that floor is added to the calculator's forces (``ml/repulsion.py``), so that a universal potential's relaxation
does not fall into its holes. The frames visited are kept for the dataset, those inside the repulsion's range
left out: a kept frame carries the calculator's own energy, forces and stress.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize import FIRE
from ase.stress import full_3x3_to_voigt_6_stress
from ase.units import GPa

from ..protocols.schema import OracleParameters
from ..search.geometry import MAX_CLOSE_NEIGHBOURS, crowding
from ..search.objective import Objective
from ..search.plausibility import CONTACT_FACTOR, ENERGY_MARGIN, contact_problem, implausible_energies
from .cell_filter import FastFrechetCellFilter
from .potentials import batch_evaluator
from .repulsion import ShortRangeRepulsion, with_repulsion

STATUS_OK = "ok"
_DEFAULT = OracleParameters()  # the defaults live in the parameter schema


@dataclass
class RelaxGuards:
    """Ranges outside which a relaxation is abandoned; ``None`` switches a check off."""

    min_volume_per_atom: float | None = None
    max_volume_per_atom: float | None = None
    min_distance_factor: float | None = 0.4
    max_neighbours: int | None = MAX_CLOSE_NEIGHBOURS  # close neighbours of one atom (a collapsing cell)
    max_energy_per_atom: float | None = None
    min_energy_per_atom: float | None = None  # below it no real solid lies on the calculator's scale (a hole)
    max_seconds: float | None = 600.0  # of the whole call (a batch shares the clock)
    length_scale: float = 1.0  # bond lengths of the distance checks relative to 0 GPa: (V_P / V_0)^(1/3)
    energy_margin: float | None = ENERGY_MARGIN  # eV/atom below the batch's median: refused (plausibility.py)
    contact_factor: float | None = CONTACT_FACTOR  # relaxed structures: shortest contact / sum of covalent radii
    repulsion: float | None = None  # strength (eV) of the short-range repulsion while relaxing; None or 0: off

    def repulsion_term(self) -> ShortRangeRepulsion | None:
        """The pair repulsion these guards add while relaxing (zero beyond the contact floor), or None."""
        if not self.repulsion:
            return None
        return ShortRangeRepulsion(self.repulsion, self.contact_factor or CONTACT_FACTOR, self.length_scale)


@dataclass
class RelaxResult:
    atoms: Atoms
    energy: float | None  # eV; None unless the status is ok
    n_steps: int
    converged: bool
    status: str
    reason: str = ""
    frames: list[Atoms] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK


def geometry_problem(atoms: Atoms, guards: RelaxGuards) -> tuple[str, str] | None:
    """(status, reason) when ``atoms`` is outside ``guards``' geometry ranges, else None."""
    volume_per_atom = atoms.get_volume() / len(atoms)
    if guards.min_volume_per_atom is not None and volume_per_atom < guards.min_volume_per_atom:
        return "collapsed", f"volume per atom {volume_per_atom:.2f} Å^3 below {guards.min_volume_per_atom:.2f}"
    if guards.max_volume_per_atom is not None and volume_per_atom > guards.max_volume_per_atom:
        return "exploded", f"volume per atom {volume_per_atom:.2f} Å^3 above {guards.max_volume_per_atom:.2f}"
    found = crowding(atoms, guards.length_scale)
    if guards.min_distance_factor is not None and found.shortest_ratio < guards.min_distance_factor:
        return "too_close", f"shortest distance {found.shortest_ratio:.2f} x sum of covalent radii"
    if guards.max_neighbours is not None and found.max_neighbours > guards.max_neighbours:
        return "collapsed", f"{found.max_neighbours} close neighbours of one atom"
    return None


class _Relaxation:
    """One structure's relaxation inside a batch: its atoms, filter, optimiser and outcome so far."""

    def __init__(self, atoms: Atoms, fmax: float, relax_cell: bool, pressure: float, record_frames: bool):
        self.atoms = atoms.copy()
        self.atoms.calc = None
        target = FastFrechetCellFilter(self.atoms, scalar_pressure=pressure) if relax_cell else self.atoms
        self.optimiser = FIRE(target, logfile=None)
        self.optimiser.fmax = fmax  # what Optimizer.run(fmax=...) sets before its first convergence test
        self.record_frames = record_frames
        self.frames: list[Atoms] = []
        self.energy: float | None = None
        self.status, self.reason = STATUS_OK, ""
        self.converged = False
        self.moving = True

    def stop(self, status: str, reason: str) -> None:
        self.status, self.reason, self.moving = status, reason, False

    def take(self, energy: float, forces: np.ndarray, stress: np.ndarray | None, repulsion: float = 0.0) -> None:
        """Attach the calculator's results for the current geometry (and keep the frame unless the ``repulsion``
        energy in them is not zero); they are the only results the filter ever sees for this geometry."""
        results = {"energy": energy, "free_energy": energy, "forces": forces}
        if stress is not None:
            results["stress"] = full_3x3_to_voigt_6_stress(stress)
        self.atoms.calc = SinglePointCalculator(self.atoms, **results)
        self.energy = energy
        if self.record_frames and not repulsion:
            frame = self.atoms.copy()
            frame.calc = SinglePointCalculator(frame, **results)
            self.frames.append(frame)

    def advance(self, max_steps: int) -> None:
        """Converged, out of steps, or one FIRE step."""
        if self.optimiser.converged():
            self.converged, self.moving = True, False
        elif self.optimiser.nsteps >= max_steps:
            self.moving = False
        else:
            self.optimiser.step()
            self.optimiser.nsteps += 1

    def result(self, guards: RelaxGuards) -> RelaxResult:
        energy = self.energy if self.status == STATUS_OK else None
        if energy is not None and guards.contact_factor is not None:
            # a relaxation may pass through close contacts, but no real solid ends in one: a final structure with
            # atoms closer than the physical floor is the potential's artefact (CHGNet: SiO2 at 15 GPa collapsed to
            # 3.6 Å^3/atom at -20.9 eV/atom, stishovite being -7.4; SevenNet-0: Al4O6 at -1e8 eV/atom)
            problem = contact_problem(self.atoms, guards.contact_factor, guards.length_scale)
            if problem is not None:
                self.status = "too_close"
                self.reason = f"relaxed into a {problem}"
                energy = None
        if energy is not None:
            per_atom, limit, floor = energy / len(self.atoms), guards.max_energy_per_atom, guards.min_energy_per_atom
            if limit is not None and per_atom > limit:
                self.status = "unphysical"
                self.reason = f"energy {per_atom:.3f} eV/atom above {limit}"
                energy = None
            elif floor is not None and per_atom < floor:
                self.status = "unphysical"
                self.reason = (f"energy {per_atom:.4g} eV/atom below {floor}, where no real solid lies on this "
                               "potential's scale (a hole)")
                energy = None
        final = self.atoms.copy()
        final.calc = None
        return RelaxResult(final, energy, self.optimiser.nsteps, self.converged, self.status, self.reason,
                           self.frames if self.status == STATUS_OK else [])


def _failure(error: Exception) -> tuple[str, str]:
    """The status and reason of a relaxation stopped by ``error``: ``memory`` where it ran out of the process's
    memory (the CalcJob's bound, ``executables/common.py``; torch says so in a RuntimeError), else ``failed``."""
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, MemoryError) or "can't allocate memory" in str(error):
        return "memory", f"over the memory this process may use ({text[:200]})"
    return "failed", text


def _evaluate(evaluate, relaxations: list[_Relaxation]) -> None:
    """One call of the batch evaluator for ``relaxations``; where the batch fails, each structure alone, so that
    one bad geometry stops only its own relaxation."""
    try:
        results = evaluate([r.atoms for r in relaxations])
    except Exception as error:  # noqa: BLE001 - the calculator failed on one of these geometries
        if len(relaxations) == 1:
            relaxations[0].stop(*_failure(error))
            return
        for relaxation in relaxations:
            _evaluate(evaluate, [relaxation])
        return
    for relaxation, (energy, forces, stress, *repulsion) in zip(relaxations, results):
        if not np.isfinite(energy) or not np.all(np.isfinite(forces)):
            relaxation.stop("failed", "non-finite energy or forces")
        else:
            relaxation.take(energy, forces, stress, *repulsion)


def relax_batch(
    structures: list[Atoms],
    calculator,
    fmax: float = _DEFAULT.fmax,
    max_steps: int = _DEFAULT.max_steps,
    relax_cell: bool = _DEFAULT.relax_cell,
    guards: RelaxGuards | None = None,
    pressure_gpa: float = 0.0,
    record_frames: bool = True,
) -> list[RelaxResult]:
    """Relax copies of ``structures`` together with ``calculator`` (an ASE calculator or a network
    :class:`~.network.Potential`), under ``pressure_gpa`` when the cell relaxes; never raises for a bad structure,
    flags it instead."""
    guards = guards or RelaxGuards()
    evaluate = batch_evaluator(calculator)
    repulsion = guards.repulsion_term()
    if repulsion is not None:
        evaluate = with_repulsion(evaluate, repulsion)
    start = time.perf_counter()
    relaxations = [_Relaxation(atoms, fmax, relax_cell, pressure_gpa * GPa, record_frames) for atoms in structures]
    while True:
        moving = []
        for relaxation in relaxations:
            if relaxation.moving and (problem := geometry_problem(relaxation.atoms, guards)) is not None:
                relaxation.stop(*problem)
            if relaxation.moving:
                moving.append(relaxation)
        if not moving:
            break
        if guards.max_seconds is not None and time.perf_counter() - start > guards.max_seconds:
            for relaxation in moving:
                relaxation.stop("timeout", f"relaxation exceeded {guards.max_seconds:.0f} s")
            break
        _evaluate(evaluate, moving)
        for relaxation in moving:
            if relaxation.moving:
                try:
                    relaxation.advance(max_steps)
                except Exception as error:  # noqa: BLE001 - e.g. a calculator without stress for the cell
                    relaxation.stop(*_failure(error))
    return refuse_implausible([relaxation.result(guards) for relaxation in relaxations], guards.energy_margin)


def refuse_implausible(results: list[RelaxResult], margin: float | None = ENERGY_MARGIN,
                       reference: list[float] = ()) -> list[RelaxResult]:
    """Mark the ok results whose energy per atom lies implausibly far below the others' (and ``reference``'s,
    energies per atom of the same composition on the same calculator) as ``unphysical``, without energy or frames:
    a universal potential's hole (``search/plausibility.py``). ``margin`` None: no test. Returns ``results``."""
    if margin is None:
        return results
    energies = [r.energy / len(r.atoms) if r.ok else None for r in results]
    for index, reason in implausible_energies(energies, margin, reference).items():
        result = results[index]
        result.status, result.reason, result.energy, result.frames = "unphysical", reason, None, []
    return results


def relax(atoms: Atoms, calculator, **settings) -> RelaxResult:
    """Relax a copy of ``atoms`` alone (:func:`relax_batch` of one; same settings)."""
    return relax_batch([atoms], calculator, **settings)[0]


def relaxed_volumes(structures: list[Atoms], calculator, guards: RelaxGuards | None = None, pressure_gpa: float = 0.0,
                    **settings) -> list[tuple[RelaxResult, tuple[float, float] | None]]:
    """Each structure relaxed together (:func:`relax_batch`, no frames kept) with its (volume, enthalpy per atom),
    None where the relaxation was refused: the volume scan's relaxations of random structures."""
    results = relax_batch(structures, calculator, guards=guards, pressure_gpa=pressure_gpa, record_frames=False,
                          **settings)
    objective = Objective(pressure_gpa)
    return [(r, (r.atoms.get_volume(), objective.of_atoms(r.atoms, r.energy)) if r.ok else None) for r in results]

"""Phases under pressure: relax given structures at several pressures, compare their enthalpies per atom
H = (E + PV)/N and find where the lowest one changes (a transition pressure).

Each structure is relaxed at the first pressure from its own geometry and at every further pressure from its
geometry at the previous one, so each phase is followed along its own branch; a phase that is unstable at some
pressure may turn into another there, which its space group at that pressure shows. The transition pressure of two
phases is where their enthalpy difference, linear between the pressures computed, changes sign.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ase import Atoms

from ..analysis.symmetry import spacegroup
from ..search.objective import Objective
from .relax import RelaxGuards, relax

# known phases, not random cells: only atoms closer than 0.4 x their covalent bond stop a relaxation (a compressed
# close-packed metal counts more than the search's cap of close neighbours)
GUARDS = RelaxGuards(max_neighbours=None, max_seconds=None)
SAME_PHASE_EV = 2e-4  # eV/atom: two relaxed inputs of one space group this close in enthalpy are one phase


@dataclass(frozen=True)
class PhasePoint:
    """One phase relaxed at one pressure."""

    name: str
    pressure_gpa: float
    energy_per_atom: float  # eV/atom
    volume_per_atom: float  # Å^3/atom
    enthalpy_per_atom: float  # eV/atom, (E + PV)/N
    spacegroup: str  # of the relaxed structure (symprec 0.1 Å), e.g. "Fd-3m (227)"
    converged: bool
    atoms: Atoms
    start_spacegroup: str = ""  # of the structure given, before any relaxation


def relax_phases(structures: dict[str, Atoms], calculator, pressures_gpa: Sequence[float], fmax: float = 0.01,
                 max_steps: int = 500, log: Callable[[str], None] | None = None) -> list[PhasePoint]:
    """Every structure (name -> atoms) relaxed, cell and positions, at every pressure (GPa, in the order given) with
    the ASE ``calculator``; a relaxation that stops on a guard raises ``RuntimeError`` naming it."""
    points = []
    for name, start in structures.items():
        atoms = start
        given = spacegroup(start, 0.1)
        for pressure in pressures_gpa:
            outcome = relax(atoms, calculator, fmax=fmax, max_steps=max_steps, relax_cell=True,
                            pressure_gpa=float(pressure), guards=GUARDS, record_frames=False)
            if not outcome.ok:
                raise RuntimeError(f"{name} at {pressure:g} GPa: {outcome.status} ({outcome.reason})")
            atoms = outcome.atoms
            n = len(atoms)
            symmetry = spacegroup(atoms, 0.1)
            point = PhasePoint(name, float(pressure), outcome.energy / n, atoms.get_volume() / n,
                               Objective(float(pressure)).of_atoms(atoms, outcome.energy),
                               f"{symmetry.symbol} ({symmetry.number})", outcome.converged, atoms,
                               f"{given.symbol} ({given.number})")
            points.append(point)
            if log is not None:
                log(f"{name} at {pressure:g} GPa: H {point.enthalpy_per_atom:.4f} eV/atom, V "
                    f"{point.volume_per_atom:.3f} Å^3/atom, {point.spacegroup}, {outcome.n_steps} steps")
    return points


def enthalpy_table(points: list[PhasePoint]) -> dict[float, dict[str, float]]:
    """Pressure -> name -> enthalpy per atom above the lowest phase at that pressure (meV/atom)."""
    table: dict[float, dict[str, float]] = {}
    for point in points:
        table.setdefault(point.pressure_gpa, {})[point.name] = point.enthalpy_per_atom
    return {pressure: {name: (h - min(row.values())) * 1000 for name, h in row.items()}
            for pressure, row in sorted(table.items())}


def transition_pressures(points: list[PhasePoint]) -> list[tuple[float, str, str]]:
    """(pressure in GPa, phase lowest below it, phase lowest above it) wherever the lowest-enthalpy phase changes
    between two computed pressures, the crossing of the two phases' enthalpies interpolated linearly."""
    by_pressure: dict[float, dict[str, float]] = {}
    groups = {(point.pressure_gpa, point.name): point.spacegroup for point in points}
    for point in points:
        by_pressure.setdefault(point.pressure_gpa, {})[point.name] = point.enthalpy_per_atom
    pressures = sorted(by_pressure)
    found = []
    for low, high in zip(pressures, pressures[1:]):
        before = min(by_pressure[low], key=by_pressure[low].get)
        after = min(by_pressure[high], key=by_pressure[high].get)
        # two inputs that relaxed into one structure (same space group, same enthalpy) are one phase
        same = all(groups[(p, before)] == groups[(p, after)]
                   and abs(by_pressure[p][before] - by_pressure[p][after]) < SAME_PHASE_EV for p in (low, high))
        if before == after or same:
            continue
        # H_after - H_before goes from positive at ``low`` to negative at ``high``
        d_low = by_pressure[low][after] - by_pressure[low][before]
        d_high = by_pressure[high][after] - by_pressure[high][before]
        crossing = low + (high - low) * d_low / (d_low - d_high) if d_low != d_high else high
        found.append((float(crossing), before, after))
    return found


def format_table(points: list[PhasePoint]) -> str:
    """The enthalpy table as text: one line per pressure, H - H_min (meV/atom) per phase, then the transitions."""
    table = enthalpy_table(points)
    names = list(dict.fromkeys(point.name for point in points))
    width = max(12, *(len(name) + 2 for name in names))
    lines = ["H - H_min (meV/atom)", f"{'P (GPa)':>8}" + "".join(f"{name:>{width}}" for name in names)]
    for pressure, row in table.items():
        lines.append(f"{pressure:>8g}" + "".join(f"{row[name]:>{width}.1f}" if name in row else f"{'-':>{width}}"
                                                  for name in names))
    for name in names:  # a phase that relaxed into another structure is named by what it became
        own = [p for p in points if p.name == name]
        if any(p.spacegroup != own[0].start_spacegroup for p in own):
            lines.append(f"{name} (given as {own[0].start_spacegroup}) relaxed to: "
                         + ", ".join(f"{p.spacegroup} at {p.pressure_gpa:g} GPa" for p in own))
    transitions = transition_pressures(points)
    lines += [f"{before} -> {after} at {pressure:.1f} GPa" for pressure, before, after in transitions] or \
        ["no change of the lowest-enthalpy phase between these pressures"]
    return "\n".join(lines)

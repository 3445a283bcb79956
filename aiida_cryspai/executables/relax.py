"""``cryspai-relax``: relax a batch of structures with an ASE calculator.

Reads ``structures.xyz`` (extxyz, ``key`` in each frame's info) and ``parameters.json``; writes
``relaxed.xyz``, ``results.json`` (per key: status, energy, steps, ...) and ``frames.npz`` (every frame
visited, with energies, forces and stress).

With ``volume_scan`` (a list of volume factors) in the parameters each structure's energy per atom is computed at
each factor x its volume (status ``scan``, ``scan_energies_per_atom``), for the starting volume; with
``volume_scan_relax`` (the settings of a relaxation) the structures with the lowest plausible minima are then relaxed
from their minimum, under ``pressure_gpa`` and the ``guards`` (``scan_relaxed``: status, reason, volume, energy and
enthalpy per atom, steps): the random structures' scan (``search/volume.py``).
"""

from __future__ import annotations

import time

from . import files
from .common import log, start_script, write_json


def main(argv: list[str] | None = None) -> None:
    args, parameters = start_script("cryspai-relax", __doc__, {"structures": files.STRUCTURES}, argv)

    from ase.io import read, write

    from ..ml.dataset import frames_to_arrays, save_arrays
    from ..ml.potentials import CALCULATORS, get_calculator
    from ..ml.relax import RelaxGuards, refuse_implausible, relax

    structures = read(args.structures, index=":", format="extxyz")
    calculator = get_calculator(parameters["calculator"], parameters.get("model"))
    # the calculator's energy bounds (its holes' floor) hold unless the guards name them: the random structures'
    # scan passes the search's guards alone, and its relaxations reach the volume's choice
    spec = CALCULATORS.get(parameters["calculator"])
    guards = RelaxGuards(**{**(spec.energy_bounds() if spec else {}), **parameters.get("guards", {})})
    settings = {key: parameters[key] for key in ("fmax", "max_steps", "relax_cell", "pressure_gpa")
                if key in parameters}
    if "volume_scan" in parameters:
        _volume_scan(structures, calculator, parameters, guards)
        return
    outcomes, walls = [], []
    for atoms in structures:
        start = time.perf_counter()
        outcome = relax(atoms, calculator, guards=guards, **settings)
        walls.append(time.perf_counter() - start)
        outcomes.append(outcome)
        energy = f"{outcome.energy / len(atoms):.4f} eV/atom" if outcome.energy is not None else "-"
        log(f"{atoms.info['key']}: {outcome.status} {energy} after {outcome.n_steps} steps ({walls[-1]:.1f} s) "
            f"{outcome.reason}")
    # the whole batch is the reference of the energy test: one structure alone cannot be judged by it
    were_ok = [outcome.ok for outcome in outcomes]
    refuse_implausible(outcomes, guards.energy_margin)
    for atoms, outcome, was_ok in zip(structures, outcomes, were_ok):
        if was_ok and not outcome.ok:
            log(f"{atoms.info['key']}: {outcome.status} {outcome.reason}")
    results, relaxed, frames, groups, sources = {}, [], [], [], []
    for index, (atoms, outcome, wall) in enumerate(zip(structures, outcomes, walls)):
        key = atoms.info["key"]
        results[key] = {
            "status": outcome.status,
            "reason": outcome.reason,
            "energy": outcome.energy,
            "energy_per_atom": outcome.energy / len(atoms) if outcome.energy is not None else None,
            "n_steps": outcome.n_steps,
            "converged": outcome.converged,
            "volume": outcome.atoms.get_volume(),
            "wall_s": wall,
        }
        final = outcome.atoms
        final.info = {"key": key, "status": outcome.status}
        relaxed.append(final)
        if outcome.ok:
            frames += outcome.frames
            groups += [index] * len(outcome.frames)
            sources += [key] * len(outcome.frames)
    write(files.RELAXED, relaxed, format="extxyz")
    write_json(files.RESULTS, results)
    save_arrays(files.FRAMES, frames_to_arrays(frames, groups, sources))


def _volume_scan(structures, calculator, parameters: dict, guards) -> None:
    """Energies per atom of every structure at every volume factor (one batch; cells that fail the sanity check of
    generated cells are skipped); with ``volume_scan_relax``, the lowest plausible minima relaxed."""
    from ase.io import write

    from ..ml.dataset import empty_arrays, save_arrays
    from ..ml.potentials import batch_evaluator
    from ..ml.relax import relaxed_volumes
    from ..search.generation import scale_to_volume
    from ..search.objective import Objective
    from ..search.volume import relaxation_starts, scan_energies, scan_minima

    factors = tuple(parameters["volume_scan"])
    start = time.perf_counter()
    energies = scan_energies(structures, batch_evaluator(calculator), factors, floor=guards.min_energy_per_atom)
    wall = time.perf_counter() - start
    results = {}
    for atoms, values in zip(structures, energies):
        results[atoms.info["key"]] = {"status": "scan", "reason": "", "energy": None, "energy_per_atom": None,
                                      "n_steps": 0, "converged": False, "volume": atoms.get_volume(),
                                      "n_atoms": len(atoms), "wall_s": wall / len(structures),
                                      "scan_factors": list(factors),
                                      "scan_energies_per_atom": values}
    log(f"volume scan: {len(structures)} structures x {len(factors)} volumes in {wall:.1f} s")
    if "volume_scan_relax" in parameters and structures:
        pressure_gpa = float(parameters.get("pressure_gpa", 0.0))
        minima = scan_minima([a.get_volume() for a in structures], energies, factors, Objective(pressure_gpa),
                             n_atoms=len(structures[0]))
        chosen = relaxation_starts(minima, int(parameters["volume_scan_relax"].get("n", 8)))
        settings = {k: v for k, v in parameters["volume_scan_relax"].items() if k != "n"}
        start = time.perf_counter()
        relaxed = relaxed_volumes([scale_to_volume(structures[k], minima[k][0]) for k in chosen], calculator,
                                  guards, pressure_gpa, **settings)
        log(f"volume scan: the {len(chosen)} lowest minima relaxed in {time.perf_counter() - start:.1f} s")
        for k, (outcome, volume_enthalpy) in zip(chosen, relaxed):
            key = structures[k].info["key"]
            results[key]["scan_relaxed"] = {
                "status": outcome.status, "reason": outcome.reason, "n_steps": outcome.n_steps,
                "volume": outcome.atoms.get_volume(),
                "energy_per_atom": outcome.energy / len(outcome.atoms) if outcome.ok else None,
                "enthalpy_per_atom": volume_enthalpy[1] if volume_enthalpy else None}
            energy = f"{volume_enthalpy[1]:.4f} eV/atom at {volume_enthalpy[0]:.2f} Å^3" if volume_enthalpy else ""
            log(f"{key}: {outcome.status} {energy} after {outcome.n_steps} steps {outcome.reason}")
    write(files.RELAXED, structures, format="extxyz")
    write_json(files.RESULTS, results)
    save_arrays(files.FRAMES, empty_arrays())


if __name__ == "__main__":
    main()

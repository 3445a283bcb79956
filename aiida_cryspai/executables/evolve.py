"""``cryspai-evolve``: the GA of one or more crystal systems on the trained network.

Reads ``model.pt`` and ``parameters.json`` (composition, ``crystal_systems`` with their ``seeds`` (or one
``crystal_system`` and its ``seed``), volume, ``ga`` and ``local`` settings, ``acquisition_kappa``, ``objective``) and
optionally ``initial.xyz`` (each frame's ``crystal_system`` in its info says which GA it seeds); writes
``recommended.xyz`` (crystal system, predicted energy per atom, ensemble spread and origin in each frame's info) and
``evolve.json`` (per crystal system: best objective per generation, counts, wall time).

The GAs of several systems run side by side and relax each generation in one batch on the network
(:func:`~aiida_cryspai.search.ga.evolve_together`): one process and one network graph per step for all of them.
With an ensemble and ``acquisition_kappa`` > 0 each system's ``n_recommend`` structures are chosen from its final
trial set by the lower confidence bound E - kappa * sigma (low energy and high disagreement first); otherwise the
lowest ones are recommended.
"""

from __future__ import annotations

import os
import time

from . import files
from .common import log, start_script, write_json


def main(argv: list[str] | None = None) -> None:
    args, parameters = start_script("cryspai-evolve", __doc__, {"model": files.MODEL}, argv)

    from ase.io import read, write

    from ..ml.prior import load_surrogate
    from ..ml.relax import RelaxGuards, relax_batch
    from ..protocols.schema import LocalParameters
    from ..search.composition import parse_composition
    from ..search.ga import GASettings, evolve_together
    from ..search.objective import Objective

    began = time.perf_counter()
    composition = parse_composition(parameters["composition"])
    potential = load_surrogate(args.model)  # the network, or a prior plus its correction
    local = dict(parameters.get("local", {}))
    # a generation is relaxed in one batch: no time limit unless the guards set one
    guards = RelaxGuards(**{"max_seconds": None, **local.pop("guards", {})})
    settings = {**LocalParameters().model_dump(), **local}  # fmax, max_steps, relax_cell; defaults from the schema
    objective = Objective.from_dict(parameters.get("objective"))

    def optimise(structures):
        """A generation (of every system) relaxed together on the network (one graph per step), under the
        objective's pressure."""
        outcomes = relax_batch(structures, potential, guards=guards, pressure_gpa=objective.pressure_gpa,
                               record_frames=False, **settings)
        return [(outcome.atoms, outcome.energy) if outcome.ok else None for outcome in outcomes]

    systems = list(parameters.get("crystal_systems") or [parameters["crystal_system"]])
    seeds = parameters.get("seeds") or {systems[0]: parameters.get("seed", 0)}
    initial = read(files.INITIAL, index=":", format="extxyz") if os.path.exists(files.INITIAL) else []
    jobs = [{"system": system, "seed": int(seeds[system]),
             "initial": [a for a in initial if a.info.get("crystal_system", system) == system]} for system in systems]
    ga = GASettings(**{**parameters.get("ga", {}), "length_scale": guards.length_scale})
    results = evolve_together(jobs, optimise, composition=composition, volume=float(parameters["volume"]),
                              settings=ga, log=log, objective=objective)
    kappa = float(parameters.get("acquisition_kappa", 0.0))
    recommended, summary = [], {}
    for system, result in zip(systems, results):
        chosen = _recommend(system, result, potential, composition.n_atoms, ga.n_recommend, kappa)
        recommended += chosen
        summary[system] = {"best_per_generation": result.best_per_generation,
                           "n_local_optimisations": result.n_local_optimisations, "n_recommended": len(chosen),
                           "wall_s": result.wall_s}
    write(files.RECOMMENDED, recommended, format="extxyz")
    write_json(files.EVOLVE, {"systems": summary, "wall_s": time.perf_counter() - began})


def _recommend(system: str, result, potential, n_atoms: int, n_recommend: int, kappa: float) -> list:
    """The recommended structures of one system's GA, each with its prediction and origin in its info."""
    from ..ml.acquisition import choose_candidates

    population = result.population
    spreads = potential.energies_and_spread([i.atoms for i in population])[1] / n_atoms if population else []
    chosen = choose_candidates([i.objective_per_atom for i in population], spreads, n_recommend, kappa)
    if kappa > 0 and len(potential) > 1:
        log(f"{system}: recommending {len(chosen)} of {len(population)} by E - {kappa} sigma "
            f"(ensemble of {len(potential)})")
    recommended = []
    for index in chosen:
        individual = population[index]
        atoms = individual.atoms.copy()
        atoms.info = {
            "crystal_system": system,
            "predicted_energy_per_atom": individual.energy_per_atom,
            "spread_per_atom": float(spreads[index]),
            "origin": individual.origin,
            "generation": individual.generation,
        }
        recommended.append(atoms)
    return recommended


if __name__ == "__main__":
    main()

"""``cryspai-evolve``: the GA of one crystal system on the trained network.

Reads ``model.pt`` and ``parameters.json`` (composition, crystal system, volume, seed, ``ga`` and
``local`` settings, ``acquisition_kappa``, ``objective``) and optionally ``initial.xyz``; writes ``recommended.xyz``
(predicted energy per atom, ensemble spread and origin in each frame's info) and ``evolve.json`` (best energy
per generation, counts, wall time).

With an ensemble and ``acquisition_kappa`` > 0 the ``n_recommend`` structures are chosen from the final trial
set by the lower confidence bound E - kappa * sigma (low energy and high disagreement first); otherwise the
lowest ones are recommended.
"""

from __future__ import annotations

import os

from . import files
from .common import log, start_script, write_json


def main(argv: list[str] | None = None) -> None:
    args, parameters = start_script("cryspai-evolve", __doc__, {"model": files.MODEL}, argv)

    from ase.io import read, write

    from ..ml.acquisition import choose_candidates
    from ..ml.prior import load_surrogate
    from ..ml.relax import RelaxGuards, relax_batch
    from ..protocols.schema import LocalParameters
    from ..search.composition import parse_composition
    from ..search.ga import GASettings, evolve
    from ..search.objective import Objective

    composition = parse_composition(parameters["composition"])
    potential = load_surrogate(args.model)  # the network, or a prior plus its correction
    local = dict(parameters.get("local", {}))
    # a generation is relaxed in one batch: no time limit unless the guards set one
    guards = RelaxGuards(**{"max_seconds": None, **local.pop("guards", {})})
    settings = {**LocalParameters().model_dump(), **local}  # fmax, max_steps, relax_cell; defaults from the schema
    objective = Objective.from_dict(parameters.get("objective"))

    def optimise(structures):
        """One generation relaxed together on the network (one graph per step), under the objective's pressure."""
        outcomes = relax_batch(structures, potential, guards=guards, pressure_gpa=objective.pressure_gpa,
                               record_frames=False, **settings)
        return [(outcome.atoms, outcome.energy) if outcome.ok else None for outcome in outcomes]

    ga = GASettings(**{**parameters.get("ga", {}), "length_scale": guards.length_scale})
    initial = read(files.INITIAL, index=":", format="extxyz") if os.path.exists(files.INITIAL) else []
    result = evolve(
        composition,
        parameters["crystal_system"],
        float(parameters["volume"]),
        optimise,
        ga,
        seed=int(parameters.get("seed", 0)),
        initial=initial,
        log=log,
        objective=objective,
    )
    population = result.population
    n_atoms = composition.n_atoms
    spreads = potential.energies_and_spread([i.atoms for i in population])[1] / n_atoms if population else []
    kappa = float(parameters.get("acquisition_kappa", 0.0))
    chosen = choose_candidates([i.objective_per_atom for i in population], spreads, ga.n_recommend, kappa)
    if kappa > 0 and len(potential) > 1:
        log(f"recommending {len(chosen)} of {len(population)} by E - {kappa} sigma (ensemble of {len(potential)})")
    recommended = []
    for index in chosen:
        individual = population[index]
        atoms = individual.atoms.copy()
        atoms.info = {
            "predicted_energy_per_atom": individual.energy_per_atom,
            "spread_per_atom": float(spreads[index]),
            "origin": individual.origin,
            "generation": individual.generation,
        }
        recommended.append(atoms)
    write(files.RECOMMENDED, recommended, format="extxyz")
    write_json(
        files.EVOLVE,
        {
            "best_per_generation": result.best_per_generation,
            "n_local_optimisations": result.n_local_optimisations,
            "n_recommended": len(recommended),
            "wall_s": result.wall_s,
        },
    )


if __name__ == "__main__":
    main()

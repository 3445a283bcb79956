"""``cryspai-evolve``: the GA of one crystal system on the trained network.

Reads ``model.pt`` and ``parameters.json`` (composition, crystal system, volume, seed, ``ga`` and
``local`` settings, ``acquisition_kappa``) and optionally ``initial.xyz``; writes ``recommended.xyz``
(predicted energy per atom, ensemble spread and origin in each frame's info) and ``evolve.json`` (best energy
per generation, counts, wall time).

With an ensemble and ``acquisition_kappa`` > 0 the ``n_recommend`` structures are chosen from the final trial
set by the lower confidence bound E - kappa * sigma (low energy and high disagreement first); otherwise the
lowest ones are recommended.
"""

from __future__ import annotations

import os

from .common import log, start_script, write_json


def main(argv: list[str] | None = None) -> None:
    args, parameters = start_script("cryspai-evolve", __doc__, {"model": "model.pt"}, argv)

    from ase.io import read, write

    from ..ml.acquisition import choose_candidates
    from ..ml.batch_relax import relax_many
    from ..ml.network import load_potential
    from ..ml.relax import STATUS_OK, RelaxGuards
    from ..search.composition import parse_composition
    from ..search.ga import GASettings, evolve

    composition = parse_composition(parameters["composition"])
    potential = load_potential(args.model)
    local = parameters.get("local", {})
    guards = RelaxGuards(**local.get("guards", {}))

    def optimise(structures):
        """One generation relaxed together on the network (batched FIRE with the cell)."""
        outcome = relax_many(
            potential,
            structures,
            fmax=float(local.get("fmax", 0.05)),
            max_steps=int(local.get("max_steps", 40)),
            relax_cell=bool(local.get("relax_cell", True)),
            guards=guards,
        )
        return [
            (atoms, energy / len(atoms)) if status == STATUS_OK else None
            for atoms, energy, status in zip(outcome.atoms, outcome.energies, outcome.statuses)
        ]

    ga = GASettings(**parameters.get("ga", {}))
    initial = read("initial.xyz", index=":", format="extxyz") if os.path.exists("initial.xyz") else []
    result = evolve(
        composition,
        parameters["crystal_system"],
        float(parameters["volume"]),
        optimise,
        ga,
        seed=int(parameters.get("seed", 0)),
        initial=initial,
        log=log,
    )
    population = result.population
    n_atoms = composition.n_atoms
    spreads = potential.energies_and_spread([i.atoms for i in population])[1] / n_atoms if population else []
    kappa = float(parameters.get("acquisition_kappa", 0.0))
    chosen = choose_candidates([i.energy_per_atom for i in population], spreads, ga.n_recommend, kappa)
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
    write("recommended.xyz", recommended, format="extxyz")
    write_json(
        "evolve.json",
        {
            "best_per_generation": result.best_per_generation,
            "n_local_optimisations": result.n_local_optimisations,
            "n_recommended": len(recommended),
            "wall_s": result.wall_s,
        },
    )


if __name__ == "__main__":
    main()

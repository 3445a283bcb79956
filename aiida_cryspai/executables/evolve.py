"""``cryspai-evolve``: the GA of one crystal system on the trained network.

Reads ``model.pt`` and ``parameters.json`` (composition, crystal system, volume, seed, ``ga`` and
``local`` settings) and optionally ``initial.xyz``; writes ``recommended.xyz`` (predicted energy per atom
and origin in each frame's info) and ``evolve.json`` (best energy per generation, counts, wall time).
"""

from __future__ import annotations

import os

from .common import log, start_script, write_json


def main(argv: list[str] | None = None) -> None:
    args, parameters = start_script("cryspai-evolve", __doc__, {"model": "model.pt"}, argv)

    from ase.io import read, write

    from ..ml.calculators import get_calculator
    from ..ml.relax import RelaxGuards, relax
    from ..search.composition import parse_composition
    from ..search.ga import GASettings, evolve

    composition = parse_composition(parameters["composition"])
    calculator = get_calculator("network", args.model)
    local = parameters.get("local", {})
    guards = RelaxGuards(**local.get("guards", {}))

    def optimise(atoms):
        outcome = relax(
            atoms,
            calculator,
            fmax=float(local.get("fmax", 0.05)),
            max_steps=int(local.get("max_steps", 40)),
            relax_cell=bool(local.get("relax_cell", True)),
            guards=guards,
            record_frames=False,
        )
        return (outcome.atoms, outcome.energy / len(atoms)) if outcome.ok else None

    initial = read("initial.xyz", index=":", format="extxyz") if os.path.exists("initial.xyz") else []
    result = evolve(
        composition,
        parameters["crystal_system"],
        float(parameters["volume"]),
        optimise,
        GASettings(**parameters.get("ga", {})),
        seed=int(parameters.get("seed", 0)),
        initial=initial,
        log=log,
    )
    recommended = []
    for individual in result.recommended:
        atoms = individual.atoms.copy()
        atoms.info = {
            "predicted_energy_per_atom": individual.energy_per_atom,
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

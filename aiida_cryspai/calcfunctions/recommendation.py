"""Stage: choose which GA recommendations go to the oracle (each loop, and the final verification)."""

import numpy as np
from aiida.engine import calcfunction
from aiida.orm import Dict, StructureData

from ..analysis.compare import unique_indices
from ..analysis.symmetry import refined, spacegroup
from ..ml.acquisition import allocate_by_weight
from ..search.generation import symmetric_choices
from ..search.objective import Objective


@calcfunction
def recommend_structures(parameters: Dict, **inputs) -> dict:
    """The ``n_verify`` best distinct structures of all crystal systems, symmetrised (spglib), labelled
    ``<prefix>_<rank>`` best first.

    Ranked by the predicted objective minus kappa * sigma (``objective``: energy, or enthalpy under pressure, per
    atom; ``kappa`` 0: the objective alone). ``inputs`` holds ``predicted_<label>`` (an
    EvolveCalculation's ``predicted_energies``; each entry names its crystal system, else the label is the system),
    ``structure_<label>_<key>`` (its recommended structures) and
    optionally ``known_<n>``: structures the oracle has relaxed already, whose matches are not proposed again.
    With ``allocation`` ``"spacegroups"`` each place first draws a crystal system with the odds of the random
    symmetric search (its number of ``symmetric_choices``; ``seed``) and takes that system's best candidate.
    """
    settings = parameters.get_dict()
    kappa = float(settings.get("kappa", 0.0))
    objective = Objective.from_dict(settings.get("objective"))
    candidates = []
    for name, node in inputs.items():
        if not name.startswith("predicted_"):
            continue
        label = name[len("predicted_"):]
        for key, info in node.get_dict().items():
            system = info.get("crystal_system", label)
            structure = inputs.get(f"structure_{label}_{key}")
            if structure is not None:
                atoms = structure.get_ase()
                predicted = objective.of_atoms(atoms, info["energy_per_atom"] * len(atoms))
                score = predicted - kappa * info.get("spread_per_atom", 0.0)
                candidates.append((score, info["energy_per_atom"], system, key, atoms,
                                   {**info, "objective": predicted, "input": f"structure_{label}_{key}"}))
    candidates.sort(key=lambda c: c[0])
    known = [node.get_ase() for name, node in inputs.items() if name.startswith("known_")]
    keep = [k - len(known) for k in unique_indices(known + [c[4] for c in candidates]) if k >= len(known)]
    if settings.get("allocation", "rank") == "spacegroups" and keep:
        numbers = np.unique(candidates[keep[0]][4].numbers, return_counts=True)[1]
        weights = {system: len(symmetric_choices(system, tuple(sorted(numbers)))) for system in
                   {candidates[k][2] for k in keep}}
        chosen = allocate_by_weight([candidates[k][2] for k in keep], settings["n_verify"], weights,
                                    np.random.default_rng(settings.get("seed", 0)))
        keep = [keep[k] for k in chosen]
    outputs, selection = {}, {}
    for rank, index in enumerate(keep[: settings["n_verify"]]):
        _, energy, system, key, atoms, info = candidates[index]
        symmetrised = refined(atoms, settings.get("symprec", 0.1))
        label = f"{settings.get('prefix', 'final')}_{rank:03d}"
        outputs[label] = StructureData(ase=symmetrised)
        selection[label] = {"predicted_energy_per_atom": energy, "predicted_objective_per_atom": info["objective"],
                            "spread_per_atom": info.get("spread_per_atom", 0.0), "ga_crystal_system": system,
                            "ga_key": key, "ga_input": info["input"],
                            "spacegroup_number": spacegroup(symmetrised).number,
                            "origin": f"GA generation {info.get('generation', 0)} of crystal system {system}"}
    outputs["selection"] = Dict(selection)
    return outputs

"""Stage: choose the recommended structures of the final GA that go to oracle verification."""

from aiida.engine import calcfunction
from aiida.orm import Dict, StructureData

from ..analysis.compare import unique_indices
from ..analysis.symmetry import refined, spacegroup


@calcfunction
def recommend_structures(parameters: Dict, **inputs) -> dict:
    """The ``n_verify`` lowest distinct structures by predicted energy, symmetrised (spglib).

    ``inputs`` holds ``predicted_<system>`` (an EvolveCalculation's ``predicted_energies``) and
    ``structure_<system>_<key>`` (its recommended structures).
    """
    settings = parameters.get_dict()
    candidates = []
    for name, node in inputs.items():
        if not name.startswith("predicted_"):
            continue
        system = name[len("predicted_"):]
        for key, info in node.get_dict().items():
            structure = inputs.get(f"structure_{system}_{key}")
            if structure is not None:
                candidates.append((info["energy_per_atom"], system, key, structure.get_ase()))
    candidates.sort(key=lambda c: c[0])
    keep = unique_indices([c[3] for c in candidates], [c[0] for c in candidates])
    outputs, selection = {}, {}
    for rank, index in enumerate(keep[: settings["n_verify"]]):
        energy, system, key, atoms = candidates[index]
        symmetrised = refined(atoms, settings.get("symprec", 0.1))
        label = f"final_{rank:03d}"
        outputs[label] = StructureData(ase=symmetrised)
        selection[label] = {"predicted_energy_per_atom": energy, "ga_crystal_system": system, "ga_key": key,
                            "spacegroup_number": spacegroup(symmetrised).number}
    outputs["selection"] = Dict(selection)
    return outputs

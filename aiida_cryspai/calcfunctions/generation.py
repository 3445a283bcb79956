"""Stage: random symmetric structures over crystal systems (pyxtal)."""

from aiida.engine import calcfunction
from aiida.orm import Dict, Float, Int, List, Str, StructureData

from ..search.composition import parse_composition
from ..search.generation import order_by_symmetry, random_structures


@calcfunction
def generate_random_structures(composition: Str, volume: Float, crystal_systems: List, per_system: Int,
                               seed: Int, prefix: Str) -> dict:
    """``per_system`` random symmetric structures in each crystal system; keys ``<prefix>_<rank>_<system>``,
    the rank putting the highest space groups first (the oracle relaxes them in key order)."""
    structures = order_by_symmetry(random_structures(
        parse_composition(composition.value), list(crystal_systems.get_list()), per_system.value, volume.value,
        seed.value,
    ))
    outputs, origins = {}, {}
    for rank, atoms in enumerate(structures):
        system = atoms.info["crystal_system"]
        key = f"{prefix.value}_{rank:03d}_{system}"
        origins[key] = {"crystal_system": system, "spacegroup_generated": int(atoms.info["spacegroup_generated"]),
                        "origin": "random"}
        atoms.info = {}
        outputs[key] = StructureData(ase=atoms)
    outputs["origins"] = Dict(origins)
    return outputs

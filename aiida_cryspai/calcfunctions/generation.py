"""Stage: random symmetric structures over crystal systems (pyxtal)."""

from aiida.engine import calcfunction
from aiida.orm import Dict, Float, Int, List, Str, StructureData

from ..search.composition import parse_composition
from ..search.generation import random_structures


@calcfunction
def generate_random_structures(composition: Str, volume: Float, crystal_systems: List, per_system: Int,
                               seed: Int, prefix: Str) -> dict:
    """``per_system`` random symmetric structures in each crystal system; keys ``<prefix>_<system>_<n>``."""
    structures = random_structures(
        parse_composition(composition.value), list(crystal_systems.get_list()), per_system.value, volume.value,
        seed.value,
    )
    outputs, origins = {}, {}
    counters: dict[str, int] = {}
    for atoms in structures:
        system = atoms.info["crystal_system"]
        number = counters.get(system, 0)
        counters[system] = number + 1
        key = f"{prefix.value}_{system}_{number:03d}"
        origins[key] = {"crystal_system": system, "spacegroup_generated": int(atoms.info["spacegroup_generated"]),
                        "origin": "random"}
        atoms.info = {}
        outputs[key] = StructureData(ase=atoms)
    outputs["origins"] = Dict(origins)
    return outputs

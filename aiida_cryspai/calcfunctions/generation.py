"""Stage: random symmetric structures over crystal systems (pyxtal)."""

from aiida.engine import Process, calcfunction
from aiida.orm import Dict, Float, Int, List, Str, StructureData

from ..search.composition import parse_composition
from ..search.generation import random_structures_by_spacegroup


@calcfunction
def generate_random_structures(composition: Str, volume: Float, crystal_systems: List, per_system: Int,
                               seed: Int, prefix: Str, length_scale: Float | None = None,
                               max_seconds: Float | None = None) -> dict:
    """``per_system`` x (number of crystal systems) random symmetric structures, each for a space group and cell
    drawn uniformly from the symmetric choices of all ``crystal_systems``; keys ``<prefix>_<rank>_<system>`` in the
    order drawn (the oracle relaxes them in key order), so the batch is the start of a random symmetric search.
    ``length_scale`` (under pressure, (V_P / V_0)^(1/3)): distances are checked as they would be at 0 GPa.
    A choice whose attempts outlast the draw's time bound (``max_seconds``, the parameters' ``draw_seconds``) is
    skipped: the output ``skipped_choices`` and the log say which and why."""
    systems = list(crystal_systems.get_list())
    skipped: list[dict] = []
    structures = random_structures_by_spacegroup(
        parse_composition(composition.value), systems, per_system.value * len(systems), volume.value, seed.value,
        length_scale=length_scale.value if length_scale is not None else 1.0, skipped=skipped,
        max_seconds=max_seconds.value if max_seconds is not None else None,
    )
    outputs, origins = {}, {}
    for rank, atoms in enumerate(structures):
        system = atoms.info["crystal_system"]
        key = f"{prefix.value}_{rank:03d}_{system}"
        number, cell = int(atoms.info["spacegroup_generated"]), atoms.info["cell_generated"]
        origins[key] = {"crystal_system": system, "spacegroup_generated": number, "cell_generated": cell,
                        "origin": f"random (space group {number}, {cell} cell)"}
        atoms.info = {}
        outputs[key] = StructureData(ase=atoms)
    outputs["origins"] = Dict(origins)
    if skipped:
        outputs["skipped_choices"] = List(skipped)
        for entry in skipped:
            Process.current().report(f"skipped {entry['crystal_system']} space group(s) {entry['spacegroups']}: "
                                     f"{entry['reason']}")
    return outputs

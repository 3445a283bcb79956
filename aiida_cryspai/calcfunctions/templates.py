"""Stage: known structures as starting points (the prototype library, the user's seed structures)."""

from aiida.engine import calcfunction
from aiida.orm import Dict, Float, Str, StructureData

from ..search.composition import parse_composition
from ..search.templates import fit_seed_to_composition, prototype_structures


@calcfunction
def generate_template_structures(composition: Str, volume: Float, parameters: Dict, **seeds) -> dict:
    """The seed structures (``seeds``: StructureData labelled with their file names, each made a cell of the
    composition, their own volume kept) and, with ``parameters['source']`` ``prototypes``, the prototype library's
    structures of the composition at ``volume`` (Å^3), nearest in chemistry first. Keys ``known_<rank>`` in that
    order (they sort before ``random0_…``, so a budget that cuts the first batch keeps them); ``origins`` maps each
    key to where it came from."""
    parsed = parse_composition(composition.value)
    structures = [fit_seed_to_composition(node.get_ase(), parsed, node.label or name)
                  for name, node in sorted(seeds.items())]
    if parameters["source"] == "prototypes":
        structures.extend(prototype_structures(parsed, volume.value))
    outputs, origins = {}, {}
    for rank, atoms in enumerate(structures):
        key = f"known_{rank:03d}"
        origins[key] = {"origin": atoms.info["origin"]}
        atoms.info = {}
        outputs[key] = StructureData(ase=atoms)
    outputs["origins"] = Dict(origins)
    return outputs

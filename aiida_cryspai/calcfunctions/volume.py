"""Stage: estimate the cell volume of a composition (Eq. 2)."""

from aiida.engine import calcfunction
from aiida.orm import Float, Str

from ..search.composition import parse_composition
from ..search.volume import estimate_volume as eq2_volume
from ..search.volume import psp8_core_radius


@calcfunction
def estimate_volume(composition: Str, adjustment: Float, **pseudos) -> Float:
    """V = sum_i N_i (4/3) pi R_i^3 A: R from the periodic table, or, for the elements given in ``pseudos``
    (element -> psp8 pseudopotential node), the pseudopotential's core radius."""
    radii = {element: psp8_core_radius(node.get_content()) for element, node in pseudos.items()}
    return Float(eq2_volume(parse_composition(composition.value), adjustment.value, radii=radii))

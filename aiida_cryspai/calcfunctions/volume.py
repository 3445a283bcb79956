"""Stage: estimate the cell volume of a composition (Eq. 2)."""

from aiida.engine import calcfunction
from aiida.orm import Float, Str

from ..search.composition import parse_composition
from ..search.volume import estimate_volume as eq2_volume


@calcfunction
def estimate_volume(composition: Str, adjustment: Float) -> Float:
    """V = sum_i N_i (4/3) pi R_i^3 A, with periodic-table radii."""
    return Float(eq2_volume(parse_composition(composition.value), adjustment.value))

"""Stage: estimate the cell volume of a composition (Eq. 2)."""

from aiida.engine import calcfunction
from aiida.orm import Float, Str

from ..search.composition import parse_composition
from ..search.volume import estimate_volume as eq2_volume
from ..search.volume import potcar_core_radius, psp8_core_radius


def core_radius(pseudo) -> float:
    """Core radius in Angstrom of a pseudopotential node: a VASP POTCAR's RCORE or a psp8 file's r_core."""
    if pseudo.node_type.startswith("data.vasp.potcar"):
        return potcar_core_radius(pseudo.get_content().decode())
    return psp8_core_radius(pseudo.get_content())


@calcfunction
def estimate_volume(composition: Str, adjustment: Float, **pseudos) -> Float:
    """V = sum_i N_i (4/3) pi R_i^3 A: R from the periodic table, or, for the elements given in ``pseudos``
    (element -> psp8 pseudopotential or VASP PotcarData node), the pseudopotential's core radius."""
    radii = {element: core_radius(node) for element, node in pseudos.items()}
    return Float(eq2_volume(parse_composition(composition.value), adjustment.value, radii=radii))

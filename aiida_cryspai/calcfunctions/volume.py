"""Stage: estimate the cell volume of a composition (Eq. 2, or a scan of E(V) on a potential)."""

from aiida.engine import calcfunction
from aiida.orm import Dict, Float, List, Str, StructureData

from ..search.composition import parse_composition
from ..search.generation import scale_to_volume
from ..search.objective import Objective
from ..search.volume import estimate_volume as eq2_volume
from ..search.volume import place_at_minima, potcar_core_radius, psp8_core_radius, scan_compression, scan_minima


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


@calcfunction
def volume_from_scan(reference: Float, scan: Dict, pressure: Float | None = None, **structures) -> dict:
    """The search volume from a scan of E(V) (``scan``: a RelaxCalculation's ``results`` in volume-scan mode,
    factors of each structure's own volume): the volume at the lowest minimum of the known structures' scans, or,
    when only random structures were scanned (``structures`` empty), the volume of the lowest of those relaxed after
    the scan (``scan_relaxed``; without any, of their minima) within ``RANDOM_SCAN_LIMITS`` x ``reference`` (Eq. 2);
    ``reference`` itself when no scan has a minimum. ``structures`` (the known structures, by key) come back each
    scaled to its own minimum, or to the search volume when its scan has none, and ``order`` lists their keys by the
    energy at that minimum, lowest first. Under ``pressure`` (GPa) the minima are those of the enthalpy per atom,
    and ``compression`` is the scans' search volume over the one they give at 0 GPa.
    Outputs ``volume``, ``order`` and the structures (and ``compression``)."""
    results = scan.get_dict()
    keys = sorted(results)
    own_volumes = [results[k]["volume"] for k in keys]
    energies = [results[k]["scan_energies_per_atom"] for k in keys]
    factors = tuple(results[keys[0]]["scan_factors"]) if keys else ()
    n_atoms = int(results[keys[0]].get("n_atoms", 1)) if keys else 1
    bar = pressure.value if pressure is not None else 0.0
    minima = scan_minima(own_volumes, energies, factors, Objective(bar), n_atoms=n_atoms)
    relaxed = [(r["volume"], r["enthalpy_per_atom"]) for r in (results[k].get("scan_relaxed") for k in keys)
               if r is not None and r["enthalpy_per_atom"] is not None]
    # the same scans at 0 GPa: how much the pressure compresses the lowest structure (the guards' length scale and
    # the trust floor's; from the scans alone, the relaxations ran at the pressure only)
    compression = scan_compression(minima, scan_minima(own_volumes, energies, factors), reference.value,
                                   bool(structures)) if bar else 1.0
    volume, volumes, order = place_at_minima(minima, reference.value, known=bool(structures), relaxed=relaxed,
                                             compression=compression)
    outputs = {"volume": Float(volume)}
    if bar:
        outputs["compression"] = Float(compression)
    for key, own in zip(keys, volumes):
        if key in structures:
            outputs[key] = StructureData(ase=scale_to_volume(structures[key].get_ase(), own))
    outputs["order"] = List([keys[k] for k in order if keys[k] in structures])
    return outputs

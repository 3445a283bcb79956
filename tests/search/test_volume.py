import math

import pytest
from ase.build import bulk

from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.geometry import min_volume_per_atom
from aiida_cryspai.search.volume import atomic_radius, estimate_volume, scan_draw_volume, scan_energies, scan_minimum


def test_equation_2():
    """V = sum_i N_i (4/3) pi R_i^3 A with the periodic-table radius."""
    radius = atomic_radius("Cu")
    assert estimate_volume(parse_composition("Cu4"), 1.2) == pytest.approx(4 * 4 / 3 * math.pi * radius**3 * 1.2)


def test_mixed_and_override():
    composition = parse_composition("Ti4O8")
    by_table = estimate_volume(composition)
    by_hand = estimate_volume(composition, radii={"O": 1.0, "Ti": 1.0})
    assert by_hand == pytest.approx(12 * 4 / 3 * math.pi * 1.2)
    assert by_table != by_hand


def test_adjustment_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        estimate_volume(parse_composition("Si8"), 0.0)


def test_the_scan_draws_where_random_structures_fit():
    """Eq. 2 puts Si4C4 on its volume floor, where most random arrangements have atoms too close (the product's
    seed 0 drew none of the scan's 28 there); at the scan's drawing volume all 28 are drawn; a volume well above
    the floor is loosened by 1.5 x only (the scan spans 0.35-3.5 x it)."""
    from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
    from aiida_cryspai.search.generation import random_structures_by_spacegroup
    from aiida_cryspai.search.seeds import stage_seed

    composition = parse_composition("Si4C4")
    floor = composition.n_atoms * min_volume_per_atom(composition.expanded())
    volume = estimate_volume(composition)
    assert volume == pytest.approx(floor)
    seed = stage_seed(0, "volume_scan")
    loose = scan_draw_volume(composition, volume)
    assert loose >= 2 * floor
    assert len(random_structures_by_spacegroup(composition, list(CRYSTAL_SYSTEMS), 28, loose, seed)) == 28
    assert scan_draw_volume(composition, 10 * floor) == pytest.approx(15 * floor)


PSP8_FIRST_LINES = ("Si    ONCVPSP-3.2.3.1  r_core=   1.60303   1.72197   1.91712\n"
                    "14.0000      4.0000      170510    zatom,zion,pspd\n")
POTCAR_HEADER = """  PAW_PBE Si 05Jan2001
 4.00000000000000000
 parameters from PSCTR are:
   VRHFIN =Si: s2p2
   RCORE  =    1.900    outmost cutoff radius
   RWIGS  =    2.480; RWIGS  =    1.312    wigner-seitz radius (au A)
"""


def test_core_radii_from_pseudopotentials():
    """The paper's other source of R: the pseudopotentials' core radii (bohr in the files, Å out)."""
    from aiida_cryspai.search.volume import BOHR_ANGSTROM, potcar_core_radius, psp8_core_radius

    assert psp8_core_radius(PSP8_FIRST_LINES) == pytest.approx(1.91712 * BOHR_ANGSTROM)
    assert potcar_core_radius(POTCAR_HEADER) == pytest.approx(1.900 * BOHR_ANGSTROM)
    radius = psp8_core_radius(PSP8_FIRST_LINES)
    assert estimate_volume(parse_composition("Si8"), 2.0, radii={"Si": radius}) == pytest.approx(
        8 * 4 / 3 * math.pi * radius**3 * 2.0)
    # Eq. 2 with this core radius (41.5 Å^3) is below the floor of a sane Si cell: the floor is the estimate
    assert estimate_volume(parse_composition("Si8"), 1.2, radii={"Si": radius}) == pytest.approx(
        8 * min_volume_per_atom(["Si"]))
    with pytest.raises(ValueError, match="no r_core"):
        psp8_core_radius("Si  something else\n")
    with pytest.raises(ValueError, match="no RCORE"):
        potcar_core_radius("  PAW_PBE Si\n")


def test_scan_of_known_structures_gives_the_potentials_own_volume():
    """EMT's E(V) of the Cu4 prototypes at Eq. 2's volume: the lowest minimum is EMT's equilibrium volume (fcc/hcp
    within 1 %), whatever Eq. 2 said; the parabola lands between the grid's points."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from aiida_cryspai.ml.potentials import batch_evaluator
    from aiida_cryspai.ml.relax import relax
    from aiida_cryspai.search.templates import prototype_structures
    from aiida_cryspai.search.volume import SCAN_FACTORS, scan_for_volume

    composition = parse_composition("Cu4")
    reference = 0.6 * estimate_volume(composition)  # a bad start on purpose
    structures = prototype_structures(composition, reference)[:6]
    volume, ranked = scan_for_volume(structures, batch_evaluator(EMT()), reference, known=True)
    fcc = relax(bulk("Cu", "fcc", a=3.6), EMT(), fmax=0.001, record_frames=False)
    assert volume / 4 == pytest.approx(fcc.atoms.get_volume(), rel=0.01)
    assert min(SCAN_FACTORS) < volume / reference < max(SCAN_FACTORS)
    # known structures lowest first, each at its own minimum: EMT's close packings (hcp below fcc) lead
    emt = [EMT().get_potential_energy(a) / len(a) for a in ranked]
    assert emt[:3] == sorted(emt[:3]) and emt[0] <= fcc.energy + 0.002
    assert {"Magnesium", "Copper"} & {a.info["origin"].split("(")[-1].rstrip(")") for a in ranked[:2]}


def test_a_scan_without_a_bracketed_minimum_gives_no_volume():
    from aiida_cryspai.search.volume import SCAN_FACTORS, scan_minimum, volume_from_scan

    falling = [-float(k) for k in range(len(SCAN_FACTORS))]  # lowest at the largest volume
    assert scan_minimum(falling) is None
    holes = [None] * 6 + [-1.0, -2.0, None] + [0.0] * (len(SCAN_FACTORS) - 9)
    assert scan_minimum(holes) is None  # the lowest point has a missing neighbour
    assert volume_from_scan([None, (500.0, -3.0)], reference_volume=100.0, limits=(0.5, 4.0)) is None
    assert volume_from_scan([(150.0, -1.0), (90.0, -2.0)], reference_volume=100.0) == 90.0


def test_random_structures_relaxed_after_the_scan_give_the_potentials_own_volume():
    """On EMT: 28 random Cu4 structures scanned rigidly sit at the
    volume of their disorder; the lowest 8 relaxed after the scan put the search volume within 5 % of EMT's own
    close-packed volume, whatever Eq. 2 said (here 0.7 x its value on purpose)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
    from aiida_cryspai.ml.potentials import batch_evaluator
    from aiida_cryspai.ml.relax import RelaxGuards, relax, relaxed_volumes
    from aiida_cryspai.search.generation import random_structures_by_spacegroup
    from aiida_cryspai.search.volume import RANDOM_SCAN_PER_SYSTEM, RANDOM_SCAN_RELAX_SETTINGS, scan_for_volume

    composition = parse_composition("Cu4")
    reference = 0.7 * estimate_volume(composition)
    randoms = random_structures_by_spacegroup(composition, list(CRYSTAL_SYSTEMS),
                                              RANDOM_SCAN_PER_SYSTEM * len(CRYSTAL_SYSTEMS), reference, seed=3)
    calls = []

    def relax_them(structures):
        calls.append(len(structures))
        return [found for _, found in relaxed_volumes(structures, EMT(), RelaxGuards(repulsion=100.0),
                                                      **RANDOM_SCAN_RELAX_SETTINGS)]

    volume, ranked = scan_for_volume(randoms, batch_evaluator(EMT()), reference, known=False, relax=relax_them)
    assert calls == [8] and ranked == []
    fcc = relax(bulk("Cu", "fcc", a=3.6), EMT(), fmax=0.001, record_frames=False)
    assert volume / 4 == pytest.approx(fcc.atoms.get_volume(), rel=0.05)


def test_the_lowest_plausible_relaxed_structure_sets_the_volume():
    """Random structures: the lowest relaxed one sets the volume, not a hole (2 eV/atom below the rest) nor one
    outside the trusted range; without relaxed ones the minima count; never below the trust floor."""
    from aiida_cryspai.search.volume import SCAN_TRUST_FLOOR, place_at_minima, relaxation_starts

    minima = [(120.0, -5.0), (130.0, -5.1), None, (60.0, -5.05), (110.0, -4.9), (125.0, -4.95), (100.0, -30.0)]
    assert relaxation_starts(minima, 3) == [1, 3, 0]  # the hole (-30 eV/atom) is not relaxed, the None neither
    relaxed = [(95.0, -5.3), (90.0, -5.4), (85.0, -5.35), (88.0, -5.2), (99.0, -5.25), (20.0, -40.0), (900.0, -6.0)]
    volume, _, _ = place_at_minima(minima, 100.0, known=False, relaxed=relaxed)
    assert volume == 90.0
    assert place_at_minima(minima, 100.0, known=False)[0] == 130.0
    assert place_at_minima(minima, 100.0, known=False, relaxed=[(60.0, -6.0)])[0] == SCAN_TRUST_FLOOR * 100.0


def test_the_trust_floor_follows_the_pressure():
    """Eq. 2 is a 0 GPa volume: under a pressure that compresses the scans to 0.75, the floor of a random scan is
    0.8 x 0.75 x Eq. 2, so a compressed volume above it stands (it was clamped to 0.8 x Eq. 2 at 60 GPa)."""
    from aiida_cryspai.search.volume import SCAN_TRUST_FLOOR, place_at_minima, scan_compression

    at_zero = [(110.0, -5.0), (120.0, -4.9), None, (125.0, -4.8), (130.0, -4.7), (140.0, -4.6)]
    at_pressure = [(82.5, -4.0), (90.0, -3.9), None, (95.0, -3.8), (97.0, -3.7), (105.0, -3.6)]
    compression = scan_compression(at_pressure, at_zero, 100.0, known=False)
    assert compression == pytest.approx(0.75)
    relaxed = [(70.0, -4.2)]
    assert place_at_minima(at_pressure, 100.0, known=False, relaxed=relaxed, compression=compression)[0] == 70.0
    assert place_at_minima(at_pressure, 100.0, known=False, relaxed=relaxed)[0] == SCAN_TRUST_FLOOR * 100.0
    assert place_at_minima(at_pressure, 100.0, known=False, relaxed=[(50.0, -4.2)], compression=compression)[0] \
        == pytest.approx(SCAN_TRUST_FLOOR * 0.75 * 100.0)


def test_a_scan_drops_energies_below_the_potentials_floor():
    """An energy below the potential's floor (a hole) is no point of the E(V) curve: unguarded, the hole is the
    scan's minimum; guarded, the sane minimum beside the gap is not bracketed, so the scan names none."""
    atoms = bulk("Cu", "fcc", a=3.6)
    curve = {0.8: -3.0, 0.9: -1e5, 1.0: -3.5, 1.1: -3.4, 1.2: -3.2}

    def evaluate(structures):
        return [(curve[round(a.get_volume() / atoms.get_volume(), 3)] * len(a), None, None) for a in structures]

    factors = tuple(curve)
    unguarded = scan_energies([atoms], evaluate, factors, problem=None)[0]
    assert unguarded[1] == -1e5 and scan_minimum(unguarded, factors)[1] < -1e4
    kept = scan_energies([atoms], evaluate, factors, problem=None, floor=-25.0)[0]
    assert kept[1] is None and kept[2] == -3.5
    assert scan_minimum(kept, factors) is None

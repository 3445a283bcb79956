import pytest
from ase.build import bulk
from ase.spacegroup import crystal

from aiida_cryspai.analysis.compare import unique_indices
from aiida_cryspai.analysis.reference import (
    c_over_a,
    compare_ranked_with_reference,
    compare_with_reference,
    format_reference,
)
from aiida_cryspai.analysis.symmetry import refined, spacegroup


def test_spacegroups_of_known_structures():
    assert spacegroup(bulk("Si", "diamond", a=5.43, cubic=True)).number == 227
    assert spacegroup(bulk("Mg", "hcp", a=3.21, c=5.21)).symbol == "P6_3/mmc"
    assert spacegroup(bulk("Cu", "fcc", a=3.6, cubic=True)).crystal_system == "cubic"


def test_refined_symmetrises_a_slightly_distorted_cell():
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.01, seed=1)
    assert spacegroup(atoms, symprec=1e-4).number < 227
    assert spacegroup(refined(atoms), symprec=1e-4).number == 227


def test_duplicates_are_found_across_settings():
    fcc = bulk("Cu", "fcc", a=3.6, cubic=True)
    rotated = fcc.copy()
    rotated.rotate(30, "z", rotate_cell=True)
    hcp = bulk("Cu", "hcp", a=2.55, c=4.16) * (1, 1, 2)
    assert unique_indices([fcc, rotated, hcp]) == [0, 2]
    # equal structures with different energies are not duplicates
    assert unique_indices([fcc, rotated], [0.0, 0.5]) == [0, 1]


def test_reference_comparison():
    reference = bulk("Si", "diamond", a=5.43, cubic=True)
    same = reference.copy()
    same.set_cell(reference.cell * 1.01, scale_atoms=True)
    result = compare_with_reference(same, reference)
    assert result["matched"] and result["spacegroup_target"] == result["spacegroup_predicted"] == 227
    assert result["c_over_a_bias"] == pytest.approx(0.0, abs=1e-6)
    assert result["site_bias"] == pytest.approx(0.0, abs=1e-3)
    assert result["volume_error"] == pytest.approx(reference.get_volume() * (1.01**3 - 1), rel=1e-3)
    other = compare_with_reference(bulk("Si", "fcc", a=3.9, cubic=True), reference)
    assert not other["matched"] and other["site_bias"] is None


def test_c_over_a_bias_does_not_depend_on_the_supercell():
    """Rutile as a 12-atom 1x1x2 supercell (the paper's Ti4O8) against its 6-atom cell and a 2x1x1 supercell:
    same structure, so c/a bias 0 and the standard c/a (0.644), not that of the supercell (1.29 or 0.32)."""
    rutile = crystal(["Ti", "O"], [(0, 0, 0), (0.3049, 0.3049, 0)], spacegroup=136,
                     cellpar=[4.594, 4.594, 2.959, 90, 90, 90])
    reference = rutile * (1, 1, 2)
    for predicted in (rutile, rutile * (2, 1, 1)):
        result = compare_with_reference(predicted, reference)
        assert result["matched"] and result["c_over_a_bias"] == pytest.approx(0.0, abs=1e-4)
    assert c_over_a(reference) == pytest.approx(2.959 / 4.594, rel=1e-4)
    squeezed = rutile.copy()
    squeezed.set_cell(rutile.cell * [1.0, 1.0, 0.9], scale_atoms=True)
    assert compare_with_reference(squeezed * (1, 1, 2), reference)["c_over_a_bias"] == pytest.approx(
        -0.1 * 2.959 / 4.594, rel=1e-3)


def test_reference_is_found_below_rank_1_with_its_own_metrics():
    reference = bulk("Si", "diamond", a=5.43, cubic=True)
    rattled = reference.copy()
    rattled.rattle(0.03, seed=1)  # a site bias to measure
    ranked = [bulk("Si", "fcc", a=3.9, cubic=True), bulk("Si", "bcc", a=3.1, cubic=True) * (2, 1, 1), rattled]
    result = compare_ranked_with_reference(ranked, reference)
    assert not result["matched"] and result["matched_rank"] == 3
    matched = result["matched_candidate"]
    assert matched["matched"] and 0.01 < matched["site_bias"] < 0.06
    assert compare_ranked_with_reference([rattled], reference)["matched_rank"] == 1
    assert compare_ranked_with_reference(ranked[:2], reference)["matched_rank"] is None
    text = format_reference(result)
    assert "227/225" in text and "found at rank 3" in text

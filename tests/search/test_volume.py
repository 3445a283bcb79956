import math

import pytest

from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.volume import atomic_radius, estimate_volume


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

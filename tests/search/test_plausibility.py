"""The energy test against a potential's holes (``search/plausibility.py``), on energies recorded from real runs."""

import numpy as np
import pytest

from aiida_cryspai.search.plausibility import densest_cluster, energy_floor, implausible_energies

# SevenNet-0 screening O4 at 12.3 Å^3 a cell (Li-O system search): the 23 relaxations that passed the contact,
# collapse and explosion checks, eV/atom. The O2 crystals lie at -4.9 (CHGNet's lowest O4: -4.915).
O4_SEVENNET = [-85865717760.0, -224331456.0, -190983888.0, -190473248.0, -37013804.0, -20300156.0, -382772.8125,
               -59941.234375, -53798.203125, -4916.7421875, -786.21252441406, -15.175288200378, -14.855388641357,
               -14.644552230835, -10.646286010742, -9.1499824523926, -5.7251772880554, -4.9297909736633,
               -4.8983902931213, -4.8819851875305, -4.8650727272034, -3.5363631248474, -3.4572143554688]


def test_holes_that_outnumber_the_sane_structures_are_refused():
    """16 of 23 are holes: the floor comes from the O2 crystals' cluster, so every hole from -9.1 eV/atom down is
    refused and every structure of the cluster kept (the whole set's median lies among the holes: floor -119)."""
    refused = implausible_energies(O4_SEVENNET, margin=2.0)
    assert sorted(refused) == list(range(16))
    floor = energy_floor(O4_SEVENNET, margin=2.0)
    assert -7.0 < floor < -6.8
    assert "-4.88" in refused[15] or "-6.88" in refused[15]  # the reason names the floor


def test_a_spread_without_holes_loses_nothing():
    """Relaxed random structures over 1.5 eV/atom with the ground state 1.2 below their median: none refused."""
    rng = np.random.default_rng(0)
    energies = [-7.4, *(-6.2 + 0.3 * rng.standard_normal(30))]
    assert implausible_energies(energies, margin=2.0) == {}


def test_a_few_holes_under_a_sane_majority():
    """Holes under a sane majority (SevenNet-0's Al4O6 at a collapsed volume fell to -1.04e8 eV/atom, its sane
    structures at -6.3 to -7.4): the holes refused, the sane kept, a structure 2.3 below the median kept (within six
    robust deviations of a cluster this wide)."""
    energies = [-6.3, -6.5, -6.8, -7.0, -7.2, -7.4, -9.3, -93.0, -1.04e8]
    assert sorted(implausible_energies(energies, margin=2.0)) == [7, 8]


def test_a_set_spread_like_real_structures_is_judged_as_a_whole():
    """Below the spread limit the cluster plays no part: the floor is the whole set's median less the margin (or six
    robust deviations), even where a tight cluster lies 2 eV/atom above the rest."""
    rng = np.random.default_rng(1)
    for energies in ([2.0, 2.01, 2.02, 2.03, 2.04, 2.05, 0.0, 0.2, 0.4, 0.6, 0.8], list(-6 + rng.normal(0, 1, 40))):
        values = np.array(energies)
        median = np.median(values)
        spread = 1.4826 * np.median(np.abs(values - median))
        assert 6 * spread < 10.0
        assert energy_floor(energies, margin=2.0) == pytest.approx(median - max(2.0, 6 * spread))


def test_too_few_energies_judge_nothing():
    assert implausible_energies([-5.0, -5.1, -1e8, -5.2], margin=2.0) == {}


def test_scattered_energies_fall_back_to_the_whole_set():
    """No window of 4 eV/atom holds five: the whole set's median and deviation judge (the hole 1e6 below goes)."""
    energies = [-1.0, -6.0, -11.0, -16.0, -21.0, -1e6]
    refused = implausible_energies(energies, margin=2.0)
    assert list(refused) == [5]


@pytest.mark.parametrize(("values", "width", "expected"), [
    ([1.0, 2.0, 10.0, 10.5, 11.0], 1.0, [10.0, 10.5, 11.0]),
    ([1.0, 1.5, 10.0, 10.5], 1.0, [1.0, 1.5]),  # a tie: the lowest window
    ([3.0], 1.0, [3.0]),
])
def test_densest_cluster(values, width, expected):
    assert densest_cluster(np.array(values), width).tolist() == expected

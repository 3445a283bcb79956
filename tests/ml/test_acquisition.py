"""Candidate choice by lower confidence bound, and the paper's "useless point" filter."""

import numpy as np

from aiida_cryspai.ml.acquisition import allocate_by_weight, choose_candidates, informative_frames


def test_energy_alone_without_kappa():
    energies = np.array([0.3, 0.1, 0.2, 0.0])
    spreads = np.array([0.0, 0.5, 0.0, 0.0])
    assert choose_candidates(energies, spreads, 2, kappa=0.0).tolist() == [3, 1]


def test_disagreement_lifts_a_candidate():
    energies = np.array([0.00, 0.02, 0.03])
    spreads = np.array([0.00, 0.00, 0.05])
    # 0.03 - 1.0 * 0.05 = -0.02 beats 0.00
    assert choose_candidates(energies, spreads, 3, kappa=1.0).tolist() == [2, 0, 1]


def test_useless_frames_are_those_already_predicted():
    oracle = np.array([-5.0, -4.9, -4.8])
    predicted = np.array([-5.001, -4.95, -4.8005])
    assert informative_frames(oracle, predicted, 0.002).tolist() == [False, True, False]
    assert informative_frames(oracle, predicted, None).all()


def test_allocation_follows_the_weights_and_takes_the_best_of_each_system():
    systems = ["cubic", "triclinic", "cubic", "tetragonal", "triclinic", "tetragonal", "cubic"]
    # a system with weight 0 is never chosen; within a system the best (earliest) comes first
    chosen = allocate_by_weight(systems, 10, {"cubic": 1.0, "tetragonal": 3.0}, np.random.default_rng(0))
    assert sorted(chosen) == [0, 2, 3, 5, 6]
    assert [i for i in chosen if systems[i] == "cubic"] == [0, 2, 6]
    # over many draws the first slot goes to each system in proportion to its weight
    first = [allocate_by_weight(systems, 1, {"cubic": 1.0, "tetragonal": 3.0, "triclinic": 0.0},
                                np.random.default_rng(seed))[0] for seed in range(400)]
    share = np.mean([systems[i] == "tetragonal" for i in first])
    assert 0.68 < share < 0.82

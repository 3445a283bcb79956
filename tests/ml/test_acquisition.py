"""Candidate choice by lower confidence bound, and the paper's "useless point" filter."""

import numpy as np

from aiida_cryspai.ml.acquisition import choose_candidates, informative_frames


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

"""The convergence tests of the loop: the paper's RMSE over all new frames, and saturation near the basin."""

import numpy as np
import pytest
from ase.units import GPa

from aiida_cryspai.ml.convergence import convergence_test, objective_per_atom
from aiida_cryspai.search.objective import Objective

# new frames of one relaxation from a random start down to the basin: 0.9 eV/atom above the lowest to 0.01
OBJECTIVES = np.array([0.9, 0.6, 0.3, 0.15, 0.05, 0.01])
ERRORS = np.array([0.060, 0.040, 0.020, 0.006, 0.004, 0.003])  # eV/atom: wrong far up, right near the basin


def test_the_papers_test_alone_needs_every_new_frame_right():
    result = convergence_test(ERRORS, OBJECTIVES, lowest=0.0, threshold=8.0, basin=0.2, saturated=False)
    assert result["rmse_mev_per_atom"] == pytest.approx(np.sqrt(np.mean((ERRORS * 1000) ** 2)))
    assert result["rmse_mev_per_atom"] > 8.0 and not result["converged"] and result["converged_by"] is None
    assert result["n_basin_frames"] == 3
    assert result["rmse_basin_mev_per_atom"] == pytest.approx(np.sqrt(np.mean([36, 16, 9])))
    small = convergence_test(ERRORS / 10, OBJECTIVES, lowest=0.0, threshold=8.0, basin=0.2, saturated=False)
    assert small["converged_by"] == "rmse"


def test_saturation_converges_only_when_the_basin_is_right_and_the_ga_had_nothing_new():
    saturated = convergence_test(ERRORS, OBJECTIVES, lowest=0.0, threshold=8.0, basin=0.2, saturated=True)
    assert saturated["converged"] and saturated["converged_by"] == "saturation"
    wrong_basin = ERRORS + np.array([0, 0, 0, 0.02, 0.02, 0.02])
    assert not convergence_test(wrong_basin, OBJECTIVES, 0.0, 8.0, 0.2, saturated=True)["converged"]
    assert not convergence_test(ERRORS, OBJECTIVES, 0.0, 8.0, 0.0, saturated=True)["converged"]  # switched off
    # the basin is measured from the dataset's lowest: frames of a relaxation that never got near it do not count
    assert not convergence_test(ERRORS, OBJECTIVES, -1.0, 8.0, 0.2, saturated=True)["converged"]


def test_no_new_frames_is_not_convergence():
    result = convergence_test(np.zeros(0), np.zeros(0), 0.0, 8.0, 0.2, saturated=True)
    assert result["rmse_mev_per_atom"] is None and not result["converged"]


def test_under_pressure_the_basin_is_in_enthalpy():
    cells = np.array([np.eye(3) * 2.0, np.eye(3) * 3.0]).reshape(-1, 3, 3)  # 8 and 27 Å^3, one atom each
    arrays = {"energies": np.array([-1.0, -1.1]), "n_atoms": np.array([1, 1]), "cells": cells}
    assert objective_per_atom(arrays, Objective()) == pytest.approx([-1.0, -1.1])
    enthalpy = objective_per_atom(arrays, Objective(10.0))
    assert enthalpy == pytest.approx([-1.0 + 10 * GPa * 8, -1.1 + 10 * GPa * 27])
    assert enthalpy[0] < enthalpy[1]  # the dense frame is the low one at 10 GPa

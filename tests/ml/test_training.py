"""Training on real EMT data must bring the out-of-sample RMSE below a bound."""

import numpy as np
import pytest

from aiida_cryspai.ml.dataset import arrays_to_frames, concatenate, frames_to_arrays, select_trajectory_frames
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.training import TrainingSettings, build_features, rmse_mev_per_atom, train

from ..labelled import emt_copper_frames


@pytest.fixture(scope="module")
def emt_frames():
    return emt_copper_frames(per_lattice=8, seed=0)


def test_training_lowers_validation_rmse_below_bound(emt_frames):
    frames, groups = emt_frames
    energies = np.array([f.get_potential_energy() for f in frames])
    settings = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=8, angular_cutoff=3.5)
    model, metrics = train(frames, energies, groups, settings,
                           TrainingSettings(hidden=16, ensemble_size=1, max_epochs=400, patience=40,
                                            learning_rate=0.01),
                           log=lambda _: None)
    # the spread of the data: RMSE of predicting every frame with the mean energy per atom
    per_atom = energies / np.array([len(f) for f in frames])
    spread = float(np.std(per_atom) * 1000)
    assert metrics["n_validation"] > 0
    assert metrics["rmse_validation_mev_per_atom"] < 15.0
    assert metrics["rmse_validation_mev_per_atom"] < spread / 5
    # and the RMSE computed again from scratch agrees
    data = build_features(frames, energies, settings)
    assert rmse_mev_per_atom(model, data) < 15.0


def test_dataset_arrays_round_trip(emt_frames):
    frames, groups = emt_frames
    arrays = frames_to_arrays(frames[:10], list(groups[:10]), ["x"] * 10)
    back = arrays_to_frames(arrays)
    assert len(back) == 10
    assert np.allclose(back[3].get_forces(), frames[3].get_forces())
    assert back[3].get_potential_energy() == pytest.approx(frames[3].get_potential_energy())
    joined = concatenate(arrays, arrays)
    assert len(joined["energies"]) == 20
    assert set(joined["groups"][10:]).isdisjoint(set(joined["groups"][:10]))


def test_trajectory_thinning():
    energies = np.array([1.0, 0.5, 0.4995, 0.499, 0.3, 0.2999, 0.2998])
    assert select_trajectory_frames(energies, 0.002).tolist() == [0, 1, 4, 6]

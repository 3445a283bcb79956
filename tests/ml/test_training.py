"""Training on real EMT data must bring the out-of-sample RMSE below a bound."""

import numpy as np
import pytest

from aiida_cryspai.ml.dataset import arrays_to_frames, concatenate, frames_to_arrays, select_trajectory_frames
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.training import TrainingSettings, build_features, rmse_mev_per_atom, split_by_group, train

from ..labelled import emt_copper_frames


@pytest.fixture(scope="module")
def emt_frames():
    return emt_copper_frames(per_lattice=8, seed=0)


def test_training_lowers_validation_rmse_below_bound(emt_frames):
    frames, groups = emt_frames
    energies = np.array([f.get_potential_energy() for f in frames])
    settings = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=8, angular_cutoff=3.5)
    model, metrics = train(frames_to_arrays(frames, groups), settings,
                           TrainingSettings(hidden=16, ensemble_size=1, max_epochs=400, patience=40,
                                            learning_rate=0.01),
                           log=lambda _: None)
    # the spread of the data: RMSE of predicting every frame with the mean energy per atom
    per_atom = energies / np.array([len(f) for f in frames])
    spread = float(np.std(per_atom) * 1000)
    assert metrics["n_validation"] > 0
    assert metrics["rmse_validation_mev_per_atom"] < 15.0
    assert metrics["rmse_validation_mev_per_atom"] < spread / 5
    # the metrics agree with the model's own predictions, computed here by hand: over all frames, the mean square
    # error is the frame-weighted mean of the training and validation ones
    assert metrics["n_train"] + metrics["n_validation"] == len(frames)
    predicted, _ = model.energies_and_spread(frames)
    by_hand = float(np.mean(((predicted - energies) / np.array([len(f) for f in frames])) ** 2) * 1e6)
    reported = (metrics["n_train"] * metrics["rmse_train_mev_per_atom"] ** 2
                + metrics["n_validation"] * metrics["rmse_validation_mev_per_atom"] ** 2) / len(frames)
    assert by_hand == pytest.approx(reported, rel=1e-6)
    assert rmse_mev_per_atom(model, build_features(frames, energies, settings)) ** 2 == pytest.approx(by_hand,
                                                                                                      rel=1e-6)


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


def test_cached_pair_jacobian_gives_the_models_own_forces():
    """The forces of force training (descriptor Jacobian per pair, computed once) equal the autograd forces of the
    whole model, with two species (typed descriptors) and periodic images."""
    import torch
    from ase.build import bulk

    from aiida_cryspai.ml.descriptors import build_graph, pair_jacobian
    from aiida_cryspai.ml.network import AtomicEnergyModel

    settings = DescriptorSettings(species=["Au", "Cu"], radial_cutoff=5.0, radial_order=5, angular_cutoff=3.5,
                                  angular_order=3, angular_radial_channels=2)
    first = bulk("Cu", "fcc", a=3.7, cubic=True)
    first.symbols[[0, 3]] = "Au"
    first.rattle(0.1, seed=1)
    second = bulk("Cu", "hcp", a=2.6, c=4.2) * (1, 1, 2)
    second.symbols[1] = "Au"
    second.rattle(0.1, seed=2)
    torch.manual_seed(0)
    model = AtomicEnergyModel(settings, hidden=6)
    features, jacobian = pair_jacobian(build_graph([first, second], settings))
    features.requires_grad_(True)
    species = torch.cat([torch.as_tensor([settings.species.index(s) for s in a.get_chemical_symbols()])
                         for a in (first, second)])
    gradient = torch.autograd.grad(model.atomic_energies(features, species).sum(), features)[0]
    forces = jacobian.forces(gradient).numpy()
    _, expected, _ = model.energies_forces_virials([first, second])
    assert np.abs(forces - np.concatenate(expected)).max() < 1e-10
    assert np.abs(forces).max() > 1e-3


def test_forces_in_the_loss_lower_the_out_of_sample_error(emt_frames):
    """Few relaxations: the forces of every frame (3N numbers against one energy) make a better network."""
    frames, groups = emt_frames
    train_groups = np.unique(groups)[::4]  # 6 of 24 relaxations to train on, the others to test
    chosen = np.isin(groups, train_groups)
    training = [f for f, keep in zip(frames, chosen) if keep]
    test = [f for f, keep in zip(frames, chosen) if not keep]
    descriptor = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=8, angular_cutoff=3.5)
    test_data = build_features(test, np.array([f.get_potential_energy() for f in test]), descriptor)
    errors = {}
    for weight in (0.0, 0.1):
        model, metrics = train(frames_to_arrays(training, groups[chosen]), descriptor,
                               TrainingSettings(hidden=16, ensemble_size=1, max_epochs=300, force_weight=weight),
                               log=lambda _: None)
        assert metrics["forces_in_loss"] == (weight > 0)
        errors[weight] = rmse_mev_per_atom(model, test_data)
    assert errors[0.1] < errors[0.0]


def test_held_out_relaxations_stay_held_out_as_the_data_grow():
    """A relaxation's side of the split depends on it alone: what was held out stays held out when more relaxations
    join, and nothing a network trained on moves to the held-out side (a warm start never saw its validation)."""
    groups = np.repeat(np.arange(60), 3)
    train_first, held_first = split_by_group(groups[:60], 0.15, seed=0)
    train_all, held_all = split_by_group(groups, 0.15, seed=0)
    assert 0 < len(held_first) < 60 and 0 < len(held_all) < len(groups)
    assert set(groups[held_first]) <= set(groups[held_all])
    assert not set(groups[train_first]) & set(groups[held_all])
    assert 0.05 < len(held_all) / len(groups) < 0.3  # about the fraction asked
    assert not set(groups[held_all]) & set(groups[train_all])  # whole relaxations on one side


def test_warm_start_trains_on_from_the_previous_network(emt_frames):
    """The next network starts from the previous one's weights and learns the new relaxations (bcc)."""
    frames, groups = emt_frames
    settings = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=8, angular_cutoff=3.5)
    training = TrainingSettings(hidden=16, ensemble_size=2, max_epochs=200, patience=20)
    first = groups < 16  # fcc and hcp relaxations; bcc joins next
    frames_first = [f for f, keep in zip(frames, first) if keep]
    previous, _ = train(frames_to_arrays(frames_first, groups[first]), settings, training, log=lambda _: None)
    arrays = frames_to_arrays(frames, groups)
    warm, metrics = train(arrays, settings, training, log=lambda _: None, start=previous)
    assert metrics["warm_started"] == 2
    energies = np.array([f.get_potential_energy() for f in frames])
    assert metrics["rmse_validation_mev_per_atom"] < 15.0
    bcc = build_features([f for f, g in zip(frames, groups) if g >= 16], energies[groups >= 16], settings)
    assert rmse_mev_per_atom(warm, bcc) < rmse_mev_per_atom(previous, bcc)
    # another width cannot start from these weights: trained from new ones
    _, other = train(arrays, settings, TrainingSettings(hidden=8, ensemble_size=1, max_epochs=5),
                     log=lambda _: None, start=previous)
    assert other["warm_started"] == 0

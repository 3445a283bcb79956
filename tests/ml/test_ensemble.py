"""Ensembles, optimisers: every optimiser must learn real EMT data, and the spread must mean something."""

import numpy as np
import pytest

from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.network import EnsembleModel, load_potential
from aiida_cryspai.ml.training import TrainingSettings, build_features, rmse_mev_per_atom, train

from ..labelled import emt_copper_frames

DESCRIPTOR = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=8, angular_cutoff=3.5)


@pytest.fixture(scope="module")
def frames():
    return emt_copper_frames(per_lattice=8, seed=0)


@pytest.fixture(scope="module")
def ensemble(frames):
    structures, groups = frames
    return train(frames_to_arrays(structures, groups), DESCRIPTOR, TrainingSettings(hidden=16, ensemble_size=3),
                 log=lambda _: None)


@pytest.mark.parametrize("optimizer", ["adam", "swarm"])
def test_each_optimiser_learns(frames, optimizer):
    structures, groups = frames
    energies = np.array([f.get_potential_energy() for f in structures])
    spread = float(np.std(energies / np.array([len(f) for f in structures])) * 1000)
    settings = TrainingSettings(hidden=16, optimizer=optimizer, learning_rate=0.01, max_epochs=400, ensemble_size=1,
                                swarm_iterations=50)
    _, metrics = train(frames_to_arrays(structures, groups), DESCRIPTOR, settings, log=lambda _: None)
    assert metrics["rmse_validation_mev_per_atom"] < min(20.0, spread / 4)


def test_the_swarm_improves_on_its_start_and_leaves_its_best_in_the_model(frames):
    """The swarm's best particle has a lower training RMSE than the network it started from (particle 0), and that
    is the network it leaves behind, whose RMSE it reports."""
    import torch

    from aiida_cryspai.ml.training import _chunks, _new_member, swarm_search

    structures, _ = frames
    energies = np.array([f.get_potential_energy() for f in structures])
    data = build_features(structures, energies, DESCRIPTOR)
    settings = TrainingSettings(hidden=16, optimizer="swarm", swarm_iterations=30)
    torch.manual_seed(0)
    model = _new_member(DESCRIPTOR, settings, data)
    chunk = _chunks(structures, data, DESCRIPTOR, len(structures), None, np.random.default_rng(0))[0]
    before = rmse_mev_per_atom(model, chunk.data)
    after = swarm_search(model, chunk, settings, np.random.default_rng(0))
    assert after < 0.9 * before, (before, after)
    assert rmse_mev_per_atom(model, chunk.data) == pytest.approx(after, rel=1e-9)


def test_unknown_optimiser_is_refused():
    with pytest.raises(ValueError, match="unknown optimizer"):
        TrainingSettings(optimizer="sgd")


def test_ensemble_mean_spread_and_round_trip(ensemble, frames, tmp_path):
    model, metrics = ensemble
    assert len(model) == 3 and metrics["ensemble_size"] == 3
    assert metrics["rmse_validation_mev_per_atom"] < 15.0
    structures, _ = frames
    means, spreads = model.energies_and_spread(structures[:20])
    members = np.array([m.predict_energies(structures[:20]) for m in model.members])
    assert np.allclose(means, members.mean(0))
    assert np.allclose(spreads, members.std(0))
    assert (spreads > 0).all()
    model.save(tmp_path / "model.pt")
    loaded = load_potential(tmp_path / "model.pt")
    assert isinstance(loaded, EnsembleModel) and len(loaded) == 3
    assert np.allclose(loaded.energies_and_spread(structures[:5])[0], means[:5])


def test_spread_grows_away_from_the_training_data(ensemble, frames):
    """Structures squeezed far outside the training volumes must be less certain than training frames."""
    model, _ = ensemble
    structures, _ = frames
    squeezed = []
    for atoms in structures[:10]:
        atoms = atoms.copy()
        atoms.set_cell(atoms.cell * 0.8, scale_atoms=True)
        squeezed.append(atoms)
    _, inside = model.energies_and_spread(structures[:10])
    _, outside = model.energies_and_spread(squeezed)
    assert np.median(outside) > 3 * np.median(inside)


def test_ensemble_rmse_is_from_the_mean(ensemble, frames):
    """The ensemble's RMSE is that of its members' mean prediction, computed here by hand: not any one member's,
    and no worse than their average (the mean of predictions cannot err more than the average member)."""
    model, _ = ensemble
    structures, _ = frames
    energies = np.array([f.get_potential_energy() for f in structures])
    n_atoms = np.array([len(f) for f in structures])
    means, _ = model.energies_and_spread(structures)
    by_hand = float(np.sqrt(np.mean(((means - energies) / n_atoms) ** 2)) * 1000)
    assert rmse_mev_per_atom(model, build_features(structures, energies, DESCRIPTOR)) == pytest.approx(by_hand,
                                                                                                     rel=1e-6)
    members = [float(np.sqrt(np.mean(((m.predict_energies(structures) - energies) / n_atoms) ** 2)) * 1000)
               for m in model.members]
    assert by_hand <= np.mean(members) + 1e-9
    assert all(abs(by_hand - member) > 1e-6 for member in members), (by_hand, members)
    assert by_hand < 15.0

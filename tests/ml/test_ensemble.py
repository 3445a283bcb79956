"""Ensembles, optimisers: every optimiser must learn real EMT data, and the spread must mean something."""

import numpy as np
import pytest

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
    energies = np.array([f.get_potential_energy() for f in structures])
    return train(structures, energies, groups, DESCRIPTOR, TrainingSettings(hidden=16, ensemble_size=3),
                 log=lambda _: None)


@pytest.mark.parametrize("optimizer", ["adam", "swarm"])
def test_each_optimiser_learns(frames, optimizer):
    structures, groups = frames
    energies = np.array([f.get_potential_energy() for f in structures])
    spread = float(np.std(energies / np.array([len(f) for f in structures])) * 1000)
    settings = TrainingSettings(hidden=16, optimizer=optimizer, learning_rate=0.01, max_epochs=400, ensemble_size=1,
                                swarm_iterations=50)
    _, metrics = train(structures, energies, groups, DESCRIPTOR, settings, log=lambda _: None)
    assert metrics["rmse_validation_mev_per_atom"] < min(20.0, spread / 4)
    if optimizer == "swarm":
        assert metrics["members"][0]["rmse_after_swarm_mev_per_atom"] > 0


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
    model, metrics = ensemble
    structures, _ = frames
    energies = np.array([f.get_potential_energy() for f in structures])
    assert rmse_mev_per_atom(model, build_features(structures, energies, DESCRIPTOR)) < 15.0

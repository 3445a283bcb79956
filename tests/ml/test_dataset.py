"""Dataset arrays: named optional arrays (a prior's energies and forces per frame) travel with every operation,
and a dataset node stores and returns them."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from aiida_cryspai.ml.dataset import (
    arrays_to_frames,
    concatenate,
    frames_to_arrays,
    load_arrays,
    save_arrays,
    subset,
    with_optional,
)


def _frames(n: int, size: int, seed: int) -> list:
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1, 1, size))
        atoms.rattle(0.05, seed=seed + k)
        atoms.calc = EMT()
        results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(), "stress": atoms.get_stress()}
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames


@pytest.fixture
def with_prior():
    frames = _frames(3, 2, seed=0)
    arrays = frames_to_arrays(frames, [0, 0, 1], ["a", "b", "c"])
    prior_energies = arrays["energies"] + 0.1 * np.arange(3)
    prior_forces = -arrays["forces"]
    return with_optional(with_optional(arrays, "prior_energies", prior_energies), "prior_forces", prior_forces)


def test_optional_arrays_follow_subsets_and_reach_the_frames(with_prior):
    picked = subset(with_prior, [2, 0])
    assert np.allclose(picked["prior_energies"], with_prior["prior_energies"][[2, 0]])
    assert np.allclose(picked["prior_forces"], np.concatenate([with_prior["prior_forces"][16:24],
                                                               with_prior["prior_forces"][0:8]]))
    frames = arrays_to_frames(picked)
    assert frames[0].info["prior_energies"] == pytest.approx(with_prior["prior_energies"][2])
    assert np.allclose(frames[1].arrays["prior_forces"], -frames[1].get_forces())
    # and back: frames_to_arrays is the inverse of arrays_to_frames, optional arrays included
    back = frames_to_arrays(frames, picked["groups"], list(picked["sources"]))
    assert set(back) == set(picked)
    for name in picked:
        assert np.array_equal(back[name], picked[name]), name


def test_the_geometry_alone_and_per_frame_blocks(with_prior):
    from aiida_cryspai.ml.dataset import per_frame, species_counts, structures_of

    structures = structures_of(with_prior)
    assert [len(a) for a in structures] == [8, 8, 8] and all(a.calc is None for a in structures)
    assert np.allclose(structures[2].positions, with_prior["positions"][16:24])
    assert np.allclose(per_frame(with_prior, "prior_forces")[1], with_prior["prior_forces"][8:16])
    assert species_counts(with_prior, [29, 8]).tolist() == [[8, 0]] * 3


def test_concatenation_marks_missing_optional_values_unknown(with_prior):
    plain = frames_to_arrays(_frames(2, 1, seed=5), [0, 1], ["d", "e"])
    joined = concatenate(plain, with_prior)
    assert len(joined["prior_energies"]) == 5 and np.isnan(joined["prior_energies"][:2]).all()
    assert np.allclose(joined["prior_energies"][2:], with_prior["prior_energies"])
    assert joined["prior_forces"].shape == (8 + 24, 3) and np.isnan(joined["prior_forces"][:8]).all()
    assert list(joined["groups"]) == [0, 1, 2, 2, 3]


def test_saved_and_loaded_with_their_optional_arrays(with_prior, tmp_path):
    save_arrays(tmp_path / "d.npz", with_prior)
    loaded = load_arrays(tmp_path / "d.npz")
    assert set(loaded) == set(with_prior)
    assert np.allclose(loaded["prior_forces"], with_prior["prior_forces"])


def test_unknown_or_misshaped_arrays_are_refused(with_prior):
    with pytest.raises(ValueError, match="unknown"):
        subset({**with_prior, "prior_charges": np.zeros(3)}, [0])
    with pytest.raises(ValueError):
        with_optional(with_prior, "prior_forces", np.zeros((3, 3)))


def test_dataset_node_keeps_optional_arrays(aiida_profile, with_prior):
    from aiida_cryspai.data.dataset import DatasetData

    node = DatasetData.from_arrays(with_prior).store()
    assert node.optional_arrays == ["prior_energies", "prior_forces"]
    arrays = node.to_arrays()
    assert np.allclose(arrays["prior_energies"], with_prior["prior_energies"])
    assert DatasetData.empty().optional_arrays == []


def test_prior_labels_are_computed_only_where_missing(with_prior):
    """Frames joined without prior labels get them; frames that have them keep theirs (never recomputed)."""
    from aiida_cryspai.ml.prior import label_with_prior

    plain = frames_to_arrays(_frames(2, 1, seed=5), [0, 1], ["d", "e"])
    joined = label_with_prior(concatenate(with_prior, plain), "emt")
    assert np.allclose(joined["prior_energies"][:3], with_prior["prior_energies"])  # EMT differs: kept, not redone
    fresh = label_with_prior(plain, "emt")
    assert np.allclose(joined["prior_energies"][3:], fresh["prior_energies"])
    assert np.allclose(joined["prior_energies"][3:], plain["energies"])  # EMT frames labelled by EMT
    assert np.allclose(joined["prior_forces"][24:], fresh["prior_forces"]) and np.isfinite(joined["prior_forces"]).all()
    assert label_with_prior(joined, "emt") is joined

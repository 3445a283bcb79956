"""The prior labels only the new frames the dataset update takes: the thinned trajectories of the relaxations not
excluded, within the energy window; the update then selects exactly them again."""

import numpy as np
from aiida.orm import Dict
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize import FIRE

from aiida_cryspai.data.dataset import DatasetData
from aiida_cryspai.ml.dataset import concatenate, frames_to_arrays

SETTINGS = {"energy_window": 1.0, "min_energy_change": 0.002, "useless_mev_per_atom": 2.0}


def _relaxation(seed: int, scale: float) -> list:
    """The frames of a real EMT relaxation of a rattled, strained Cu cell (energy, forces, stress on each)."""
    atoms = bulk("Cu", "fcc", a=3.6 * scale, cubic=True)
    atoms.rattle(0.1, seed=seed)
    atoms.calc = EMT()
    frames = []

    def record():
        copy = atoms.copy()
        copy.calc = SinglePointCalculator(copy, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                                          stress=atoms.get_stress())
        frames.append(copy)

    optimizer = FIRE(atoms, logfile=None)
    optimizer.attach(record)
    optimizer.run(fmax=0.005, steps=200)
    return frames


def test_the_prior_labels_just_the_frames_the_update_takes(aiida_profile):
    from aiida_cryspai.calcfunctions.dataset import update_dataset
    from aiida_cryspai.calcfunctions.prior import label_frames

    batches = {}
    for key, (seed, scale, source) in {"a": (0, 1.0, "r1"), "b": (1, 1.03, "r2"), "c": (2, 0.98, "r3")}.items():
        frames = _relaxation(seed, scale)
        batches[key] = DatasetData.from_arrays(frames_to_arrays(frames, [seed] * len(frames), [source] * len(frames)))
    n_raw = sum(node.n_frames for node in batches.values())
    previous = DatasetData.empty().store()
    settings = Dict({**SETTINGS, "excluded_sources": ["r3"]})

    labelled = label_frames(Dict({"name": "emt"}), previous, settings, **batches)["selected"].to_arrays()
    plain = update_dataset(previous, settings, **batches)["dataset"].to_arrays()
    assert not set(labelled["sources"].astype(str)) & {"r3"}  # an excluded relaxation is not labelled
    assert len(labelled["energies"]) < (n_raw - batches["c"].n_frames) / 2  # the trajectories thinned first
    # the prior (EMT again, here) on each frame it labelled: its own energy, forces and stress
    assert np.allclose(labelled["prior_energies"], labelled["energies"])
    assert np.allclose(labelled["prior_forces"], labelled["forces"])
    # and the update keeps every labelled frame: the same frames as from the raw batches, now with the prior's labels
    with_labels = update_dataset(previous, settings, selected=DatasetData.from_arrays(labelled))["dataset"]
    with_labels = with_labels.to_arrays()
    for name in ("energies", "forces", "positions", "groups"):
        assert np.array_equal(with_labels[name], plain[name]), name
    assert np.array_equal(with_labels["prior_energies"], labelled["prior_energies"])
    # a second batch against the dataset so far: the window is measured from the lowest of both
    more = label_frames(Dict({"name": "emt"}), DatasetData.from_arrays(with_labels).store(), Dict(SETTINGS),
                        **{"d": batches["c"]})["selected"].to_arrays()
    assert 0 < len(more["energies"]) and np.isfinite(more["prior_energies"]).all()
    assert len(concatenate(labelled, more)["energies"]) == len(labelled["energies"]) + len(more["energies"])

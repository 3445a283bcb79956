"""Prior + correction: EMT as a cheap prior, CHGNet as the oracle, on copper. The correction must lower the
held-out error below the prior's, and the surrogate's forces and stress must be the derivatives of its energy."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.stress import full_3x3_to_voigt_6_stress

from aiida_cryspai.ml.dataset import frames_to_arrays, structures_of, subset, with_optional
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.potentials import get_calculator
from aiida_cryspai.ml.prior import (
    PriorError,
    Surrogate,
    check_prior,
    fit_prior_scale,
    prior_labels,
    residual_arrays,
    train_correction,
)
from aiida_cryspai.ml.relax import relax, relax_batch
from aiida_cryspai.ml.training import TrainingSettings, train

from ..labelled import emt_copper_frames


@pytest.fixture(scope="module")
def chgnet():
    return get_calculator("chgnet")


@pytest.fixture(scope="module")
def oracle_dataset(chgnet):
    """EMT relaxation frames of fcc, hcp and bcc Cu relabelled by CHGNet (the oracle), with EMT's labels as the
    prior's optional arrays."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from aiida_cryspai.ml.potentials import _single

    frames, groups = emt_copper_frames(per_lattice=2, seed=1, stride=4)
    labelled = []
    for atoms in frames:
        energy, forces, stress = _single(chgnet, atoms)
        copy = atoms.copy()
        copy.calc = SinglePointCalculator(copy, energy=energy, forces=forces,
                                          stress=full_3x3_to_voigt_6_stress(np.asarray(stress)))
        labelled.append(copy)
    arrays = frames_to_arrays(labelled, list(groups), [str(g) for g in groups])
    for name, values in prior_labels(labelled, get_calculator("emt")).items():
        arrays = with_optional(arrays, name, values)
    return arrays


def _rmse_mev(predicted, reference, n_atoms):
    return 1000 * float(np.sqrt(np.mean(((np.asarray(predicted) - np.asarray(reference)) / n_atoms) ** 2)))


def test_correction_beats_the_prior_out_of_sample(oracle_dataset):
    groups = oracle_dataset["groups"]
    held_out = np.isin(groups, np.unique(groups)[::3])
    test = subset(oracle_dataset, np.flatnonzero(held_out))
    descriptor = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=6, angular_cutoff=3.5)
    correction, metrics = train_correction(subset(oracle_dataset, np.flatnonzero(~held_out)),
                                           descriptor, TrainingSettings(hidden=8, ensemble_size=1), "emt",
                                           log=lambda _: None)
    assert metrics["prior_scale"] == correction.prior_scale != 1.0
    surrogate = Surrogate("emt", correction)
    test_frames = structures_of(test)
    predicted = [e for e, _, _ in surrogate.evaluate(test_frames)]
    n_atoms = test["n_atoms"]
    prior_error = _rmse_mev(test["prior_energies"], test["energies"], n_atoms)
    surrogate_error = _rmse_mev(predicted, test["energies"], n_atoms)
    # EMT and CHGNet disagree by far more than a constant: the correction must take most of it away
    assert prior_error > 50
    assert surrogate_error < 0.3 * prior_error


def test_surrogate_forces_and_stress_are_derivatives_of_its_energy(oracle_dataset):
    from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress

    residual = residual_arrays(oracle_dataset)
    assert np.allclose(residual["energies"], oracle_dataset["energies"] - oracle_dataset["prior_energies"])
    assert np.allclose(residual["forces"], oracle_dataset["forces"] - oracle_dataset["prior_forces"])
    descriptor = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=6, angular_cutoff=3.5)
    correction, _ = train(residual, descriptor,
                          TrainingSettings(hidden=8, ensemble_size=2, max_epochs=20), log=lambda _: None)
    correction.prior_scale = 0.9  # the prior enters scaled (LinearCombinationCalculator for one structure)
    surrogate = Surrogate("emt", correction)
    atoms = bulk("Cu", "hcp", a=2.6, c=4.2) * (1, 1, 2)
    atoms.rattle(0.05, seed=4)
    atoms.calc = surrogate.calculator()
    energy, forces, stress = surrogate.evaluate([atoms])[0]
    assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
    assert np.allclose(forces, calculate_numerical_forces(atoms, eps=1e-4), atol=2e-4)
    voigt = full_3x3_to_voigt_6_stress(np.asarray(stress))
    assert np.allclose(voigt, calculate_numerical_stress(atoms, eps=1e-5), atol=2e-5)
    # the relaxer drives the surrogate in a batch exactly as one by one through the ASE calculator
    batch = relax_batch([atoms, atoms], surrogate, fmax=0.02, max_steps=100)
    single = relax(atoms, surrogate.calculator(), fmax=0.02, max_steps=100)
    assert batch[0].ok and batch[0].energy == pytest.approx(single.energy, abs=1e-6)
    assert batch[0].n_steps == single.n_steps
    # the ensemble's spread is the correction's: the prior adds none (and the mean is the scaled prior plus it)
    means, spreads = surrogate.energies_and_spread([atoms])
    own_means, own_spreads = correction.energies_and_spread([atoms])
    assert spreads[0] > 0 and spreads[0] == pytest.approx(own_spreads[0], rel=1e-9, abs=1e-12)
    prior_energy = EMT().get_potential_energy(atoms)
    assert means[0] == pytest.approx(0.9 * prior_energy + own_means[0], abs=1e-8)


def test_a_prior_that_is_the_oracle_or_cannot_compute_an_element_is_refused():
    check_prior(None, "ase:chgnet", ["Si"])
    check_prior("chgnet", "abinit", ["Si"])
    with pytest.raises(PriorError, match="oracle's own model"):
        check_prior("chgnet", "ase:chgnet", ["Si"])
    with pytest.raises(PriorError, match="cannot compute Si"):
        check_prior("emt", "abinit", ["Si", "Cu"])
    with pytest.raises(PriorError, match="unknown prior 'mace'"):
        check_prior("mace", "abinit", ["Si"])


def test_a_soft_prior_is_rescaled_and_one_relaxation_trains_no_network(oracle_dataset):
    """An oracle 1.25 times as stiff as the prior (plus a shift): the fitted scale is 1.25 and the residual is a
    constant. From a single relaxation nothing is held out, so the network is switched off rather than trusted:
    the surrogate is the scaled prior with its offset, exact here."""
    stiff = {**oracle_dataset, "energies": 1.25 * oracle_dataset["prior_energies"] - 0.3 * oracle_dataset["n_atoms"],
             "forces": 1.25 * oracle_dataset["prior_forces"], "stress": np.full_like(oracle_dataset["stress"], np.nan)}
    assert fit_prior_scale(stiff) == pytest.approx(1.25, abs=1e-9)
    first = stiff["groups"] == stiff["groups"][0]
    one = subset(stiff, np.flatnonzero(first))
    descriptor = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=6, angular_cutoff=3.5)
    correction, metrics = train_correction(one, descriptor,
                                           TrainingSettings(hidden=8, ensemble_size=2, max_epochs=20), "emt",
                                           log=lambda _: None)
    assert not metrics["network_used"]
    others = subset(stiff, np.flatnonzero(~first))
    predicted = Surrogate("emt", correction).energies_and_spread(structures_of(others))[0]
    assert _rmse_mev(predicted, others["energies"], others["n_atoms"]) < 1e-3

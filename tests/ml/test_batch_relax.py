"""Batched FIRE on the network must agree with ASE's FIRE + cell filter on the same network, and lower energies."""

import numpy as np
import pytest
from ase.build import bulk

from aiida_cryspai.ml.batch_relax import relax_many
from aiida_cryspai.ml.calculator import NetworkCalculator
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.relax import RelaxGuards, relax
from aiida_cryspai.ml.training import TrainingSettings, train

from ..labelled import emt_copper_frames


@pytest.fixture(scope="module")
def copper_model():
    frames, groups = emt_copper_frames(per_lattice=8, seed=0)
    energies = np.array([f.get_potential_energy() for f in frames])
    descriptor = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=8, angular_cutoff=3.5)
    model, _ = train(frames, energies, groups, descriptor, TrainingSettings(hidden=16, ensemble_size=1),
                     log=lambda _: None)
    return model


def _starts(n):
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        atoms = (bulk("Cu", "fcc", a=3.6, cubic=True) if k % 2 else bulk("Cu", "hcp", a=2.55, c=4.2)).repeat(
            (1, 1, 2) if k % 2 else (2, 1, 1))
        atoms.rattle(0.1, seed=k)
        atoms.set_cell(atoms.cell * (1 + 0.03 * rng.standard_normal()), scale_atoms=True)
        out.append(atoms)
    return out


def test_batch_forces_and_virials_match_single_structures(copper_model):
    structures = _starts(3)
    energies, forces, virials = copper_model.energies_forces_virials(structures)
    for k, atoms in enumerate(structures):
        energy, f, stress = copper_model.energy_forces_stress(atoms)
        assert energies[k] == pytest.approx(energy, abs=1e-10)
        assert np.allclose(forces[k], f, atol=1e-10)
        assert np.allclose(virials[k], -stress * atoms.get_volume(), atol=1e-9)


def test_batched_relaxation_agrees_with_ase(copper_model):
    structures = _starts(6)
    batch = relax_many(copper_model, structures, fmax=0.02, max_steps=300)
    assert batch.statuses == ["ok"] * 6 and batch.converged.all()
    before = copper_model.predict_energies(structures)
    assert (batch.energies < before).all()
    calculator = NetworkCalculator(copper_model)
    for k, atoms in enumerate(structures):
        single = relax(atoms, calculator, fmax=0.02, max_steps=300, record_frames=False)
        assert batch.energies[k] / len(atoms) == pytest.approx(single.energy / len(atoms), abs=1e-3)
        assert batch.atoms[k].get_volume() == pytest.approx(single.atoms.get_volume(), rel=0.01)


def test_a_bad_member_is_flagged_and_the_rest_relax(copper_model):
    structures = _starts(3)
    squashed = structures[1].copy()
    squashed.positions[1] = squashed.positions[0] + [0.3, 0.0, 0.0]
    structures[1] = squashed
    batch = relax_many(copper_model, structures, fmax=0.02, max_steps=300, guards=RelaxGuards(max_seconds=None))
    assert batch.statuses == ["ok", "too_close", "ok"]
    assert np.isnan(batch.energies[1]) and np.isfinite(batch.energies[[0, 2]]).all()

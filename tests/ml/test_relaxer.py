"""One relaxer for every path: a batch on the network (one graph per step) must follow the same trajectory as
each structure relaxed alone through the ASE calculator, lower every energy, and flag a bad member without stopping
the rest."""

import numpy as np
import pytest
from ase.build import bulk

from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.network import NetworkCalculator
from aiida_cryspai.ml.relax import RelaxGuards, relax, relax_batch
from aiida_cryspai.ml.training import TrainingSettings, train

from ..labelled import emt_copper_frames


@pytest.fixture(scope="module")
def copper_model():
    frames, groups = emt_copper_frames(per_lattice=8, seed=0)
    descriptor = DescriptorSettings(species=["Cu"], radial_cutoff=5.0, radial_order=8, angular_cutoff=3.5)
    model, _ = train(frames_to_arrays(frames, groups), descriptor, TrainingSettings(hidden=16, ensemble_size=1),
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


def test_batched_relaxation_follows_each_single_relaxation(copper_model):
    structures = _starts(6)
    batch = relax_batch(structures, copper_model, fmax=0.02, max_steps=300)
    assert [r.status for r in batch] == ["ok"] * 6 and all(r.converged for r in batch)
    before = copper_model.predict_energies(structures)
    assert all(r.energy < e for r, e in zip(batch, before))
    calculator = NetworkCalculator(copper_model)
    for k, atoms in enumerate(structures):
        single = relax(atoms, calculator, fmax=0.02, max_steps=300)
        # the same filter and optimiser: the same steps, the same frames, the same end
        assert batch[k].n_steps == single.n_steps == len(single.frames) - 1
        assert batch[k].energy == pytest.approx(single.energy, abs=1e-8)
        assert np.allclose(batch[k].atoms.cell[:], single.atoms.cell[:], atol=1e-6)
        frame_energies = [f.get_potential_energy() for f in single.frames]
        assert np.allclose([f.get_potential_energy() for f in batch[k].frames], frame_energies, atol=1e-8)


def test_a_bad_member_is_flagged_and_the_rest_relax(copper_model):
    structures = _starts(3)
    squashed = structures[1].copy()
    squashed.positions[1] = squashed.positions[0] + [0.3, 0.0, 0.0]
    structures[1] = squashed
    batch = relax_batch(structures, copper_model, fmax=0.02, max_steps=300, guards=RelaxGuards(max_seconds=None))
    assert [r.status for r in batch] == ["ok", "too_close", "ok"]
    assert batch[1].energy is None and batch[1].frames == [] and batch[1].n_steps == 0
    assert batch[0].energy is not None and batch[2].energy is not None


def test_pressure_shrinks_the_cell_and_the_enthalpy_is_minimal(emt):
    """Under 10 GPa the cell relaxes to a smaller volume where the stress equals -P (FrechetCellFilter's
    scalar_pressure), and E + PV there is below E + PV of the zero-pressure cell."""
    from ase.units import GPa

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    free, pressed = relax_batch([atoms, atoms], emt, fmax=0.005, max_steps=300)
    pressed = relax(atoms, emt, fmax=0.005, max_steps=300, pressure_gpa=10.0)
    assert free.ok and pressed.ok and pressed.converged
    assert pressed.atoms.get_volume() < 0.97 * free.atoms.get_volume()
    stress = pressed.frames[-1].get_stress()
    assert np.allclose(stress[:3], -10.0 * GPa, atol=0.05 * GPa) and np.allclose(stress[3:], 0.0, atol=0.05 * GPa)
    pv = 10.0 * GPa
    assert pressed.energy + pv * pressed.atoms.get_volume() < free.energy + pv * free.atoms.get_volume()


def test_a_calculator_without_stress_fails_cleanly_when_the_cell_relaxes(copper_model):
    from ase.calculators.lj import LennardJones

    class NoStress(LennardJones):
        implemented_properties = ["energy", "forces"]

    result = relax(_starts(1)[0], NoStress(), relax_cell=True)
    assert result.status == "failed" and "stress" in result.reason.lower()

"""Forces and stress by autograd must match finite differences of the network energy."""

import numpy as np
import pytest
import torch
from ase.build import bulk

from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.network import AtomicEnergyModel, NetworkCalculator


@pytest.fixture(params=[1, 3], ids=["artrith", "angular-channels"])
def model(request):
    torch.manual_seed(0)
    settings = DescriptorSettings(species=["Na", "Cl"], radial_cutoff=5.0, angular_cutoff=3.5,
                                  angular_radial_channels=request.param)
    return AtomicEnergyModel(settings, 16)


def _atoms():
    atoms = bulk("NaCl", "rocksalt", a=5.5, cubic=True)
    atoms.rattle(0.15, seed=2)
    atoms.set_cell(atoms.cell[:] @ np.array([[1.0, 0.03, 0.0], [0.0, 0.98, 0.02], [0.01, 0.0, 1.02]]),
                   scale_atoms=True)
    return atoms


def test_forces_match_finite_differences(model):
    atoms = _atoms()
    _, forces, _ = model.energy_forces_stress(atoms)
    h = 1e-5
    for index, axis in [(0, 0), (3, 1), (6, 2)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[index, axis] += h
        minus.positions[index, axis] -= h
        numeric = -(model.energy_forces_stress(plus)[0] - model.energy_forces_stress(minus)[0]) / (2 * h)
        assert forces[index, axis] == pytest.approx(numeric, abs=1e-6)


def test_stress_matches_finite_differences(model):
    atoms = _atoms()
    _, _, stress = model.energy_forces_stress(atoms)
    h = 1e-6
    volume = atoms.get_volume()
    for i, j in [(0, 0), (1, 2), (2, 2)]:
        strain = np.zeros((3, 3))
        strain[i, j] = strain[j, i] = h
        energies = []
        for sign in (1, -1):
            deformed = atoms.copy()
            deformed.set_cell(atoms.cell[:] @ (np.eye(3) + sign * strain), scale_atoms=True)
            energies.append(model.energy_forces_stress(deformed)[0])
        factor = 1.0 if i == j else 2.0
        numeric = (energies[0] - energies[1]) / (2 * h) / volume / factor
        assert stress[i, j] == pytest.approx(numeric, abs=1e-7)


def test_ase_calculator_and_save_load(model, tmp_path):
    atoms = _atoms()
    atoms.calc = NetworkCalculator(model)
    energy = atoms.get_potential_energy()
    assert atoms.get_forces().shape == (8, 3)
    assert atoms.get_stress().shape == (6,)
    model.save(tmp_path / "model.pt", {"rmse": 1.0})
    loaded = AtomicEnergyModel.load(tmp_path / "model.pt")
    assert loaded.predict_energies([atoms])[0] == pytest.approx(energy)
    assert loaded.metrics == {"rmse": 1.0}


def test_network_is_double_precision_without_changing_torch_default(model):
    """CHGNet (float32) must keep working in a process that uses the network."""
    assert torch.get_default_dtype() == torch.float32
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert all(b.dtype == torch.float64 for b in model.buffers())

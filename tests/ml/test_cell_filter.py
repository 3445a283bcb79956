"""The cell filter's 3x3 matrix functions from an eigendecomposition must equal SciPy's (which ASE uses) on the
deformations a relaxation meets, fall back to SciPy where the decomposition is unsafe, and a variable-cell FIRE
relaxation through the fast filter must follow ASE's own FrechetCellFilter step for step."""

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE
from scipy.linalg import expm, expm_frechet, logm

from aiida_cryspai.ml import cell_filter
from aiida_cryspai.ml.cell_filter import FastFrechetCellFilter


def _matrices():
    rng = np.random.default_rng(3)
    out = [np.eye(3), 1.07 * np.eye(3), np.diag([0.9, 1.0, 1.2])]
    for _ in range(20):
        out.append(expm(0.2 * rng.standard_normal((3, 3))))  # a general deformation with a rotation in it
        symmetric = rng.standard_normal((3, 3))
        out.append(expm(0.1 * (symmetric + symmetric.T)))  # a pure stretch
    return out


@pytest.mark.parametrize("deformation", _matrices())
def test_logm_expm_and_frechet_derivatives_equal_scipy(deformation):
    log = logm(deformation)
    assert np.allclose(cell_filter.logm(deformation), log, atol=1e-11)
    assert np.allclose(cell_filter.expm(log), deformation, atol=1e-11)
    frechet = cell_filter._SharedFrechet()
    for mu in range(3):
        for nu in range(3):
            direction = np.zeros((3, 3))
            direction[mu, nu] = 1.0
            expected = expm_frechet(log, direction, compute_expm=False)
            assert np.allclose(frechet(log, direction), expected, atol=1e-11)


def test_a_defective_matrix_goes_to_scipy():
    shear = np.array([[1.0, 0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # one eigenvalue, two eigenvectors
    assert cell_filter._eigen(shear) is None
    assert np.allclose(cell_filter.logm(shear), logm(shear), atol=1e-12)
    derivative = cell_filter._SharedFrechet()(logm(shear), np.eye(3))
    assert np.allclose(derivative, expm_frechet(logm(shear), np.eye(3), compute_expm=False), atol=1e-12)


@pytest.mark.parametrize("pressure_gpa", [0.0, 5.0])
def test_fire_through_the_fast_filter_follows_ase(pressure_gpa):
    from ase.units import GPa

    trajectories = []
    for filter_class in (FrechetCellFilter, FastFrechetCellFilter):
        atoms = bulk("Cu", "hcp", a=2.7, c=4.0).repeat((2, 1, 1))
        atoms.rattle(0.05, seed=1)
        atoms.set_cell(atoms.cell @ np.array([[1.0, 0.04, 0.0], [0.0, 0.97, 0.02], [0.01, 0.0, 1.03]]),
                       scale_atoms=True)
        atoms.calc = EMT()
        FIRE(filter_class(atoms, scalar_pressure=pressure_gpa * GPa), logfile=None).run(fmax=1e-3, steps=300)
        trajectories.append((atoms.get_potential_energy(), atoms.get_volume(), atoms.cell.cellpar()))
    (energy_ase, volume_ase, cell_ase), (energy_fast, volume_fast, cell_fast) = trajectories
    assert energy_fast == pytest.approx(energy_ase, abs=1e-6)
    assert volume_fast == pytest.approx(volume_ase, rel=1e-6)
    assert np.allclose(cell_fast, cell_ase, atol=1e-5)

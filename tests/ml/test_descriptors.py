import numpy as np
import pytest
import torch
from ase.build import bulk

from aiida_cryspai.ml.descriptors import DescriptorSettings, chebyshev, features_of


def test_chebyshev_polynomials():
    x = torch.linspace(-1, 1, 7, dtype=torch.float64)
    terms = chebyshev(x, 4)
    assert torch.allclose(terms[:, 2], 2 * x**2 - 1)
    assert torch.allclose(terms[:, 4], torch.cos(4 * torch.arccos(x)))


def _structure():
    atoms = bulk("NaCl", "rocksalt", a=5.6, cubic=True)
    atoms.rattle(0.1, seed=4)
    return atoms


def test_invariant_under_rotation_translation_and_permutation():
    settings = DescriptorSettings(species=["Na", "Cl"])
    atoms = _structure()
    reference = features_of(atoms, settings).numpy()
    moved = atoms.copy()
    moved.rotate(37, "x", rotate_cell=True)
    moved.rotate(12, "z", rotate_cell=True)
    moved.translate([0.3, -1.2, 0.7])
    assert np.allclose(features_of(moved, settings).numpy(), reference, atol=1e-9)
    order = np.random.default_rng(0).permutation(len(atoms))
    assert np.allclose(features_of(atoms[order], settings).numpy(), reference[order], atol=1e-9)
    assert reference.shape == (8, settings.n_features)


def test_species_part_distinguishes_species():
    settings = DescriptorSettings(species=["Na", "Cl"])
    atoms = _structure()
    swapped = atoms.copy()
    swapped.set_chemical_symbols(["Cl" if s == "Na" else "Na" for s in atoms.get_chemical_symbols()])
    structural = settings.radial_order + 1 + settings.angular_order + 1
    a, b = features_of(atoms, settings).numpy(), features_of(swapped, settings).numpy()
    assert np.allclose(a[:, :structural], b[:, :structural])
    assert not np.allclose(a[:, structural:], b[:, structural:])


def test_cutoff_is_smooth():
    """A neighbour crossing the cutoff changes the descriptor continuously."""
    settings = DescriptorSettings(species=["Cu"], radial_cutoff=4.0, angular_cutoff=3.0)
    from ase import Atoms

    values = []
    for d in (3.99, 3.999, 4.001):
        dimer = Atoms("Cu2", positions=[[0, 0, 0], [d, 0, 0]], cell=[20, 20, 20], pbc=True)
        values.append(features_of(dimer, settings).numpy()[0])
    assert np.abs(values[1] - values[2]).max() < 1e-4
    assert np.abs(values[0] - values[1]).max() < 1e-3
    assert values[0][0] > 0.0
    assert values[2][0] == pytest.approx(0.0)


def test_radially_resolved_angular_channels_tell_shells_apart():
    """Channel 0 is Artrith's angular function; the extra channels separate first- and second-shell angles."""
    plain = DescriptorSettings(species=["Si"], angular_cutoff=4.0, angular_order=4, angular_radial_channels=1)
    resolved = DescriptorSettings(species=["Si"], angular_cutoff=4.0, angular_order=4, angular_radial_channels=3)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=2)
    a, b = features_of(atoms, plain).numpy(), features_of(atoms, resolved).numpy()
    assert b.shape == (8, resolved.n_features) and resolved.n_features == plain.n_features + 2 * 5
    n_radial = plain.radial_order + 1
    assert np.allclose(b[:, : n_radial + 5], a, atol=1e-12)
    # compressing the cell moves second neighbours inside the cutoff; the channels weight them differently
    assert np.abs(b[:, n_radial + 5 :]).max() > 1e-3
    moved = atoms.copy()
    moved.rotate(41, "y", rotate_cell=True)
    assert np.allclose(features_of(moved, resolved).numpy(), b, atol=1e-9)

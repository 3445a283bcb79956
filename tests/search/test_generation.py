import numpy as np
import pytest

from aiida_cryspai.analysis.symmetry import spacegroup
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.crystal_systems import CRYSTAL_SYSTEMS, CrystalSystemError, resolve_crystal_systems
from aiida_cryspai.search.generation import random_structures
from aiida_cryspai.search.geometry import cell_is_sane


@pytest.mark.parametrize("formula", ["Si8", "CaTiO3"])
def test_random_structures_keep_their_crystal_system(formula):
    composition = parse_composition(formula)
    structures = random_structures(composition, list(CRYSTAL_SYSTEMS), 2, 40.0 * composition.n_atoms / 2, seed=3)
    assert len(structures) >= 12
    for atoms in structures:
        assert sorted(atoms.get_chemical_symbols()) == sorted(composition.expanded())
        assert atoms.get_volume() == pytest.approx(20.0 * composition.n_atoms)
        assert cell_is_sane(atoms)
        # the structure is generated in a group of the system: spglib finds that group or a supergroup
        found = spacegroup(atoms, symprec=1e-3)
        assert found.number >= CRYSTAL_SYSTEMS[atoms.info["crystal_system"]][0]


def test_random_structures_are_reproducible():
    composition = parse_composition("Si8")
    first = random_structures(composition, ["cubic", "hexagonal"], 2, 160.0, seed=7)
    second = random_structures(composition, ["cubic", "hexagonal"], 2, 160.0, seed=7)
    for a, b in zip(first, second):
        assert np.allclose(a.positions, b.positions)


def test_crystal_systems():
    assert resolve_crystal_systems("all") == list(CRYSTAL_SYSTEMS)
    assert resolve_crystal_systems("cubic") == ["cubic"]
    with pytest.raises(CrystalSystemError, match="unknown crystal system 'hexa'"):
        resolve_crystal_systems("hexa")


def test_first_batch_is_the_start_of_the_random_symmetric_search():
    from itertools import islice

    from aiida_cryspai.search.generation import random_structures_by_spacegroup, symmetric_draws

    composition = parse_composition("Si8")
    systems = list(CRYSTAL_SYSTEMS)
    first = random_structures_by_spacegroup(composition, systems, 5, 160.0, seed=3)
    search = list(islice(symmetric_draws(composition, systems, 160.0, seed=3), 8))
    assert len(first) == 5
    for a, b in zip(first, search):
        assert a.info["spacegroup_generated"] == b.info["spacegroup_generated"]
        assert np.allclose(a.positions, b.positions)
    # space groups are drawn over all systems: many draws reach several crystal systems
    many = random_structures_by_spacegroup(composition, systems, 30, 160.0, seed=4)
    assert len({a.info["crystal_system"] for a in many}) >= 4

"""One geometry check for every cell the search makes or relaxes: no collapsed cell reaches an engine."""

import numpy as np
import pytest
from ase.calculators.emt import EMT

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
from aiida_cryspai.ml.relax import RelaxGuards, relax
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_structures, scale_to_volume
from aiida_cryspai.search.geometry import (
    MAX_CLOSE_NEIGHBOURS,
    MIN_DISTANCE_FACTOR,
    cell_problem,
    crowding,
    min_volume_per_atom,
)
from aiida_cryspai.search.volume import estimate_volume


@pytest.mark.parametrize("formula", ["H2O", "Li1H1", "C2", "H8O4", "Li4H4", "Si8"])
def test_starting_cells_of_hydrides_and_covalent_solids_are_sane(formula):
    composition = parse_composition(formula)
    floor = min_volume_per_atom(composition.expanded())
    volume = estimate_volume(composition)
    assert volume / composition.n_atoms >= floor - 1e-9
    structures = random_structures(composition, list(CRYSTAL_SYSTEMS), 2, volume, seed=3)
    assert len(structures) >= 7
    for atoms in structures:
        found = crowding(atoms)
        assert atoms.get_volume() / len(atoms) >= floor - 1e-9
        assert found.shortest_ratio >= MIN_DISTANCE_FACTOR
        assert found.max_neighbours <= MAX_CLOSE_NEIGHBOURS


def test_the_paper_volume_of_water_is_refused_as_a_cell():
    """Eq. 2 with tabulated radii gives 1.24 Å^3 for H2O: its atoms overlap their images; no such cell passes."""
    atoms = random_structures(parse_composition("H2O"), ["orthorhombic"], 1, 30.0, seed=1)[0]
    dense = scale_to_volume(atoms, 1.24)
    assert "below the floor" in cell_problem(dense)
    assert cell_problem(atoms) is None


def test_a_collapsing_cell_is_stopped_by_its_neighbour_count():
    from ase.build import bulk

    squeezed = bulk("Cu", "fcc", a=3.6).repeat((2, 2, 2))
    squeezed.set_cell(squeezed.cell * 0.6, scale_atoms=True)
    assert crowding(squeezed).max_neighbours > MAX_CLOSE_NEIGHBOURS
    result = relax(squeezed, EMT(), guards=RelaxGuards(min_distance_factor=None))
    assert result.status == "collapsed" and result.n_steps == 0


def test_water_relaxations_stay_above_the_floor():
    """H8O4 cells at the estimated volume relaxed by EMT (it has H and O): every visited frame is a sane cell, so
    the relaxation's size (neighbours per atom) stays bounded."""
    composition = parse_composition("H8O4")
    floor = min_volume_per_atom(composition.expanded())
    structures = random_structures(composition, ["orthorhombic", "monoclinic"], 1, estimate_volume(composition), 5)
    guards = RelaxGuards(min_volume_per_atom=floor, max_seconds=60)
    for atoms in structures:
        result = relax(atoms, EMT(), fmax=0.1, max_steps=100, guards=guards)
        volumes = np.array([frame.get_volume() / len(frame) for frame in result.frames])
        assert (volumes >= floor).all()
        assert all(crowding(frame).max_neighbours <= MAX_CLOSE_NEIGHBOURS for frame in result.frames)


def test_real_crystals_of_the_prototype_library_are_never_collapsed_cells():
    """Every prototype of the AFLOW library at its own volume (without the partial-occupancy artefacts that put two
    atoms on one site) passes the neighbour count: CsCl-type and cubic perovskite count 26 close neighbours of
    their large cation, CaB6 30."""
    from aiida_cryspai.search.templates import aflow_prototypes

    counts = {}
    for prototype in aflow_prototypes():
        atoms = prototype.atoms.repeat(2) if len(prototype.atoms) < 4 else prototype.atoms
        found = crowding(atoms)
        if found.shortest_ratio >= MIN_DISTANCE_FACTOR:
            counts[prototype.label] = found.max_neighbours
    assert len(counts) > 250
    assert counts["AB_cP2_221_b_a"] == 26 and counts["AB3C_cP5_221_a_c_b"] == 26
    assert max(counts.values()) <= MAX_CLOSE_NEIGHBOURS

"""Known structures as starting points: the AFLOW prototype library decorated with the composition's elements, and
the user's own structure files."""

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from aiida_cryspai.analysis.symmetry import spacegroup
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.templates import (
    SeedStructureError,
    aflow_prototypes,
    fit_seed_to_composition,
    prototype_structures,
    read_seed_structure,
)


def _origins(structures):
    return [a.info["origin"] for a in structures]


def test_the_library_is_read_as_primitive_cells():
    library = aflow_prototypes()
    assert len(library) == 288
    rutile = next(p for p in library if p.name == "Rutile")
    assert rutile.label == "A2B_tP6_136_f_a" and len(rutile.atoms) == 6
    copper = next(p for p in library if p.label == "A_cF4_225_a")
    assert len(copper.atoms) == 1  # the conventional fcc cell of the library holds 4


def test_titanium_dioxide_starts_from_its_own_polymorphs():
    """Ti4O8: rutile (6-atom cell, doubled) and anatase (primitive 6 atoms, doubled) first, both at chemical distance
    0, every structure a Ti4O8 cell at the requested volume; brookite needs 24 atoms, so only Ti8O16 has it."""
    composition = parse_composition("Ti4O8")
    structures = prototype_structures(composition, volume=130.0)
    origins = _origins(structures)
    assert {"prototype A2B_tP6_136_f_a (Rutile)", "prototype A2B_tI12_141_e_a (Anatase)"} == set(origins[:2])
    assert all(sorted(a.get_chemical_symbols()) == ["O"] * 8 + ["Ti"] * 4 for a in structures)
    volumes = np.array([a.get_volume() for a in structures])
    assert np.allclose(volumes[:2], 130.0)
    # at the requested volume, or above it where that would put atoms on top of each other (never below)
    assert (volumes >= 130.0 - 1e-6).all() and np.isclose(volumes, 130.0).mean() > 0.5
    assert not any("Brookite" in o for o in origins)
    rutile = structures[origins.index("prototype A2B_tP6_136_f_a (Rutile)")]
    assert spacegroup(rutile).number == 136
    larger = _origins(prototype_structures(parse_composition("Ti8O16")))
    assert "prototype A2B_oP24_61_2c_c (Brookite)" in larger[:3]


def test_equivalent_assignments_are_kept_once_and_distinct_ones_twice():
    """Rock salt with the two elements swapped is the same structure; cubic perovskite with Ca and Ti swapped (Ca
    on the corner or in the centre of the octahedra) is not."""
    rocksalt = [a for a in prototype_structures(parse_composition("MgO")) if "AB_cF8_225_a_b" in a.info["origin"]]
    assert len(rocksalt) == 1
    perovskites = [a for a in prototype_structures(parse_composition("CaTiO3"))
                   if "AB3C_cP5_221_a_c_b" in a.info["origin"]]
    assert len(perovskites) == 2
    assert perovskites[0].info["chemical_distance"] == 0  # CaTiO3 is the prototype's own compound
    assert perovskites[1].info["chemical_distance"] > 0


def test_compositions_the_library_does_not_cover_get_no_templates():
    assert prototype_structures(parse_composition("Ti3O7")) == []  # no A3B7 prototype
    assert prototype_structures(parse_composition("Na1Cl1Si1Ge1O1")) == []  # no five-species prototype


@pytest.mark.parametrize("name", ["hcp.cif", "POSCAR", "hcp.extxyz"])
def test_seed_files_are_read_and_made_cells_of_the_composition(tmp_path, name):
    hcp = bulk("Cu", "hcp", a=2.55, c=4.16)
    write(tmp_path / name, hcp, format="vasp" if name == "POSCAR" else None)
    atoms = read_seed_structure(tmp_path / name)
    fitted = fit_seed_to_composition(atoms, parse_composition("Cu4"), name)
    assert len(fitted) == 4 and fitted.info["origin"] == f"seed file {name}"
    assert fitted.get_volume() == pytest.approx(2 * hcp.get_volume(), rel=1e-6)  # its own volume, doubled
    conventional = bulk("Cu", "fcc", a=3.6, cubic=True)  # 4 atoms; Cu2 takes two primitive cells
    assert len(fit_seed_to_composition(conventional, parse_composition("Cu2"), "fcc.cif")) == 2


def test_seed_files_of_another_composition_are_refused_by_name(tmp_path):
    write(tmp_path / "si.cif", bulk("Si"))
    with pytest.raises(SeedStructureError, match=r"si.cif is Si .*not Cu"):
        fit_seed_to_composition(read_seed_structure(tmp_path / "si.cif"), parse_composition("Cu4"), "si.cif")
    with pytest.raises(SeedStructureError, match="3 atoms.*Cu4 has 4"):
        fit_seed_to_composition(_three_atom_chain(), parse_composition("Cu4"), "x.cif")
    (tmp_path / "broken.cif").write_text("nothing here\n")
    with pytest.raises(SeedStructureError, match="broken.cif: cannot be read"):
        read_seed_structure(tmp_path / "broken.cif")
    with pytest.raises(SeedStructureError, match="no such file"):
        read_seed_structure(tmp_path / "missing.cif")


def _three_atom_chain():
    """Three Cu atoms that are not three copies of one primitive cell (unequal spacings)."""
    from ase import Atoms

    return Atoms("Cu3", positions=[(0, 0, 0), (2.5, 0, 0), (5.3, 0, 0)], cell=[8.1, 3.0, 3.0], pbc=True)


def test_a_volume_estimate_far_too_small_keeps_the_dense_prototypes():
    """Eq. 2 puts Si2O4 at its volume floor (3.4 Å^3/atom), where most SiO2 prototypes overlap or crowd: each is
    scaled up until it is sane instead of dropped, so stishovite's rutile type is among the known structures."""
    from aiida_cryspai.search.geometry import cell_problem
    from aiida_cryspai.search.volume import estimate_volume

    composition = parse_composition("Si2O4")
    structures = prototype_structures(composition, estimate_volume(composition))
    origins = [atoms.info["origin"] for atoms in structures]
    assert len(structures) > 20 and any("Rutile" in origin for origin in origins), origins
    assert all(cell_problem(atoms) is None for atoms in structures)

"""The guards against the holes of universal potentials: structures that fell into SevenNet-0's holes (random Al4O6
cells compressed and relaxed on it without guards, as a volume scan at a collapsed volume or a screening there
does) must each be refused with its reason, and the short-range repulsion must leave sane structures' energies,
forces and stresses exactly as the potential gives them."""

from dataclasses import replace

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT

from aiida_cryspai.ml.potentials import CALCULATORS, batch_evaluator, get_calculator
from aiida_cryspai.ml.relax import RelaxGuards, refuse_implausible, relax_batch
from aiida_cryspai.ml.repulsion import ShortRangeRepulsion
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_structures, scale_to_volume
from aiida_cryspai.search.plausibility import CONTACT_FACTOR, contact_problem, shortest_contact
from aiida_cryspai.search.templates import _usable_prototypes, prototype_structures
from aiida_cryspai.search.volume import scan_energies, scan_problem

CORUNDUM_VOLUME = 85.0  # Å^3 for Al4O6 (two formula units)


@pytest.fixture(scope="module")
def sevennet_holes():
    """Random Al4O6 cells at 0.7 x corundum's volume, relaxed on SevenNet-0 for 25 steps with every guard off, and
    the library's Al4O6 prototypes at corundum's volume as single points (the sane reference)."""
    calculator = get_calculator("sevennet")
    cells = random_structures(parse_composition("Al4O6"), ["cubic", "trigonal", "monoclinic", "orthorhombic"], 1,
                              CORUNDUM_VOLUME, seed=3)
    unguarded = RelaxGuards(min_distance_factor=None, max_neighbours=None, energy_margin=None, contact_factor=None,
                            max_seconds=None)
    fallen = relax_batch([scale_to_volume(a, 0.7 * CORUNDUM_VOLUME) for a in cells], calculator, max_steps=25,
                         guards=unguarded, record_frames=False)
    known = prototype_structures(parse_composition("Al4O6"), CORUNDUM_VOLUME)
    sane = [energy / len(a) for a, (energy, _, _) in zip(known, batch_evaluator(calculator)(known))]
    return fallen, sane


def test_fallen_structures_are_refused_with_their_reason(sevennet_holes):
    fallen, sane = sevennet_holes
    holes = [r for r in fallen if r.ok and r.energy / len(r.atoms) < min(sane) - 2.0]
    assert len(holes) >= 2, [r.energy / len(r.atoms) for r in fallen if r.ok]  # the potential really has holes
    for result in holes:
        # the contact test: the reason names the pair and the ratio
        problem = contact_problem(result.atoms)
        assert problem is not None and "the sum of covalent radii" in problem
        assert scan_problem(result.atoms) is not None  # a volume scan skips such a cell
    # the energy test alone, against the sane cells of the same composition on the same potential
    judged = refuse_implausible([replace(r) for r in holes], reference=sane)
    for result in judged:
        assert result.status == "unphysical" and result.energy is None and not result.frames
        assert "below the plausible floor" in result.reason


def test_the_relaxer_refuses_a_relaxation_that_ends_in_a_hole(sevennet_holes):
    fallen, _ = sevennet_holes
    worst = min((r for r in fallen if r.ok), key=lambda r: r.energy / len(r.atoms))
    judged = relax_batch([worst.atoms], EMT(), max_steps=0, guards=RelaxGuards(max_seconds=None))[0]
    assert judged.status == "too_close" and "covalent radii" in judged.reason and judged.energy is None


def test_repulsion_is_zero_on_real_crystals_and_matches_finite_differences():
    repulsion = ShortRangeRepulsion()
    for prototype in _usable_prototypes():
        if shortest_contact(prototype.atoms)[0] >= CONTACT_FACTOR:
            energy, forces, stress = repulsion(prototype.atoms)
            assert energy == 0.0 and not forces.any() and not stress.any(), prototype.name
    atoms = bulk("NaCl", "rocksalt", a=5.64) * (1, 1, 2)
    atoms.positions[0] = atoms.positions[1] + [0.9, 0.3, 0.2]
    energy, forces, stress = repulsion(atoms)
    assert energy > 0
    h = 1e-5
    for index, axis in [(0, 0), (1, 1), (0, 2)]:
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[index, axis] += h
        minus.positions[index, axis] -= h
        assert forces[index, axis] == pytest.approx(-(repulsion(plus)[0] - repulsion(minus)[0]) / (2 * h), rel=1e-5)
    strain = np.eye(3)
    strain[0, 0] += h
    plus = atoms.copy()
    plus.set_cell(atoms.cell[:] @ strain.T, scale_atoms=True)
    strain[0, 0] -= 2 * h
    minus = atoms.copy()
    minus.set_cell(atoms.cell[:] @ strain.T, scale_atoms=True)
    numeric = (repulsion(plus)[0] - repulsion(minus)[0]) / (2 * h) / atoms.get_volume()
    assert stress[0, 0] == pytest.approx(numeric, rel=1e-5)


def test_repulsion_leaves_a_sane_relaxation_unchanged():
    """EMT copper relaxed with and without the repulsion: the same energy to 0.1 meV/atom and the same frames."""
    start = bulk("Cu", "fcc", a=3.7, cubic=True)
    start.rattle(0.05, seed=1)
    plain, repelled = (relax_batch([start], EMT(), guards=RelaxGuards(repulsion=strength))[0]
                       for strength in (None, 100.0))
    assert plain.ok and repelled.ok
    assert abs(plain.energy - repelled.energy) / len(start) < 1e-4
    assert len(plain.frames) == len(repelled.frames)


# SevenNet-0's hole, recorded: a screening relaxation of O4 on the prior (the Li-O system search, cell volume
# 12.3 Å^3 from the volume scan) ended here at -4917 eV/atom with every contact above the floor (O-O 1.54 Å).
O4_HOLE = Atoms("O4", cell=[[-0.903911, -0.52183, -1.132672], [1.8e-05, 2.085102, -2.264385],
                            [1.807432, -1.043415, -2.265156]],
                scaled_positions=[[5.3e-05, 0.999978, 0.999978], [0.999948, 2.2e-05, 0.500022],
                                  [0.999946, 0.500022, 2.2e-05], [5.3e-05, 0.499978, 0.499978]], pbc=True)
# the lowest energies per atom on the Materials Project's scale: dense 5d and 4f metals
DENSE_METALS = {"W": bulk("W", "bcc", a=3.17), "Re": bulk("Re", "hcp", a=2.76, c=4.46),
                "Os": bulk("Os", "hcp", a=2.74, c=4.32), "Gd": bulk("Gd", "hcp", a=3.63, c=5.78)}


@pytest.mark.parametrize("name", ["sevennet", "chgnet"])
def test_the_energy_floor_lies_below_every_real_solid(name):
    """The potentials' floor (``min_energy_per_atom``) leaves at least 5 eV/atom below the lowest real solids on
    their scale (W, Re, Os, Gd: -10 to -15 eV/atom)."""
    calculator = get_calculator(name)
    floor = CALCULATORS[name].min_energy_per_atom
    structures = list(DENSE_METALS.values())
    energies = [energy / len(a) for a, (energy, _, _) in zip(structures, batch_evaluator(calculator)(structures))]
    assert all(floor + 5.0 < e < -5.0 for e in energies), dict(zip(DENSE_METALS, energies))


def test_a_recorded_hole_below_the_floor_is_refused_with_its_reason():
    """The O4 hole is refused by the floor alone (no batch to judge it by), and the volume scan drops it."""
    calculator = get_calculator("sevennet")
    floor = CALCULATORS["sevennet"].min_energy_per_atom
    result = relax_batch([O4_HOLE], calculator, max_steps=0,
                         guards=RelaxGuards(min_energy_per_atom=floor, max_seconds=None))[0]
    assert contact_problem(result.atoms) is None  # the contact test cannot see it
    assert result.status == "unphysical" and result.energy is None and not result.frames
    assert f"below {floor}" in result.reason
    scanned = scan_energies([O4_HOLE], batch_evaluator(calculator), factors=(0.9, 1.0, 1.1), problem=None,
                            floor=floor)
    unguarded = scan_energies([O4_HOLE], batch_evaluator(calculator), factors=(0.9, 1.0, 1.1), problem=None)
    assert unguarded[0][1] < floor and scanned[0][1] is None


def test_the_relax_script_holds_every_relaxation_to_the_calculators_floor(tmp_path, monkeypatch):
    """Guards that do not name the floor (the random structures' scan passes the search's own) still get the
    calculator's: the recorded O4 hole is refused by ``cryspai-relax``, and named bounds still win."""
    import json

    from ase.io import write

    from aiida_cryspai.executables import relax

    monkeypatch.chdir(tmp_path)
    hole = O4_HOLE.copy()
    hole.info["key"] = "hole"
    write("structures.xyz", [hole], format="extxyz")
    for guards, status in (({"max_seconds": None}, "unphysical"), ({"min_energy_per_atom": None}, "ok")):
        (tmp_path / "parameters.json").write_text(json.dumps({"calculator": "sevennet", "max_steps": 0,
                                                              "guards": guards}))
        relax.main([])
        result = json.loads((tmp_path / "results.json").read_text())["hole"]
        assert result["status"] == status, result

"""Real Abinit (Debian 9.6.2) through aiida-abinit's AbinitCalculation as fixed in
``calculations/abinit.py`` and ``parsers/abinit.py``.

One test per defect of aiida-abinit 0.5.0 with aiida-core 2.9 / abipy 1.0 (see that module's docstring).
"""

import shutil

import numpy as np
import pytest
from ase.build import bulk

needs_abinit = pytest.mark.skipif(shutil.which("abinit") is None, reason="Debian's abinit is not installed")

SCF = {"ecut": 10.0, "toldfe": 1.0e-8, "nstep": 40, "chksymtnons": 0}
RELAX = {**SCF, "ionmov": 2, "ntime": 30, "tolmxf": 1.0e-4, "optcell": 0}


@pytest.fixture
def abinit_inputs(aiida_profile_clean):
    from aiida import orm

    from aiida_cryspai.cli.profile import ensure_abinit_code, ensure_computer
    from aiida_cryspai.engines.pseudos import abinit_family_label, install_abinit_families, pseudos_for

    install_abinit_families(log=lambda _: None)
    code = ensure_abinit_code(ensure_computer())

    def make(atoms, parameters, mesh=(2, 2, 2), **options):
        kpoints = orm.KpointsData()
        kpoints.set_kpoints_mesh(list(mesh), offset=[0.0, 0.0, 0.0])
        return {
            "code": code,
            "structure": orm.StructureData(ase=atoms),
            "kpoints": kpoints,
            "parameters": orm.Dict(parameters),
            "pseudos": pseudos_for(abinit_family_label("PBE"), atoms.get_chemical_symbols()),
            "metadata": {"options": {"resources": {"num_machines": 1}, "max_wallclock_seconds": 600, **options}},
        }

    return make


def test_left_handed_cells_are_written_right_handed():
    from aiida_cryspai.analysis.compare import unique_indices
    from aiida_cryspai.calculations.abinit import right_handed

    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.positions[0] += [0.1, 0.0, 0.0]
    left = atoms.copy()
    left.set_cell(atoms.cell[:][[0, 2, 1]], scale_atoms=False)
    left.set_scaled_positions(atoms.get_scaled_positions()[:, [0, 2, 1]])
    assert np.linalg.det(left.cell[:]) < 0
    fixed = right_handed(left)
    assert np.linalg.det(fixed.cell[:]) > 0
    assert np.allclose(fixed.positions, left.positions)  # the same atoms, in the same places
    assert unique_indices([atoms, fixed]) == [0]


def test_bands_for_smearing_leave_the_highest_empty():
    from aiida_cryspai.engines.abinit import bands_for_smearing

    assert bands_for_smearing(8) == 8  # Si2: 4 occupied + 4
    assert bands_for_smearing(96) == 58  # 48 occupied, 20 % more
    assert bands_for_smearing(7) == 8  # odd: 4 partly occupied + 4


def _displaced_si2():
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.positions[1] += [0.08, 0.05, -0.04]
    return atoms


@needs_abinit
def test_input_is_written_as_given(abinit_inputs, tmp_path, monkeypatch):
    """(a) no outdata/indata/tmpdata prefixes, (b) the user's ecut, (c) the 8-atom cell not reduced."""
    from aiida.engine import run_get_node

    monkeypatch.chdir(tmp_path)  # a dry run writes submit_test/ into the working directory

    from aiida_cryspai.calculations.abinit import CryspaiAbinitCalculation

    inputs = abinit_inputs(bulk("Si", "diamond", a=5.43, cubic=True), {**SCF, "ecut": 15.0})
    inputs["metadata"]["dry_run"] = True
    inputs["metadata"]["store_provenance"] = False
    _, node = run_get_node(CryspaiAbinitCalculation, **inputs)
    folder = node.dry_run_info["folder"]
    text = open(f"{folder}/aiida.in").read()
    assert "natom 8" in text and "ecut 15.0" in text
    assert "outdata_prefix" not in text and "indata_prefix" not in text and "tmpdata_prefix" not in text
    assert 'pseudos "Si.psp8"' in text
    assert not node.get_option("withmpi")


@needs_abinit
def test_si2_relaxation_lowers_the_energy_and_returns_a_trajectory(abinit_inputs):
    """A real relaxation: exit 0, energy down along the trajectory (d: TrajectoryData built), forces small."""
    from aiida.engine import run_get_node

    from aiida_cryspai.calculations.abinit import CryspaiAbinitCalculation

    results, node = run_get_node(CryspaiAbinitCalculation, **abinit_inputs(_displaced_si2(), RELAX))
    assert node.exit_status == 0, node.exit_message
    trajectory = results["output_trajectory"]
    energies = trajectory.get_array("energy")
    assert len(energies) >= 2 and energies[-1] < energies[0] - 1e-3
    assert list(trajectory.symbols) == ["Si", "Si"]
    assert np.abs(trajectory.get_array("forces")[-1]).max() < 0.01  # tolmxf 1e-4 Ha/bohr = 5 meV/A
    assert results["output_parameters"]["energy"] == pytest.approx(energies[-1], abs=1e-4)
    relaxed = results["output_structure"].get_ase()
    assert len(relaxed) == 2
    # the relaxed Si-Si distance is that of diamond (a = 5.43 A: 2.351 A)
    assert relaxed.get_distance(0, 1, mic=True) == pytest.approx(5.43 * np.sqrt(3) / 4, abs=0.02)


@needs_abinit
def test_scf_non_convergence_is_exit_500(abinit_inputs):
    from aiida.engine import run_get_node

    from aiida_cryspai.calculations.abinit import CryspaiAbinitCalculation

    _, node = run_get_node(CryspaiAbinitCalculation, **abinit_inputs(_displaced_si2(), {**SCF, "nstep": 2}))
    assert node.exit_status == 500


@needs_abinit
def test_ionic_non_convergence_is_exit_501_with_its_frames(abinit_inputs):
    from aiida.engine import run_get_node

    from aiida_cryspai.calculations.abinit import CryspaiAbinitCalculation

    results, node = run_get_node(CryspaiAbinitCalculation, **abinit_inputs(_displaced_si2(), {**RELAX, "ntime": 1}))
    assert node.exit_status == 501
    assert len(results["output_trajectory"].get_array("energy")) >= 1


@needs_abinit
def test_an_abinit_error_is_exit_304(abinit_inputs):
    from aiida.engine import run_get_node

    from aiida_cryspai.calculations.abinit import CryspaiAbinitCalculation

    _, node = run_get_node(CryspaiAbinitCalculation, **abinit_inputs(_displaced_si2(), {**SCF, "ecut": -1.0}))
    assert node.exit_status == 304

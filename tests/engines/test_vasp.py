"""The ``vasp`` engine without a VASP licence: the inputs as written (dry run, a POTCAR of header lines only) and
recorded real VASP outputs replayed by ``mock_vasp.py`` through aiida-vasp's VaspWorkChain and the oracle."""

import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from .mock_vasp import read_incar, read_kpoints_mesh, read_poscar

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vasp"
MOCK = Path(__file__).parent / "mock_vasp.py"
FAMILY = "PBE.headers"
# The header of the PAW_PBE Si 05Jan2001 POTCAR (what parsevasp and the volume estimate read); no projector data.
SI_POTCAR_HEADER = """  PAW_PBE Si 05Jan2001
 4.00000000000000000
 parameters from PSCTR are:
   VRHFIN =Si: s2p2
   LEXCH  = PE
   EATOM  =   103.0669 eV,    7.5752 Ry

   TITEL  = PAW_PBE Si 05Jan2001
   LULTRA =        F    use ultrasoft PP ?
   IUNSCR =        1    unscreen: 0-lin 1-nonlin 2-no
   RPACOR =    1.500    partial core radius
   POMASS =   28.085; ZVAL   =    4.000    mass and valenz
   RCORE  =    1.900    outmost cutoff radius
   RWIGS  =    2.480; RWIGS  =    1.312    wigner-seitz radius (au A)
   ENMAX  =  245.345; ENMIN  =  184.009 eV
   LCOR   =        T    correct aug charges
   LPAW   =        T    paw PP
   EAUG   =  322.069
   DEXC   =    0.000
   RMAX   =    1.950    core radius for proj-oper
   RAUG   =    1.300    factor for augmentation sphere
   RDEP   =    1.993    radius for radial grids
   RDEPT  =    1.837    core radius for aug-charge
 END of PSCTR-controll parameters
 End of Dataset
"""
# The INCAR tags of the recorded runs (tests/fixtures/vasp), given as engine overrides
SI2_RUN = {"kpoints_distance": 0.2, "cell_relaxation": "fixed",
           "parameters": {"isif": 1, "nsw": 2, "encut": 240, "ismear": 0, "sigma": 0.1, "ediffg": -1.0e-4}}
SI8_RUN = {"kpoints_distance": 0.17, "cell_relaxation": "full",
           "parameters": {"prec": "Accurate", "algo": "Very_Fast", "ibrion": 1, "ediffg": -0.01, "nsw": 18,
                          "encut": 350, "nedos": 1000, "emin": -10, "emax": 10, "ismear": 0}}


@pytest.fixture
def potcar_family(aiida_profile_clean, tmp_path):
    """An aiida-vasp POTCAR family whose Si POTCAR holds the header lines only."""
    from aiida_vasp.data.potcar import PotcarData

    folder = tmp_path / "potcars" / FAMILY / "Si"
    folder.mkdir(parents=True)
    (folder / "POTCAR").write_text(SI_POTCAR_HEADER)
    PotcarData.upload_potcar_family(str(folder.parent), FAMILY, "header lines only")
    return FAMILY


@pytest.fixture
def mock_vasp_code(potcar_family, tmp_path):
    """``mock-vasp@localhost``: an executable that replays the recorded runs of tests/fixtures/vasp."""
    from aiida.orm import InstalledCode

    from aiida_cryspai.cli.profile import ensure_computer

    script = tmp_path / "mock-vasp"
    script.write_text(f"#!/bin/sh\nexec {sys.executable} {MOCK} {FIXTURES}\n")
    script.chmod(0o755)
    return InstalledCode(computer=ensure_computer(), filepath_executable=str(script), label="mock-vasp",
                         default_calc_job_plugin="vasp.vasp").store()


def _parameters(overrides: dict, protocol: str = "precise") -> dict:
    return {"dft_protocol": protocol, "vasp": {"potential_family": FAMILY, **overrides}}


def _recorded_si2():
    from ase.io import read

    return read(FIXTURES / "si2-relax" / "inp" / "POSCAR", format="vasp")


def _recorded_si8():
    from ase.io import read

    return read(FIXTURES / "relax-not-converged" / "vasprun.xml", index=0)  # its initial structure, as run


def test_vasp_settings_are_the_papers_and_checked():
    from aiida_cryspai.engines.vasp import VaspEngine

    engine = VaspEngine()
    precise = engine.settings({"dft_protocol": "precise"})
    incar = engine.incar(precise)
    assert incar["prec"] == "Accurate" and incar["ibrion"] == 2 and incar["nsw"] == 100
    assert incar["ediff"] == 1.0e-6 and incar["isif"] == 4  # fixed volume, shape relaxed
    assert precise["kpoints_distance"] == 0.1
    assert engine.incar(engine.settings({"vasp": {"cell_relaxation": "full"}}))["isif"] == 3
    assert engine.incar(engine.settings({"vasp": {"parameters": {"ENCUT": 520}}}))["encut"] == 520  # any INCAR tag
    with pytest.raises(ValueError, match="cell_relaxation"):
        engine.settings({"vasp": {"cell_relaxation": "volume"}})
    with pytest.raises(ValueError, match="kpoints_distance"):
        engine.settings({"vasp": {"kpoints_distance": 0}})


def test_frames_are_read_from_the_recorded_vasprun():
    """Every ionic step, energy F, forces and stress (ASE's sign and units) of a real vasprun.xml."""
    from aiida_cryspai.engines.dft import vasprun_frames

    frames = vasprun_frames((FIXTURES / "relax-not-converged" / "vasprun.xml").read_bytes())
    assert len(frames["energies"]) == 19 and frames["positions"].shape == (19 * 8, 3)
    assert frames["energies"][0] == pytest.approx(-42.91232, abs=1e-5)
    assert frames["energies"][-1] < frames["energies"][0]  # the relaxation lowered the energy
    si2 = vasprun_frames((FIXTURES / "si2-relax" / "out" / "vasprun.xml").read_bytes())
    assert si2["energies"][-1] == pytest.approx(-10.817916, abs=1e-6)  # F of the recorded OSZICAR
    assert np.abs(si2["forces"][:, 2]).max() == pytest.approx(0.347295, abs=1e-5)
    # vasprun stress -16.25 kB (xx) is tension-free compression in VASP's sign: ASE's is +1.625 GPa
    assert si2["stress"][0, 0] == pytest.approx(16.25328411 * 0.1 / 160.21766, rel=1e-5)


def test_run_status_is_read_from_vasprun_without_an_outcar():
    """aiida-vasp 5.1 reads the run status from the OUTCAR only; cryspai.vasp reads it from vasprun.xml too."""
    from aiida_cryspai.parsers.vasp import vasprun_run_status

    with open(FIXTURES / "relax-not-converged" / "vasprun.xml", "rb") as handle:
        status = vasprun_run_status(handle)
    assert status["finished"] and status["electronic_converged"] and status["ionic_converged"] is False
    assert (status["nelm"], status["nsw"], status["nbands"]) == (60, 18, 21)
    assert status["last_iteration_index"] == [19, 3] and not status["contains_nelm_breach"]
    with open(FIXTURES / "si2-relax" / "out" / "vasprun.xml", "rb") as handle:
        si2 = vasprun_run_status(handle)
    from parsevasp.outcar import Outcar  # the OUTCAR's status, as aiida-vasp reads it, agrees where they can

    outcar = Outcar(file_path=str(FIXTURES / "si2-relax" / "out" / "OUTCAR")).get_run_status()
    same = ("nelm", "nbands", "last_iteration_index", "finished", "electronic_converged", "contains_nelm_breach")
    assert {key: si2[key] for key in same} == {key: outcar[key] for key in same}
    # (this recording's vasprun.xml says NSW = 1 where its INCAR and OUTCAR say 2: not compared)


def test_core_radius_of_a_potcar_for_eq2(potcar_family):
    """Eq. 2's radius from a POTCAR is its RCORE (bohr): Si 1.9 bohr = 1.005 A."""
    from aiida_cryspai.calcfunctions.volume import core_radius
    from aiida_cryspai.engines.vasp import VaspEngine

    engine = VaspEngine()
    (potcar,) = engine.pseudopotentials(engine.settings({"vasp": {"potential_family": potcar_family}}),
                                        ["Si"]).values()
    assert core_radius(potcar) == pytest.approx(1.9 * 0.529177, abs=1e-4)
    from aiida_cryspai.engines.pseudos import PseudoError

    with pytest.raises(PseudoError, match="no POTCAR for Ti"):
        engine.pseudopotentials(engine.settings({"vasp": {"potential_family": potcar_family}}), ["Ti", "Si"])
    with pytest.raises(PseudoError, match="no POTCAR family 'PBE.54'"):
        engine.pseudopotentials(engine.settings({}), ["Si"])


def test_dry_run_writes_the_papers_incar_kpoints_poscar_and_potcar(potcar_family, mock_vasp_code, tmp_path,
                                                                   monkeypatch):
    from aiida import orm
    from aiida.engine import run_get_node
    from aiida.plugins import CalculationFactory

    from aiida_cryspai.engines.vasp import VaspEngine

    monkeypatch.chdir(tmp_path)  # a dry run writes submit_test/ into the working directory
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.positions[3] += [0.1, -0.05, 0.02]
    inputs = VaspEngine().calculation_inputs(orm.StructureData(ase=atoms), _parameters({}), mock_vasp_code, {})
    inputs["metadata"].update({"dry_run": True, "store_provenance": False})
    _, node = run_get_node(CalculationFactory("vasp.vasp"), **inputs)
    folder = Path(node.dry_run_info["folder"])

    incar = read_incar((folder / "INCAR").read_text())
    assert incar["PREC"].lower().startswith("accurate") and incar["IBRION"] == "2" and incar["NSW"] == "100"
    assert float(incar["EDIFF"]) == 1.0e-6 and incar["ISIF"] == "4"
    kpoints = (folder / "KPOINTS").read_text()
    assert kpoints.splitlines()[2].strip().lower().startswith("g")  # Gamma-centred, as VASP's KSPACING
    # VASP's KSPACING rule: N_i = max(1, ceil(|b_i| 2 pi / KSPACING)); a = 5.43 A: 2 pi / 5.43 / 0.1 = 11.57
    reciprocal = np.linalg.norm(np.linalg.inv(atoms.cell[:]).T, axis=1) * 2 * np.pi
    assert read_kpoints_mesh(kpoints) == [max(1, int(np.ceil(b / 0.1))) for b in reciprocal] == [12, 12, 12]
    poscar = read_poscar((folder / "POSCAR").read_text())
    assert poscar["species"] == ["Si"] * 8
    assert np.allclose(poscar["cell"], atoms.cell[:])
    assert np.allclose(poscar["fractional"] % 1.0, atoms.get_scaled_positions() % 1.0, atol=1e-8)
    potcar = (folder / "POTCAR").read_text()
    assert "TITEL  = PAW_PBE Si 05Jan2001" in potcar and "End of Dataset" in potcar
    assert potcar.count("TITEL") == 1  # one element, written once


def _run_oracle(code, structures: dict, overrides: dict):
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_cryspai.workchains.oracle import OracleWorkChain

    return run_get_node(OracleWorkChain, engine=orm.Str("vasp"), code=code, parameters=orm.Dict(_parameters(overrides)),
                        structures={key: orm.StructureData(ase=atoms) for key, atoms in structures.items()},
                        max_parallel=orm.Int(2))


def test_recorded_si2_run_replayed_end_to_end_and_a_crashed_run_recorded(mock_vasp_code):
    """si2: parsed by aiida-vasp, energy F and frames into the oracle's outputs; si2_moved: inputs no recorded run
    has (VASP 'crashes', no outputs): a failed point with its reason, nothing of it in the dataset."""
    moved = _recorded_si2()
    moved.positions[1] += [0.05, 0.0, 0.0]
    results, node = _run_oracle(mock_vasp_code, {"si2": _recorded_si2(), "si2_moved": moved}, SI2_RUN)
    assert node.is_finished_ok, node.exit_message
    assert set(results["energies"]) == {"si2"}
    assert results["energies"]["si2"].value == pytest.approx(-10.817916, abs=1e-6)
    frames = results["frames"]["relaxations"].to_arrays()
    assert len(frames["energies"]) == 1 and set(frames["sources"]) == {"si2"}
    assert np.abs(frames["forces"][:, 2]).max() == pytest.approx(0.347295, abs=1e-5)
    relaxed = results["relaxed_structures"]["si2"].get_ase()
    assert relaxed.get_chemical_symbols() == ["Si", "Si"]
    summary = results["results"]["relaxations"].get_dict()
    assert summary["si2"]["status"] == "ok" and summary["si2"]["n_steps"] == 1
    assert summary["si2_moved"]["status"] == "failed" and "exit" in summary["si2_moved"]["reason"]


def test_ionic_non_convergence_restarts_from_the_last_structure(mock_vasp_code):
    """The recorded Si8 run stopped at NSW = 18 unconverged: aiida-vasp's handler restarts from its last structure
    (a run no recording has: VASP 'crashes'), and when the restarts run out the point fails with its reason."""
    from aiida.orm import CalcJobNode

    _, node = _run_oracle(mock_vasp_code, {"si8": _recorded_si8()}, {**SI8_RUN, "max_restarts": 1})
    assert node.exit_status == 400  # its only structure failed: reported, not raised
    (relax,) = [n for n in node.called if n.process_label == "VaspWorkChain"]
    assert not relax.is_finished_ok
    calculations = sorted((n for n in relax.called if isinstance(n, CalcJobNode)), key=lambda n: n.ctime)
    assert len(calculations) == 2
    assert calculations[0].exit_status == 702  # ionic relaxation not converged
    last = calculations[0].outputs.structure.get_ase()
    assert np.allclose(calculations[1].inputs.structure.get_ase().positions, last.positions)
    assert not np.allclose(last.positions, _recorded_si8().positions, atol=1e-3)  # it had moved

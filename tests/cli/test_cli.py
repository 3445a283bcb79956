"""``cryspai predict`` writes the results.json of DESIGN.md and the CIFs; bad input leaves nothing behind."""

import json

import pytest
import yaml
from aiida.orm import QueryBuilder, WorkChainNode
from ase.io import read
from click.testing import CliRunner

from aiida_cryspai.cli.main import cryspai

from ..parameters import TINY

RESULT_KEYS = {"composition", "engine", "prior", "protocol", "seed", "pressure_gpa", "workchain", "oracle",
               "iterations", "converged", "converged_by", "model", "volume", "refinement", "ga_failures", "candidates",
               "plots"}
CANDIDATE_KEYS = {"rank", "energy_per_atom", "enthalpy_per_atom", "volume_per_atom", "spacegroup_number",
                  "spacegroup_symbol", "crystal_system", "oracle_verified", "refined", "origin", "cif", "uuid"}


def _count_runs() -> int:
    return QueryBuilder().append(WorkChainNode, filters={"attributes.process_label": "CrySPAIWorkChain"}).count()


def _profile_contents() -> tuple:
    """What a read-only command must leave alone: the nodes, the computers and the codes (with their labels)."""
    from aiida.orm import Computer, InstalledCode, Node

    nodes = QueryBuilder().append(Node, project=["id"]).count()
    computers = sorted(c.label for c in QueryBuilder().append(Computer).all(flat=True))
    codes = sorted(c.full_label for c in QueryBuilder().append(InstalledCode).all(flat=True))
    return nodes, computers, codes


@pytest.mark.parametrize("command", [["show"], ["export", "{folder}"], ["report", "--output", "{folder}/r.html"]])
def test_read_only_commands_change_nothing_and_refuse_what_is_not_a_run(aiida_profile_clean, tmp_path, command):
    """On a bare profile (no computer, no code) and on a set-up one, show/export/report of a pk that is no run (a
    code, a structure, nothing) or of an unknown UUID end in one clear line and leave the profile as it was."""
    from aiida.orm import StructureData

    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    structure = StructureData(cell=[[3, 0, 0], [0, 3, 0], [0, 0, 3]])
    structure.append_atom(position=(0, 0, 0), symbols="Cu")
    structure.store()
    for set_up in (False, True):
        if set_up:
            code = ensure_codes(ensure_computer())["relax"]
        before = _profile_contents()
        targets = [str(structure.pk), "999999", "12345678-1234-1234-1234-123456789abc"] + ([str(code.pk)] if set_up
                                                                                            else [])
        for target in targets:
            arguments = [part.format(folder=tmp_path / "out") for part in command]
            result = CliRunner().invoke(cryspai, [arguments[0], target, *arguments[1:]])
            assert result.exit_code == 2, (target, result.output)
            errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
            assert len(errors) == 1 and "RUN" in errors[0], result.output
            assert "Traceback" not in result.output
        assert _profile_contents() == before, (set_up, before, _profile_contents())
    assert not (tmp_path / "out").exists()


def test_predict_writes_results_and_cifs(aiida_profile, tmp_path):
    """Cu4 with EMT, started from the prototype library and a seed file (a 2-atom hcp cell, doubled): every
    candidate says where it came from, and the seed file's structure is ranked at EMT's own hcp energy (relaxed
    here; that the loop finds a ground state by itself is tested from random structures alone in test_main)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.io import write

    from aiida_cryspai.ml.relax import relax

    parameters = tmp_path / "tiny.yaml"
    parameters.write_text(yaml.safe_dump({**TINY, "volume_method": "scan"}))
    output = tmp_path / "out"
    hcp = bulk("Cu", "hcp", a=2.6, c=4.2)
    write(tmp_path / "POSCAR", hcp, format="vasp")
    result = CliRunner().invoke(cryspai, ["predict", "Cu4", "--engine", "ase:emt", "--seed", "2", "--parameters",
                                          str(parameters), "--templates", "prototypes", "--seed-structures",
                                          str(tmp_path / "POSCAR"), "--output", str(output)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads((output / "results.json").read_text())
    assert set(data) == RESULT_KEYS
    assert data["composition"] == "Cu4" and data["engine"] == "ase:emt" and data["protocol"] == "fast"
    assert data["seed"] == 2 and data["pressure_gpa"] == 0.0 and data["ga_failures"] == []
    assert set(data["workchain"]) == {"pk", "uuid", "exit_status"} and data["workchain"]["exit_status"] == 0
    assert set(data["oracle"]) == {"relaxations", "ionic_steps", "wall_s"}
    assert data["oracle"]["relaxations"] >= 7 and data["oracle"]["ionic_steps"] > data["oracle"]["relaxations"]
    assert set(data["model"]) == {"rmse_mev_per_atom", "n_train"} and data["model"]["n_train"] > 0
    assert set(data["volume"]) == {"estimated", "method", "eq2", "final_best"}
    assert data["candidates"], "no candidates"
    for rank, candidate in enumerate(data["candidates"], start=1):
        assert set(candidate) == CANDIDATE_KEYS
        assert candidate["rank"] == rank
        atoms = read(output / candidate["cif"])
        assert sorted(atoms.get_chemical_symbols()) == ["Cu"] * 4
    energies = [c["energy_per_atom"] for c in data["candidates"]]
    assert energies == sorted(energies)
    assert all(c["enthalpy_per_atom"] == c["energy_per_atom"] for c in data["candidates"])  # at 0 GPa
    origins = [c["origin"] for c in data["candidates"]]
    assert all(origins) and any(o == "seed file POSCAR" for o in origins), origins
    assert any(o.startswith("prototype ") for o in origins)
    assert all(o.startswith(("seed file", "prototype ", "random (space group ", "GA generation ")) for o in origins)
    emt_hcp = relax(hcp, EMT(), fmax=0.005, max_steps=300, record_frames=False)
    seeded = [c for c in data["candidates"] if c["origin"] == "seed file POSCAR"]
    assert seeded and seeded[0]["energy_per_atom"] == pytest.approx(emt_hcp.energy / len(hcp), abs=0.001)
    assert energies[0] <= seeded[0]["energy_per_atom"]
    # the starting volume is EMT's own (the scan of the known structures), not Eq. 2's
    assert data["volume"]["method"] == "scan"
    per_atom = emt_hcp.atoms.get_volume() / len(hcp)
    assert abs(data["volume"]["estimated"] / 4 - per_atom) < 0.05 * per_atom, (data["volume"], per_atom)

    # show and export work on the finished run, by pk and by UUID, and change nothing in the profile
    pk = str(data["workchain"]["pk"])
    before = _profile_contents()
    shown = CliRunner().invoke(cryspai, ["show", pk], catch_exceptions=False)
    assert shown.exit_code == 0 and "oracle_relaxations_done" in shown.output
    again = tmp_path / "again"
    exported = CliRunner().invoke(cryspai, ["export", data["workchain"]["uuid"], str(again)], catch_exceptions=False)
    assert exported.exit_code == 0
    assert json.loads((again / "results.json").read_text()) == data
    assert _profile_contents() == before


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["Xx4"], "unknown element 'Xx'"),
        (["Si0"], "zero atoms"),
        (["si8"], "malformed composition"),
        (["Si8", "--volume", "-3"], "volume must be positive"),
        (["Si8", "--volume", "0"], "volume must be positive"),
        (["Si8", "--crystal-system", "hexa"], "unknown crystal system 'hexa'"),
        (["Si8", "--engine", "vasp2"], "unknown engine 'vasp2'"),
        (["Si8", "--protocol", "slow"], "unknown protocol 'slow'"),
        (["Si8", "--max-oracle-calls", "0"], "at least 2"),
        (["Si8", "--engine", "ase:emt"], "engine ase:emt cannot compute Si"),
        (["Si8", "--pressure", "5000"], "between -100 and 1000 GPa, got 5000.0 GPa"),
        (["Si8", "--pressure", "nan"], "between -100 and 1000 GPa"),
        (["Si8", "--pressure", "10", "--engine", "abinit", "--parameters", "FIXED_CELL"], "cell_relaxation fixed"),
        # a chemical system
        (["Cu-Si", "--engine", "ase:emt", "--max-atoms", "4"], "engine ase:emt cannot compute Si"),
        (["Cu-Au", "--engine", "ase:chgnet", "--prior", "ase:chgnet", "--max-atoms", "4"], "the oracle's own model"),
        (["Cu", "--max-atoms", "4"], "are for a chemical system"),
        (["Cu-Cu", "--max-atoms", "4"], "appears twice"),
        (["Cu-Au", "--engine", "ase:emt", "--max-atoms", "1"], "--max-atoms must be between 2"),
        (["Cu-Au", "--engine", "ase:emt", "--max-atoms", "400"], "--max-atoms must be between 2"),
        (["Cu-Au", "--engine", "ase:emt"], "give --max-atoms N"),
        (["Cu-Au", "--engine", "ase:emt", "--compositions", "Cu2,Au2,Cu1Ag1"], "Ag, not an element of the system"),
        (["Cu-Au", "--engine", "ase:emt", "--compositions", "Cu2,Cu1Au1"], "needs each element alone"),
        (["Cu-Au", "--engine", "ase:emt", "--max-atoms", "4", "--volume", "40"], "apply to one composition"),
    ],
)
def test_bad_input_is_refused_before_anything_is_stored(aiida_profile, tmp_path, arguments, fragment):
    if "FIXED_CELL" in arguments:
        path = tmp_path / "fixed.yaml"
        path.write_text("oracle: {abinit: {cell_relaxation: fixed}}")
        arguments = [str(path) if a == "FIXED_CELL" else a for a in arguments]
    before = _count_runs()
    result = CliRunner().invoke(cryspai, ["predict", *arguments])
    assert result.exit_code != 0
    assert fragment in result.output
    assert result.output.count("Error") == 1
    assert _count_runs() == before


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("ga: {n_generations: -3}", "ga.n_generations: Input should be greater than or equal to 0 (got -3)"),
        ("ga: {n_generations: many}", "ga.n_generations: Input should be a valid integer (got 'many')"),
        ("max_parallel_oracle: 0", "max_parallel_oracle: Input should be greater than or equal to 1"),
        ("training: {optimizer: sgd}", "training.optimizer: Input should be 'lbfgs', 'adam' or 'swarm'"),
        ("guard_volume_range: [0.5]", "guard_volume_range: List should have at least 2 items"),
        ("ga: {n_trail: 3}", "unknown parameter 'ga.n_trail'"),
        ("ga: {n_trial: 10\nlocal: [", "line 2, column 6: expected ',' or '}'"),
        ("- 1\n- 2", "must hold a mapping of protocol values"),
    ],
)
def test_bad_parameters_file_is_refused_before_anything_is_stored(aiida_profile, tmp_path, content, fragment):
    path = tmp_path / "p.yaml"
    path.write_text(content)
    before = _count_runs()
    result = CliRunner().invoke(cryspai, ["predict", "Cu4", "--engine", "ase:emt", "--parameters", str(path),
                                          "--output", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output and result.output.count("Error") == 1
    assert _count_runs() == before


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--seed", "-1"], "--seed"),
        (["--output", "/proc/nope"], "cannot write to /proc/nope"),
        (["--reference", "{tmp}/not-a-structure.cif"], "cannot read"),
        (["--reference", "{tmp}/si.cif"], "not the composition of Cu4"),
        (["--seed-structures", "{tmp}/si.cif"], "si.cif is Si (Si2), not Cu"),
        (["--seed-structures", "{tmp}/not-a-structure.cif"], "cannot be read"),
        (["--templates", "library"], "--templates"),
    ],
)
def test_bad_arguments_are_refused_before_the_run(aiida_profile, tmp_path, arguments, fragment):
    from ase.build import bulk

    (tmp_path / "not-a-structure.cif").write_text("nothing here\n")
    bulk("Si").write(tmp_path / "si.cif")
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    before = _count_runs()
    result = CliRunner().invoke(cryspai, ["predict", "Cu4", "--engine", "ase:emt", *arguments])
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert _count_runs() == before


def test_daemon_run_without_a_daemon_says_how_to_start_it(aiida_profile, tmp_path):
    from aiida.engine.daemon.client import get_daemon_client

    assert not get_daemon_client().is_daemon_running
    before = _count_runs()
    result = CliRunner().invoke(cryspai, ["predict", "Cu4", "--engine", "ase:emt", "--daemon"])
    assert result.exit_code == 1, result.output
    assert "daemon start" in result.output and "Traceback" not in result.output
    assert _count_runs() == before


def test_setup_is_idempotent(aiida_profile):
    first = CliRunner().invoke(cryspai, ["setup"], catch_exceptions=False)
    second = CliRunner().invoke(cryspai, ["setup"], catch_exceptions=False)
    assert first.exit_code == second.exit_code == 0
    # the first run may install the pseudopotential families (one line each); otherwise the same output
    assert [line for line in first.output.splitlines() if " installed (" not in line] == second.output.splitlines()
    assert " installed (" not in second.output
    assert "cryspai-relax@localhost" in first.output


def test_cuda_on_this_machine_without_a_gpu_is_refused_in_one_line(aiida_profile, tmp_path, monkeypatch):
    from aiida_cryspai.ml import device

    monkeypatch.setattr(device, "gpu_available", lambda: False)
    before = _count_runs()
    result = CliRunner().invoke(cryspai, ["predict", "Cu4", "--engine", "ase:emt", "--device", "cuda",
                                          "--output", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "device cuda: torch sees no CUDA GPU on this machine" in result.output
    assert "Traceback" not in result.output and result.output.count("Error") == 1
    assert _count_runs() == before

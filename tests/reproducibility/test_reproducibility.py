"""Same inputs, same answer; a run survives ``verdi archive create``/``import`` into a fresh profile; the graph
leads from a recommended structure back to its oracle calculation, the network that proposed it and that
network's training set; every input that changes a result is recorded.

Everything goes through the installed console scripts in a fresh AiiDA configuration folder, as a user would.
"""

import json
import os
import re
import textwrap
import time

import pytest
import yaml

from ..commands import BIN, run
from ..parameters import TINY


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("config")
    env = dict(os.environ)
    env["AIIDA_PATH"] = str(folder)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    run([BIN / "cryspai", "-p", "first", "setup"], env)
    return env, folder


def _predict(env, folder, composition, engine, seed, name, parameters=TINY):
    path = folder / "parameters.yaml"
    path.write_text(yaml.safe_dump(parameters))
    output = folder / name
    run([BIN / "cryspai", "-p", "first", "predict", composition, "--engine", engine, "--seed", str(seed),
         "--parameters", path, "--output", output], env, timeout=1200)
    return json.loads((output / "results.json").read_text())


@pytest.fixture(scope="module")
def emt_runs(config):
    """Cu4 and Ag4 (seed 3) each alone in the foreground."""
    env, folder = config
    return {composition: _predict(env, folder, composition, "ase:emt", 3, f"{composition}-alone")
            for composition in ("Cu4", "Ag4")}


def _ranking(results: dict) -> list[tuple]:
    return [(c["spacegroup_number"], c["energy_per_atom"]) for c in results["candidates"]]


def _wait_finished(env, pk: str, timeout: float) -> str:
    deadline = time.time() + timeout
    while True:
        shown = run([BIN / "cryspai", "-p", "first", "show", pk], env).stdout
        if re.search(r"state: (finished|excepted|killed)", shown):
            return shown
        assert time.time() < deadline, shown
        time.sleep(5)


@pytest.fixture(scope="module")
def together_runs(config, emt_runs):
    """The same two runs submitted together (``cryspai predict --daemon`` returns at once) to the default (SQLite,
    ZeroMQ) profile's daemon with two workers, each exported when finished."""
    env, folder = config
    path = folder / "parameters-concurrent.yaml"
    path.write_text(yaml.safe_dump(TINY))
    run([BIN / "verdi", "-p", "first", "daemon", "start", "2"], env)
    try:
        pks = {}
        for composition in ("Cu4", "Ag4"):
            start = time.perf_counter()
            submitted = run([BIN / "cryspai", "-p", "first", "predict", composition, "--engine", "ase:emt",
                             "--seed", "3", "--parameters", path, "--daemon"], env).stdout
            assert time.perf_counter() - start < 60  # returns at once, does not wait for the run
            pks[composition] = re.search(r"CrySPAIWorkChain<(\d+)>", submitted).group(1)
        together = {}
        for composition, pk in pks.items():
            shown = _wait_finished(env, pk, 1200)
            assert "exit_status: 0" in shown and "oracle_relaxations_done" in shown, shown
            run([BIN / "cryspai", "-p", "first", "export", pk, folder / f"together-{composition}"], env)
            together[composition] = json.loads((folder / f"together-{composition}" / "results.json").read_text())
            assert together[composition]["workchain"]["pk"] == int(pk) and together[composition]["candidates"]
    finally:
        run([BIN / "verdi", "-p", "first", "daemon", "stop"], env, check=False)
    return together


def test_same_seed_gives_identical_ranking_with_emt(emt_runs, together_runs):
    """The same seed twice (Cu4 in the foreground, then through the daemon beside another run): the same result."""
    first, second = emt_runs["Cu4"], together_runs["Cu4"]
    assert first["workchain"]["uuid"] != second["workchain"]["uuid"]
    assert _ranking(first) == _ranking(second)  # identical energies, not approximately equal
    assert first["oracle"]["relaxations"] == second["oracle"]["relaxations"]
    assert first["oracle"]["ionic_steps"] == second["oracle"]["ionic_steps"]


def test_two_runs_at_once_on_one_profile_equal_the_runs_alone(emt_runs, together_runs):
    """Two runs at once on one profile: both finish, each with the ranking, oracle counts and ionic steps it has when
    it runs alone, and export."""
    for composition in ("Cu4", "Ag4"):
        assert _ranking(together_runs[composition]) == _ranking(emt_runs[composition]), composition
        for count in ("relaxations", "ionic_steps"):
            assert together_runs[composition]["oracle"][count] == emt_runs[composition]["oracle"][count], composition


def _python(env, profile: str, code: str) -> dict:
    script = f"from aiida import load_profile, orm\nload_profile({profile!r})\n" + textwrap.dedent(code)
    return json.loads(run([BIN / "python", "-c", script], env).stdout.strip().splitlines()[-1])


WALK = """
import json
from aiida_cryspai.provenance import trace_candidate
run = orm.load_node({uuid!r})
walks = []
for rank in range(1, len(run.outputs.summary["candidates"]) + 1):
    trace = trace_candidate(run, rank)
    walk = {{"rank": rank, "relax": trace.oracle_calculation.process_label, "oracle": trace.oracle_run.process_label,
             "oracle_called_by_run": trace.oracle_run.caller.uuid == run.uuid,
             "proposed_by": trace.proposed_by.process_label,
             "start_is_oracle_input": trace.start_structure.uuid in
                 [n.uuid for n in trace.oracle_calculation.base.links.get_incoming().all_nodes()]}}
    if trace.model is not None:
        # the proposing GA ran on this network; the network was trained on this dataset, labelled by oracle calcs
        sources = {{s.split("/")[0] for s in trace.training_set.get_array("sources")}}
        walk.update({{"model_used_by_ga": trace.proposed_by.inputs.model.uuid == trace.model.uuid,
                      "training": trace.model.creator.process_label, "n_frames": trace.training_set.n_frames,
                      "source_labels": sorted({{orm.load_node(u).process_label for u in sources}})}})
    walks.append(walk)
print(json.dumps(walks))
"""


def test_archive_round_trip_into_a_fresh_profile(config, emt_runs, tmp_path):
    env, folder = config
    original = emt_runs["Cu4"]
    uuid = original["workchain"]["uuid"]
    archive = tmp_path / "run.aiida"
    run([BIN / "verdi", "-p", "first", "archive", "create", "-N", original["workchain"]["pk"], "--", archive], env)
    run([BIN / "cryspai", "-p", "second", "setup"], env)
    run([BIN / "verdi", "-p", "second", "archive", "import", archive], env)

    shown = run([BIN / "cryspai", "-p", "second", "show", uuid], env).stdout
    assert "finished" in shown and "rank_1" in shown
    exported = tmp_path / "exported"
    run([BIN / "cryspai", "-p", "second", "export", uuid, exported], env)
    again = json.loads((exported / "results.json").read_text())
    assert _ranking(again) == _ranking(original)
    assert {k: v for k, v in again.items() if k != "workchain"} == {k: v for k, v in original.items()
                                                                    if k != "workchain"}
    page = tmp_path / "report.html"
    run([BIN / "cryspai", "-p", "second", "report", uuid, "--output", page], env)
    assert page.read_text().count("canvas class=crystal-view") >= 1

    walks = _python(env, "second", WALK.format(uuid=uuid))
    assert [w["rank"] for w in walks] == list(range(1, len(walks) + 1))
    for walk in walks:
        assert walk["relax"] == "RelaxCalculation" and walk["oracle"] == "OracleWorkChain"
        assert walk["oracle_called_by_run"] and walk["start_is_oracle_input"]
        assert walk["proposed_by"] in ("EvolveCalculation", "generate_random_structures")
    proposed = [w for w in walks if w["proposed_by"] == "EvolveCalculation"]
    assert proposed, f"no candidate leads back to a network: {walks}"
    for walk in proposed:
        assert walk["model_used_by_ga"] and walk["training"] == "TrainCalculation" and walk["n_frames"] > 0
        assert walk["source_labels"] == ["RelaxCalculation"]


RECORDED = """
import json
from aiida_cryspai.protocols import get_protocol
run = orm.load_node(uuid={uuid!r})
jobs = [p for p in run.called_descendants if isinstance(p, orm.CalcJobNode)]
print(json.dumps({{
    "inputs": sorted(run.inputs),
    "seed": run.inputs.seed.value, "protocol": run.inputs.protocol.value, "engine": run.inputs.engine.value,
    "parameters_complete": set(get_protocol(run.inputs.protocol.value)) <= set(run.inputs.parameters.get_dict()),
    "jobs": len(jobs),
    "versions": [j.outputs.versions.get_dict() if "versions" in j.outputs else None for j in jobs],
    "job_parameters": [(j.process_label, j.inputs.parameters.get_dict()) for j in jobs],
}}))
"""


def test_every_result_changing_input_is_recorded(config, emt_runs):
    env, _ = config
    recorded = _python(env, "first", RECORDED.format(uuid=emt_runs["Cu4"]["workchain"]["uuid"]))
    assert recorded["seed"] == 3 and recorded["protocol"] == "fast" and recorded["engine"] == "ase:emt"
    assert recorded["parameters_complete"], "the run's parameters do not hold every protocol value"
    assert recorded["jobs"] >= 5
    for versions in recorded["versions"]:
        assert versions is not None, "a CalcJob did not record its package versions"
        for package in ("python", "aiida-cryspai", "numpy", "torch", "ase", "pymatgen", "spglib", "pyxtal"):
            assert versions[package], package
    # what each script computes with is an input node of its CalcJob
    for label, parameters in recorded["job_parameters"]:
        if label == "RelaxCalculation":
            assert {"calculator", "fmax", "max_steps", "relax_cell", "guards"} <= set(parameters), parameters
        elif label == "TrainCalculation":
            assert "seed" in parameters["training"] and "descriptor" in parameters
        elif label == "EvolveCalculation":
            assert {"seeds", "ga", "local", "volume", "crystal_systems"} <= set(parameters)
            assert set(parameters["seeds"]) == set(parameters["crystal_systems"])  # every GA's seed recorded


@pytest.mark.slow
def test_same_seed_gives_the_same_ranking_with_chgnet(config):
    env, folder = config
    first, second = (_predict(env, folder, "Si2", "ase:chgnet", 5, name) for name in ("chgnet-a", "chgnet-b"))
    assert [c["spacegroup_number"] for c in first["candidates"]] == \
           [c["spacegroup_number"] for c in second["candidates"]]
    for a, b in zip(first["candidates"], second["candidates"]):
        assert abs(a["energy_per_atom"] - b["energy_per_atom"]) <= 1e-3  # eV/atom

"""Same inputs, same answer; a run survives ``verdi archive create``/``import`` into a fresh profile; the graph
leads from a recommended structure back to its oracle calculation, the network that proposed it and that
network's training set; every input that changes a result is recorded.

Everything goes through the installed console scripts in a fresh AiiDA configuration folder, as a user would.
"""

import json
import os
import textwrap

import pytest
import yaml

from ..commands import BIN, run
from ..parameters import SMALL


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("config")
    env = dict(os.environ)
    env["AIIDA_PATH"] = str(folder)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    run([BIN / "cryspai", "-p", "first", "setup"], env)
    return env, folder


def _predict(env, folder, composition, engine, seed, name, parameters=SMALL):
    path = folder / "parameters.yaml"
    path.write_text(yaml.safe_dump(parameters))
    output = folder / name
    run([BIN / "cryspai", "-p", "first", "predict", composition, "--engine", engine, "--seed", str(seed),
         "--parameters", path, "--output", output], env, timeout=1200)
    return json.loads((output / "results.json").read_text())


@pytest.fixture(scope="module")
def emt_runs(config):
    env, folder = config
    return [_predict(env, folder, "Cu4", "ase:emt", 3, name) for name in ("a", "b")]


def _ranking(results: dict) -> list[tuple]:
    return [(c["spacegroup_number"], c["energy_per_atom"]) for c in results["candidates"]]


def test_same_seed_gives_identical_ranking_with_emt(emt_runs):
    first, second = emt_runs
    assert first["workchain"]["uuid"] != second["workchain"]["uuid"]
    assert _ranking(first) == _ranking(second)  # identical energies, not approximately equal
    assert first["oracle"]["relaxations"] == second["oracle"]["relaxations"]
    assert first["oracle"]["ionic_steps"] == second["oracle"]["ionic_steps"]


def _python(env, profile: str, code: str) -> dict:
    script = f"from aiida import load_profile, orm\nload_profile({profile!r})\n" + textwrap.dedent(code)
    return json.loads(run([BIN / "python", "-c", script], env).stdout.strip().splitlines()[-1])


WALK = """
import json
run = orm.load_node(uuid={uuid!r})
summary = run.outputs.summary.get_dict()
walks = []
for candidate in summary["candidates"]:
    oracle_structure = orm.load_node(candidate["oracle_structure_uuid"])
    relax = oracle_structure.creator                                   # the oracle calculation that relaxed it
    oracle = relax.caller                                              # the OracleWorkChain of its batch
    # the structure the oracle started from, and the process that made it
    qb = orm.QueryBuilder()
    qb.append(orm.CalcJobNode, filters={{"id": relax.pk}}, tag="relax")
    qb.append(orm.StructureData, with_outgoing="relax", tag="start")
    qb.append(orm.ProcessNode, with_outgoing="start", project=["attributes.process_label", "id"])
    makers = qb.all()
    walk = {{"rank": candidate["rank"], "relax": relax.process_label, "oracle": oracle.process_label,
             "oracle_label": oracle.base.links.get_incoming().first().link_label, "makers": makers}}
    evolve = [orm.load_node(pk) for label, pk in makers if label == "EvolveCalculation"]
    if evolve:
        model = evolve[0].inputs.model                                 # the network that proposed it
        training = model.creator
        dataset = training.inputs.dataset
        sources = {{s.split("/")[0] for s in dataset.get_array("sources")}}
        walk.update({{"model": model.uuid, "training": training.process_label, "n_frames": dataset.n_frames,
                      "sources_are_oracle_calcs": all(orm.load_node(u).process_label in ("RelaxCalculation",)
                                                      for u in sources)}})
    walks.append(walk)
print(json.dumps(walks))
"""


def test_archive_round_trip_into_a_fresh_profile(config, emt_runs, tmp_path):
    env, folder = config
    original = emt_runs[0]
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
    proposed = [w for w in walks if "model" in w]
    assert proposed, f"no candidate leads back to a network: {walks}"
    for walk in proposed:
        assert walk["training"] == "TrainCalculation" and walk["n_frames"] > 0
        assert walk["sources_are_oracle_calcs"]


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
    recorded = _python(env, "first", RECORDED.format(uuid=emt_runs[0]["workchain"]["uuid"]))
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
            assert {"seed", "ga", "local", "volume", "crystal_system"} <= set(parameters)


@pytest.mark.slow
def test_same_seed_gives_the_same_ranking_with_chgnet(config):
    env, folder = config
    tiny = {**SMALL, "initial_per_system": 1, "max_iterations": 1, "n_verify": 2}
    first, second = (_predict(env, folder, "Si2", "ase:chgnet", 5, name, tiny) for name in ("chgnet-a", "chgnet-b"))
    assert [c["spacegroup_number"] for c in first["candidates"]] == \
           [c["spacegroup_number"] for c in second["candidates"]]
    for a, b in zip(first["candidates"], second["candidates"]):
        assert abs(a["energy_per_atom"] - b["energy_per_atom"]) <= 1e-3  # eV/atom

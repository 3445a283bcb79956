"""The production path on this machine: a profile on PostgreSQL + RabbitMQ made by ``cryspai setup --production``,
daemon workers, CalcJobs through the one-node SLURM (tests/slurm); a daemon crash with CalcJobs in flight; 112
oracle CalcJobs in one iteration; ``verdi process pause/play/kill``.

Each test talks to the profile only through the installed ``cryspai`` and ``verdi`` commands and
``inspect_run.py``, as a user's shell would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ..commands import BIN
from ..commands import run as _run
from ..parameters import TINY
from ..slurm import cluster

INSPECT = Path(__file__).with_name("inspect_run.py")
EMT_NO_FILTERS = {"dataset": {"energy_window": 1000.0, "useless_mev_per_atom": None}}


class Production:
    """A fresh AiiDA configuration with one production profile and the SLURM computer."""

    def __init__(self, folder: Path):
        self.name = f"cryspai-test-{uuid.uuid4().hex[:8]}"
        self.folder = folder
        self.env = {**os.environ, "AIIDA_PATH": str(folder / "config"),
                    "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def cli(self, *args, **kwargs):
        return _run([BIN / "cryspai", "-p", self.name, *args], self.env, **kwargs)

    def verdi(self, *args, **kwargs):
        return _run([BIN / "verdi", "-p", self.name, *args], self.env, **kwargs)

    def inspect(self, pk: int) -> dict:
        return json.loads(_run([sys.executable, INSPECT, self.name, pk], self.env).stdout)

    def submit(self, composition: str, parameters: dict, *extra) -> int:
        path = self.folder / f"parameters-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(parameters))
        out = self.cli("predict", composition, "--engine", "ase:emt", "--computer", "slurm-local",
                       "--parameters", path, "--daemon", *extra).stdout
        return int(re.search(r"CrySPAIWorkChain<(\d+)>", out).group(1))

    def wait(self, pk: int, timeout: float, until=None) -> dict:
        """Poll the run until it terminates (or ``until(state)`` is true)."""
        deadline = time.time() + timeout
        while True:
            state = self.inspect(pk)
            if (until or (lambda s: s["state"] in ("finished", "excepted", "killed")))(state):
                return state
            assert time.time() < deadline, json.dumps(state)[:3000]
            time.sleep(2)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-f", f"verdi -p {self.name} daemon worker"], capture_output=True,
                             text=True).stdout
        return [int(pid) for pid in out.split()]


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    folder = tmp_path_factory.mktemp("production")
    slurm_env = cluster.start(folder / "slurm", ctld_port=6927, d_port=6928)
    site = Production(folder)
    site.env.update(slurm_env)  # the daemon's workers run sbatch and squeue in this environment
    try:
        created = site.cli("setup", "--production").stdout
        assert f"Creating the AiiDA profile '{site.name}' (PostgreSQL database aiida-{site.name}" in created
        shown = site.cli("setup", "--computer", "slurm-local", "--scheduler", "core.slurm").stdout
        assert "core.psql_dos storage, core.rabbitmq broker" in shown and "slurm-local (core.local, core.slurm" in shown
        # verdi's calls to the daemon (circus) give up after daemon.timeout, 2 s by default: too short while the
        # daemon respawns killed workers on a loaded machine
        site.verdi("config", "set", "daemon.timeout", "30")
        yield site
    finally:
        site.verdi("daemon", "stop", check=False)
        for pid in subprocess.run(["pgrep", "-f", f"verdi -p {site.name} "], capture_output=True,
                                  text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)  # a daemon that did not stop in time must not outlive the tests
        config = json.loads((folder / "config" / ".aiida" / "config.json").read_text()) \
            if (folder / "config" / ".aiida" / "config.json").exists() else {"profiles": {}}
        storage = config["profiles"].get(site.name, {}).get("storage", {}).get("config", {})
        site.verdi("profile", "delete", "--force", "--delete-data", site.name, check=False)
        if storage.get("database_username"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c",
                            f'DROP ROLE IF EXISTS "{storage["database_username"]}"'], capture_output=True)
        cluster.stop(folder / "slurm")


def _oracle_calcjobs_per_structure(state: dict) -> Counter:
    """How many RelaxCalculations each oracle structure went through, over all oracle runs."""
    counts = Counter()
    for oracle in state["oracles"]:
        for calc in oracle["calcjobs"]:
            counts.update(calc["structures"])
    return counts


def test_pause_play_and_kill(production):
    """One run paused while its first oracle batch is out, played on (it steps again: the training is submitted),
    then killed while that CalcJob is in SLURM: every CalcJob it started ends killed or finished."""
    production.verdi("daemon", "start", "1")
    pk = production.submit("Cu4", {**TINY, **EMT_NO_FILTERS})
    production.wait(pk, 120, until=lambda s: bool(s["oracles"]))
    production.verdi("process", "pause", pk)
    paused = production.wait(pk, 60, until=lambda s: s["paused"])
    time.sleep(5)
    assert production.inspect(pk)["mtime"] == paused["mtime"]  # nothing moves while paused
    production.verdi("process", "play", pk)
    played = production.wait(pk, 600, until=lambda s: any(t["job_id"] for t in s["trainings"]))
    assert not played["paused"] and played["n_called"] > paused["n_called"]
    production.verdi("process", "kill", "--timeout", "60", pk)
    killed = production.wait(pk, 120)
    assert killed["state"] == "killed"
    assert all(c["state"] in ("killed", "finished") for o in killed["oracles"] for c in o["calcjobs"])
    assert all(t["state"] in ("killed", "finished") for t in killed["trainings"])
    shown = production.cli("show", pk).stdout
    assert "state: killed" in shown


def test_daemon_crash_loses_no_oracle_result(production, emt):
    """SIGKILL every daemon worker while oracle CalcJobs are queued and running in SLURM; restart the daemon. The
    run's oracle, training and GA CalcJobs all went through SLURM (sbatch, a job id) and its search found EMT's
    lowest Cu4 (hcp below fcc)."""
    production.verdi("daemon", "stop", check=False)
    production.verdi("daemon", "start", "2")
    parameters = {**TINY, **EMT_NO_FILTERS, "initial_per_system": 2, "max_parallel_oracle": 14}
    pk = production.submit("Cu4", parameters)
    in_flight = production.wait(pk, 300, until=lambda s: any(
        c["job_id"] and c["state"] == "waiting" for o in s["oracles"] for c in o["calcjobs"]))
    shown = production.cli("show", pk).stdout
    assert int(re.search(r"oracle_relaxations_pending: (\d+)", shown).group(1)) > 0, shown
    workers = production.worker_pids()
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    production.verdi("daemon", "restart")
    done = production.wait(pk, 900)
    assert done["state"] == "finished" and done["exit_status"] == 0, done
    shown = production.cli("show", pk).stdout
    assert "oracle_relaxations_pending: 0" in shown, shown
    first = done["oracles"][0]
    assert len(first["structures"]) == 14
    # every structure of the first oracle batch has exactly one oracle CalcJob: none lost, none computed twice
    counts = _oracle_calcjobs_per_structure(done)
    assert {u: counts[u] for u in first["structures"].values()} == {u: 1 for u in first["structures"].values()}
    assert all(c["finished_ok"] for c in first["calcjobs"])
    # the CalcJobs that were in flight at the kill kept their SLURM job (not resubmitted under a new node)
    before = {c["pk"]: c["job_id"] for o in in_flight["oracles"] for c in o["calcjobs"] if c["job_id"]}
    after = {c["pk"]: c["job_id"] for o in done["oracles"] for c in o["calcjobs"]}
    assert all(after[p] == job for p, job in before.items())
    # and every relaxation of that batch reached the dataset
    keys = {source.split("/")[-1] for source in done["dataset_sources"]}
    assert set(first["structures"]) <= keys, (done["outputs"], done["dataset"], done["dataset_sources"][:5])
    # every CalcJob of the run was a SLURM job of the cluster computer
    assert {"RelaxCalculation", "TrainCalculation", "EvolveCalculation"} <= {c["label"] for c in done["calcjobs"]}
    for calc in done["calcjobs"]:
        assert calc["computer"] == "slurm-local" and calc["sbatch"] and str(calc["job_id"]).isdigit(), calc
        assert calc["finished_ok"], calc
    # the search itself: the best Cu4 structure is EMT's lowest (hcp below fcc for Cu under EMT)
    from ase.build import bulk

    from aiida_cryspai.ml.relax import relax

    fcc = relax(bulk("Cu", "fcc", a=3.6, cubic=True), emt, fmax=0.001, max_steps=500).energy / 4
    assert done["best_energy_per_atom"] <= fcc + 0.002


@pytest.mark.slow
def test_112_oracle_calcjobs_with_four_workers(production):
    """The paper's 112 candidates of one loop as 112 oracle CalcJobs through SLURM and four daemon workers."""
    production.verdi("daemon", "stop", check=False)
    production.verdi("daemon", "start", "4")
    parameters = {**TINY, "initial_per_system": 16, "max_parallel_oracle": 112,
                  # every relaxation in the dataset, with few frames each (start and end): the test is the oracle's
                  "dataset": {"energy_window": 1000.0, "useless_mev_per_atom": None, "min_energy_change": 0.05},
                  "training": {"max_epochs": 20, "hidden": 8}}
    pk = production.submit("Cu4", parameters)
    done = production.wait(pk, 1800)
    assert done["state"] == "finished" and done["exit_status"] == 0, done
    first = done["oracles"][0]
    assert len(first["structures"]) == 112 and len(first["calcjobs"]) == 112
    assert all(c["finished_ok"] and c["job_id"] for c in first["calcjobs"])
    keys = {source.split("/")[-1] for source in done["dataset_sources"]}
    assert set(first["structures"]) <= keys

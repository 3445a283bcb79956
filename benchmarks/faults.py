"""The fault matrix: a run killed in the middle of each stage of the loop, and the run afterwards checked.

For each stage (``STAGES``) and fault — ``worker``: every daemon worker SIGKILLed, then the daemon stopped, ``verdi
process repair`` and the daemon started (what the docs say to do after a crash: ``verdi daemon restart`` alone leaves
a child whose task the dead worker had not yet handed to the broker waiting for ever, as this benchmark found);
``job``: the stage's CalcJob's script SIGKILLed on the machine (as the kernel's OOM killer would), the daemon left
alone — a ``cryspai predict --daemon`` run of Cu4 on EMT (a small loop with every stage: two iterations, the final GA,
verification, refinement; the screening cell with a CHGNet prior) is watched through the graph until the stage is
under way, the fault is injected, and the finished run is compared with an uninterrupted run of the same seed:

- ``finished``: the run ended with exit status 0;
- ``lost``: oracle relaxations of the loop's batches that finished (status ok) but whose frames are not in the final
  dataset;
- ``duplicated``: oracle relaxations whose frames are in the final dataset more than once;
- ``repeated``: oracle relaxations that ran again after they had finished (one structure relaxed by two finished
  CalcJobs, or a batch submitted twice);
- ``same_result``: the ranking (space groups and energies) and the oracle counts equal the uninterrupted run's of
  the same commit (a reference row is run again for each new commit).

A cell whose stage passed before the watcher saw it (a calcfunction of a second) is retried up to ``--attempts``
times and recorded as ``injected: false`` if never hit. Rows append (``--output``) and a rerun skips the cells
already measured, so the matrix can be filled over several sessions. Everything runs on a profile of its own
(the default kind, SQLite and ZeroMQ, or ``--production``: PostgreSQL and RabbitMQ) in ``--folder``.

    cd benchmarks && python faults.py --repeats 5 --output results/faults.jsonl
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml
from rows import emit_row, read_rows

BIN = Path(sys.executable).parent
PROFILE = "faults"
SEED = 7

# the loop's own tests' small search (tests/parameters.py), with every stage present and every frame kept
PARAMETERS = {
    "initial_per_system": 1, "max_iterations": 2, "min_samples": 20, "n_verify": 2,
    "training": {"max_epochs": 100, "hidden": 8, "force_weight": 0.0},
    "ga": {"n_trial": 3, "n_generations": 1, "n_replace": 1, "n_offspring": 2, "n_recommend": 1},
    "final_ga": {"n_trial": 3, "n_generations": 1, "n_replace": 1, "n_offspring": 2, "n_recommend": 2},
    "local": {"max_steps": 15}, "refine": {"n_candidates": 2}, "templates": {"source": "none"},
    "volume_method": "paper", "stop_patience": 0,
    "dataset": {"energy_window": 1000.0, "useless_mev_per_atom": None},
}
# the screening needs a prior; its cell runs with CHGNet under the network and a small screening
SCREENING = {"screening_per_system": 2}

# after the workers are killed: the daemon stopped, `verdi process repair`, the daemon started (rows before this
# field restarted with `verdi daemon restart` alone)
RESTART = "daemon stop, process repair, daemon start"
# the stages, and those with a CalcJob whose script can be killed
STAGES = ["screening", "oracle batch", "dataset update", "training", "GA", "final search", "verification",
          "refinement", "ranking"]
JOB_STAGES = {"screening", "oracle batch", "training", "GA", "final search", "verification", "refinement"}


class Site:
    """The benchmark's own AiiDA configuration and profile, driven through the installed commands."""

    def __init__(self, folder: Path, production: bool):
        self.folder = folder
        self.env = {**os.environ, "AIIDA_PATH": str(folder / "config"),
                    "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
        self.production = production

    def run(self, *args, check=True, timeout=600) -> subprocess.CompletedProcess:
        result = subprocess.run([str(a) for a in args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode:
            raise RuntimeError(f"{' '.join(map(str, args))}: {result.stdout}\n{result.stderr}")
        return result

    def setup(self) -> None:
        self.run(BIN / "cryspai", "-p", PROFILE, "setup", *(["--production"] if self.production else []))
        self.run(BIN / "verdi", "-p", PROFILE, "config", "set", "daemon.timeout", "30")

    def daemon(self, *args) -> None:
        self.run(BIN / "verdi", "-p", PROFILE, "daemon", *args, check=args[0] == "start")

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-f", f"verdi -p {PROFILE} daemon worker"], capture_output=True,
                             text=True).stdout
        return [int(pid) for pid in out.split()]

    def submit(self, parameters: dict, prior: str) -> int:
        path = self.folder / "parameters.yaml"
        path.write_text(yaml.safe_dump(parameters))
        out = self.run(BIN / "cryspai", "-p", PROFILE, "predict", "Cu4", "--engine", "ase:emt", "--prior", prior,
                       "--seed", SEED, "--parameters", path, "--daemon").stdout
        return int(re.search(r"CrySPAIWorkChain<(\d+)>", out).group(1))


def _oracles(run) -> list:
    """The OracleWorkChains of the loop and after (the screening's is the population's, listed separately)."""
    return [n for n in run.called if n.process_label == "OracleWorkChain"]


def under_way(run, stage: str):
    """The node of ``stage`` while it is under way in ``run`` (a CalcJob with its job submitted, or the stage's
    running calcfunction or work chain), else None."""
    from aiida.orm import CalcJobNode

    def running_job(parent, label=None):
        for node in parent.called_descendants:
            if isinstance(node, CalcJobNode) and (label is None or node.process_label == label) \
                    and not node.is_terminated and node.get_job_id():
                return node
        return None

    def called(parent, link):
        for link_triple in parent.base.links.get_outgoing().all():
            if link_triple.link_label == link:
                return link_triple.node
        return None

    population = called(run, "population")
    if stage == "screening":
        screening = called(population, "screening") if population else None
        return running_job(screening) if screening else None
    oracle = called(run, "oracle_01")
    if stage == "oracle batch":
        return running_job(oracle) if oracle else None
    surrogate = called(run, "surrogate_01")
    if stage == "dataset update":
        if surrogate and not surrogate.is_terminated and not running_job(surrogate):
            steps = [n for n in surrogate.called if not n.is_terminated]
            return steps[0] if steps else None
        return None
    if stage == "training":
        return running_job(surrogate, "TrainCalculation") if surrogate else None
    if stage == "GA":
        ga = called(run, "ga_01")
        return running_job(ga) if ga else None
    if stage == "final search":
        ga = called(run, "final_ga")
        return running_job(ga) if ga else None
    if stage in ("verification", "refinement"):
        oracle = called(run, f"oracle_{stage}")
        return running_job(oracle) if oracle else None
    if stage == "ranking":
        refinement = called(run, "oracle_refinement")
        if refinement is not None and refinement.is_terminated and not run.is_terminated:
            return run
        return None
    raise ValueError(stage)


def inject(site: Site, fault: str, node) -> tuple[bool, str]:
    """The fault itself: whether it hit, and what was killed."""
    if fault == "worker":
        workers = site.workers()
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        # what the docs tell a user to do after a crash: a task the dead worker had not yet handed to the broker
        # (a child stored, its task not sent) is re-created by `verdi process repair`, which needs the daemon down
        site.daemon("stop")
        site.run(BIN / "verdi", "-p", PROFILE, "process", "repair", "--force")
        site.daemon("start", "2")
        return bool(workers), f"{len(workers)} daemon workers"
    job = int(node.get_job_id())
    # the script under the job's shell (or the job's process itself where the shell exec'd it)
    children = subprocess.run(["pgrep", "-P", str(job)], capture_output=True, text=True).stdout.split() or [job]
    for pid in children:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            return False, f"{node.process_label}<{node.pk}>: job {job} ended before the kill"
    return True, f"{node.process_label}<{node.pk}>'s script (pid {', '.join(map(str, children))} under job {job})"


def audit(run) -> dict:
    """What the finished ``run`` holds: oracle relaxations lost from, or twice in, the dataset; repeated ones."""
    from aiida.orm import CalcJobNode

    sources = [str(s) for s in run.outputs.dataset.get_array("sources")] if "dataset" in run.outputs else []
    groups = run.outputs.dataset.get_array("groups") if "dataset" in run.outputs else []
    groups_per_source = Counter()
    for source, _group in set(zip(sources, (int(g) for g in groups))):
        groups_per_source[source] += 1
    loop = [o for o in _oracles(run) if re.fullmatch(r"oracle_\d+", _label(o))]
    finished_ok, relaxed = [], Counter()
    for oracle in loop:
        for calc in oracle.called:
            if not (isinstance(calc, CalcJobNode) and calc.is_finished_ok):
                continue
            for key, info in calc.outputs.results.get_dict().items():
                relaxed[calc.inputs.structures[key].uuid] += 1
                if info["status"] == "ok":
                    finished_ok.append(f"{calc.uuid}/{key}")
    batches = Counter(_label(o) for o in _oracles(run))
    lost = [s for s in finished_ok if s not in groups_per_source]
    return {"lost": len(lost), "duplicated": sum(1 for n in groups_per_source.values() if n > 1),
            "repeated": sum(n - 1 for n in relaxed.values() if n > 1) + sum(n - 1 for n in batches.values()),
            "oracle_relaxations_checked": len(finished_ok),
            "died_jobs": sum(1 for n in run.called_descendants
                             if isinstance(n, CalcJobNode) and n.exit_status in (300, 301))}


def _label(node) -> str:
    from aiida.common.links import LinkType

    return node.base.links.get_incoming(link_type=LinkType.CALL_WORK).one().link_label


def _fresh_session() -> None:
    """End this process's read transaction, so that the next query sees what the daemon has written since."""
    from aiida.manage import get_manager

    session = get_manager().get_profile_storage().get_session()
    session.commit()
    session.expire_all()


def ranking(run) -> list:
    summary = run.outputs.summary.get_dict()
    return [[c["spacegroup_number"], round(c["energy_per_atom"], 6)] for c in summary["candidates"]] + \
        [summary["oracle"]["relaxations"]]


def watch(site: Site, pk: int, stage: str | None, fault: str | None, timeout: float) -> dict:
    """Follow run ``pk``; inject ``fault`` when ``stage`` is under way; wait for the end."""
    from aiida.orm import load_node

    start, injected, what = time.time(), False, ""
    while True:
        _fresh_session()
        run = load_node(pk)
        if stage and not injected:
            node = under_way(run, stage)
            if node is not None:
                injected, what = inject(site, fault, node)
                if not injected:
                    stage = None  # missed: the run goes on to its end and the cell is tried again
        if run.is_terminated:
            break
        if time.time() - start > timeout:
            return {"injected": injected, "killed": what, "finished": False, "timeout": True}
        time.sleep(0.2 if stage and not injected else 2.0)
    return {"injected": injected, "killed": what, "finished": run.is_finished_ok, "exit_status": run.exit_status,
            "wall_s": round(time.time() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", nargs="+", default=STAGES, choices=STAGES)
    parser.add_argument("--faults", nargs="+", default=["worker", "job"], choices=["worker", "job"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--attempts", type=int, default=3, help="tries to hit a stage that passes quickly")
    parser.add_argument("--folder", default="/tmp/cryspai-faults")
    parser.add_argument("--production", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    site = Site(Path(args.folder), args.production)
    site.folder.mkdir(parents=True, exist_ok=True)
    os.environ["AIIDA_PATH"] = site.env["AIIDA_PATH"]
    site.setup()
    from aiida import load_profile
    from aiida.orm import load_node

    load_profile(PROFILE)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    done = read_rows(args.output) if args.output else []
    profile_kind = "production" if args.production else "default"
    site.daemon("start", "2")
    try:
        references = {}
        for row in done:  # the uninterrupted run of this very code: another commit may rank otherwise
            if row["kind"] == "reference" and row["profile"] == profile_kind and row.get("commit") == commit:
                references[row["prior"]] = row["ranking"]
        for stage in args.stages:
            prior = "chgnet" if stage == "screening" else "none"
            parameters = {**PARAMETERS, **(SCREENING if prior != "none" else {})}
            if prior not in references:
                pk = site.submit(parameters, prior)
                outcome = watch(site, pk, None, None, args.timeout)
                run = load_node(pk)
                row = {"kind": "reference", "profile": profile_kind, "prior": prior, "pk": pk, **outcome,
                       "ranking": ranking(run) if run.is_finished_ok else None, **audit(run), "commit": commit}
                emit_row(row, args.output)
                references[prior] = row["ranking"]
            for fault in args.faults:
                if fault == "job" and stage not in JOB_STAGES:
                    continue
                measured = sum(1 for r in done if r["kind"] == "fault" and r["stage"] == stage
                               and r["fault"] == fault and r["profile"] == profile_kind)
                for repeat in range(measured, args.repeats):
                    for attempt in range(args.attempts):
                        pk = site.submit(parameters, prior)
                        outcome = watch(site, pk, stage, fault, args.timeout)
                        if outcome["injected"] or attempt == args.attempts - 1:
                            break
                    run = load_node(pk)
                    ranked = ranking(run) if run.is_finished_ok else None
                    row = {"kind": "fault", "profile": profile_kind, "stage": stage, "fault": fault,
                           "restart": RESTART if fault == "worker" else None,
                           "repeat": repeat, "attempts": attempt + 1, "prior": prior, "pk": pk, **outcome,
                           **(audit(run) if run.is_finished_ok else {}),
                           "ranking": ranked, "same_result": ranked is not None and ranked == references[prior],
                           "commit": commit}
                    emit_row(row, args.output)
    finally:
        site.daemon("stop")


if __name__ == "__main__":
    main()

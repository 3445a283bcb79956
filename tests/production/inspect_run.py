"""Print, as JSON, what the graph of a CrySPAIWorkChain holds about its oracle calculations.

Run as ``python inspect_run.py PROFILE PK`` in the environment of that profile's configuration (``AIIDA_PATH``):
the tests keep their own in-process profile, so they read the production profile through this script.

With ``INSPECT_TIMING_LOG`` set to a file, each inspection also appends one JSON line: the state it read first,
whether and when it found the ``dataset`` output, and the state and outputs read once more at its end, with the
times (the order of reads the inspection used before it read the state first; see "The daemon-crash test, again
and again" in docs/benchmarks.md).
"""

import json
import os
import sys
import time

STARTED = time.time()


def inspect(pk: int) -> dict:
    from aiida.orm import CalcJobNode, WorkChainNode, load_node

    node = load_node(pk)
    # the state first: a run seen finished here has all its outputs attached when they are read below (read last,
    # the state could say finished about outputs read before the run attached them)
    state = node.process_state.value if node.process_state else None
    exit_status = node.exit_status
    oracles = []
    for oracle in sorted((c for c in node.called if isinstance(c, WorkChainNode)
                          and c.process_label == "OracleWorkChain"), key=lambda c: c.ctime):
        calcjobs = [c for c in oracle.called if isinstance(c, CalcJobNode)]
        oracles.append({
            "pk": oracle.pk,
            "state": oracle.process_state.value if oracle.process_state else None,
            "structures": {key: s.uuid for key, s in oracle.inputs.structures.items()},
            "calcjobs": [{
                "pk": c.pk,
                "state": c.process_state.value if c.process_state else None,
                "finished_ok": c.is_finished_ok,
                "job_id": c.get_job_id(),
                "structures": [s.uuid for s in c.inputs.structures.values()],
            } for c in calcjobs],
        })
    dataset_read_at, dataset_seen = time.time(), "dataset" in node.outputs
    dataset_sources, dataset_info = [], {}
    if dataset_seen:
        arrays = node.outputs.dataset.to_arrays()
        dataset_sources = sorted({str(s) for s in arrays.get("sources", [])})
        dataset_info = {"pk": node.outputs.dataset.pk, "arrays": {k: list(v.shape) for k, v in arrays.items()},
                        "creator": node.outputs.dataset.creator.process_label if node.outputs.dataset.creator
                        else None}
    calcjobs = [c for c in node.called_descendants if isinstance(c, CalcJobNode)]
    slurm = [{"label": c.process_label, "computer": c.computer.label, "job_id": c.get_job_id(),
              "sbatch": "#SBATCH" in c.base.repository.get_object_content("_aiidasubmit.sh")
              if "_aiidasubmit.sh" in c.base.repository.list_object_names() else False,
              "finished_ok": c.is_finished_ok} for c in calcjobs]
    candidates = node.outputs.summary["candidates"] if "summary" in node.outputs else []
    trainings = [{"pk": c.pk, "state": c.process_state.value if c.process_state else None, "job_id": c.get_job_id()}
                 for c in node.called_descendants
                 if isinstance(c, CalcJobNode) and c.process_label == "TrainCalculation"]
    if os.environ.get("INSPECT_TIMING_LOG"):
        _log_timing(os.environ["INSPECT_TIMING_LOG"], pk, state, dataset_read_at, dataset_seen, len(calcjobs))
    return {
        "state": state,
        "n_called": len(node.called_descendants),
        "outputs": sorted(node.outputs),
        "calcjobs": slurm,
        "best_energy_per_atom": candidates[0]["energy_per_atom"] if candidates else None,
        "trainings": trainings,
        "paused": node.paused,
        "exit_status": exit_status,
        "mtime": node.mtime.isoformat(),
        "oracles": oracles,
        "dataset_sources": dataset_sources,
        "dataset": dataset_info,
    }


def _log_timing(path: str, pk: int, state_first: str | None, dataset_read_at: float, dataset_seen: bool,
                n_calcjobs: int) -> None:
    """Append the times of this inspection's reads and the run's state and outputs read again now."""
    from aiida.orm import load_node

    last_read_at = time.time()
    node = load_node(pk)
    row = {"pk": pk, "started": STARTED, "dataset_read_at": dataset_read_at, "last_read_at": last_read_at,
           "state_first": state_first, "dataset_seen": dataset_seen,
           "state_last": node.process_state.value if node.process_state else None,
           "dataset_last": "dataset" in node.outputs, "n_calcjobs": n_calcjobs}
    with open(path, "a", encoding="utf-8") as stream:
        stream.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    from aiida import load_profile

    load_profile(sys.argv[1])
    print(json.dumps(inspect(int(sys.argv[2]))))

"""Where the wait of a finished run went, from the provenance graph's timestamps: per stage of the loop, its wall
time (creation to last change of each stage process, summed over the stage's processes: the loop runs its stages
one after another), the CalcJobs it ran, their summed time and the work their scripts reported doing (relaxations,
GA), and what is left between the stages (the parent's own steps and calcfunctions, AiiDA's submission and polling).

    cd benchmarks && python profile_run.py PK [--output results/profile_<name>.jsonl]
"""

from __future__ import annotations

import argparse
import re

from rows import emit_row

# a stage of the loop from the call link label of the run's child
STAGES = [("initial population", r"^population$"), ("oracle", r"^oracle_\d+$"),
          ("surrogate (dataset, test, training)", r"^surrogate_\d+$"), ("evolution (GA on the network)", r"^ga_\d+$"),
          ("final GA", r"^final_ga$"), ("verification", r"^oracle_verification$"),
          ("refinement", r"^oracle_refinement$")]


def stage_of(label: str) -> str:
    for name, pattern in STAGES:
        if re.match(pattern, label):
            return name
    return "the parent's own calls"


def script_seconds(calcjob) -> float:
    """The work a CalcJob's script reported (relaxations' and the GA's wall time); 0 where it reports none."""
    outputs = calcjob.outputs
    if "results" in outputs:
        return sum(float(info.get("wall_s", 0.0)) for info in outputs.results.get_dict().values())
    if "summary" in outputs and "wall_s" in outputs.summary.get_dict():
        return float(outputs.summary["wall_s"])
    return 0.0


def profile(run) -> list[dict]:
    """One row per stage: processes, wall (s), CalcJobs, CalcJob time (s, summed), script work (s, summed)."""
    from aiida.common.links import LinkType
    from aiida.orm import CalcJobNode

    rows: dict[str, dict] = {}
    for link in run.base.links.get_outgoing(link_type=(LinkType.CALL_WORK, LinkType.CALL_CALC)).all():
        child = link.node
        row = rows.setdefault(stage_of(link.link_label), {"processes": 0, "wall_s": 0.0, "calcjobs": 0,
                                                          "calcjob_s": 0.0, "script_s": 0.0})
        row["processes"] += 1
        row["wall_s"] += (child.mtime - child.ctime).total_seconds()
        jobs = [child] if isinstance(child, CalcJobNode) else \
            [n for n in child.called_descendants if isinstance(n, CalcJobNode)]
        row["calcjobs"] += len(jobs)
        row["calcjob_s"] += sum((job.mtime - job.ctime).total_seconds() for job in jobs)
        row["script_s"] += sum(script_seconds(job) for job in jobs if job.is_finished_ok)
    total = (run.mtime - run.ctime).total_seconds()
    covered = sum(row["wall_s"] for name, row in rows.items() if name != "the parent's own calls")
    ordered = [{"stage": name, **rows[name]} for name, _ in STAGES if name in rows]
    ordered += [{"stage": "the parent's own calls", **rows.get("the parent's own calls", {"processes": 0,
                 "wall_s": 0.0, "calcjobs": 0, "calcjob_s": 0.0, "script_s": 0.0})}]
    ordered.append({"stage": "between stages (parent's steps, submission, polling)", "processes": 0,
                    "wall_s": total - covered - ordered[-1]["wall_s"], "calcjobs": 0, "calcjob_s": 0.0,
                    "script_s": 0.0})
    n_processes = sum(row["processes"] for row in rows.values())
    ordered.append({"stage": "run", "processes": n_processes, "wall_s": total, "calcjobs": 0, "calcjob_s": 0.0,
                    "script_s": 0.0})
    return [{key: round(value, 1) if isinstance(value, float) else value for key, value in row.items()}
            for row in ordered]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pk", type=int)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    from aiida import load_profile, orm

    load_profile()
    run = orm.load_node(args.pk)
    print(f"{'stage':55s} {'n':>3s} {'wall s':>8s} {'jobs':>5s} {'job s':>8s} {'script s':>9s}")
    for row in profile(run):
        print(f"{row['stage']:55s} {row['processes']:3d} {row['wall_s']:8.1f} {row['calcjobs']:5d} "
              f"{row['calcjob_s']:8.1f} {row['script_s']:9.1f}")
        if args.output:
            emit_row({"pk": run.pk, "uuid": run.uuid, "composition": run.inputs.composition.value, **row},
                     args.output)


if __name__ == "__main__":
    main()

"""Throughput of oracle CalcJobs through the daemon and the scheduler, and AiiDA's overhead per CalcJob.

    verdi -p PROFILE run benchmarks/oracle_load.py ORACLE_PK [SLOTS]

``ORACLE_PK`` is a finished OracleWorkChain with one structure per CalcJob (``max_parallel_oracle`` equal to the
number of structures), e.g. the ``oracle_01`` of a run with ``initial_per_system: 16`` (112 CalcJobs); ``SLOTS`` is
how many jobs the computer runs at once (SLURM CPUs; default: this machine's cores). The script re-runs one CalcJob's
job by hand in a copy of its remote folder (the executable alone: start-up plus relaxation) and reports, as Markdown:
CalcJobs per minute, the median CalcJob wall time, the job alone, and the overhead per CalcJob
(slot-time per CalcJob minus the job alone: submission, polling, retrieval, parsing, storing).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiida import orm


def job_alone(calc: orm.CalcJobNode, repeats: int = 3) -> float:
    """Median wall time of the CalcJob's executable run by hand in a copy of its working folder."""
    remote = Path(calc.outputs.remote_folder.get_remote_path())
    executable = str(calc.inputs.code.filepath_executable)
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            for name in ("parameters.json", "structures.xyz"):
                shutil.copy(remote / name, folder)
            start = time.perf_counter()
            subprocess.run([executable], cwd=folder, check=True, capture_output=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"})
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(pk: int, slots: int) -> None:
    oracle = orm.load_node(pk)
    calcjobs = [c for c in oracle.called if isinstance(c, orm.CalcJobNode)]
    if not calcjobs or not oracle.is_terminated:
        raise SystemExit(f"{oracle.process_label}<{pk}> has no finished CalcJobs")
    first, last = min(c.ctime for c in calcjobs), max(c.mtime for c in calcjobs)
    elapsed = (last - first).total_seconds()
    walls = [(c.mtime - c.ctime).total_seconds() for c in calcjobs]
    alone = job_alone(calcjobs[0])
    per_slot = elapsed * slots / len(calcjobs)
    print("| CalcJobs | finished ok | computer (scheduler) | slots | elapsed s | CalcJobs/min | median CalcJob wall s "
          "| job alone s | overhead per CalcJob s |")
    print("|---|---|---|---|---|---|---|---|---|")
    computer = calcjobs[0].computer
    print(f"| {len(calcjobs)} | {sum(c.is_finished_ok for c in calcjobs)} | {computer.label} "
          f"({computer.scheduler_type}) | {slots} | {elapsed:.0f} | {60 * len(calcjobs) / elapsed:.1f} "
          f"| {statistics.median(walls):.1f} | {alone:.1f} | {per_slot - alone:.1f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count() or 1)

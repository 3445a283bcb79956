"""The daemon-crash test again and again: every daemon worker SIGKILLed while oracle CalcJobs are in flight through
SLURM, the daemon restarted, and the run checked for lost or repeated oracle results
(``tests/production/test_daemon.py::test_daemon_crash_loses_no_oracle_result``). One row per run: passed or not,
its wall time and, for a failure, the assertion that failed (with the graph's evidence the test prints), so that a
flaky failure can be caught and read. Rows append and a rerun adds more.

    cd benchmarks && python crash_test_loop.py --runs 20 --output results/crash_test_loop.jsonl
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from rows import emit_row

TEST = "tests/production/test_daemon.py::test_daemon_crash_loses_no_oracle_result"
ROOT = Path(__file__).parents[1]


def run_once(index: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        start = time.perf_counter()
        completed = subprocess.run([sys.executable, "-m", "pytest", "-q", TEST, f"--junitxml={report}", "-p",
                                    "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        failure = ""
        if report.exists():
            for case in ElementTree.parse(report).getroot().iter("testcase"):
                for problem in list(case.iter("failure")) + list(case.iter("error")):
                    failure = (problem.get("message") or "")[:4000]
    return {"run": index, "passed": completed.returncode == 0, "wall_s": round(wall, 1), "failure": failure}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    for index in range(args.runs):
        emit_row(run_once(index), args.output)


if __name__ == "__main__":
    main()

"""Rows of the benchmarks: one JSON object per line, printed and appended to the results file as each finishes, so
a benchmark that outlasts a session resumes from what it wrote."""

from __future__ import annotations

import json
from pathlib import Path


def emit_row(row: dict, output: str | Path | None) -> None:
    """Print ``row`` and, with ``output``, append it to that file (its folder created)."""
    line = json.dumps(row)
    print(line, flush=True)
    if output:
        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(line + "\n")


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a results file (none when it does not exist yet: a benchmark starting afresh)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

"""Markdown table of ``search_vs_random.py`` output: per composition and method, runs found, relaxations to the
first find per seed and their median (a run that did not find counts as above the budget), median wall time.

    cd benchmarks && python search_vs_random.py Si8 Cu4 > runs.jsonl && python search_table.py runs.jsonl
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def read_rows(paths: list[str]) -> list[dict]:
    rows = []
    for path in paths:
        with open(path) as handle:
            for line in handle:
                if line.startswith("{") and '"method"' in line:
                    rows.append(json.loads(line))
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| composition | method | found | relaxations to find (per seed) | median | median wall (s) |",
             "|---|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["composition"], row["method"]), []).append(row)
    compositions = list(dict.fromkeys(row["composition"] for row in rows))
    methods = list(dict.fromkeys(row["method"] for row in rows))
    for composition, method in sorted(groups, key=lambda k: (compositions.index(k[0]), methods.index(k[1]))):
        runs = groups[(composition, method)]
        runs.sort(key=lambda r: r["seed"])
        counts = [r["relaxations_to_find"] if r["found"] else np.inf for r in runs]
        shown = ", ".join(str(c) if np.isfinite(c) else f">{r['relaxations']}" for c, r in zip(counts, runs))
        median = np.median(counts)
        median_text = f"{median:g}" if np.isfinite(median) else "not found"
        wall = np.median([r["wall_s"] for r in runs])
        lines.append(f"| {composition} | {method} | {sum(r['found'] for r in runs)}/{len(runs)} | {shown} | "
                     f"{median_text} | {wall:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="JSON lines written by search_vs_random.py")
    print(table(read_rows(parser.parse_args().results)))

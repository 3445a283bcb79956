"""The tables of ``docs/benchmarks.md`` rendered from their stored rows, and a check that the docs hold exactly that.

A table in the docs between ``<!-- table: NAME -->`` and ``<!-- end table -->`` is the output of ``TABLES[NAME]``
on its rows (``benchmarks/results/*.jsonl``). ``python doc_tables.py`` fails, naming the table, where the docs differ;
``python doc_tables.py --write`` rewrites the blocks from the rows. The test suite runs the check (it only reads).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

import tables_learning
import tables_search
from rows import read_rows
from tables_search import markdown

HERE = Path(__file__).parent
DOCS = HERE.parent / "docs" / "benchmarks.md"
BLOCK = re.compile(r"(<!-- table: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end table -->)", re.S)


def rows(name: str) -> list[dict]:
    """The rows of ``results/<name>``, one JSON object per line."""
    return read_rows(HERE / "results" / name)


def _signed(row: dict, key: str) -> str:
    return f"{row[key]} ({row[key + '_error_pct']:+.1f} %)"


def volume_table() -> str:
    """Eq. 2, the scan of random structures and the scan of the library against the known volume."""
    return markdown(["composition", "bonding", "known V (Å³)", "Eq. 2", "scan, random (templates off)",
                     "scan, library (templates on)", "wall (s)"],
                    [[r["composition"], r["bonding"], r["known_volume"], _signed(r, "eq2"), _signed(r, "scan_random"),
                      _signed(r, "scan_templates"), r["wall_s"]] for r in rows("volume_table_9e352ea.jsonl")])


def _find(row: dict) -> str:
    position = row["relaxations_to_find"]
    if position is None:
        return f"> {row['oracle_relaxations']} (best {row['best_above_target_mev']} meV/atom above)"
    return f"{position} ({row['found_how']})"


# the product's rows, oldest commit first; the commit is the file's suffix
PRODUCT_FILES = ("product_search_3c48647.jsonl", "product_search_23ff6cc.jsonl", "product_search_e106c49.jsonl",
                 "product_search_df3e9b7.jsonl", "product_search_689630c.jsonl",
                 "product_search_352eeae.jsonl", "product_search_5d71595.jsonl", "product_search_0bd4d1c.jsonl")


def product_rows() -> list[dict]:
    """Every row of :data:`PRODUCT_FILES`, each with the ``commit`` it was run at."""
    return [{**row, "commit": name.removesuffix(".jsonl").rsplit("_", 1)[1]}
            for name in PRODUCT_FILES for row in rows(name)]


def _seconds(row: dict, key: str) -> str:
    return "" if row.get(key) is None else f"{row[key]:.0f}"


def product_search() -> str:
    """`cryspai predict` from the composition alone: each run, with both counts and the wall times (the whole run,
    before the first oracle relaxation, to the answer; the last two for runs whose graph was read for them)."""
    return markdown(["composition", "seed", "commit", "target", "oracle relaxations to find", "found in",
                     "oracle relaxations",
                     "prior relaxations", "volume scan: single points / relaxations", "wall (s)",
                     "before the first oracle relaxation (s)", "to the answer (s)"],
                    [[r["composition"], r["seed"], r["commit"], r["target"], _find(r), r.get("found_in") or "",
                      r["oracle_relaxations"],
                      r["prior_relaxations"], f"{r['scan_single_points']} / {r['scan_relaxations']}",
                      f"{r['wall_s']:.0f}", _seconds(r, "before_oracle_s"), _seconds(r, "wall_to_find_s")]
                     for r in product_rows()])


def _median_of_finds(runs: list[dict], budget_key: str) -> tuple[float, bool]:
    """The median number of oracle relaxations to the target over ``runs`` (an unfound run counts as its budget,
    ``budget_key``) and whether that median is only a lower bound (an unfound run sets it)."""
    counts = [r["relaxations_to_find"] if r["relaxations_to_find"] is not None else r[budget_key] for r in runs]
    # with unfound runs as infinite the median is infinite exactly where one of them sets it (else it is the same)
    ordered = statistics.median([r["relaxations_to_find"] if r["relaxations_to_find"] is not None
                                 else float("inf") for r in runs])
    return statistics.median(counts), ordered == float("inf")


def _random_baseline(names: tuple[str, ...]) -> dict[str, dict]:
    """Per composition, random symmetric search at the known volume (the baseline rows ``names``): the median
    number of oracle relaxations to the target (:func:`_median_of_finds`), the seeds and CHGNet's cost per oracle
    relaxation (all the runs' wall time over all their relaxations)."""
    runs: dict[str, list[dict]] = {}
    for r in tables_search.search_rows(*names):
        if r["method"] == "random":
            runs.setdefault(r["composition"], []).append(r)
    out = {}
    for composition, found in runs.items():
        median, lower_bound = _median_of_finds(found, "relaxations")
        out[composition] = {"median": median, "lower_bound": lower_bound,
                            "seeds": sorted(r["seed"] for r in found),
                            "seconds": sum(r["wall_s"] for r in found) / sum(r["relaxations"] for r in found)}
    return out


def _median_cell(baseline: dict | None) -> str:
    if baseline is None:
        return "no rows"
    seeds = baseline["seeds"]
    return (f"{'> ' if baseline['lower_bound'] else ''}{baseline['median']:g} "
            f"(seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))})")


def _break_even_cells(before: float, saved: float, random_bound: bool, product_bound: bool,
                      seconds: float) -> tuple[str, str]:
    """The break-even cost (s per oracle relaxation) and whether the prior pays at ``seconds`` per relaxation.
    An unfound random median makes the saving a lower bound (the break-even an upper one), an unfound product
    median the reverse; with both the saving is not determined."""
    if random_bound and product_bound:
        return "not determined (both medians unfound)", "not shown"
    if saved <= 0 and not random_bound:
        return "never (no relaxation saved)", "no"
    if saved <= 0:
        return "not determined", "not shown"
    cost = before / saved
    if random_bound:
        return f"≤ {cost:.0f}", "yes" if cost < seconds else "not shown"
    if product_bound:
        return f"≥ {cost:.0f}", "no" if cost >= seconds else "not shown"
    return f"{cost:.0f}", "yes" if cost < seconds else "no"


def break_even() -> str:
    """The oracle cost above which the prior pays: the product's work on the prior before its first oracle
    relaxation (volume scan and screening), over the oracle relaxations it saves against random search — the
    stronger of its two variants (the lower median), so that the prior is credited with no saving the better
    random search would not also make. Every product run that recorded that time counts, an unfound one as its
    budget. CHGNet's cost per relaxation from the newer random rows where they exist."""
    header = ["composition", "product runs", "oracle relaxations to find: product (median)",
              "random at the known volume, conventional cells (median)",
              "random at the known volume, primitive cells too (median)",
              "prior's work before the first oracle relaxation, median (s)",
              "break-even (s per oracle relaxation)", "CHGNet here (s per relaxation)", "the prior pays on CHGNet"]
    conventional = _random_baseline(tables_search.RANDOM_AT_KNOWN_VOLUME)
    primitive = _random_baseline(tables_search.RANDOM_WITH_PRIMITIVE_CELLS)
    by_composition: dict[str, list[dict]] = {}
    for r in product_rows():
        if r.get("before_oracle_s") is not None:
            by_composition.setdefault(r["composition"], []).append(r)
    body = []
    for composition, runs in by_composition.items():
        both = [b for b in (conventional.get(composition), primitive.get(composition)) if b is not None]
        random = min(both, key=lambda b: (b["median"], not b["lower_bound"]))
        seconds = (primitive.get(composition) or conventional[composition])["seconds"]
        found, product_bound = _median_of_finds(runs, "oracle_relaxations")
        before = statistics.median(r["before_oracle_s"] for r in runs)
        cost, pays = _break_even_cells(before, random["median"] - found, random["lower_bound"], product_bound,
                                       seconds)
        body.append([composition, len(runs), f"{'> ' if product_bound else ''}{found:g}",
                     _median_cell(conventional.get(composition)), _median_cell(primitive.get(composition)),
                     f"{before:.0f}", cost, f"{seconds:.1f}", pays])
    return markdown(header, body)


def product_search_summary() -> str:
    """Per composition over its seeds: finds, the median and the wall time."""
    by_composition: dict[str, list[dict]] = {}
    for r in product_rows():
        by_composition.setdefault(r["composition"], []).append(r)
    body = []
    for composition, runs in by_composition.items():
        runs = sorted(runs, key=lambda r: r["seed"])
        finds = [r["relaxations_to_find"] for r in runs]
        median, unfound_sets_it = _median_of_finds(runs, "oracle_relaxations")
        median_text = "not found" if unfound_sets_it else f"{median:g}"
        text = ", ".join(str(f) if f is not None else f"> {r['oracle_relaxations']}" for f, r in zip(finds, runs))
        body.append([composition, ", ".join(str(r["seed"]) for r in runs),
                     f"{sum(f is not None for f in finds)}/{len(runs)}", text, median_text,
                     f"{statistics.median(r['wall_s'] for r in runs):.0f}"])
    return markdown(["composition", "seeds", "found within the budget", "oracle relaxations to find", "median",
                     "median wall (s)"], body)


def runs_table(name: str) -> str:
    """Runs of the work chain (``same_results.py`` rows of ``results/<name>``): ranks 1-4, the counts, wall time."""
    body = []
    for r in rows(name):
        ranks = [f"{number}, {energy:+.4f}" for number, energy in r["ranks"]] + [""] * (4 - len(r["ranks"]))
        converged = f"yes ({r['converged_by']})" if r["converged"] else "no"
        body.append([f"{r['composition']} {r['engine']} seed {r['seed']}, {r['label']}", r["commit"], *ranks,
                     r["oracle_relaxations"], f"{r['iterations']}, {converged}", f"{r['wall_s']:.0f}"])
    return markdown(["run", "commit", "rank 1", "rank 2", "rank 3", "rank 4", "oracle relaxations",
                     "iterations, converged", "wall (s)"], body)


def same_results() -> str:
    """The same runs before and after a change that must not change results."""
    return runs_table("same_results.jsonl")


def make_predict() -> str:
    """``make predict``'s run alone on the machine (``same_results.py`` rows of ``results/make_predict.jsonl``)."""
    return runs_table("make_predict.jsonl")


def faults() -> str:
    """The fault matrix (benchmarks/faults.py): per stage and fault, the faults injected, the runs that finished,
    oracle relaxations lost, duplicated in the dataset or repeated, and the runs equal to the uninterrupted one."""
    cells: dict[tuple, list] = {}
    for r in rows("faults.jsonl"):
        if r["kind"] == "fault":
            restart = (r.get("restart") or "verdi daemon restart") if r["fault"] == "worker" else "none"
            cells.setdefault((r["profile"], r["stage"], r["fault"], restart), []).append(r)
    body = []
    for (profile, stage, fault, restart), runs in cells.items():
        hit = [r for r in runs if r["injected"]]
        body.append([stage, {"worker": "daemon workers SIGKILLed", "job": "CalcJob's script SIGKILLed"}[fault],
                     restart, profile, f"{len(hit)} of {len(runs)}", sum(bool(r["finished"]) for r in hit),
                     sum(r.get("lost", 0) for r in hit), sum(r.get("duplicated", 0) for r in hit),
                     sum(r.get("repeated", 0) for r in hit), sum(bool(r["same_result"]) for r in hit),
                     sum(r.get("died_jobs", 0) for r in hit),
                     ", ".join(sorted({r["commit"] for r in runs}))])
    return markdown(["stage", "fault", "then", "profile", "injected", "finished (exit 0)", "oracle results lost",
                     "duplicated in the dataset", "oracle relaxations repeated", "same result as uninterrupted",
                     "CalcJobs that died (retried)", "commit"], body)


def crash_test_loop() -> str:
    """The daemon-crash test run again and again (benchmarks/crash_test_loop.py)."""
    runs = rows("crash_test_loop.jsonl")
    walls = [r["wall_s"] for r in runs]
    failures = sorted({r["failure"] for r in runs if not r["passed"]})
    return markdown(["runs", "passed", "wall per run, median (min–max) (s)", "failures"],
                    [[len(runs), sum(r["passed"] for r in runs),
                      f"{statistics.median(walls):.0f} ({min(walls):.0f}–{max(walls):.0f})" if walls else "-",
                      "; ".join(failures) or "none"]])


def inspection_race() -> str:
    """The daemon-crash test's polls with ``INSPECT_TIMING_LOG`` (tests/production/inspect_run.py): per poll, the
    seconds from its start to its read of the ``dataset`` output, from that read to its last read of the run, and
    what the order the inspection used before (outputs first, state last) would have reported."""
    body = []
    polls = rows("inspection_race.jsonl")
    for before, poll in zip([None, *polls], polls):
        old = ("finished without its dataset" if poll["state_last"] == "finished" and not poll["dataset_seen"]
               else poll["state_last"])
        body.append([f"{poll['started'] - before['started']:.1f}" if before else "-", poll["n_calcjobs"],
                     f"{poll['dataset_read_at'] - poll['started']:.2f}",
                     f"{poll['last_read_at'] - poll['dataset_read_at']:.2f}", poll["state_first"],
                     "yes" if poll["dataset_seen"] else "no", old, poll.get("commit", "-")])
    return markdown(["since the last poll (s)", "CalcJobs", "start → dataset read (s)", "dataset read → state read "
                     "(s)", "state read first", "dataset output seen", "state read last (the old order)", "commit"],
                    body)


SYSTEM_FILES = ("system_search_51c1815.jsonl", "system_search_352eeae.jsonl", "system_search_77a5a36.jsonl")


def system_search() -> str:
    """A chemical system through ``cryspai.system`` against each composition on its own (benchmarks/system_search.py):
    oracle relaxations, compositions found, the stable set against the oracle's own hull of the prototype library."""
    body = []
    for name in SYSTEM_FILES:
        for r in rows(name):
            worst = max(r["compositions"].items(), key=lambda item: item[1]["above_truth_mev"])
            cells = (f"≤ {r['max_atoms']} atoms" if r["max_atoms"] is not None else
                     "the list " + ", ".join(r["compositions"]))
            prior = "" if r.get("prior", "default") == "default" else f", prior {r['prior']}"
            if r.get("max_oracle_calls"):
                prior += f", budget {r['max_oracle_calls']}"
            body.append([f"{r['system']} {cells}, {r['engine']}{prior}, {r['protocol']}, seed {r['seed']}",
                         {"system": "one shared network (cryspai.system)",
                          "separate": "each composition on its own (cryspai.main)"}[r["mode"]],
                         r["oracle_relaxations"],
                         f"{r['found']} of {r['of']} (≤ {r.get('tolerance_mev', 2.0):g} meV/atom)",
                         f"{worst[0]} {worst[1]['above_truth_mev']:+.1f}", ", ".join(r["stable"] or ["-"]),
                         ", ".join(r["truth_stable"]), "yes" if r["hull_equal"] else "no", f"{r['wall_s']:.0f}",
                         name.removesuffix(".jsonl").rsplit("_", 1)[1]])
    return markdown(["system", "run", "oracle relaxations", "compositions found (within the tolerance of the truth, "
                     "or below)",
                     "farthest from the truth (meV/atom)", "stable set found", "the truth's stable set",
                     "same hull", "wall (s)", "commit"], body)


def run_profile() -> str:
    """Where the wait of a finished run went, per stage (benchmarks/profile_run.py)."""
    return markdown(["run", "stage", "processes", "wall (s)", "CalcJobs", "CalcJob time, summed (s)",
                     "script work, summed (s)"],
                    [[f"{r['composition']} (pk {r['pk']})", r["stage"], r["processes"], r["wall_s"], r["calcjobs"],
                      r["calcjob_s"], r["script_s"]] for r in rows("profile_runs.jsonl")])


def stopping_replay() -> str:
    """The search's stopping test replayed on finished runs that did not use it (benchmarks/stopping_replay.py)."""
    body = []
    for r in rows("stopping_replay.jsonl"):
        stop = "never" if r["stop_iteration"] is None else f"{r['stop_iteration']} of {r['iterations']}"
        rank1 = "" if r["rank1_above_stop_best_mev"] is None else f"{r['rank1_above_stop_best_mev']:+.2f}"
        body.append([f"{r['composition']} {r['engine']} {r['protocol']} seed {r['seed']} (pk {r['pk']})",
                     r["patience"], stop, r["batches_skipped"], f"{r['later_gain_mev']:.2f}", rank1,
                     f"{r['loop_seconds_saved']:.0f}"])
    return markdown(["run", "patience", "would stop after iteration", "loop batches skipped",
                     "the best lowered after the stop (meV/atom)", "rank 1 against the best at the stop (meV/atom)",
                     "loop wall time saved (s)"], body)


def warm_start() -> str:
    """Retraining from new weights against from the previous network's, as the loop's dataset grows
    (benchmarks/warm_start.py)."""
    return markdown(["iteration", "frames", "start", "L-BFGS steps (most of the ensemble)", "training (s)",
                     "validation RMSE", "test RMSE", "test RMSE within 0.2 eV/atom of the lowest"],
                    [[r["iteration"], r["n_frames"], f"{r['start']} ({r['warm_started']} networks warm)", r["steps"],
                      r["train_s"], r["validation_rmse"], r["test_rmse"], r["rmse_near_mev_per_atom"]]
                     for r in rows("warm_start.jsonl")])


def ga_batching() -> str:
    """A GA round of seven crystal systems in seven processes against shared out and batched
    (benchmarks/ga_batching.py)."""
    return markdown(["layout", "processes", "at once", "repeat", "wall (s)", "commit"],
                    [[r["layout"], r["processes"], r["slots"], r["repeat"], r["wall_s"], r["commit"]]
                     for r in rows("ga_batching.jsonl")])


def screening_batch() -> str:
    """The screening's evaluations one by one against in batches of one graph (benchmarks/screening_batch.py)."""
    return markdown(["composition (atoms)", "potential", "structures", "layout", "wall, median of rounds (s)",
                     "ms per structure", "speed-up over one by one"],
                    [[f"{r['composition']} ({r['atoms']})", r["potential"], r["structures"], r["layout"],
                      r["median_s"], r["ms_per_structure"], r["speedup"]] for r in rows("screening_batch.jsonl")])


TABLES = {"warm-start": warm_start, "ga-batching": ga_batching,
          "volume-table": volume_table, "product-search": product_search,
          "product-search-summary": product_search_summary, "same-results": same_results, "make-predict": make_predict,
          "faults": faults, "system-search": system_search, "crash-test-loop": crash_test_loop,
          "inspection-race": inspection_race,
          "run-profile": run_profile, "break-even": break_even,
          "stopping-replay": stopping_replay,
          "seed-tier": tables_search.seed_tier, "hard-tier": tables_search.hard_tier,
          "ti4o8-variants": tables_search.ti4o8_variants, "table5-generations": tables_search.table5,
          "prior-known-volume": tables_search.prior_known_volume,
          "primitive-draws": tables_search.primitive_draws,
          "prior-curve-first": tables_learning.first_measurement, "prior-fine-tuning": tables_learning.fine_tuning,
          "prior-curve-si8": tables_learning.second_measurement, "prior-curve-oxides": tables_learning.oxides,
          "table3-covalent": tables_search.table3_covalent, "table3-summary": tables_search.table3_summary,
          "table3-hydrogen": tables_search.table3_hydrogen,
          "templates-nonlibrary": tables_search.templates_nonlibrary,
          "enthalpies-si": tables_search.enthalpies("Si"), "enthalpies-cao": tables_search.enthalpies("CaO"),
          "enthalpies-sio2": tables_search.enthalpies("SiO2"), "transitions": tables_search.transitions,
          "pressure-searches": tables_search.pressure_searches, "screening-batch": screening_batch}


def check(text: str) -> list[str]:
    """The names of the tables in ``text`` that differ from their rows (or have no renderer)."""
    wrong = []
    for match in BLOCK.finditer(text):
        name = match["name"]
        if name not in TABLES or match["body"].strip() != TABLES[name]().strip():
            wrong.append(name)
    return wrong


def write(text: str) -> str:
    """``text`` with every table block rendered again from its rows."""
    return BLOCK.sub(lambda m: f"{m[1]}{TABLES[m['name']]()}\n{m[4]}", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    text = DOCS.read_text()
    if args.write:
        DOCS.write_text(write(text))
        return
    wrong = check(text)
    if wrong:
        sys.exit(f"docs/benchmarks.md: these tables differ from their rows: {', '.join(wrong)} "
                 "(python benchmarks/doc_tables.py --write renders them again)")
    print(f"{len(BLOCK.findall(text))} tables match their rows")


if __name__ == "__main__":
    main()

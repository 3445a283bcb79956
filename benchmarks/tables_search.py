"""Tables of ``docs/benchmarks.md`` for the search baselines (random symmetric search, the in-process loop at the
known volume, the GA's generations, Table 3's first batch, the pressure searches), each rendered from its rows.
Registered in ``doc_tables.TABLES``; ``python doc_tables.py`` checks them."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from search_table import table as search_vs_random_table

RESULTS = Path(__file__).parent / "results"


def rows_with(name: str, *keys: str) -> list[dict]:
    """The rows of ``results/<name>`` that hold every one of ``keys`` (lines that are not JSON objects, such as a
    library's banner captured with the rows, and rows of another kind, such as targets, are skipped)."""
    found = []
    for line in (RESULTS / name).read_text().splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            if all(key in row for key in keys):
                found.append(row)
    return found


def markdown(header: list[str], body: list[list]) -> str:
    """A markdown table: the header, its rule and one line per row of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in body]
    return "\n".join(lines)


def _search_rows(*names: str) -> list[dict]:
    return [row for name in names for row in rows_with(name, "method", "seed", "found")]


def seed_tier() -> str:
    """Random symmetric search against the in-process loop at the known volume, budget 60, seeds 0-2."""
    return search_vs_random_table(_search_rows("seed_tier_f0f7c0c.jsonl"))


def hard_tier() -> str:
    """The same for the 10-20-atom oxides, from the three files that hold them."""
    return search_vs_random_table(_search_rows("hard_tier_f0f7c0c.jsonl", "hard_tier_cryspai_27a7dab.jsonl",
                                               "ti4o8_allocation_5cf5429.jsonl"))


def _finds(runs: list[dict], budget_key: str = "relaxations") -> str:
    return ", ".join(str(r["relaxations_to_find"]) if r["found"] else f"> {r[budget_key]}"
                     for r in sorted(runs, key=lambda r: r["seed"]))


def ti4o8_variants() -> str:
    """Two GA variants on Ti4O8 with a budget of 15."""
    variants = [("bigger GA on the network: `{\"ga\": {\"n_trial\": 32, \"n_generations\": 6, \"n_replace\": 8, "
                 "\"n_offspring\": 16, \"n_recommend\": 2}}`", "ti4o8_biggerga_27a7dab.jsonl"),
                ("network-screened random structures, no GA generations: `{\"ga\": {\"n_trial\": 48, "
                 "\"n_generations\": 0, \"n_replace\": 8, \"n_offspring\": 16, \"n_recommend\": 3}}`",
                 "ti4o8_screened_27a7dab.jsonl")]
    body = []
    for label, name in variants:
        runs = _search_rows(name)
        body.append([label, f"{_finds(runs)} (seeds {', '.join(str(r['seed']) for r in runs)})"])
    return markdown(["variant (override of `fast`)", "oracle relaxations to find"], body)


PAPER_TABLE5 = {"Si8": ("diamond", "8/5, 15, 2"), "Ga4As4": ("zincblende", "16/5, 19, 2"),
                "Si4C4": ("zincblende", "8/5, 5, 1")}


def table5() -> str:
    """Generations of the target's crystal system's GA (CHGNet as the local optimiser) to the target."""
    groups: dict[str, list[dict]] = {}
    for row in rows_with("table5_27a7dab.jsonl", "generations_to_target"):
        groups.setdefault(row["composition"], []).append(row)
    body = []
    for composition, runs in groups.items():
        runs.sort(key=lambda r: r["seed"])
        name, paper = PAPER_TABLE5[composition]
        body.append([f"{composition} ({name})", runs[0]["n_pop"],
                     ", ".join("–" if r["generations_to_target"] is None else str(r["generations_to_target"])
                               for r in runs),
                     ", ".join(str(r["oracle_relaxations"]) for r in runs),
                     ", ".join(f"{r['wall_s']:.0f}" for r in runs), paper])
    return markdown(["system", "N_pop", "generations to target (seeds 0, 1, 2)", "oracle relaxations", "wall (s)",
                     "paper: CALYPSO / GSGO / CrySPAI"], body)


def _median_text(runs: list[dict]) -> str:
    counts = [r["relaxations_to_find"] if r["found"] else float("inf") for r in runs]
    median = statistics.median(counts)
    return "not found" if median == float("inf") else f"{median:g}"


def _cell(runs: list[dict]) -> str:
    """Oracle relaxations to the find per seed, with the seeds and the median where there are several."""
    if not runs:
        return "no row"
    runs = sorted(runs, key=lambda r: r["seed"])
    seeds = ", ".join(str(r["seed"]) for r in runs)
    text = f"{_finds(runs)} (seed{'s' if len(runs) > 1 else ''} {seeds}"
    return text + (f"; median {_median_text(runs)})" if len(runs) > 1 else ")")


RANDOM_AT_KNOWN_VOLUME = ("seed_tier_f0f7c0c.jsonl", "hard_tier_f0f7c0c.jsonl")
PRIOR_AT_KNOWN_VOLUME = ("prior_search_72aa273.jsonl", "prior_search_5bdd1e9.jsonl", "prior_search_425851d.jsonl")


def prior_known_volume() -> str:
    """Random search, the prior's screening alone and the in-process loop with the prior, all at the known volume
    (conventional cells only: the draws before primitive cells of centred groups)."""
    random = _search_rows(*RANDOM_AT_KNOWN_VOLUME)
    prior = _search_rows(*PRIOR_AT_KNOWN_VOLUME)
    compositions = list(dict.fromkeys(r["composition"] for r in prior))
    body = []
    for composition in compositions:
        def of(method: str, runs: list[dict] = prior) -> list[dict]:
            return [r for r in runs if r["composition"] == composition and r["method"] == method]
        body.append([composition, _cell(of("random", random)), _cell(of("screening")), _cell(of("cryspai+prior"))])
    return markdown(["composition", "random", "prior screening alone", "CrySPAI + prior"], body)


def primitive_draws() -> str:
    """The same three with primitive cells of centred groups among the draws, against random before them."""
    before = _search_rows(*RANDOM_AT_KNOWN_VOLUME)
    now = _search_rows("primitive_draws_0bf2b1a.jsonl")
    prior = _search_rows("prior_search_6f94f57.jsonl")
    body = []
    for composition in dict.fromkeys(r["composition"] for r in now):
        def of(runs: list[dict], method: str) -> list[dict]:
            return [r for r in runs if r["composition"] == composition and r["method"] == method]
        body.append([composition, _cell(of(before, "random")), _cell(of(now, "random")),
                     _cell(of(prior, "screening")), _cell(of(prior, "cryspai+prior"))])
    return markdown(["composition", "random before", "random now", "prior screening now", "CrySPAI + prior now"],
                    body)

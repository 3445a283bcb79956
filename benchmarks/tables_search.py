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


def search_rows(*names: str) -> list[dict]:
    return [row for name in names for row in rows_with(name, "method", "seed", "found")]


def seed_tier() -> str:
    """Random symmetric search against the in-process loop at the known volume, budget 60, seeds 0-2."""
    return search_vs_random_table(search_rows("seed_tier_f0f7c0c.jsonl"))


def hard_tier() -> str:
    """The same for the 10-20-atom oxides, from the files that hold them: random search with conventional cells
    only (f0f7c0c) and with primitive cells of centred groups too (0bf2b1a on), the in-process loop."""
    rows = search_rows("hard_tier_f0f7c0c.jsonl", "hard_tier_cryspai_27a7dab.jsonl", "ti4o8_allocation_5cf5429.jsonl")
    hard = {r["composition"] for r in rows}
    return search_vs_random_table(rows + [r for r in random_with_primitive_cells() if r["composition"] in hard])


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
        runs = search_rows(name)
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


def _of(runs: list[dict], composition: str, method: str) -> list[dict]:
    return [r for r in runs if r["composition"] == composition and r["method"] == method]


RANDOM_AT_KNOWN_VOLUME = ("seed_tier_f0f7c0c.jsonl", "hard_tier_f0f7c0c.jsonl")
"""Random symmetric search at the known volume, conventional cells only (before commit 0bf2b1a)."""
RANDOM_WITH_PRIMITIVE_CELLS = ("primitive_draws_0bf2b1a.jsonl", "hard_tier_0bd4d1c.jsonl")
"""The same search since 0bf2b1a: primitive cells of centred space groups among the draws."""
PRIMITIVE_CELLS_METHOD = "random, primitive cells too"


def random_with_primitive_cells() -> list[dict]:
    """The random rows of :data:`RANDOM_WITH_PRIMITIVE_CELLS`, their method named apart from the earlier draws'."""
    return [{**r, "method": PRIMITIVE_CELLS_METHOD} for r in search_rows(*RANDOM_WITH_PRIMITIVE_CELLS)
            if r["method"] == "random"]


PRIOR_AT_KNOWN_VOLUME = ("prior_search_72aa273.jsonl", "prior_search_5bdd1e9.jsonl", "prior_search_425851d.jsonl")


def prior_known_volume() -> str:
    """Random search, the prior's screening alone and the in-process loop with the prior, all at the known volume
    (conventional cells only: the draws before primitive cells of centred groups)."""
    random = search_rows(*RANDOM_AT_KNOWN_VOLUME)
    prior = search_rows(*PRIOR_AT_KNOWN_VOLUME)
    compositions = list(dict.fromkeys(r["composition"] for r in prior))
    body = []
    for composition in compositions:
        body.append([composition, _cell(_of(random, composition, "random")),
                     _cell(_of(prior, composition, "screening")), _cell(_of(prior, composition, "cryspai+prior"))])
    return markdown(["composition", "random", "prior screening alone", "CrySPAI + prior"], body)


def primitive_draws() -> str:
    """The same three with primitive cells of centred groups among the draws, against random before them."""
    before = search_rows(*RANDOM_AT_KNOWN_VOLUME)
    now = search_rows("primitive_draws_0bf2b1a.jsonl")
    prior = search_rows("prior_search_6f94f57.jsonl")
    body = []
    for composition in dict.fromkeys(r["composition"] for r in now):
        body.append([composition, _cell(_of(before, composition, "random")), _cell(_of(now, composition, "random")),
                     _cell(_of(prior, composition, "screening")), _cell(_of(prior, composition, "cryspai+prior"))])
    return markdown(["composition", "random before", "random now", "prior screening now", "CrySPAI + prior now"],
                    body)


def _table3_rows(name: str) -> dict[str, dict]:
    return {r["structure"]: r for r in rows_with(name, "structure", "experimental_volume")}


def _volume_cell(row: dict, energy: bool = False) -> str:
    """Starting volume / the lowest first-batch structure's volume against experiment / same structure as
    experiment (and, with ``energy``, its energy above the oracle-relaxed experimental structure, meV/atom)."""
    if row.get("predicted_volume") is None:
        return "failed"
    start = row.get("start_volume", row["eq2_volume"])
    deviation = (row["predicted_volume"] - row["experimental_volume"]) / row["experimental_volume"] * 100
    text = f"{start:.1f} / {deviation:+.1f} % / {'yes' if row['matched'] else 'no'}"
    if energy:
        text += f" / {(row['predicted_energy'] - row['oracle_relaxed_experimental_energy']) * 1000:.0f}"
    return text


TABLE3 = {"Eq. 2, random (the paper's)": "table3.jsonl", "scan, random": "table3_scan_3b11e69.jsonl",
          "scan + known structures (the default)": "table3_scan_templates_3b11e69.jsonl"}
COVALENT = ("Si2", "Ge2", "C2", "GaAs", "SiC", "ZnS")


def table3_covalent() -> str:
    """Table 3's first batch for the six covalent crystals Eq. 2 gets worst, under the three starting rules."""
    runs = [_table3_rows(name) for name in TABLE3.values()]
    body = [[crystal, f"{runs[0][crystal]['experimental_volume']:.1f}"] + [_volume_cell(r[crystal]) for r in runs]
            for crystal in COVALENT]
    return markdown(["crystal", "exp. V (Å³)", "Eq. 2, random: start V / ΔV/V / found", "scan, random",
                     "scan + known structures"], body)


def _summary(rows: list[dict]) -> list:
    done = [r for r in rows if r.get("predicted_volume") is not None]
    start = statistics.mean(abs(r.get("start_volume", r["eq2_volume"]) - r["experimental_volume"])
                            / r["experimental_volume"] for r in done) * 100
    lowest = statistics.mean(abs(r["predicted_volume"] - r["experimental_volume"]) / r["experimental_volume"]
                             for r in done) * 100
    matched = sum(r["matched"] for r in done)
    # one rule for every variant: the experimental structure, or one the oracle puts within 5 meV/atom of it
    close = sum(r["matched"] or r["predicted_energy"] <= r["oracle_relaxed_experimental_energy"] + 0.005
                for r in done)
    return [f"{start:.1f} %", f"{lowest:.1f} %", f"{matched} / {len(rows)}", f"{close} / {len(rows)}"]


def table3_summary() -> str:
    """All crystals of Table 3: the three starting rules by one set of measures."""
    body = [[f"{label} (`results/{name}`)"] + _summary(list(_table3_rows(name).values()))
            for label, name in TABLE3.items()]
    return markdown(["first batch", "starting volume, mean error", "mean \\|ΔV\\|/V of the lowest",
                     "experimental structure found",
                     "found, or one the oracle puts within 5 meV/atom of it"], body)


HYDROGEN = {"Eq. 2, random": "table3_h_paper_40be764.jsonl", "scan, random": "table3_h_scan_40be764.jsonl",
            "scan + known (default)": "table3_h_scan_templates_40be764.jsonl"}


def table3_hydrogen() -> str:
    """Hydrogen-containing solids: start V / ΔV/V / same structure / energy above the relaxed experimental one."""
    runs = [_table3_rows(name) for name in HYDROGEN.values()]
    body = [[crystal, f"{row['experimental_volume']:.1f}", f"{row['oracle_relaxed_experimental_volume']:.1f}"]
            + [_volume_cell(r[crystal], energy=True) for r in runs] for crystal, row in runs[0].items()]
    return markdown(["crystal", "exp. V (Å³)", "CHGNet-relaxed exp. V"] + list(HYDROGEN), body)


def _find_or_best(run: dict) -> str:
    if run["found"]:
        return str(run["relaxations_to_find"])
    return f"> {run['relaxations']} ({run['best_above_target_mev']})"


def templates_nonlibrary() -> str:
    """Random search against random search after the library's structures, on compositions whose structure the
    library does not hold (as stored)."""
    name = "templates_nonlibrary_8926506.jsonl"
    targets = {r["composition"]: r for r in rows_with(name, "reference")}
    runs = search_rows(name)
    body = []
    for composition, target in targets.items():
        of = {r["method"]: r for r in runs if r["composition"] == composition}
        body.append([composition, target["reference"], target["in_library"] or "no",
                     _find_or_best(of["random"]), _find_or_best(of["random+templates"])])
    return markdown(["composition", "known structure", "in the library (as stored)", "random",
                     "random + templates"], body)


def _phase_points(system: str) -> list:
    from aiida_cryspai.ml.enthalpy import PhasePoint

    return [PhasePoint(name=r["phase"], pressure_gpa=r["pressure_gpa"], energy_per_atom=r["energy_per_atom"],
                       volume_per_atom=r["volume_per_atom"], enthalpy_per_atom=r["enthalpy_per_atom"],
                       spacegroup=r["spacegroup"], converged=r["converged"], atoms=None)
            for r in rows_with("pressure_transitions_chgnet.jsonl", "phase") if r["system"] == system]


def enthalpies(system: str):
    """H - H_min (meV/atom) of each known phase of ``system`` on CHGNet at each pressure, the lowest in bold."""
    def render() -> str:
        from aiida_cryspai.ml.enthalpy import enthalpy_table

        points = _phase_points(system)
        table = enthalpy_table(points)
        phases = list(dict.fromkeys(p.name for p in points))
        body = [[phase] + [("**0**" if round(table[p][phase], 1) == 0 else f"{table[p][phase]:.1f}")
                           for p in table] for phase in phases]
        return markdown([system] + [f"{p:g} GPa" for p in table], body)
    return render


LITERATURE = {"Si": ("≈ 11 GPa (to β-Sn)", "≈ 8–10 GPa (to β-Sn)"), "CaO": ("≈ 60 GPa", "≈ 60–65 GPa"),
              "SiO2": ("quartz → coesite ≈ 3 GPa, → stishovite ≈ 8–9 GPa", "—")}


def transitions() -> str:
    """Where the lowest-enthalpy phase changes on CHGNet (linear interpolation between computed pressures), beside
    experiment and PBE from the literature."""
    from aiida_cryspai.ml.enthalpy import transition_pressures

    body = []
    for system, (experiment, pbe) in LITERATURE.items():
        found = transition_pressures(_phase_points(system))
        text = ", ".join(f"{before} → {after} **{pressure:.1f} GPa**" for pressure, before, after in found)
        body.append([system, text, experiment, pbe])
    return markdown(["system", "CHGNet (this helper)", "experiment", "PBE in the literature (approximate)"], body)


PRESSURE_SEARCHES = ("pressure_search_5900a50.jsonl", "pressure_search_8687ec2.jsonl",
                     "pressure_search_abinit_cc038f3.jsonl")


def pressure_searches() -> str:
    """`cryspai predict --pressure` against the known phases relaxed by the same oracle at that pressure."""
    body = []
    for name in PRESSURE_SEARCHES:
        for r in rows_with(name, "pressure_gpa", "ranking"):
            others = ", ".join(f"{phase} {mev}" for phase, mev in r["known_phases_mev"].items() if mev)
            rank1 = r["rank_1"]
            ranks = "; ".join(f"{group} {mev:+.1f}" for group, mev in r["ranking"][:3])
            body.append([f"{r['composition']}, {r['pressure_gpa']:g} GPa, {r['engine']} (`results/{name}`)",
                         f"{r['target_phase']} ({others})",
                         r["relaxations_to_find"] if r["found"] else "not found",
                         f"{rank1['spacegroup']} ({rank1['origin']}), {rank1['above_target_mev']:+.1f}", ranks,
                         r["oracle_relaxations"], r["wall_s"],
                         f"{r['start_volume_per_atom']:.2f} / {rank1['volume_per_atom']:.2f}"])
    return markdown(["run", "oracle's lowest known phase (others above it, meV/atom)", "found at oracle relaxation",
                     "rank 1 (origin), ΔH (meV/atom)", "ranks 1–3, ΔH", "oracle relaxations", "wall (s)",
                     "start V / rank-1 V (Å³/atom)"], body)

"""A whole chemical system through the product: ``cryspai.system`` (every composition's loop in lock step, one
shared network, the oracle budget shared by the hull) against each composition run on its own with
``cryspai.main`` (one network each), both from the compositions alone with the product's defaults (protocol,
volume, templates, prior), every count read from the provenance graph.

The truth is the oracle's own: every structure of the prototype library (pymatgen's AFLOW prototypes, decorated
with the system's elements in every distinct way) that fits a composition's cell, and the benchmarks' own known
structures of that cell (``known_structures.py``: Li2O2 for Li4O4, which the library lacks), relaxed tightly by the
oracle, also from a rattled, strained copy; each composition's lowest of those, and the hull of those lowest. A
search that ends lower than the truth has found a structure neither holds: it counts as found, named so.

A row per (mode, seed): ``oracle_relaxations`` (all of them: every batch, verification and refinement), per
composition its oracle relaxations, best energy per atom and its distance to the truth (``found``: within
``--tolerance`` of it, or below), the stable set against the truth's (``hull_equal``), the run's wall time.

The truth is kept beside the rows (``<output>.truth.json``), written as each composition's is done, and completed
where a run stopped (``--truth-only`` computes it alone). Rows are appended to ``--output`` as each run
finishes; a rerun skips the (mode, seed) pairs already there. The separate mode writes each composition's run as it
finishes (``<output>.separate.jsonl``) and resumes from those.

    cryspai setup && cd benchmarks && python system_search.py Cu-Au --max-atoms 4 --engine ase:emt --seeds 0 \
        --output results/system_search_emt.jsonl

``--compositions Li2,O4,Li4O2,Li4O4,Li2O4`` searches the user's list (each element alone too, as ``cryspai predict``
asks) instead of every composition in cells of at most ``--max-atoms`` atoms; ``--prior ase:sevennet`` puts
SevenNet-0 under the network (the default is the engine's own choice: none for CHGNet and EMT);
``--max-oracle-calls`` sets the system's shared oracle budget (the separate runs have none).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from known_structures import candidates
from product_search import OracleRelaxationFailed, oracle_minimum, oracle_sequence
from rows import emit_row, read_rows

from aiida_cryspai.analysis.hull import convex_hull
from aiida_cryspai.analysis.symmetry import spacegroup
from aiida_cryspai.search.chemical_system import parse_compositions, parse_system, system_compositions
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.templates import prototype_structures


def truth(compositions: list[str], calculator, done: dict | None = None,
          keep=lambda lowest: None) -> dict[str, tuple[str, float]]:
    """(name, energy per atom) of each composition's lowest prototype, relaxed by the oracle (see the module);
    ``done`` holds compositions already done (skipped), ``keep`` is called with the whole after each one."""
    rng = np.random.default_rng(0)
    lowest = dict(done or {})
    for formula in compositions:
        if formula in lowest:
            continue
        best = ("none", np.inf)
        for atoms in [*prototype_structures(parse_composition(formula)), *known(formula)]:
            try:
                energy, relaxed, _ = oracle_minimum(atoms, calculator, rng, fmax=0.005)
            except OracleRelaxationFailed as error:  # a prototype the oracle cannot relax is no truth: said, skipped
                print(f"truth {formula}: {atoms.info['origin']} skipped ({error})", flush=True)
                continue
            if energy < best[1]:
                best = (f"{atoms.info['origin']} -> {spacegroup(relaxed).symbol}", energy)
        lowest[formula] = best
        keep(lowest)
        print(f"truth {formula}: {best[0]} {best[1]:.5f} eV/atom", flush=True)
    return {formula: lowest[formula] for formula in compositions}


def known(formula: str) -> list:
    """The benchmarks' known structures of ``formula``'s cell, named as the prototypes are (none if it has none)."""
    try:
        structures = candidates(formula)
    except KeyError:
        return []
    for name, atoms in structures.items():
        atoms.info["origin"] = f"known {name}"
    return list(structures.values())


def stable_set(best: dict[str, float]) -> list[str]:
    """The reduced formulas on the hull of ``best`` (formula -> energy per atom)."""
    from pymatgen.core import Composition as PymatgenComposition

    points = convex_hull([(formula, formula, energy) for formula, energy in best.items()])
    return sorted({PymatgenComposition(p.formula).reduced_formula for p in points if p.stable})


def run_system(system: str, compositions: list[str], engine: str, seed: int, protocol: str, prior: str,
               max_oracle_calls: int | None = None):
    from aiida.engine import run_get_node

    from aiida_cryspai.cli.system import system_status
    from aiida_cryspai.workchains.system import SystemWorkChain

    builder = SystemWorkChain.get_builder_from_protocol(system, compositions, engine=engine, protocol=protocol,
                                                        seed=seed, prior=prior, max_oracle_calls=max_oracle_calls)
    start = time.perf_counter()
    _, node = run_get_node(builder)
    wall = time.perf_counter() - start
    per, best = {}, {}
    summary = node.outputs.summary.get_dict() if "summary" in node.outputs else {"compositions": {}}
    for formula, info in summary["compositions"].items():
        best[formula] = info["best"][summary["objective"]]
    from aiida.orm import WorkChainNode

    for link in node.base.links.get_outgoing(node_class=WorkChainNode).all():
        label = link.link_label
        if label.startswith("oracle_") and "structures" in link.node.inputs:
            formula = label.rsplit("_", 1)[1]
            per[formula] = per.get(formula, 0) + len(link.node.inputs.structures)
    total = system_status(node)["oracle_relaxations_done"]
    return node, wall, per, best, total


def run_separate(compositions: list[str], engine: str, seed: int, protocol: str, prior: str, parts: Path):
    """Each composition on its own (``cryspai.main``), one after another; each finished one is written to ``parts``
    at once (a run of an hour or more resumes from the compositions done)."""
    from aiida.engine import run_get_node

    from aiida_cryspai.workchains.main import CrySPAIWorkChain

    done = {row["formula"]: row for row in read_rows(parts) if row["seed"] == seed and row["engine"] == engine
            and row["protocol"] == protocol and row.get("prior", "default") == prior}
    for formula in compositions:
        if formula in done:
            continue
        builder = CrySPAIWorkChain.get_builder_from_protocol(formula, engine=engine, protocol=protocol, seed=seed,
                                                             prior=prior)
        start = time.perf_counter()
        _, node = run_get_node(builder)
        sequence = oracle_sequence(node)
        energies = [entry[1] for entry in sequence if entry[2] is not None]
        done[formula] = {"seed": seed, "engine": engine, "protocol": protocol, "prior": prior, "formula": formula,
                         "pk": node.pk,
                         "finished_ok": node.is_finished_ok, "wall_s": round(time.perf_counter() - start, 1),
                         "oracle_relaxations": len(sequence), "best_ev_per_atom": min(energies) if energies else None}
        emit_row(done[formula], parts)
    rows = [done[formula] for formula in compositions]
    per = {row["formula"]: row["oracle_relaxations"] for row in rows}
    best = {row["formula"]: np.inf if row["best_ev_per_atom"] is None else row["best_ev_per_atom"] for row in rows}
    return rows, sum(row["wall_s"] for row in rows), per, best, sum(per.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system")
    parser.add_argument("--max-atoms", type=int, default=4)
    parser.add_argument("--compositions", default=None, help="the user's list (Li2,O4,Li4O2), instead of every one")
    parser.add_argument("--engine", default="ase:emt")
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--prior", default="default",
                        help="the prior under the network: default (the engine's), none, or a name (ase:sevennet)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--modes", nargs="+", default=["system", "separate"], choices=["system", "separate"])
    parser.add_argument("--max-oracle-calls", type=int, default=None,
                        help="the system's shared oracle budget (cryspai predict --max-oracle-calls); default none")
    parser.add_argument("--tolerance", type=float, default=0.002, help="eV/atom of the truth")
    parser.add_argument("--output", required=True)
    parser.add_argument("--truth-only", action="store_true", help="compute (or complete) the truth, run nothing")
    arguments = parser.parse_args()

    from aiida import load_profile

    from aiida_cryspai.ml.potentials import get_calculator

    load_profile()
    elements = parse_system(arguments.system)
    compositions = [c.formula for c in (parse_compositions(arguments.compositions, elements)
                                        if arguments.compositions else
                                        system_compositions(elements, arguments.max_atoms))]
    done = {(row["mode"], row["seed"]) for row in read_rows(arguments.output)}
    cache = Path(arguments.output).with_suffix(".truth.json")  # the truth takes minutes: kept as it is computed
    stored = json.loads(cache.read_text()) if cache.exists() else {}
    done_truth = ({formula: tuple(value) for formula, value in stored["truth"].items()}
                  if stored.get("engine") == arguments.engine else {})
    if set(compositions) <= set(done_truth):
        targets = {formula: done_truth[formula] for formula in compositions}
    else:
        targets = truth(compositions, get_calculator(arguments.engine.split(":", 1)[1]), done_truth,
                      lambda lowest: cache.write_text(json.dumps({"engine": arguments.engine, "truth": lowest},
                                                                 indent=1)))
    if arguments.truth_only:
        return
    truth_stable = stable_set({formula: energy for formula, (_, energy) in targets.items()})
    for seed in arguments.seeds:
        for mode in arguments.modes:
            if (mode, seed) in done:
                continue
            if mode == "system":
                node, wall, per, best, total = run_system(arguments.system, compositions, arguments.engine, seed,
                                                          arguments.protocol, arguments.prior,
                                                          arguments.max_oracle_calls)
                pks = [node.pk]
                ok = node.is_finished_ok
            else:
                parts = Path(arguments.output).with_suffix(".separate.jsonl")
                rows, wall, per, best, total = run_separate(compositions, arguments.engine, seed,
                                                            arguments.protocol, arguments.prior, parts)
                pks = [row["pk"] for row in rows]
                ok = all(row["finished_ok"] for row in rows)
            compositions_row = {}
            for formula in compositions:
                target_name, target = targets[formula]
                energy = best.get(formula, np.inf)
                compositions_row[formula] = {
                    "oracle_relaxations": per.get(formula, 0), "best_ev_per_atom": round(float(energy), 5),
                    "truth": target_name, "truth_ev_per_atom": round(float(target), 5),
                    "above_truth_mev": round(1000 * float(energy - target), 1),
                    "found": bool(energy <= target + arguments.tolerance)}
            finite = {f: e for f, e in best.items() if np.isfinite(e)}
            searched = stable_set(finite) if len(finite) == len(compositions) else None
            emit_row({"mode": mode, "system": arguments.system,
                      "max_atoms": None if arguments.compositions else arguments.max_atoms,
                      "engine": arguments.engine, "protocol": arguments.protocol, "prior": arguments.prior,
                      "max_oracle_calls": arguments.max_oracle_calls,
                      "tolerance_mev": round(1000 * arguments.tolerance, 1),
                      "seed": seed, "pks": pks,
                      "finished_ok": ok, "wall_s": round(wall, 1), "oracle_relaxations": total,
                      "found": sum(c["found"] for c in compositions_row.values()), "of": len(compositions),
                      "stable": searched, "truth_stable": truth_stable, "hull_equal": searched == truth_stable,
                      "compositions": compositions_row}, arguments.output)


if __name__ == "__main__":
    main()

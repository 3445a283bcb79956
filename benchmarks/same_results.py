"""The same run before and after a change of the code that must not change results: the ranked structures, the
oracle relaxation count, the iterations and the convergence, read from the provenance graph.

Each argument ``COMPOSITION:ENGINE`` runs ``cryspai predict COMPOSITION --engine ENGINE --protocol fast --seed S``
(the work chain from its protocol builder, the product's defaults) on the default profile (`cryspai setup` first)
and appends one row, labelled with ``--label`` (for example ``before``) and the commit, to ``--output``.

    cd benchmarks && python same_results.py Si8:ase:chgnet Ag4:ase:emt --label before \
        --output results/same_results.jsonl
"""

from __future__ import annotations

import argparse
import subprocess
import time

from rows import emit_row


def commit() -> str:
    """The short commit of the checkout the benchmark runs from, ``+`` when it has uncommitted changes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return head + ("+" if dirty else "")


def run_one(composition: str, engine: str, seed: int, protocol: str) -> dict:
    """One run of the work chain and its row: ranks 1-4 (space group number, eV/atom) and the counts."""
    from aiida.engine import run_get_node

    from aiida_cryspai.workchains.main import CrySPAIWorkChain

    builder = CrySPAIWorkChain.get_builder_from_protocol(composition, engine=engine, protocol=protocol, seed=seed)
    start = time.perf_counter()
    _, node = run_get_node(builder)
    wall = time.perf_counter() - start
    summary = node.outputs.summary.get_dict()
    ranks = [[c["spacegroup_number"], round(c["energy_per_atom"], 5)] for c in summary["candidates"][:4]]
    return {"composition": composition, "engine": engine, "seed": seed, "protocol": protocol, "pk": node.pk,
            "exit_status": node.exit_status, "ranks": ranks,
            "oracle_relaxations": summary["oracle"]["relaxations"], "iterations": summary["iterations"],
            "converged": summary["converged"], "converged_by": summary.get("converged_by"),
            "rmse_mev_per_atom": summary["model"]["rmse_mev_per_atom"], "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="COMPOSITION:ENGINE, e.g. Si8:ase:chgnet")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--label", required=True, help="e.g. before or after")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    from aiida import load_profile

    load_profile()
    for run in args.runs:
        composition, engine = run.split(":", 1)
        row = {"label": args.label, "commit": commit(), **run_one(composition, engine, args.seed, args.protocol)}
        emit_row(row, args.output)


if __name__ == "__main__":
    main()

"""The screening's relaxation thresholds: the same random symmetric draws relaxed on the prior with the oracle's
thresholds and with looser ones, side by side. The screening only ranks (the oracle relaxes its choice fully), so
what matters is the time and whether the lowest k structures, the first oracle batch's choice, stay the same.

    cd benchmarks && python screening_thresholds.py Mg2Al4O8 --prior sevennet --volume 136.18 --per-system 2 \
        --seed 11 --thresholds 0.05:300 0.1:150 --choose 7 --output results/screening_thresholds.jsonl

One row per structure and threshold (energy per atom, steps, seconds, status), then one summary row per threshold
(total seconds, the lowest ``--choose`` indices, whether they equal the first threshold's). One process on one
thread: the screening's CalcJobs each run on one core.
"""

from __future__ import annotations

import argparse
import subprocess
import time

from rows import emit_row, read_rows


def lowest(energies: list[float | None], count: int) -> list[int]:
    """The indices of the ``count`` lowest energies per atom, in index order, leaving out the refused (None) and,
    as the product's ranking does, those implausibly far below the rest (a universal potential's hole)."""
    from aiida_cryspai.search.plausibility import implausible_energies

    holes = implausible_energies(energies)
    ranked = sorted((e, i) for i, e in enumerate(energies) if e is not None and i not in holes)
    return sorted(i for _, i in ranked[:count])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("composition")
    parser.add_argument("--prior", default="sevennet")
    parser.add_argument("--volume", type=float, required=True, help="Cell volume of the draws (Å^3).")
    parser.add_argument("--per-system", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--thresholds", nargs="+", default=["0.05:300", "0.1:150"], help="fmax:max_steps pairs.")
    parser.add_argument("--choose", type=int, default=7, help="How many lowest the screening passes on.")
    parser.add_argument("--output")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
    from aiida_cryspai.ml.potentials import get_calculator
    from aiida_cryspai.ml.relax import RelaxGuards, relax_batch
    from aiida_cryspai.search.composition import parse_composition
    from aiida_cryspai.search.generation import random_structures

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    structures = random_structures(parse_composition(args.composition), list(CRYSTAL_SYSTEMS), args.per_system,
                                   args.volume, seed=args.seed)
    calculator = get_calculator(args.prior)
    done = {(r["thresholds"], r["index"]): r for r in read_rows(args.output) if r.get("kind") == "structure"} \
        if args.output else {}
    base = {"composition": args.composition, "prior": args.prior, "volume": args.volume, "seed": args.seed,
            "commit": commit}
    chosen_first = None
    for pair in args.thresholds:
        fmax, max_steps = float(pair.split(":")[0]), int(pair.split(":")[1])
        rows = []
        for index, atoms in enumerate(structures):
            row = done.get((pair, index))
            if row is None:
                start = time.perf_counter()
                result = relax_batch([atoms], calculator, fmax=fmax, max_steps=max_steps, guards=RelaxGuards(),
                                     record_frames=False)[0]
                row = {**base, "kind": "structure", "thresholds": pair, "index": index, "n_atoms": len(atoms),
                       "energy_per_atom": result.energy / len(atoms) if result.ok else None,
                       "steps": result.n_steps, "converged": result.converged, "status": result.status,
                       "seconds": round(time.perf_counter() - start, 2)}
                emit_row(row, args.output)
            rows.append(row)
        chosen = lowest([r["energy_per_atom"] for r in rows], args.choose)
        chosen_first = chosen if chosen_first is None else chosen_first
        emit_row({**base, "kind": "summary", "thresholds": pair, "n_structures": len(rows),
                  "seconds": round(sum(r["seconds"] for r in rows), 1), "steps": sum(r["steps"] for r in rows),
                  "lowest": chosen, "same_lowest_as_first": chosen == chosen_first}, args.output)


if __name__ == "__main__":
    main()

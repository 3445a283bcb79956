"""Rules for the volume of random structures, compared on the volume table's compositions (``volume_table.py``):
the random symmetric structures of the work chain's volume scan (run seed 1) are scaled rigidly over the scan's
volumes on ``--scanner`` (SevenNet-0), then the ``--relax`` lowest minima are relaxed (variable cell, FIRE to 0.1 eV/Å,
at most ``--max-steps``, with the repulsion guard). A row gives, as % of the known volume: the rigid scan's lowest
minimum (``scan_err``), every relaxed structure (energy per atom, volume error, steps) lowest first, and the median
of those within 0.1 eV/atom of the lowest (``win_med_err``). The product's rule (``search/volume.py``) is the lowest
relaxed structure, with ``--per-system 4 --relax 8``.

    cd benchmarks && python volume_rules.py --per-system 1 --relax 7 > results/volume_rules_7_9e352ea.jsonl
    python volume_rules.py --per-system 4 --relax 8 Si2 Al4O6 Mg2H4 Zn2O2 Ti4O8 NaCl \
        > results/volume_rules_28_9e352ea.jsonl
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from volume_table import KNOWN, stage_seed

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
from aiida_cryspai.ml.potentials import batch_evaluator, get_calculator
from aiida_cryspai.ml.relax import RelaxGuards, relax_batch
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_structures_by_spacegroup, scale_to_volume
from aiida_cryspai.search.volume import estimate_volume, place_at_minima, scan_energies, scan_minima


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compositions", nargs="*", default=list(KNOWN))
    parser.add_argument("--scanner", default="sevennet")
    parser.add_argument("--per-system", type=int, default=4)
    parser.add_argument("--relax", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=150)
    args = parser.parse_args()
    calculator = get_calculator(args.scanner)
    evaluate = batch_evaluator(calculator)
    for name in args.compositions:
        known = KNOWN[name][1]
        composition = parse_composition(name)
        eq2 = estimate_volume(composition)
        start = time.perf_counter()
        randoms = random_structures_by_spacegroup(composition, list(CRYSTAL_SYSTEMS),
                                                  args.per_system * len(CRYSTAL_SYSTEMS), eq2, stage_seed(1))
        minima = scan_minima([a.get_volume() for a in randoms], scan_energies(randoms, evaluate),
                             n_atoms=len(randoms[0]))
        volume, volumes, order = place_at_minima(minima, eq2, False)
        scan_wall = time.perf_counter() - start
        starts = [scale_to_volume(randoms[k], volumes[k]) for k in order if minima[k] is not None][:args.relax]
        results = relax_batch(starts, calculator, fmax=0.1, max_steps=args.max_steps, relax_cell=True,
                              guards=RelaxGuards(repulsion=100.0, max_seconds=600), record_frames=False)
        relaxed = sorted((r.energy / len(r.atoms), r.atoms.get_volume(), r.n_steps) for r in results if r.ok)
        window = [v for e, v, _ in relaxed if e <= relaxed[0][0] + 0.1] if relaxed else []
        median = float(np.median(window)) if window else volume
        row = {"composition": name, "known": known, "per_system": args.per_system, "relaxed_count": len(starts),
               "scan": round(volume, 1), "scan_err": round(100 * (volume - known) / known, 1),
               "relaxed": [(round(e, 3), round(100 * (v - known) / known, 1), n) for e, v, n in relaxed],
               "lowest_relaxed_err": round(100 * (relaxed[0][1] - known) / known, 1) if relaxed else None,
               "win_med_err": round(100 * (median - known) / known, 1), "n_win": len(window),
               "status": [r.status for r in results], "scan_s": round(scan_wall, 1),
               "relax_s": round(time.perf_counter() - start - scan_wall, 1)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

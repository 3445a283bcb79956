"""The starting volume the product chooses from the composition alone, against the known (experimental) volume:
Eq. 2, the scan of random symmetric structures (templates off) and the scan of the prototype library's structures
(templates on), each on ``--scanner`` (the prior: SevenNet-0 by default), with the guards of the product
(``search/volume.py``: contact floor, implausible minima, the lowest 8 random structures relaxed after the scan under
the product's relaxation guards, never below 0.8 x Eq. 2 for random structures).

The functions are the work chain's own (``scan_for_volume`` is what ``scan_volume``/``choose_volume`` do, in one
process), with the random structures of the work chain's ``volume_scan`` stage for run seed ``--seed`` (1, the
command line's default). Rows are appended to ``--output`` as each composition finishes.

    cd benchmarks && python volume_table.py --output results/volume_table_<commit>.jsonl
"""

from __future__ import annotations

import argparse
import time

from rows import emit_row, read_rows

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
from aiida_cryspai.ml.potentials import batch_evaluator, get_calculator
from aiida_cryspai.ml.relax import RelaxGuards, relaxed_volumes
from aiida_cryspai.protocols.schema import GuardParameters
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_structures_by_spacegroup
from aiida_cryspai.search.seeds import stage_seed
from aiida_cryspai.search.templates import prototype_structures
from aiida_cryspai.search.volume import (
    RANDOM_SCAN_PER_SYSTEM,
    RANDOM_SCAN_RELAX_SETTINGS,
    estimate_volume,
    scan_for_volume,
)

# experimental volumes (Å^3) of the cells: from results/table3*.jsonl (the paper's Table 3 structures and the
# hydrides), corundum (Al2O3, 42.5 Å^3 per formula unit) and rutile (TiO2, 31.2)
KNOWN = {
    "Al4O6": ("oxide", 85.0), "Ti4O8": ("oxide", 124.8), "MgO": ("oxide", 18.681), "Zn2O2": ("oxide", 47.63),
    "LiH": ("hydride", 17.017), "NaH": ("hydride", 29.054), "Mg2H4": ("hydride", 60.98),
    "Si2": ("covalent", 40.048), "SiC": ("covalent", 20.72), "GaAs": ("covalent", 45.162),
    "Cu4": ("metal", 47.242), "Al4": ("metal", 66.43), "Mg2": ("metal", 46.472),
    "NaCl": ("halide", 44.852), "LiF": ("halide", 16.326), "CaF2": ("halide", 40.76), "KCl": ("halide", 62.304),
}
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compositions", nargs="*", default=list(KNOWN))
    parser.add_argument("--scanner", default="sevennet")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    calculator = get_calculator(args.scanner)
    evaluate = batch_evaluator(calculator)
    guards = RelaxGuards(**GuardParameters().model_dump())

    def relax(structures):
        return [found for _, found in relaxed_volumes(structures, calculator, guards, **RANDOM_SCAN_RELAX_SETTINGS)]

    done = {r["composition"] for r in read_rows(args.output)} if args.output else set()
    for name in args.compositions:
        if name in done:
            continue
        kind, known = KNOWN[name]
        composition = parse_composition(name)
        eq2 = estimate_volume(composition)
        start = time.perf_counter()
        randoms = random_structures_by_spacegroup(composition, list(CRYSTAL_SYSTEMS),
                                                  RANDOM_SCAN_PER_SYSTEM * len(CRYSTAL_SYSTEMS), eq2,
                                                  stage_seed(args.seed, "volume_scan"))
        random_volume, _ = scan_for_volume(randoms, evaluate, eq2, known=False, relax=relax)
        templates = prototype_structures(composition, eq2)[:64]
        template_volume = scan_for_volume(templates, evaluate, eq2, known=True)[0] if templates else None
        row = {"composition": name, "bonding": kind, "known_volume": known, "scanner": args.scanner,
               "seed": args.seed, "eq2": round(eq2, 2), "scan_random": round(random_volume, 2),
               "scan_templates": None if template_volume is None else round(template_volume, 2),
               "n_templates": len(templates), "wall_s": round(time.perf_counter() - start, 1)}
        for key in ("eq2", "scan_random", "scan_templates"):
            if row[key] is not None:
                row[f"{key}_error_pct"] = round(100 * (row[key] - known) / known, 1)
        emit_row(row, args.output)


if __name__ == "__main__":
    main()

"""Transition pressures the oracle gives, from ``aiida_cryspai.ml.enthalpy`` (what ``cryspai enthalpies``
runs): known phases of Si, CaO and SiO2 relaxed by CHGNet at a ladder of pressures (each from its geometry at the
previous one), enthalpies per atom and the crossings of the lowest phase. These are the truths the searches under
pressure are measured against.

    cd benchmarks && python pressure_transitions.py --output results/pressure_transitions.jsonl
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.spacegroup import crystal

from aiida_cryspai.ml.enthalpy import format_table, relax_phases
from aiida_cryspai.ml.potentials import get_calculator


def silicon() -> dict[str, Atoms]:
    return {
        "diamond": bulk("Si", "diamond", a=5.43),
        "beta-Sn": crystal("Si", [(0, 0, 0)], spacegroup=141, cellpar=[4.686, 4.686, 2.585, 90, 90, 90]),
        "Imma": crystal("Si", [(0, 0.25, -0.06)], spacegroup=74, cellpar=[4.737, 4.502, 2.550, 90, 90, 90]),
        "simple hexagonal": Atoms("Si", cell=[[2.527, 0, 0], [-1.2635, 2.1884, 0], [0, 0, 2.373]], pbc=True),
    }


def calcium_oxide() -> dict[str, Atoms]:
    return {"B1 (rock salt)": bulk("CaO", "rocksalt", a=4.81), "B2 (CsCl)": bulk("CaO", "cesiumchloride", a=2.90)}


def silica() -> dict[str, Atoms]:
    return {
        "alpha-quartz": crystal(["Si", "O"], [(0.4697, 0, 2 / 3), (0.4135, 0.2669, 0.1191 + 2 / 3)], spacegroup=154,
                                cellpar=[4.913, 4.913, 5.405, 90, 90, 120]),
        "alpha-cristobalite": crystal(["Si", "O"], [(0.3003, 0.3003, 0), (0.2392, 0.1044, 0.1787)], spacegroup=92,
                                      cellpar=[4.978, 4.978, 6.948, 90, 90, 90]),
        "stishovite": crystal(["Si", "O"], [(0, 0, 0), (0.3062, 0.3062, 0)], spacegroup=136,
                              cellpar=[4.1773, 4.1773, 2.6655, 90, 90, 90]),
    }


SYSTEMS = {"Si": (silicon, np.arange(0.0, 20.1, 2.5)), "CaO": (calcium_oxide, np.arange(0.0, 120.1, 20.0)),
           "SiO2": (silica, np.arange(0.0, 16.1, 2.0))}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("systems", nargs="*", default=list(SYSTEMS))
    parser.add_argument("--oracle", default="chgnet")
    parser.add_argument("--output", default=None, help="append one JSON line per phase and pressure")
    args = parser.parse_args()
    calculator = get_calculator(args.oracle)
    for name in args.systems:
        build, pressures = SYSTEMS[name]
        points = relax_phases(build(), calculator, list(pressures), fmax=0.01, max_steps=1000,
                              log=lambda line: print(f"# {line}", flush=True))
        print(f"## {name} on {args.oracle}\n{format_table(points)}", flush=True)
        if args.output:
            with open(args.output, "a") as handle:
                for p in points:
                    handle.write(json.dumps({"system": name, "oracle": args.oracle, "phase": p.name,
                                             "pressure_gpa": p.pressure_gpa, "enthalpy_per_atom": p.enthalpy_per_atom,
                                             "energy_per_atom": p.energy_per_atom,
                                             "volume_per_atom": p.volume_per_atom, "spacegroup": p.spacegroup,
                                             "converged": p.converged}) + "\n")

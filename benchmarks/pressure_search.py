"""Searches under pressure against the oracle's own truth: ``cryspai predict COMPOSITION --pressure P`` (the whole
work chain, CHGNet as the oracle, its defaults otherwise), and the known phases of the composition relaxed by the
same oracle at the same pressure (``pressure_transitions.py``'s phases, ``cryspai enthalpies``' helper). A run
succeeds when an oracle relaxation reaches the lowest known enthalpy per atom within ``--tolerance`` (5 meV/atom);
every oracle relaxation is counted, in the order the run made them (batches in order, keys in order in a batch).

    cd benchmarks && AIIDA_PATH=/tmp/runs python pressure_search.py Si8:20 Ca4O4:0 Ca4O4:100 Si2O4:15 \
        --output results/pressure_search.jsonl

An AiiDA profile with the cryspai codes must exist (``cryspai setup``); rows are appended as each run finishes and
runs already in ``--output`` are skipped.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from ase.units import GPa
from pressure_transitions import calcium_oxide, silica, silicon

from aiida_cryspai.ml.enthalpy import relax_phases
from aiida_cryspai.ml.potentials import get_calculator
from aiida_cryspai.search.composition import parse_composition

PHASES = {("Si",): silicon, ("Ca", "O"): calcium_oxide, ("O", "Si"): silica}


def truth(composition: str, pressure: float, oracle: str) -> tuple[float, str, dict[str, float]]:
    """Lowest enthalpy per atom of the known phases at ``pressure`` on the oracle, its phase, and every phase's."""
    elements = tuple(sorted(parse_composition(composition).symbols))
    phases = PHASES[elements]()
    if oracle.startswith("ase:"):
        points = relax_phases(phases, get_calculator(oracle.removeprefix("ase:")), [pressure], fmax=0.005,
                              max_steps=2000)
        enthalpies = {p.name: p.enthalpy_per_atom for p in points}
    else:
        enthalpies = dft_enthalpies(phases, pressure, oracle)
    best = min(enthalpies, key=enthalpies.get)
    return enthalpies[best], best, enthalpies


def dft_enthalpies(phases: dict, pressure: float, engine: str) -> dict[str, float]:
    """Enthalpy per atom of each phase relaxed by a DFT engine at ``pressure`` with the settings of the search's
    final refinement (the ``fast`` DFT protocol, forces below the refinement's fmax, the whole cell free): one
    OracleWorkChain, in the profile of ``cryspai setup``."""
    from aiida import load_profile, orm
    from aiida.engine import run_get_node

    load_profile()
    from aiida_cryspai.engines import get_engine
    from aiida_cryspai.protocols import get_protocol
    from aiida_cryspai.workchains.oracle import OracleWorkChain, oracle_outputs

    oracle = get_engine(engine)
    refine = get_protocol("fast")["refine"]
    parameters = oracle.tight_parameters(oracle.default_parameters(), refine["fmax"], refine["max_steps"])
    parameters = oracle.with_pressure(parameters, pressure)
    structures = {f"phase_{n}": orm.StructureData(ase=atoms) for n, atoms in enumerate(phases.values())}
    _, node = run_get_node(OracleWorkChain, engine=orm.Str(engine), structures=structures,
                           parameters=orm.Dict(parameters), code=orm.load_code(f"{oracle.code_label}@localhost"),
                           max_parallel=orm.Int(2))
    energies, relaxed = oracle_outputs(node, "energies"), oracle_outputs(node, "relaxed_structures")
    found = {}
    for n, name in enumerate(phases):
        key = f"phase_{n}"
        if key in energies:
            atoms = relaxed[key].get_ase()
            found[name] = (energies[key].value + pressure * GPa * atoms.get_volume()) / len(atoms)
    return found


def oracle_order(pk: int, pressure: float) -> list[float]:
    """Enthalpy per atom of every oracle result of run ``pk`` in the order the run made them (failed: inf)."""
    from aiida import load_profile, orm

    load_profile()
    from aiida_cryspai.cli.graph import oracle_runs
    from aiida_cryspai.workchains.oracle import oracle_outputs

    values = []
    for _, oracle in oracle_runs(orm.load_node(pk)):
        if not oracle.is_finished_ok:
            values += [float("inf")] * len(oracle.inputs.structures)
            continue
        structures = oracle_outputs(oracle, "relaxed_structures")
        energies = oracle_outputs(oracle, "energies")
        for key in sorted(oracle.inputs.structures.keys()):
            if key in energies:
                atoms = structures[key].get_ase()
                values.append((energies[key].value + pressure * GPa * atoms.get_volume()) / len(atoms))
            else:
                values.append(float("inf"))
    return values


def run(composition: str, pressure: float, engine: str, protocol: str, seed: int, budget: int | None,
        tolerance: float, folder: Path) -> dict:
    target, phase, enthalpies = truth(composition, pressure, engine)
    output = folder / f"{composition}-{pressure:g}"
    command = ["cryspai", "predict", composition, "--engine", engine, "--protocol", protocol, "--seed", str(seed),
               "--pressure", str(pressure), "--output", str(output)]
    if budget:
        command += ["--max-oracle-calls", str(budget)]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    row = {"composition": composition, "pressure_gpa": pressure, "engine": engine, "protocol": protocol,
           "seed": seed, "command": " ".join(command[:-2]), "target_phase": phase,
           "target_enthalpy_per_atom": round(target, 5),
           "known_phases_mev": {k: round((v - target) * 1000, 1) for k, v in enthalpies.items()},
           "wall_s": round(wall)}
    if completed.returncode != 0:
        return {**row, "error": (completed.stdout + completed.stderr)[-2000:]}
    results = json.loads((output / "results.json").read_text())
    order = oracle_order(results["workchain"]["pk"], pressure)
    first = next((n for n, h in enumerate(order, start=1) if h <= target + tolerance), None)
    best = results["candidates"][0]
    return {**row, "pk": results["workchain"]["pk"], "oracle_relaxations": results["oracle"]["relaxations"],
            "found": first is not None, "relaxations_to_find": first,
            "rank_1": {"spacegroup": f"{best['spacegroup_symbol']} ({best['spacegroup_number']})",
                       "origin": best.get("origin"), "volume_per_atom": round(best["volume_per_atom"], 3),
                       "above_target_mev": round((best["enthalpy_per_atom"] - target) * 1000, 1)},
            "start_volume_per_atom": round(results["volume"]["estimated"] / parse_composition(composition).n_atoms,
                                           3),
            "ranking": [[c["spacegroup_symbol"], round((c["enthalpy_per_atom"] - target) * 1000, 1)]
                        for c in results["candidates"][:6]]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="COMPOSITION:PRESSURE_GPA, e.g. Si8:20")
    parser.add_argument("--engine", default="ase:chgnet")
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-oracle-calls", type=int, default=None)
    parser.add_argument("--tolerance", type=float, default=0.005, help="eV/atom above the lowest known phase")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()
    done = set()
    if args.output and Path(args.output).exists():
        done = {(r["composition"], r["pressure_gpa"], r["engine"], r["seed"])
                for r in map(json.loads, Path(args.output).read_text().splitlines()) if "error" not in r}
    with tempfile.TemporaryDirectory() as folder:
        for item in args.runs:
            composition, pressure = item.split(":")
            if (composition, float(pressure), args.engine, args.seed) in done:
                continue
            row = json.dumps(run(composition, float(pressure), args.engine, args.protocol, args.seed,
                                 args.max_oracle_calls, args.tolerance, Path(folder)))
            print(row, flush=True)
            if args.output:
                with open(args.output, "a") as handle:
                    handle.write(row + "\n")

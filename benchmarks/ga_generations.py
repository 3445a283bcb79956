"""The setting of the paper's Table 5: generations of the GA to reach the target, at a given population size.

The GA of one crystal system (``search/ga.py``) with the oracle itself (CHGNet) as its local optimiser, so the
count measures the evolutionary operators, not the network. N_trial = N_pop, ``N_pop / 2`` offspring per
generation, the best ``N_pop / 4`` replacing the worst. Generation 0 is the random initial population; a run
reaches the target when its trial set holds a structure within ``--tolerance`` of the lowest CHGNet energy of
the known structures (``known_structures.py``). The crystal system searched is that of the target.

The GA stops at the generation that reaches the target.

    cd benchmarks && python ga_generations.py Si8:16:cubic Si4C4:12 Ga4As4:12 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from known_structures import candidates
from search_vs_random import target_energy

from aiida_cryspai.analysis.crystal_systems import crystal_system_of
from aiida_cryspai.analysis.symmetry import spacegroup
from aiida_cryspai.ml.potentials import get_calculator
from aiida_cryspai.ml.relax import RelaxGuards, relax
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.ga import GASettings, evolve


def generations_to_target(name: str, population: int, seed: int, generations: int, tolerance: float,
                          calculator, target: float, system: str) -> dict:
    composition = parse_composition(name)
    known = candidates(name)
    volume = float(np.mean([a.get_volume() / len(a) for a in known.values()])) * composition.n_atoms
    guards = RelaxGuards(min_volume_per_atom=0.3 * volume / composition.n_atoms,
                         max_volume_per_atom=4.0 * volume / composition.n_atoms, max_seconds=300)
    relaxations = 0

    def optimise(structures):
        nonlocal relaxations
        results = []
        for atoms in structures:
            relaxations += 1
            outcome = relax(atoms, calculator, fmax=0.05, max_steps=300, guards=guards, record_frames=False)
            results.append((outcome.atoms, outcome.energy) if outcome.ok else None)
        return results

    settings = GASettings(n_trial=population, n_generations=generations, n_replace=max(1, population // 4),
                          n_offspring=max(2, population // 2), n_recommend=1)
    start = time.perf_counter()
    result = evolve(composition, system, volume, optimise, settings, seed=seed, log=lambda _: None,
                    stop=lambda best: best <= target + tolerance)
    reached = [g for g, best in enumerate(result.best_per_generation) if best <= target + tolerance]
    return {"composition": name, "crystal_system": system, "n_pop": population, "seed": seed,
            "generations_to_target": reached[0] if reached else None, "oracle_relaxations": relaxations,
            "best_above_target_mev": round((min(result.best_per_generation) - target) * 1000, 1),
            "wall_s": round(time.perf_counter() - start, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="COMPOSITION:N_POP[:CRYSTAL_SYSTEM] (default: the system of the "
                                                "lowest known structure)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=0.005, help="eV/atom above the target")
    args = parser.parse_args()
    chgnet = get_calculator("chgnet")
    for run in args.runs:
        name, population, *system = run.split(":")
        target, reference = target_energy(name, chgnet)
        system = system[0] if system else crystal_system_of(spacegroup(candidates(name)[reference]).number)
        print(json.dumps({"composition": name, "target_ev_per_atom": round(target, 5), "reference": reference,
                          "crystal_system": system}), flush=True)
        for seed in args.seeds:
            print(json.dumps(generations_to_target(name, int(population), seed, args.generations, args.tolerance,
                                                   chgnet, target, system)), flush=True)

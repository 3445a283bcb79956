"""The loop's GA round as CalcJobs run it: the seven crystal systems' GAs on one network, as seven ``cryspai-evolve``
processes (one system each, ``--slots`` at a time, each wave waiting for the last: the work chain before the systems
shared CalcJobs) against ``--slots`` processes with the systems shared out, each running its GAs side by side with
every generation relaxed in one batch (the work chain now). Real processes of the real script in scratch folders:
Python, torch and the network load in each, as in a CalcJob.

The network is trained once (the protocol's settings) on the oracle dataset of ``oracle_data.py``. One JSON row per
layout and repeat, appended to ``--output``; the recommendations of both layouts are compared (the same GA per
system must give the same structures).

    cd benchmarks && python ga_batching.py Si8 --volume 160 --output results/ga_batching.jsonl --commit <commit>
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import read
from oracle_data import oracle_dataset
from rows import emit_row

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.training import TrainingSettings, train
from aiida_cryspai.protocols import get_protocol
from aiida_cryspai.search.seeds import stage_seed


def run_jobs(groups: list[list[str]], slots: int, model: Path, common: dict, root: Path) -> tuple[float, dict]:
    """Run one ``cryspai-evolve`` per group of systems, ``slots`` at a time in waves; wall time and the
    predicted energies of the recommendations per system."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    folders = []
    for k, systems in enumerate(groups):
        folder = root / f"job{k}"
        folder.mkdir()
        (folder / "model.pt").write_bytes(model.read_bytes())
        seeds = {s: stage_seed(1, "ga", 0, list(CRYSTAL_SYSTEMS).index(s)) for s in systems}
        (folder / "parameters.json").write_text(json.dumps({**common, "crystal_systems": systems, "seeds": seeds,
                                                            "threads": 1}))
        folders.append(folder)
    start = time.perf_counter()
    for wave in range(0, len(folders), slots):
        running = [subprocess.Popen(["cryspai-evolve"], cwd=f, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.STDOUT) for f in folders[wave: wave + slots]]
        for process in running:
            if process.wait() != 0:
                raise RuntimeError(f"cryspai-evolve failed in {process.args} (exit {process.returncode})")
    wall = time.perf_counter() - start
    predicted = {}
    for folder in folders:
        for atoms in read(folder / "recommended.xyz", index=":"):
            energy = round(atoms.info["predicted_energy_per_atom"], 8)
            predicted.setdefault(atoms.info["crystal_system"], []).append(energy)
    return wall, predicted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("composition")
    parser.add_argument("--volume", type=float, required=True)
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--slots", type=int, default=2, help="processes at once (the machine's cores)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--output", default=None)
    parser.add_argument("--commit", default="working tree")
    args = parser.parse_args()

    parameters = get_protocol(args.protocol)
    frames = read(oracle_dataset(args.composition, 42, args.volume, seed=0), index=":")
    lowest = min(a.get_potential_energy() / len(a) for a in frames)
    frames = [a for a in frames if a.get_potential_energy() / len(a) <= lowest + parameters["dataset"]["energy_window"]]
    species = sorted({s for a in frames for s in a.get_chemical_symbols()})
    descriptor = DescriptorSettings(species=species, **parameters["descriptor"])
    model, _ = train(frames_to_arrays(frames, np.array([a.info["group"] for a in frames])), descriptor,
                     TrainingSettings(**parameters["training"]), log=lambda _: None)
    common = {"composition": args.composition, "volume": args.volume, "ga": parameters["ga"],
              "local": parameters["local"], "acquisition_kappa": parameters["acquisition_kappa"]}
    systems = list(CRYSTAL_SYSTEMS)
    layouts = {"one process per system, in waves": ([[s] for s in systems], args.slots),
               "systems shared out, generations batched": ([systems[k::args.slots] for k in range(args.slots)],
                                                           args.slots)}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "model.pt"
        model.save(path)
        for repeat in range(args.repeats):
            results = {}
            for name, (groups, slots) in layouts.items():
                root = Path(scratch) / f"{repeat}_{len(results)}"
                root.mkdir()
                wall, predicted = run_jobs(groups, slots, path, common, root)
                results[name] = predicted
                emit_row({"composition": args.composition, "protocol": args.protocol, "layout": name,
                          "processes": len(groups), "slots": slots, "repeat": repeat, "wall_s": round(wall, 1),
                          "commit": args.commit}, args.output)
            first, second = results.values()
            same = first.keys() == second.keys() and all(np.allclose(first[s], second[s], atol=1e-6) for s in first)
            print(f"# repeat {repeat}: the same recommendations in both layouts: {same}")


if __name__ == "__main__":
    main()

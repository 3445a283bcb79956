"""Gather per-structure DFT relaxations into the oracle's form: energies, one dataset of frames, results."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from ..data.dataset import DatasetData
from ..engines.abinit import trajectory_to_arrays
from ..ml.dataset import concatenate, empty_arrays


@calcfunction
def gather_relaxations(details: orm.Dict, **trajectories: orm.TrajectoryData) -> dict:
    """``energies.<key>`` (eV, last frame), ``frames`` (every frame of the finished relaxations, a group per
    structure) and ``results`` (per key: status, energy, ionic steps, wall time; failed keys with their reason).

    ``details``: per key, ``wall_s`` and, for a failed relaxation (no trajectory given), ``reason``."""
    from ase.data import atomic_numbers

    arrays, energies, results = empty_arrays(), {}, {}
    for index, key in enumerate(sorted(trajectories)):
        trajectory = trajectories[key]
        numbers = [atomic_numbers[s] for s in trajectory.symbols]
        frames = trajectory_to_arrays(trajectory.get_cells(), trajectory.get_positions(), numbers,
                                      trajectory.get_array("energy"), trajectory.get_array("forces"),
                                      trajectory.get_array("stress"))
        frames["groups"][:] = index
        frames["sources"][:] = key
        arrays = concatenate(arrays, frames)
        energy = float(trajectory.get_array("energy")[-1])
        energies[key] = orm.Float(energy)
        results[key] = {"status": "ok", "energy": energy, "n_steps": int(len(frames["energies"])),
                        "wall_s": float(details.get(key, {}).get("wall_s", 0.0))}
    for key, detail in details.get_dict().items():
        if key not in trajectories:
            results[key] = {"status": "failed", "energy": None, "n_steps": 0,
                            "wall_s": float(detail.get("wall_s", 0.0)), "reason": str(detail.get("reason", "failed"))}
    arrays["groups"] = np.asarray(arrays["groups"], dtype=np.int64)
    return {"energies": energies, "frames": DatasetData.from_arrays(arrays), "results": orm.Dict(results)}

"""Gather per-structure DFT relaxations into the oracle's form: energies, one dataset of frames, results."""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from ..data.dataset import DatasetData
from ..ml.dataset import concatenate, empty_arrays
from .dft import trajectory_to_arrays, vasprun_frames


def relaxation_frames(node: orm.TrajectoryData | orm.FolderData) -> dict[str, np.ndarray]:
    """The dataset's arrays of one DFT relaxation: an Abinit trajectory (``cryspai.abinit``'s TrajectoryData) or a
    VASP calculation's retrieved files (its ``vasprun.xml``)."""
    from ase.data import atomic_numbers

    if isinstance(node, orm.FolderData):
        return vasprun_frames(node.base.repository.get_object_content("vasprun.xml", mode="rb"))
    numbers = [atomic_numbers[s] for s in node.symbols]
    return trajectory_to_arrays(node.get_cells(), node.get_positions(), numbers, node.get_array("energy"),
                                node.get_array("forces"), node.get_array("stress"))


@calcfunction
def gather_relaxations(details: orm.Dict, **relaxations: orm.TrajectoryData | orm.FolderData) -> dict:
    """``energies.<key>`` (eV, last frame), ``frames`` (every frame of the finished relaxations, a group per
    structure) and ``results`` (per key: status, energy, ionic steps, wall time; failed keys with their reason).

    ``relaxations``: per finished key, its frames (see :func:`relaxation_frames`); ``details``: per key,
    ``wall_s`` and, for a failed relaxation (not in ``relaxations``), ``reason``."""
    arrays, energies, results = empty_arrays(), {}, {}
    for index, key in enumerate(sorted(relaxations)):
        frames = relaxation_frames(relaxations[key])
        frames["groups"][:] = index
        frames["sources"][:] = key
        arrays = concatenate(arrays, frames)
        energy = float(frames["energies"][-1])
        energies[key] = orm.Float(energy)
        results[key] = {"status": "ok", "energy": energy, "n_steps": int(len(frames["energies"])),
                        "wall_s": float(details.get(key, {}).get("wall_s", 0.0))}
    for key, detail in details.get_dict().items():
        if key not in relaxations:
            results[key] = {"status": "failed", "energy": None, "n_steps": 0,
                            "wall_s": float(detail.get("wall_s", 0.0)), "reason": str(detail.get("reason", "failed"))}
    arrays["groups"] = np.asarray(arrays["groups"], dtype=np.int64)
    return {"energies": energies, "frames": DatasetData.from_arrays(arrays), "results": orm.Dict(results)}

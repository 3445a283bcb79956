"""Stage: the next version of the training set from the previous one and new oracle frames."""

import numpy as np
from aiida.engine import calcfunction
from aiida.orm import Dict

from ..data.dataset import DatasetData
from ..ml.dataset import concatenate, select_trajectory_frames, subset


def _thin_trajectories(arrays: dict, min_change: float) -> dict:
    energies_per_atom = arrays["energies"] / arrays["n_atoms"]
    kept = []
    for group in np.unique(arrays["groups"]):
        members = np.nonzero(arrays["groups"] == group)[0]
        kept.extend(members[select_trajectory_frames(energies_per_atom[members], min_change)])
    return subset(arrays, np.sort(np.asarray(kept, dtype=np.int64)))


def _within_window(arrays: dict, lowest: float, window: float) -> dict:
    energies_per_atom = arrays["energies"] / arrays["n_atoms"]
    return subset(arrays, np.nonzero(energies_per_atom <= lowest + window)[0])


@calcfunction
def update_dataset(previous: DatasetData, parameters: Dict, **frames) -> dict:
    """Append the new frames: trajectories thinned (near-duplicate consecutive frames dropped), frames more than
    ``energy_window`` eV/atom above the lowest energy left out. Returns ``dataset`` and ``added`` (the new part)."""
    settings = parameters.get_dict()
    new = None
    for key in sorted(frames):
        part = _thin_trajectories(frames[key].to_arrays(), settings["min_energy_change"])
        new = part if new is None else concatenate(new, part)
    old = previous.to_arrays()
    if new is None:
        return {"dataset": DatasetData.from_arrays(old), "added": DatasetData.from_arrays(subset(old, []))}
    all_energies = np.concatenate([old["energies"] / old["n_atoms"], new["energies"] / new["n_atoms"]])
    lowest = float(all_energies.min()) if len(all_energies) else 0.0
    new = _within_window(new, lowest, settings["energy_window"])
    old = _within_window(old, lowest, settings["energy_window"])
    return {"dataset": DatasetData.from_arrays(concatenate(old, new)), "added": DatasetData.from_arrays(new)}

"""Stage: the next version of the training set from the previous one and new oracle frames."""

import numpy as np
from aiida.engine import calcfunction
from aiida.orm import Dict

from ..data.dataset import DatasetData
from ..data.model import ModelData
from ..ml.acquisition import informative_frames
from ..ml.dataset import concatenate, select_trajectory_frames, subset
from ..ml.prior import predicted_energies


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


def _lowest(old: dict, new: dict) -> float:
    energies = np.concatenate([old["energies"] / old["n_atoms"], new["energies"] / new["n_atoms"]])
    return float(energies.min()) if len(energies) else 0.0


def candidate_frames(old: dict, frames: dict[str, dict], settings: dict) -> dict | None:
    """The new frames that may join the dataset ``old`` (arrays): those of relaxations not in
    ``settings['excluded_sources']``, trajectories thinned by ``min_energy_change``, within ``energy_window`` of the
    lowest energy of both; None without frames. Applied twice it selects the same frames, so the prior labels just
    these (calcfunctions/prior.py) and the update selects them again unchanged."""
    excluded = set(settings.get("excluded_sources") or [])
    new = None
    for key in sorted(frames):
        part = frames[key]
        if excluded:
            part = subset(part, np.nonzero(~np.isin(part["sources"].astype(str), list(excluded)))[0])
        part = _thin_trajectories(part, settings["min_energy_change"])
        new = part if new is None else concatenate(new, part)
    return None if new is None else _within_window(new, _lowest(old, new), settings["energy_window"])


def _informative(arrays: dict, model: ModelData, tolerance_mev_per_atom: float | None) -> dict:
    if tolerance_mev_per_atom is None or len(arrays["energies"]) == 0:
        return arrays
    predicted = predicted_energies(model.load_model(), arrays) / arrays["n_atoms"]
    keep = informative_frames(arrays["energies"] / arrays["n_atoms"], predicted, tolerance_mev_per_atom / 1000.0)
    return subset(arrays, np.nonzero(keep)[0])


@calcfunction
def update_dataset(previous: DatasetData, parameters: Dict, model: ModelData | None = None, **frames) -> dict:
    """Append the new frames: trajectories thinned (near-duplicate consecutive frames dropped), frames more than
    ``energy_window`` eV/atom above the lowest energy left out, and, given the current ``model``, frames it
    already predicts within ``useless_mev_per_atom`` left out (the paper's second filter).

    Returns ``dataset``, ``added`` (every new frame in the window: the out-of-sample test of ``model``) and
    ``summary`` (counts). Frames of the relaxations named in ``excluded_sources`` (refused as implausible) are
    left out."""
    settings = parameters.get_dict()
    old = previous.to_arrays()
    new = candidate_frames(old, {key: node.to_arrays() for key, node in frames.items()}, settings)
    if new is None:
        return {"dataset": DatasetData.from_arrays(old), "added": DatasetData.from_arrays(subset(old, [])),
                "summary": Dict({"new": 0, "not_informative": 0})}
    old = _within_window(old, _lowest(old, new), settings["energy_window"])
    taught = _informative(new, model, settings.get("useless_mev_per_atom")) if model is not None else new
    summary = {"new": len(new["energies"]), "not_informative": len(new["energies"]) - len(taught["energies"])}
    return {"dataset": DatasetData.from_arrays(concatenate(old, taught)), "added": DatasetData.from_arrays(new),
            "summary": Dict(summary)}

"""Stage: the prior's energies, forces and stresses on new oracle frames, computed once and kept with the frames."""

from aiida.engine import calcfunction
from aiida.orm import Dict

from ..data.dataset import DatasetData
from ..ml.prior import label_with_prior


@calcfunction
def label_frames(prior: Dict, **frames) -> dict:
    """Each ``frames`` dataset with the optional arrays ``prior_energies``, ``prior_forces``, ``prior_stress`` of
    the prior ``prior['name']`` (ml/potentials.py), under the same key."""
    return {key: DatasetData.from_arrays(label_with_prior(node.to_arrays(), prior["name"]))
            for key, node in frames.items()}

"""Stage: the prior's energies, forces and stresses on new oracle frames, computed once and kept with the frames."""

from aiida.engine import calcfunction
from aiida.orm import Dict

from ..data.dataset import DatasetData
from ..ml.prior import label_with_prior
from .dataset import candidate_frames


@calcfunction
def label_frames(prior: Dict, previous: DatasetData, parameters: Dict, **frames) -> dict:
    """The new oracle ``frames`` that may join the dataset ``previous`` (those the dataset's ``parameters`` select:
    relaxations not excluded, trajectories thinned, within the energy window), as one dataset ``selected`` with the
    optional arrays ``prior_energies``, ``prior_forces``, ``prior_stress`` of the prior ``prior['name']``
    (ml/potentials.py). Frames the update would drop are not labelled: a thinned trajectory is a fraction of one."""
    selected = candidate_frames(previous.to_arrays(), {key: node.to_arrays() for key, node in frames.items()},
                                parameters.get_dict())
    if selected is None:
        return {}
    return {"selected": DatasetData.from_arrays(label_with_prior(selected, prior["name"]))}

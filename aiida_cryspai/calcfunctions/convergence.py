"""Stage: is the network converged? Out-of-sample RMSE of the previous model on the new oracle frames."""

import numpy as np
from aiida.engine import calcfunction
from aiida.orm import Dict, Float

from ..data.dataset import DatasetData
from ..data.model import ModelData
from ..ml.convergence import convergence_test, objective_per_atom
from ..ml.prior import predicted_energies
from ..search.objective import Objective


@calcfunction
def check_convergence(model: ModelData, new_frames: DatasetData, threshold: Float, dataset: DatasetData | None = None,
                      settings: Dict | None = None) -> Dict:
    """RMSE per atom (meV/atom, the paper's Eq. 1) of ``model`` on frames it was not trained on, and over those
    near the basin of ``dataset`` (``ml.convergence``). ``settings``: ``basin_ev_per_atom``, ``objective``,
    ``ga_saturated`` (the GA proposed nothing new, so the frames are of random structures)."""
    arrays = new_frames.to_arrays()
    options = settings.get_dict() if settings is not None else {}
    objective = Objective.from_dict(options.get("objective"))
    predicted = predicted_energies(model.load_model(), arrays) if len(arrays["energies"]) else np.zeros(0)
    objectives = objective_per_atom(arrays, objective)
    known = np.concatenate([objectives, objective_per_atom(dataset.to_arrays(), objective)]) if dataset is not None \
        else objectives
    result = convergence_test((predicted - arrays["energies"]) / arrays["n_atoms"], objectives,
                              float(known.min()) if known.size else 0.0, threshold.value,
                              float(options.get("basin_ev_per_atom", 0.0)), bool(options.get("ga_saturated", False)))
    return Dict({**result, "threshold_mev_per_atom": threshold.value})

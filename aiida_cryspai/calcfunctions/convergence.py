"""Stage: is the network converged? Out-of-sample RMSE of the previous model on the new oracle frames."""

import numpy as np
from aiida.engine import calcfunction
from aiida.orm import Dict, Float

from ..data.dataset import DatasetData
from ..data.model import ModelData
from ..ml.prior import predicted_energies


@calcfunction
def check_convergence(model: ModelData, new_frames: DatasetData, threshold: Float) -> Dict:
    """RMSE per atom (meV/atom, the paper's Eq. 1) of ``model`` on frames it was not trained on."""
    arrays = new_frames.to_arrays()
    if len(arrays["energies"]) == 0:
        return Dict({"rmse_mev_per_atom": None, "n_frames": 0, "converged": False})
    predicted = predicted_energies(model.load_model(), arrays)
    errors = (predicted - arrays["energies"]) / arrays["n_atoms"]
    rmse = float(np.sqrt(np.mean(errors**2)) * 1000.0)
    return Dict({"rmse_mev_per_atom": rmse, "n_frames": len(errors), "threshold_mev_per_atom": threshold.value,
                 "converged": rmse < threshold.value})

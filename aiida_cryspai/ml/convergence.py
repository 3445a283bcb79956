"""Is the network converged? Two tests on the oracle frames the network had not seen.

- The paper's: the RMSE per atom (Eq. 1) over all of them is below the threshold (8 meV/atom).
- Saturation: the GA on the network proposed nothing the oracle had not relaxed already, so the loop sent random
  symmetric structures instead, and the RMSE over the new frames near the basin — within ``basin`` eV/atom of the
  lowest objective of the whole dataset, the region every ranking is made in — is below the threshold. The
  network's low-energy minima are then all verified by the oracle and it predicts new structures right where they
  are ranked; what it still misses lies higher (the first frames of random structures), where more oracle
  relaxations would teach it nothing the search uses.
"""

from __future__ import annotations

import numpy as np

from ..search.objective import Objective


def objective_per_atom(arrays: dict, objective: Objective) -> np.ndarray:
    """The objective of every frame of dataset ``arrays`` (energy per atom, or enthalpy per atom under pressure)."""
    volumes = np.abs(np.linalg.det(np.asarray(arrays["cells"], dtype=float).reshape(-1, 3, 3)))
    return np.array([objective.per_atom(energy, volume, n_atoms)
                     for energy, volume, n_atoms in zip(arrays["energies"], volumes, arrays["n_atoms"], strict=True)])


def convergence_test(errors_per_atom: np.ndarray, objectives: np.ndarray, lowest: float, threshold: float,
                     basin: float, saturated: bool) -> dict:
    """Both tests on ``errors_per_atom`` (network − oracle, eV/atom) of the new frames whose objectives are
    ``objectives``; ``lowest`` is the lowest objective of the dataset, ``threshold`` in meV/atom; ``basin``
    (eV/atom) 0 turns the saturation test off.

    Returns ``rmse_mev_per_atom`` (all frames), ``rmse_basin_mev_per_atom`` and ``n_basin_frames`` (None and 0
    without basin frames), ``converged`` and ``converged_by`` (``"rmse"``, ``"saturation"`` or None)."""
    errors = np.asarray(errors_per_atom, dtype=float) * 1000.0
    if errors.size == 0:
        return {"rmse_mev_per_atom": None, "n_frames": 0, "rmse_basin_mev_per_atom": None, "n_basin_frames": 0,
                "converged": False, "converged_by": None}
    rmse = float(np.sqrt(np.mean(errors**2)))
    near = np.asarray(objectives, dtype=float) <= lowest + basin
    rmse_basin = float(np.sqrt(np.mean(errors[near] ** 2))) if near.any() else None
    converged_by = None
    if rmse < threshold:
        converged_by = "rmse"
    elif saturated and basin > 0 and rmse_basin is not None and rmse_basin < threshold:
        converged_by = "saturation"
    return {"rmse_mev_per_atom": rmse, "n_frames": int(errors.size), "rmse_basin_mev_per_atom": rmse_basin,
            "n_basin_frames": int(near.sum()), "converged": converged_by is not None, "converged_by": converged_by}

"""Which candidates go to the oracle, and which oracle results teach the network nothing.

Candidates are ranked by a lower confidence bound, E - kappa * sigma (energies and ensemble spreads per atom):
low predicted energy and high disagreement between the networks come first. kappa = 0 ranks by energy alone.
A new oracle frame whose energy the current network already predicts within a tolerance is "useless" in the
paper's sense (its second filter) and is not added to the training set.
"""

from __future__ import annotations

import numpy as np


def lower_confidence_bound(energies: np.ndarray, spreads: np.ndarray, kappa: float) -> np.ndarray:
    """E - kappa * sigma, elementwise."""
    return np.asarray(energies, dtype=float) - kappa * np.asarray(spreads, dtype=float)


def choose_candidates(energies: np.ndarray, spreads: np.ndarray, n: int, kappa: float) -> np.ndarray:
    """Indices of the ``n`` candidates with the lowest confidence bound, best first (stable for ties)."""
    scores = lower_confidence_bound(energies, spreads, kappa)
    return np.argsort(scores, kind="stable")[:n]


def informative_frames(oracle_energies: np.ndarray, predicted_energies: np.ndarray,
                       tolerance: float | None) -> np.ndarray:
    """Boolean mask of frames worth training on: the prediction misses the oracle by more than ``tolerance``
    (same units, per atom); every frame when ``tolerance`` is ``None``."""
    oracle_energies = np.asarray(oracle_energies, dtype=float)
    if tolerance is None:
        return np.ones(len(oracle_energies), dtype=bool)
    return np.abs(np.asarray(predicted_energies, dtype=float) - oracle_energies) > tolerance


def allocate_by_weight(systems: list[str], n: int, weights: dict[str, float], rng: np.random.Generator) -> list[int]:
    """Indices of up to ``n`` candidates, given best first with their crystal ``systems``: each slot goes to a
    system drawn with probability proportional to its weight among the systems that still have candidates, and
    takes that system's best remaining candidate.

    With weights = the number of symmetric choices (space group and cell) per system, the oracle sees the
    crystal systems as often as the random symmetric search does, while the network picks the structure within
    each system.
    """
    queues: dict[str, list[int]] = {}
    for index, system in enumerate(systems):
        queues.setdefault(system, []).append(index)
    chosen: list[int] = []
    while len(chosen) < n:
        open_systems = [s for s, queue in queues.items() if queue and weights.get(s, 0.0) > 0.0]
        if not open_systems:
            break
        probabilities = np.array([weights[s] for s in open_systems], dtype=float)
        system = open_systems[int(rng.choice(len(open_systems), p=probabilities / probabilities.sum()))]
        chosen.append(queues[system].pop(0))
    return chosen

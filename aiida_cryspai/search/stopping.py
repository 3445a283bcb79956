"""Stop when the search is done: a test on the search itself, beside the paper's test on the network.

The search has settled when the best oracle objective (energy, or enthalpy under pressure, per atom) has moved by no
more than ``tolerance`` over the last ``patience`` oracle batches **and** the network's recommendations for the next
batch promise nothing lower: every one's predicted objective less its ensemble spread (one standard deviation) lies
above the best minus ``tolerance``. The first half alone would stop a search that is about to find a lower
structure; the second asks the network, which has just learnt from those batches, whether it expects one.
"""

from __future__ import annotations

import math


def search_settled(best_by_batch: list[float], proposal_bounds: list[float], tolerance: float,
                   patience: int) -> tuple[bool, str]:
    """(settled, why) from the best objective after each oracle batch of the loop (eV/atom, in order) and the lower
    bounds (predicted − spread, eV/atom) of the network's recommendations for the next one; ``patience`` 0: never
    settled (the paper's test alone)."""
    if patience <= 0:
        return False, "the search's own test is off"
    if len(best_by_batch) <= patience:
        return False, f"{len(best_by_batch)} oracle batches: {patience + 1} needed to judge"
    best = best_by_batch[-1]
    moved = best_by_batch[-1 - patience] - best
    if not math.isfinite(best) or moved > tolerance:
        return False, f"the best moved {1000 * moved:.1f} meV/atom over the last {patience} batches"
    lowest = min(proposal_bounds, default=math.inf)
    if lowest < best - tolerance:
        return False, f"the network proposes down to {1000 * (lowest - best):+.1f} meV/atom of the best"
    promise = "nothing new" if not math.isfinite(lowest) else f"nothing below {1000 * (lowest - best):+.1f} meV/atom"
    return True, (f"the best moved {1000 * moved:.1f} meV/atom over the last {patience} batches and the network "
                  f"promises {promise} of it (within one spread)")

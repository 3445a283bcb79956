"""The seeds of a search's random choices: one per stage (and per iteration, per crystal system), each independent
of every other, all spawned from the run's seed."""

from __future__ import annotations

import numpy as np

# the stages with their own seeds; their order is part of every recorded run's seeds (append, never reorder)
SEED_STAGES = ("random", "ga", "final_ga", "recommendation", "training", "screening", "volume_scan", "population")


def stage_seed(seed: int, stage: str, *indices: int) -> int:
    """The seed of ``stage`` (at ``indices``: the iteration, the crystal system's index): numpy's SeedSequence
    spawned from ``seed`` along (stage, indices)."""
    key = (SEED_STAGES.index(stage), *indices)
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])

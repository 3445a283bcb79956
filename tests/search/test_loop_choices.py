"""The loop's choices that were steps of the work chain, now in the science layer: the first batch's known
structures, each crystal system's elite, the structures refined, the results refused, the stages' seeds."""

import numpy as np
from ase.build import bulk

from aiida_cryspai.analysis.compare import lowest_distinct
from aiida_cryspai.search.elite import keep_lowest
from aiida_cryspai.search.plausibility import implausible_keys
from aiida_cryspai.search.seeds import SEED_STAGES, stage_seed
from aiida_cryspai.search.templates import first_batch_keys


def test_the_first_batch_keeps_every_seed_file_and_a_share_of_the_known_structures():
    random = [f"random0_{i:03d}" for i in range(8)]
    order = ["known_002", "known_000", "known_001", "known_003"]
    known, chosen = first_batch_keys(random, order, seed_keys=["known_003"], fraction=0.25)
    assert known == ["known_003", "known_002"] and chosen == random[:6]  # the seed file first, then the order
    known, chosen = first_batch_keys(random, order, seed_keys=["known_000", "known_001", "known_003"], fraction=0.0)
    assert known == ["known_000", "known_001", "known_003"] and len(chosen) == 5  # seed files always
    assert first_batch_keys(random, [], [], 0.5) == ([], random)


def test_the_elite_keeps_the_lowest_per_crystal_system():
    fcc, hcp = bulk("Cu", "fcc", a=3.6, cubic=True), bulk("Cu", "hcp", a=2.55)
    elite = keep_lowest({}, [(-3.0, "a", fcc), (-3.5, "b", fcc), (-3.2, "c", hcp)], per_system=1)
    assert elite == {"cubic": [(-3.5, "b")], "hexagonal": [(-3.2, "c")]}
    again = keep_lowest(elite, [(-3.6, "d", fcc)], per_system=2)
    assert again["cubic"] == [(-3.6, "d"), (-3.5, "b")] and elite["cubic"] == [(-3.5, "b")]  # a new dict


def test_the_refinement_takes_the_lowest_distinct_within_the_window():
    fcc = bulk("Cu", "fcc", a=3.6, cubic=True)
    same = fcc.copy()
    same.positions += 0.001
    hcp = bulk("Cu", "hcp", a=2.55, c=4.16).repeat((1, 1, 2))
    bcc = bulk("Cu", "bcc", a=2.87).repeat((2, 1, 1))
    structures, objectives = [bcc, same, hcp, fcc], [-3.0, -3.5001, -3.49, -3.5]
    assert lowest_distinct(structures, objectives, window=0.1, n=5) == [1, 2]  # fcc once, bcc beyond the window
    assert lowest_distinct(structures, objectives, window=1.0, n=2) == [1, 2]
    assert lowest_distinct([], [], 0.1, 3) == []


def test_a_result_in_a_hole_is_refused_by_key():
    results = [(f"k{i}", value) for i, value in enumerate([-4.0, -4.1, -3.9, -4.05, -60.0])]
    refused = implausible_keys(results, margin=2.0)
    assert list(refused) == ["k4"] and "below" in refused["k4"]
    assert implausible_keys(results, None) == {}


def test_each_stage_has_its_own_seed():
    seeds = {(stage, i) for stage in SEED_STAGES for i in range(3)}
    drawn = {stage_seed(1, stage, i) for stage, i in seeds}
    assert len(drawn) == len(seeds)  # independent
    assert stage_seed(1, "ga", 2) == stage_seed(1, "ga", 2) != stage_seed(2, "ga", 2)
    assert stage_seed(1, "volume_scan") == int(np.random.SeedSequence(1, spawn_key=(6,)).generate_state(1)[0])

"""The choice of GA recommendations for the oracle: ranking across crystal systems, no repeats of oracle results."""

from aiida import orm
from ase.build import bulk

from aiida_cryspai.calcfunctions.recommendation import recommend_structures


def _inputs():
    fcc = bulk("Cu", "fcc", a=3.6, cubic=True)
    hcp = bulk("Cu", "hcp", a=2.55, c=4.16).repeat((1, 1, 2))
    bcc = bulk("Cu", "bcc", a=2.87).repeat((2, 2, 1))
    return {
        "predicted_cubic": orm.Dict({"r0": {"energy_per_atom": -3.0, "spread_per_atom": 0.0},
                                     "r1": {"energy_per_atom": -2.9, "spread_per_atom": 0.2}}),
        "structure_cubic_r0": orm.StructureData(ase=fcc),
        "structure_cubic_r1": orm.StructureData(ase=bcc),
        "predicted_hexagonal": orm.Dict({"r0": {"energy_per_atom": -2.95, "spread_per_atom": 0.0}}),
        "structure_hexagonal_r0": orm.StructureData(ase=hcp),
    }, fcc


def test_candidates_are_ranked_across_crystal_systems(aiida_profile):
    inputs, _ = _inputs()
    outputs = recommend_structures(orm.Dict({"n_verify": 3, "prefix": "ga01"}), **inputs)
    systems = [outputs["selection"][f"ga01_{k:03d}"]["ga_crystal_system"] for k in range(3)]
    assert systems == ["cubic", "hexagonal", "cubic"]
    # with kappa 1 the uncertain bcc structure (-2.9 - 0.2) comes first
    outputs = recommend_structures(orm.Dict({"n_verify": 1, "prefix": "ga01", "kappa": 1.0}), **inputs)
    assert outputs["selection"]["ga01_000"]["predicted_energy_per_atom"] == -2.9


def test_structures_the_oracle_relaxed_are_not_proposed_again(aiida_profile):
    inputs, fcc = _inputs()
    known = fcc.copy()
    known.rattle(0.001, seed=1)
    outputs = recommend_structures(orm.Dict({"n_verify": 3, "prefix": "ga01"}), known_0=orm.StructureData(ase=known),
                                   **inputs)
    chosen = [v for k, v in outputs["selection"].get_dict().items()]
    assert len(chosen) == 2
    assert {c["ga_crystal_system"] for c in chosen} == {"hexagonal", "cubic"}
    assert all(c["predicted_energy_per_atom"] != -3.0 for c in chosen)


def test_allocation_by_space_groups_draws_systems_with_the_random_search_odds(aiida_profile):
    inputs, _ = _inputs()
    settings = {"n_verify": 1, "prefix": "ga01", "allocation": "spacegroups"}
    systems = [recommend_structures(orm.Dict({**settings, "seed": seed}), **inputs)["selection"]["ga01_000"]
               for seed in range(12)]
    # Cu4: 33 cubic and 19 hexagonal space groups; cubic's best (fcc) or hexagonal's only (hcp), never bcc
    assert {s["ga_crystal_system"] for s in systems} == {"cubic", "hexagonal"}
    assert all(s["predicted_energy_per_atom"] in (-3.0, -2.95) for s in systems)

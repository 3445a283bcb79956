"""The ranking of oracle results (``rank_results``): where each candidate came from."""

import numpy as np
from aiida import orm
from ase.build import bulk

from aiida_cryspai.calcfunctions.results import rank_results


def _fcc(strain: float = 0.0):
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    atoms.set_cell(atoms.cell[:] * (1.0 + strain), scale_atoms=True)
    return orm.StructureData(ase=atoms)


def test_a_refined_candidate_keeps_the_origin_of_the_relaxation_it_refined(aiida_profile):
    """The oracle reached fcc first from a screened random structure, later again from a GA proposal; the first one
    was then refined tightly. The candidate (the refined result) came from the screened structure: a refined result
    takes its start's place in the run's order, not the end of it (where the later GA duplicate would win)."""
    hcp = bulk("Cu", "hcp", a=2.55, c=4.16).repeat((1, 1, 2))
    inputs = {"structure_screened_001": _fcc(0.002), "energy_screened_001": orm.Float(-4 * 3.999),
              "structure_random1_000": orm.StructureData(ase=hcp), "energy_random1_000": orm.Float(-4 * 3.990),
              "structure_final_002": _fcc(-0.001), "energy_final_002": orm.Float(-4 * 3.9995),
              "structure_refined_screened_001": _fcc(), "energy_refined_screened_001": orm.Float(-4 * 4.0)}
    origins = [["screened_001", "random (space group 225, primitive cell)"],
               ["random1_000", "random (space group 194, conventional cell)"],
               ["final_002", "GA generation 1 of crystal system cubic"],
               ["refined_screened_001", "random (space group 225, primitive cell)"]]
    parameters = {"n_candidates": 4, "symprec": 0.1, "refined": {"refined_screened_001": "screened_001"},
                  "origins": origins, "energy_margin": None}
    outputs = rank_results(orm.Dict({}), orm.Dict(parameters), **inputs, metadata={"store_provenance": False})
    candidates = outputs["summary"]["candidates"]
    assert [c["oracle_key"] for c in candidates] == ["refined_screened_001", "random1_000"]
    assert candidates[0]["refined"] and np.isclose(candidates[0]["energy_per_atom"], -4.0)
    assert candidates[0]["origin"] == "random (space group 225, primitive cell)"
    assert candidates[1]["origin"] == "random (space group 194, conventional cell)"

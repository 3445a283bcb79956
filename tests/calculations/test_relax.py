"""``cryspai.relax`` as a real CalcJob: good and bad structures, and a script that writes nothing."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase import Atoms
from ase.build import bulk

from aiida_cryspai.calculations.relax import RelaxCalculation


def _inputs(code, structures, **parameters):
    return {
        "code": code,
        "structures": {key: orm.StructureData(ase=atoms) for key, atoms in structures.items()},
        "parameters": orm.Dict({"calculator": "emt", "fmax": 0.02, "max_steps": 200, **parameters}),
    }


def test_good_and_flagged_structures(cryspai_codes):
    good = bulk("Cu", "fcc", a=3.7, cubic=True)
    good.rattle(0.05, seed=1)
    too_close = Atoms("Cu2", positions=[[0, 0, 0], [0.5, 0, 0]], cell=[6, 6, 6], pbc=True)
    inputs = _inputs(cryspai_codes["relax"], {"good": good, "close": too_close})
    results, node = run_get_node(RelaxCalculation, **inputs)
    assert node.is_finished_ok
    statuses = results["results"].get_dict()
    assert statuses["good"]["status"] == "ok" and statuses["close"]["status"] == "too_close"
    # both are kept in the graph, only the good one has an energy and frames
    assert set(results["relaxed_structures"]) == {"good", "close"}
    assert set(results["energies"]) == {"good"}
    frames = results["frames"].to_arrays()
    assert set(frames["sources"]) == {f"{node.uuid}/good"}
    assert np.all(np.diff(frames["energies"][[0, -1]]) < 0)  # the relaxation lowered the energy
    assert results["energies"]["good"].value == pytest.approx(frames["energies"][-1], abs=1e-9)


def test_missing_output_is_an_exit_code(aiida_localhost):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable="/bin/true", label="true").store()
    _, node = run_get_node(RelaxCalculation, **_inputs(code, {"x": bulk("Cu", "fcc", a=3.6)}))
    assert node.exit_status == 300
    assert "did not write" in node.exit_message

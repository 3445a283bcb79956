"""``system_hull`` under pressure: each composition's best and the hull come from the enthalpy per atom
H = E/N + P V/N of the oracle's results, not their energy; at 0 GPa from the energy."""

import pytest
from aiida import orm
from ase.build import bulk
from ase.units import GPa

from aiida_cryspai.calcfunctions.hull import system_hull
from aiida_cryspai.ml.relax import relax


@pytest.fixture(scope="module")
def cu_au_results(emt):
    """EMT's Cu–Au results as the system's oracle would give them: each element and L1_0 CuAu relaxed at 0 GPa, and
    each element's fcc cell also compressed to 90 % of its volume (a single point, higher in energy, denser)."""
    results = {}
    for formula, symbols in (("Cu4", ["Cu"] * 4), ("Au4", ["Au"] * 4), ("Cu2Au2", ["Cu", "Cu", "Au", "Au"])):
        atoms = bulk("Cu", "fcc", a=3.85, cubic=True)
        atoms.set_chemical_symbols(symbols)
        relaxed = relax(atoms, emt, fmax=0.005, max_steps=400, record_frames=False)
        results[(formula, "relaxed")] = (relaxed.atoms, relaxed.energy)
        if formula != "Cu2Au2":
            dense = relaxed.atoms.copy()
            dense.set_cell(dense.cell[:] * 0.9 ** (1 / 3), scale_atoms=True)
            dense.calc = emt
            results[(formula, "dense")] = (dense, dense.get_potential_energy())
    return results


def _hull(results: dict, pressure: float) -> dict:
    inputs = {}
    for (formula, key), (atoms, energy) in results.items():
        inputs[f"structure__{formula}__{key}"] = orm.StructureData(ase=atoms)
        inputs[f"energy__{formula}__{key}"] = orm.Float(energy)
    return system_hull(orm.Dict({"system": "Cu-Au", "pressure_gpa": pressure}), **inputs)["summary"].get_dict()


@pytest.mark.parametrize("pressure", [0.0, 30.0])
def test_the_hull_under_pressure_is_the_enthalpys(aiida_profile, cu_au_results, pressure):
    def enthalpy(atoms, energy):
        return (energy + pressure * GPa * atoms.get_volume()) / len(atoms)

    summary = _hull(cu_au_results, pressure)
    assert summary["objective"] == ("enthalpy_per_atom" if pressure else "energy_per_atom")
    best = {}
    for (formula, key), (atoms, energy) in cu_au_results.items():
        value = enthalpy(atoms, energy)
        if formula not in best or value < best[formula][1]:
            best[formula] = (key, value)
    for formula, (key, value) in best.items():
        listed = summary["compositions"][formula]["best"]
        assert listed["key"] == key and listed[summary["objective"]] == pytest.approx(value, abs=1e-9)
    # the formation enthalpy of CuAu is measured from the elements' own best at this pressure
    formation = best["Cu2Au2"][1] - (best["Cu4"][1] + best["Au4"][1]) / 2
    assert summary["compositions"]["Cu2Au2"]["best"]["formation_per_atom"] == pytest.approx(formation, abs=1e-9)
    stable = {entry["composition"] for entry in summary["stable"]}
    assert stable == ({"Cu4", "Au4", "Cu2Au2"} if formation < 0 else {"Cu4", "Au4"})
    if pressure:  # 30 GPa: the elements' compressed cells are lower in enthalpy than the cells relaxed at 0 GPa
        assert best["Cu4"][0] == best["Au4"][0] == "dense"
    else:
        assert best["Cu4"][0] == best["Au4"][0] == "relaxed"

"""Pressure in the science layer: the scan's volume at the enthalpy minimum, the engines' pressure settings, the
phases helper (enthalpies, transition pressures)."""

import numpy as np
import pytest
from ase.build import bulk
from ase.units import Bohr, GPa, Hartree

from aiida_cryspai.engines import get_engine
from aiida_cryspai.ml.enthalpy import PhasePoint, format_table, relax_phases, transition_pressures
from aiida_cryspai.search.objective import Objective
from aiida_cryspai.search.volume import SCAN_FACTORS, scan_minima


def test_the_scan_volume_shrinks_with_pressure_as_the_bulk_modulus_says():
    """A Murnaghan-like E(V) with B = 100 GPa at V0 = 20 Å^3/atom: at P the enthalpy minimum lies where
    -dE/dV = P, i.e. V = V0 exp(-P/B) for this E(V) (ln V parabola), within the scan's parabola fit."""
    v0, b = 20.0, 100.0 * GPa
    volumes = [v0 * f for f in SCAN_FACTORS]
    energies = [0.5 * b * v0 * np.log(v / v0) ** 2 for v in volumes]  # per atom, cells of one atom
    (v_zero, _), = scan_minima([v0], [energies])
    (v_ten, h_ten), = scan_minima([v0], [energies], objective=Objective(10.0), n_atoms=1)
    assert v_zero == pytest.approx(v0, rel=0.02)
    assert v_ten < v_zero
    # exact minimum of 0.5 B V0 x^2 + P V0 e^x (x = ln V/V0) for P << B: x ~ -P/B
    assert v_ten == pytest.approx(v0 * np.exp(-0.1), rel=0.02)
    assert h_ten < 10 * GPa * v0  # the enthalpy there is below that of the uncompressed cell


def test_engines_apply_pressure_or_refuse_a_fixed_cell():
    ase = get_engine("ase:emt")
    assert ase.with_pressure(ase.default_parameters(), 12.5)["pressure_gpa"] == 12.5
    with pytest.raises(ValueError, match="relax_cell"):
        ase.with_pressure({**ase.default_parameters(), "relax_cell": False}, 5.0)

    abinit = get_engine("abinit")
    applied = abinit.with_pressure(abinit.default_parameters(), 20.0)
    settings = abinit.settings(applied)
    assert settings["cell_relaxation"] == "full"  # the protocol's fixed-volume shape relaxation cannot take P
    strtarget = settings["parameters"]["strtarget"]
    # Abinit's stress is negative under compression, in Ha/bohr^3 (1 Ha/bohr^3 = 29421 GPa)
    assert strtarget[:3] == pytest.approx([-20.0 / 29421.0] * 3, rel=1e-4) and strtarget[3:] == [0.0] * 3
    assert -strtarget[0] * Hartree / Bohr**3 / GPa == pytest.approx(20.0)
    with pytest.raises(ValueError, match="cell_relaxation fixed"):
        abinit.with_pressure({**abinit.default_parameters(), "abinit": {"cell_relaxation": "fixed"}}, 20.0)
    assert abinit.with_pressure(abinit.default_parameters(), 0.0) == abinit.default_parameters()

    vasp = get_engine("vasp")
    base = {"dft_protocol": "fast", "vasp": {"potential_family": "PBE.54"}}
    tags = vasp.incar(vasp.settings(vasp.with_pressure(base, 20.0)))
    assert tags["pstress"] == 200.0 and tags["isif"] == 3  # kBar, positive under compression
    with pytest.raises(ValueError, match="ISIF"):
        vasp.with_pressure({**base, "vasp": {**base["vasp"], "parameters": {"ISIF": 2}}}, 20.0)


def _point(name, pressure, enthalpy):
    return PhasePoint(name, pressure, enthalpy, 10.0, enthalpy, "", True, bulk("Cu"))


def test_transition_pressure_is_where_the_enthalpies_cross():
    # H_b - H_a = 0.02 - 0.001 P eV/atom: b becomes lower at 20 GPa
    points = [_point(n, p, (0.0 if n == "a" else 0.02 - 0.001 * p)) for n in "ab" for p in (0.0, 10.0, 30.0)]
    assert transition_pressures(points) == [pytest.approx((20.0, "a", "b"))]
    assert "a -> b at 20.0 GPa" in format_table(points)
    assert transition_pressures([p for p in points if p.pressure_gpa < 15]) == []


def test_phases_under_pressure_follow_enthalpy_bookkeeping(emt):
    """EMT copper, fcc and bcc, at 0 and 30 GPa: the volumes shrink, each enthalpy is E + PV per atom to
    0.1 meV/atom, and each relaxed cell is at a minimum of E + PV (stretching it either way raises it)."""
    phases = {"fcc": bulk("Cu", "fcc", a=3.6), "bcc": bulk("Cu", "bcc", a=2.87)}
    points = relax_phases(phases, emt, [0.0, 30.0], fmax=0.002)
    by = {(p.name, p.pressure_gpa): p for p in points}
    for name in phases:
        assert by[(name, 30.0)].volume_per_atom < 0.9 * by[(name, 0.0)].volume_per_atom
        for pressure in (0.0, 30.0):
            point = by[(name, pressure)]
            enthalpy = point.energy_per_atom + pressure * GPa * point.volume_per_atom
            assert abs(point.enthalpy_per_atom - enthalpy) < 1e-4
            atoms = point.atoms
            for factor in (0.99, 1.01):
                stretched = atoms.copy()
                stretched.set_cell(atoms.cell * factor ** (1 / 3), scale_atoms=True)
                stretched.calc = emt
                h = (stretched.get_potential_energy() + pressure * GPa * stretched.get_volume()) / len(atoms)
                assert h > point.enthalpy_per_atom
    assert by[("fcc", 30.0)].spacegroup == "Fm-3m (225)"
    assert by[("fcc", 0.0)].enthalpy_per_atom < by[("bcc", 0.0)].enthalpy_per_atom

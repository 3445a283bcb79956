"""A chemical system's compositions and its convex hull: the enumeration, the bad inputs, and the hull of EMT's
own relaxed Cu–Au phases against an independent lower envelope."""

import math

import numpy as np
import pytest
from ase.build import bulk

from aiida_cryspai.analysis.hull import HullError, convex_hull
from aiida_cryspai.ml.relax import relax
from aiida_cryspai.search.chemical_system import (
    is_chemical_system,
    parse_compositions,
    parse_system,
    system_compositions,
)
from aiida_cryspai.search.composition import CompositionError


def test_a_binary_system_gives_every_composition_once_in_its_largest_cell():
    cells = system_compositions(parse_system("Li-O"), 8)
    formulas = [c.formula for c in cells]
    # the reduced fractions with denominators up to 8 (the Farey sequence F_8 has 23 terms, 0 and 1 included)
    assert len(formulas) == 23 == len(set(formulas))
    assert formulas[0] == "Li8" and formulas[-1] == "O8"
    assert {"Li4O2", "Li4O4", "Li2O4", "Li6O2"} <= set(formulas)  # Li2O, LiO (Li2O2), LiO2, Li3O
    for cell in cells:  # the largest cell: one formula unit more would not fit
        unit = cell.n_atoms // math.gcd(*cell.numbers)
        assert cell.n_atoms <= 8 < cell.n_atoms + unit
    fractions = [dict(c.counts).get("O", 0) / c.n_atoms for c in cells]
    assert fractions == sorted(fractions)
    ternary = system_compositions(parse_system("Ca-Ti-O"), 5)
    assert "Ca1Ti1O3" in [c.formula for c in ternary]


@pytest.mark.parametrize("text, reason", [
    ("Li", "malformed chemical system"), ("Li-Li", "appears twice"), ("Li-Qq", "unknown element"),
    ("Li--O", "malformed"), ("li-o", "malformed")])
def test_bad_systems_are_refused_with_their_reason(text, reason):
    with pytest.raises(CompositionError, match=reason):
        parse_system(text)


def test_a_composition_list_must_be_made_of_the_systems_elements():
    elements = parse_system("Li-O")
    assert [c.formula for c in parse_compositions("Li2O, Li2O2,LiO2", elements)] == ["Li2O1", "Li2O2", "Li1O2"]
    with pytest.raises(CompositionError, match="Na, not an element of the system Li-O"):
        parse_compositions("Li2O,NaO2", elements)
    with pytest.raises(CompositionError, match="given twice"):
        parse_compositions("Li2O,Li2O", elements)
    assert is_chemical_system("Li-O") and not is_chemical_system("Li2O")


def _lower_envelope(points: list[tuple[float, float]]) -> set[int]:
    """Indices of the vertices of the lower convex envelope of (x, y) points (Andrew's monotone chain)."""
    order = sorted(range(len(points)), key=lambda i: points[i])
    hull: list[int] = []
    for i in order:
        while len(hull) >= 2:
            (x1, y1), (x2, y2), (x3, y3) = points[hull[-2]], points[hull[-1]], points[i]
            if (x2 - x1) * (y3 - y1) - (y2 - y1) * (x3 - x1) <= 1e-12:  # not a left turn: drop the middle
                hull.pop()
            else:
                break
        hull.append(i)
    return set(hull)


@pytest.fixture(scope="module")
def cu_au_phases(emt):
    """EMT-relaxed ordered fcc-based Cu–Au phases: the elements, L1_2 Cu3Au and CuAu3, L1_0 CuAu."""
    def ordered(symbols: list[str]):
        atoms = bulk("Cu", "fcc", a=3.85, cubic=True)
        atoms.set_chemical_symbols(symbols)
        return atoms

    cells = {"Cu": ordered(["Cu"] * 4), "Au": ordered(["Au"] * 4), "Cu3Au": ordered(["Au", "Cu", "Cu", "Cu"]),
             "CuAu3": ordered(["Cu", "Au", "Au", "Au"]), "CuAu": ordered(["Cu", "Cu", "Au", "Au"])}
    return {name: relax(atoms, emt, fmax=0.005, max_steps=400) for name, atoms in cells.items()}


def test_the_hull_of_emts_cu_au_phases_is_their_lower_envelope(cu_au_phases):
    structures = [(name, r.atoms.get_chemical_formula(), r.energy / len(r.atoms)) for name, r in cu_au_phases.items()]
    points = convex_hull(structures)
    by_label = {p.label: p for p in points}
    assert by_label["Cu"].formation_energy_per_atom == pytest.approx(0.0, abs=1e-9)
    assert by_label["Au"].formation_energy_per_atom == pytest.approx(0.0, abs=1e-9)
    xy = [(r.atoms.get_chemical_symbols().count("Au") / len(r.atoms), by_label[name].formation_energy_per_atom)
          for name, r in cu_au_phases.items()]
    envelope = _lower_envelope(xy)
    names = list(cu_au_phases)
    expected = {names[i] for i in envelope if xy[i][1] <= 1e-9}
    assert {p.label for p in points if p.stable} == expected
    assert len(expected) >= 3  # EMT orders Cu and Au: at least one compound on the hull
    for name, (x, y) in zip(names, xy):
        point = by_label[name]
        if point.stable:
            assert point.e_above_hull == pytest.approx(0.0, abs=1e-9)
        else:  # the height above the envelope's segment below it
            left = max((xy[i] for i in envelope if xy[i][0] <= x), key=lambda p: p[0])
            right = min((xy[i] for i in envelope if xy[i][0] >= x), key=lambda p: p[0])
            below = np.interp(x, [left[0], right[0]], [left[1], right[1]])
            assert point.e_above_hull == pytest.approx(y - below, abs=1e-6) and point.e_above_hull > 0


def test_a_hull_without_an_elements_structure_is_refused():
    with pytest.raises(HullError, match="no structure of O alone"):
        convex_hull([("Li", "Li2", -1.9), ("Li2O", "Li2O", -4.7)])


def test_the_shared_budget_goes_to_the_compositions_near_the_hull():
    from aiida_cryspai.search.chemical_system import allocate_oracle

    above = {"Cu4": 0.0, "Cu3Au1": 0.02, "Cu2Au2": 0.1, "Cu1Au3": 0.4, "Au4": None}
    assert allocate_oracle(above, 4) == {"Cu4": 4, "Cu3Au1": 4, "Cu2Au2": 2, "Cu1Au3": 1, "Au4": 4}
    # 10 left of 15 asked: the farthest give theirs up first, the unknown and the stable last
    trimmed = allocate_oracle(above, 4, left=10)
    assert sum(trimmed.values()) == 10
    assert trimmed["Cu1Au3"] == 0 and trimmed["Cu2Au2"] == 0 and trimmed["Cu4"] == 4 and trimmed["Au4"] == 4
    assert allocate_oracle(above, 4, left=0) == dict.fromkeys(above, 0)


def test_a_budget_cut_counts_only_the_candidates_a_composition_has():
    """Li-O's last loop batch (budget 110, 15 left for the loop): Li2 and Li4O4 had 1 and 2 candidates but were
    counted as 4 each, so LiO2 (42 meV/atom above the hull) was cut to none and 4 of the 15 went unspent."""
    from aiida_cryspai.search.chemical_system import allocate_oracle

    above = {"Li2": 0.0, "O4": 0.0, "Li4O2": 0.0, "Li4O4": 0.0, "Li2O4": 0.042}
    available = {"Li2": 1, "O4": 4, "Li4O2": 4, "Li4O4": 2, "Li2O4": 4}
    shares = allocate_oracle(above, 4, left=15, available=available)
    assert shares == {"Li2": 1, "O4": 4, "Li4O2": 4, "Li4O4": 2, "Li2O4": 4}
    # a tighter budget still takes from the farthest first, and only what is there to take
    assert allocate_oracle(above, 4, left=12, available=available) == {**shares, "Li2O4": 1}
    assert allocate_oracle({"Li2": None}, 4, available={}) == {"Li2": 0}


def test_the_tie_lines_of_a_ternary_join_the_phases_that_share_a_facet():
    from aiida_cryspai.analysis.hull import tie_lines

    elements = [("Cu", "Cu", 0.0), ("Au", "Au", 0.0), ("Ag", "Ag", 0.0)]
    # CuAu on the Cu-Au edge: the triangle splits into Cu-CuAu-Ag and CuAu-Au-Ag; no tie line from Cu to Au
    binary = [p.to_dict() for p in convex_hull([*elements, ("CuAu", "CuAu", -0.10), ("AgAu", "AgAu", 0.05)])]
    assert tie_lines(binary) == {("Cu", "CuAu"), ("Au", "CuAu"), ("Ag", "Cu"), ("Ag", "Au"), ("Ag", "CuAu")}
    # a ternary compound deep enough below every edge joins all three corners and CuAu
    ternary = [p.to_dict() for p in convex_hull([*elements, ("CuAu", "CuAu", -0.10), ("CuAgAu", "CuAgAu", -0.30)])]
    assert tie_lines(ternary) == {("Cu", "CuAu"), ("Au", "CuAu"), ("Ag", "Cu"), ("Ag", "Au"), ("CuAgAu", "CuAu"),
                                  ("Cu", "CuAgAu"), ("Au", "CuAgAu"), ("Ag", "CuAgAu")}

"""The convex hull of a chemical system from the best energy (or enthalpy) per atom of each structure: formation
energies, the energy above the hull of every structure and the stable set (pymatgen's ``PhaseDiagram``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


class HullError(ValueError):
    """The structures do not make a hull (an element without a structure)."""


@dataclass(frozen=True)
class HullPoint:
    """One structure on or above the hull; energies in eV/atom."""

    label: str
    formula: str
    energy_per_atom: float
    formation_energy_per_atom: float
    e_above_hull: float
    stable: bool

    def to_dict(self) -> dict:
        return asdict(self)


def convex_hull(structures: list[tuple[str, str, float]]) -> list[HullPoint]:
    """``structures``: (label, formula of the cell, energy or enthalpy per atom in eV). Every element of the
    formulas needs a structure of its own (the hull's end points). Points in the given order."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    if not structures:
        raise HullError("no structures: the hull needs every element's own energy")
    entries = []
    for label, formula, energy_per_atom in structures:
        composition = Composition(formula)
        entries.append(PDEntry(composition, energy_per_atom * composition.num_atoms, name=label))
    elements = sorted({str(e) for entry in entries for e in entry.composition.elements})
    missing = [e for e in elements if not any(entry.composition.is_element and str(entry.composition.elements[0]) == e
                                              for entry in entries)]
    if missing:
        raise HullError(f"no structure of {', '.join(missing)} alone: the hull needs every element's own energy")
    diagram = PhaseDiagram(entries)
    stable = {id(entry) for entry in diagram.stable_entries}
    points = []
    for (label, formula, energy_per_atom), entry in zip(structures, entries):
        above = float(diagram.get_e_above_hull(entry, allow_negative=True))
        points.append(HullPoint(label, formula, float(energy_per_atom),
                                float(diagram.get_form_energy_per_atom(entry)), max(above, 0.0),
                                id(entry) in stable))
    return points


def tie_lines(points: list[dict]) -> set[tuple[str, str]]:
    """The tie lines of a hull: the pairs of stable phases (their labels, sorted) that share a facet of the lower
    hull, from :class:`HullPoint` dicts (their formation energies); what a phase diagram draws between phases."""
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    stable = [p for p in points if p["stable"]]
    entries = [PDEntry(Composition(p["formula"]), p["formation_energy_per_atom"] * Composition(p["formula"]).num_atoms,
                       name=p["label"]) for p in stable]
    diagram = PhaseDiagram(entries)
    lines = set()
    for facet in diagram.facets:
        names = [diagram.qhull_entries[i].name for i in facet]
        lines.update(tuple(sorted((a, b))) for i, a in enumerate(names) for b in names[i + 1:])
    return lines

"""Stage: the convex hull of a chemical system from every composition's oracle results."""

from __future__ import annotations

from aiida.engine import calcfunction
from aiida.orm import Dict, StructureData

from ..analysis.hull import convex_hull
from ..analysis.symmetry import spacegroup
from ..search.objective import Objective

# candidates of each composition listed in the summary, lowest first
LISTED_PER_COMPOSITION = 10


@calcfunction
def system_hull(settings: Dict, **results) -> dict:
    """The hull of the lowest objective per atom (energy, or enthalpy under ``settings['pressure_gpa']``) of each
    composition, from ``results``: ``structure__<formula>__<key>`` and ``energy__<formula>__<key>`` (eV) for every
    oracle result. Returns ``summary`` (the stable set; per composition its best candidate's formation energy and
    energy above the hull, and its lowest candidates each with its own) and ``stable__<formula>`` (the structure of
    each stable composition). Raises :class:`HullError` where an element has no result."""
    objective = Objective(pressure_gpa=settings["pressure_gpa"])
    by_composition: dict[str, list[tuple[float, str, StructureData, float]]] = {}
    for name, node in results.items():
        if not name.startswith("structure__"):
            continue
        _, formula, key = name.split("__", 2)
        energy = results[f"energy__{formula}__{key}"].value
        atoms = node.get_ase()
        by_composition.setdefault(formula, []).append((objective.of_atoms(atoms, energy), key, node, energy))
    candidates = [(formula, key, value) for formula, entries in by_composition.items()
                  for value, key, _, _ in entries]
    points = convex_hull([(f"{formula}/{key}", formula, value) for formula, key, value in candidates])
    point_of = {point.label: point for point in points}
    compositions, stable, outputs = {}, [], {}
    for formula, entries in sorted(by_composition.items()):
        entries.sort(key=lambda entry: entry[0])
        listed = []
        for value, key, node, _ in entries[:LISTED_PER_COMPOSITION]:
            point, symmetry = point_of[f"{formula}/{key}"], spacegroup(node.get_ase())
            listed.append({"key": key, objective.name: value,
                           "formation_per_atom": point.formation_energy_per_atom,
                           "e_above_hull": point.e_above_hull, "spacegroup_number": symmetry.number,
                           "spacegroup_symbol": symmetry.symbol, "uuid": node.uuid})
        best = listed[0]
        compositions[formula] = {"best": best, "e_above_hull": best["e_above_hull"],
                                 "n_oracle_results": len(entries), "candidates": listed}
        if best["e_above_hull"] <= 1e-9:
            stable.append({"composition": formula, "spacegroup_number": best["spacegroup_number"],
                           "spacegroup_symbol": best["spacegroup_symbol"], objective.name: best[objective.name],
                           "formation_per_atom": best["formation_per_atom"], "uuid": best["uuid"]})
            outputs[f"stable__{formula}"] = entries[0][2].clone()
    summary = {"system": settings["system"], "pressure_gpa": settings["pressure_gpa"], "objective": objective.name,
               "oracle": settings.get("oracle", {}), "stable": stable, "compositions": compositions,
               "hull_points": [point.to_dict() for point in points]}
    return {"summary": Dict(summary), **outputs}

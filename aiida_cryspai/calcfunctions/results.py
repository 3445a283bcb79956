"""Stage: rank every oracle result, drop duplicates, write the summary of the run."""

from aiida.engine import calcfunction
from aiida.orm import Dict, StructureData

from ..analysis.compare import representatives
from ..analysis.symmetry import refined, spacegroup
from ..search.objective import Objective
from ..search.plausibility import ENERGY_MARGIN, implausible_energies


@calcfunction
def rank_results(run_info: Dict, parameters: Dict, **inputs) -> dict:
    """Rank oracle results by the objective (``parameters['objective']``: energy per atom, or enthalpy per atom
    (E + PV)/N under pressure); ``inputs`` holds ``structure_<key>`` and ``energy_<key>``. Every candidate has
    ``energy_per_atom``, ``enthalpy_per_atom`` (equal at 0 GPa) and ``volume_per_atom``.

    ``parameters['refined']`` maps the key of a tightly re-relaxed structure to the key it started from: the
    refined result replaces its start (its energy is the converged one of that minimum). ``parameters['origins']``
    lists [key, where its start came from] in the order the oracle relaxed them; a candidate's ``origin`` is
    that of the first relaxation that reached its minimum (its duplicates included).

    Results whose objective lies implausibly far below the others' (``parameters['energy_margin']`` eV/atom,
    default 2, null: off; a universal potential's hole, ``search/plausibility.py``) are not ranked; the summary
    lists them under ``refused`` with the reason.

    Returns ``summary`` (a Dict: the run and the ranked candidates) and ``rank_001``... (symmetrised copies).
    """
    settings = parameters.get_dict()
    objective = Objective.from_dict(settings.get("objective"))
    refined_keys = settings.get("refined") or {}
    superseded = set(refined_keys.values())
    entries = []
    for name, node in inputs.items():
        if name.startswith("structure_"):
            key = name[len("structure_"):]
            energy = inputs.get(f"energy_{key}")
            if energy is None or key in superseded:
                continue
            atoms = node.get_ase()
            entries.append((objective.of_atoms(atoms, energy.value), energy.value / len(atoms), key, atoms, node.uuid))
    entries.sort(key=lambda e: e[0])
    margin = settings.get("energy_margin", ENERGY_MARGIN)
    implausible = implausible_energies([e[0] for e in entries], margin) if margin is not None else {}
    refused = [{"oracle_key": entries[i][2], "reason": reason} for i, reason in sorted(implausible.items())]
    entries = [entry for i, entry in enumerate(entries) if i not in implausible]
    found = representatives([e[3] for e in entries], [e[0] for e in entries])
    keep = [index for index, kept in enumerate(found) if index == kept]
    # a candidate's origin is that of the first oracle relaxation (in the run's order) that reached its minimum; a
    # refined result stands in its start's place (the start itself is superseded, no longer among the entries)
    ordered = settings.get("origins") or []  # [key, origin] pairs: a list keeps its order in every database
    origins = dict(map(tuple, ordered))
    order = {key: n for n, (key, _) in enumerate(ordered)}

    def position(key: str) -> int:
        return order.get(refined_keys.get(key, key), order.get(key, len(order)))

    first = {}
    for index, kept in enumerate(found):
        key = entries[index][2]
        if kept not in first or position(key) < position(first[kept]):
            first[kept] = key
    wanted_system = settings.get("crystal_system", "all")
    outputs, candidates = {}, []
    for index in keep:
        value, energy_per_atom, key, atoms, source_uuid = entries[index]
        symmetry = spacegroup(atoms, settings["symprec"])
        if wanted_system != "all" and symmetry.crystal_system != wanted_system:
            continue
        rank = len(candidates) + 1
        if rank > settings["n_candidates"]:
            break
        label = f"rank_{rank:03d}"
        outputs[label] = StructureData(ase=refined(atoms, settings["symprec"]))
        candidates.append({
            "rank": rank,
            "energy_per_atom": energy_per_atom,
            "enthalpy_per_atom": objective.per_atom(energy_per_atom * len(atoms), atoms.get_volume(), len(atoms)),
            "spacegroup_number": symmetry.number,
            "spacegroup_symbol": symmetry.symbol,
            "crystal_system": symmetry.crystal_system,
            "oracle_verified": True,
            "refined": key in refined_keys,
            "origin": origins.get(first.get(index, key), ""),
            "volume": atoms.get_volume(),
            "volume_per_atom": atoms.get_volume() / len(atoms),
            "oracle_key": key,
            "oracle_structure_uuid": source_uuid,
        })
    summary = dict(run_info.get_dict())
    summary["pressure_gpa"] = objective.pressure_gpa
    summary["candidates"] = candidates
    summary["refused"] = refused
    summary.setdefault("volume", {})["final_best"] = round(candidates[0]["volume"], 3) if candidates else None
    outputs["summary"] = Dict(summary)
    return outputs

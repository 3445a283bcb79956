"""results.json and candidates/NNN.cif of a finished CrySPAIWorkChain (the contract of DESIGN.md)."""

from __future__ import annotations

import json
from pathlib import Path


def reference_comparison(node, reference) -> dict:
    """The paper's Table 2 metrics of the ranked candidates of ``node`` against the ``reference`` Atoms."""
    from ..analysis.reference import compare_ranked_with_reference

    candidates = node.outputs.summary["candidates"]
    ranked = [node.outputs.candidates[f"rank_{c['rank']:03d}"].get_ase() for c in candidates]
    return compare_ranked_with_reference(ranked, reference)


def export_results(node, folder: Path, reference=None) -> dict:
    """Write ``folder/results.json``, ``folder/candidates/NNN.cif`` and ``folder/plots/*.png``; return the results.
    ``reference``: the known structure (ASE Atoms) to compare the candidates with."""
    from ase.io import write

    summary = node.outputs.summary.get_dict()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "candidates").mkdir(exist_ok=True)
    candidates = []
    for entry in summary["candidates"]:
        rank = entry["rank"]
        structure = node.outputs.candidates[f"rank_{rank:03d}"]
        cif = f"candidates/{rank:03d}.cif"
        write(folder / cif, structure.get_ase(), format="cif")
        candidates.append({
            "rank": rank,
            "energy_per_atom": entry["energy_per_atom"],
            # older runs (before pressure) ranked energies: their enthalpy at 0 GPa is the energy
            "enthalpy_per_atom": entry.get("enthalpy_per_atom", entry["energy_per_atom"]),
            "volume_per_atom": entry.get("volume_per_atom", entry["volume"] / len(structure.sites)),
            "spacegroup_number": entry["spacegroup_number"],
            "spacegroup_symbol": entry["spacegroup_symbol"],
            "crystal_system": entry["crystal_system"],
            "oracle_verified": entry["oracle_verified"],
            "refined": entry.get("refined", False),
            "origin": entry.get("origin", ""),
            "cif": cif,
            "uuid": structure.uuid,
        })
    results = {
        "composition": summary["composition"],
        "engine": summary["engine"],
        "prior": summary.get("prior"),
        "protocol": summary["protocol"],
        "seed": summary["seed"],
        "pressure_gpa": summary.get("pressure_gpa", 0.0),
        "workchain": {"pk": node.pk, "uuid": node.uuid, "exit_status": node.exit_status},
        "oracle": summary["oracle"],
        "iterations": summary["iterations"],
        "converged": summary["converged"],
        "converged_by": summary.get("converged_by"),
        "model": {"rmse_mev_per_atom": summary["model"]["rmse_mev_per_atom"],
                  "n_train": summary["model"]["n_train"]},
        "volume": {key: summary["volume"].get(key) for key in ("estimated", "method", "eq2", "final_best")},
        "refinement": summary.get("refinement"),
        "ga_failures": summary.get("ga_failures", []),
        "candidates": candidates,
    }
    if reference is not None and candidates:
        results["reference"] = reference_comparison(node, reference)
    from .report import write_plots

    plots = write_plots(node, folder / "plots")
    results["plots"] = {caption: str(path.relative_to(folder)) for caption, path in plots.items()}
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    return results

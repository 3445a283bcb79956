"""``cryspai predict Cu-Au``: a chemical system — its compositions, the run, and its results folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

# the largest cell a chemical system's enumeration may ask for
MAX_ATOMS_LIMIT = 40


def system_compositions_of(system: str, max_atoms: int | None, compositions: str | None, engine: str,
                           prior: str, max_oracle_calls: int | None = None, pressure: float = 0.0) -> list[str]:
    """The compositions to search for ``system`` (given, or every one in cells of at most ``max_atoms``), each
    checked against the oracle and the prior; one clear :class:`click.UsageError` otherwise."""
    from ..search.chemical_system import parse_compositions, parse_system, system_compositions
    from ..search.composition import CompositionError
    from ..workchains.request import InputError, check_request, resolve_prior

    try:
        elements = parse_system(system)
        if max_atoms is not None and not 2 <= max_atoms <= MAX_ATOMS_LIMIT:
            raise click.UsageError(f"--max-atoms must be between 2 (the smallest compound of {system}) and "
                                   f"{MAX_ATOMS_LIMIT}, got {max_atoms}")
        if compositions:
            chosen = parse_compositions(compositions, elements, max_atoms=max_atoms or MAX_ATOMS_LIMIT)
            missing = [e for e in elements if not any(c.symbols == [e] for c in chosen)]
            if missing:
                raise CompositionError(f"--compositions needs each element alone too (the hull's ends): add "
                                       f"{', '.join(f'{e}2' for e in missing)} or similar")
        else:
            if max_atoms is None:
                raise click.UsageError(f"give --max-atoms N (cells of at most N atoms) or --compositions for {system}")
            chosen = system_compositions(elements, max_atoms)
        check_request("".join(elements), engine, "all", None, max_oracle_calls, pressure)
        resolve_prior(engine, prior, "".join(elements))
    except (CompositionError, InputError, ValueError) as error:
        raise click.UsageError(str(error)) from None
    return [c.formula for c in chosen]


def hull_figure(summary: dict, path: Path) -> Path:
    """The hull figure of a system's summary at ``path``, its stable phases named with their space groups."""
    from ..analysis.plots import best_spacegroups, plot_hull
    from ..search.chemical_system import parse_system

    return plot_hull(summary["hull_points"], parse_system(summary["system"]), path, summary["pressure_gpa"],
                     best_spacegroups(summary))


def export_system(node, folder: Path) -> dict:
    """``folder/results.json`` of a finished SystemWorkChain, the stable structures (``stable/<formula>.cif``),
    each composition's own folder (``compositions/<formula>/``: its lowest candidates and results.json) and the
    hull figure (``plots/hull.png``); returns the results."""
    from ase.io import write

    summary = node.outputs.summary.get_dict()
    objective = summary["objective"]
    for sub in ("stable", "compositions", "plots"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    stable = []
    for entry in summary["stable"]:
        cif = f"stable/{entry['composition']}.cif"
        write(folder / cif, node.outputs.stable[entry["composition"]].get_ase(), format="cif")
        stable.append({"composition": entry["composition"], "spacegroup_symbol": entry["spacegroup_symbol"],
                       "spacegroup_number": entry["spacegroup_number"], objective: entry[objective],
                       "formation_energy_per_atom": entry["formation_per_atom"], "cif": cif})
    compositions = {}
    from aiida.orm import load_node

    for formula, info in summary["compositions"].items():
        own = folder / "compositions" / formula
        (own / "candidates").mkdir(parents=True, exist_ok=True)
        candidates = []
        for rank, candidate in enumerate(info["candidates"], start=1):
            cif = f"candidates/{rank:03d}.cif"
            write(own / cif, load_node(candidate["uuid"]).get_ase(), format="cif")
            candidates.append({"rank": rank, **{k: v for k, v in candidate.items() if k != "uuid"}, "cif": cif,
                               "uuid": candidate["uuid"]})
        (own / "results.json").write_text(json.dumps({"composition": formula, "candidates": candidates}, indent=2))
        compositions[formula] = {"best": candidates[0], "e_above_hull": info["e_above_hull"],
                                 "oracle_results": info["n_oracle_results"], "folder": f"compositions/{formula}"}
    hull_figure(summary, folder / "plots" / "hull.png")
    results = {"system": summary["system"], "pressure_gpa": summary["pressure_gpa"], "objective": objective,
               "stable": stable, "compositions": compositions, "oracle": summary["oracle"],
               "plots": ["plots/hull.png"], "workchain": {"pk": node.pk, "uuid": node.uuid}}
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    return results


def print_system(results: dict, folder: Path) -> None:
    click.echo(f"{results['system']}: stable " + ", ".join(s["composition"] for s in results["stable"]))
    click.echo(f"{'composition':>12} {'E above hull':>13} {'space group':>16}  folder")
    for formula, info in results["compositions"].items():
        best = info["best"]
        click.echo(f"{formula:>12} {info['e_above_hull'] * 1000:>9.1f} meV {best['spacegroup_symbol']:>12} "
                   f"({best['spacegroup_number']})  {info['folder']}")
    click.echo(f"oracle: {results['oracle']['relaxations']} relaxations; results written to {folder / 'results.json'}")


def system_status(node) -> dict:
    """State, iteration, oracle relaxations done/pending of a SystemWorkChain, and the hull of the best oracle result
    of each composition so far (while it runs: the stable set and every composition's height above it)."""
    from ..analysis.hull import HullError, convex_hull
    from ..search.objective import Objective
    from ..workchains.oracle import loop_iteration, oracle_outputs
    from .graph import called
    from .status import oracle_progress

    objective = Objective(pressure_gpa=node.inputs.pressure.value)
    done = pending = 0
    best: dict[str, float] = {}
    labels = set()
    for label, oracle in called(node, "OracleWorkChain"):
        if "/" in label:  # a stage's own (the population's screening): not an oracle batch of the system
            continue
        labels.add(label.rsplit("_", 1)[0])
        formula = label.rsplit("_", 1)[1]
        batch_done, batch_pending = oracle_progress(oracle)
        done, pending = done + batch_done, pending + batch_pending
        if oracle.is_finished_ok:
            structures = oracle_outputs(oracle, "relaxed_structures")
            for key, energy in oracle_outputs(oracle, "energies").items():
                value = objective.of_atoms(structures[key].get_ase(), energy.value)
                best[formula] = min(best.get(formula, value), value)
    status = {"process": f"SystemWorkChain<{node.pk}>",
              "state": node.process_state.value if node.process_state else "unknown",
              "exit_status": node.exit_status, "system": node.inputs.system.value,
              "compositions": ", ".join(node.inputs.compositions.get_list()),
              "iteration": len([label for label in labels if loop_iteration(label) is not None]),
              "oracle_relaxations_done": done, "oracle_relaxations_pending": pending}
    try:
        points = convex_hull([(f, f, value) for f, value in best.items()])
    except HullError as error:
        status["hull_so_far"] = f"not yet ({error})"
        return status
    status["stable_so_far"] = ", ".join(p.label for p in points if p.stable)
    for point in points:
        status[f"{point.label} above the hull"] = f"{point.e_above_hull * 1000:.1f} meV/atom"
    return status


def system_report(node, plots: Path) -> dict:
    """What :func:`~..report.html.render_system` draws, from a finished SystemWorkChain (its hull figure written
    into ``plots``)."""
    from ..report.html import structure_view_data

    summary = node.outputs.summary.get_dict()
    objective = summary["objective"]
    plots.mkdir(parents=True, exist_ok=True)
    hull = hull_figure(summary, plots / "hull.png")
    stable = {s["composition"] for s in summary["stable"]}
    compositions = [{"composition": formula, "spacegroup_symbol": info["best"]["spacegroup_symbol"],
                     "spacegroup_number": info["best"]["spacegroup_number"],
                     "energy_per_atom": info["best"][objective],
                     "formation_energy_per_atom": info["best"]["formation_per_atom"],
                     "e_above_hull": info["e_above_hull"], "stable": formula in stable}
                    for formula, info in summary["compositions"].items()]
    hull_node = node.outputs.summary.creator
    oracle = summary["oracle"]
    return {"title": f"CrySPAI: the {summary['system']} system",
            "overview": {"system": summary["system"], "pressure (GPa)": summary["pressure_gpa"],
                         "stable phases": ", ".join(sorted(stable)), "compositions": len(compositions),
                         "oracle relaxations": oracle.get("relaxations"), "iterations": oracle.get("iterations"),
                         "engine": node.inputs.engine.value},
            "hull": hull, "compositions": compositions,
            "views": {formula: structure_view_data(node.outputs.stable[formula].get_ase())
                      for formula in sorted(stable)},
            "provenance": {"work chain": f"SystemWorkChain<{node.pk}> ({node.uuid})",
                           "hull": f"{hull_node.process_label}<{hull_node.pk}> from "
                                   f"{len(hull_node.base.links.get_incoming().all()) // 2} oracle results",
                           "shared network": f"<{node.outputs.model.pk}>" if "model" in node.outputs else "none"},
            "commands": [f"cryspai predict {summary['system']} --engine {node.inputs.engine.value} --compositions "
                         f"{','.join(node.inputs.compositions.get_list())} --seed {node.inputs.seed.value} "
                         f"--protocol {node.inputs.protocol.value}"]}

"""What the plots and the HTML report of a finished CrySPAIWorkChain show, read from its provenance graph."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np

from ..workchains.oracle import loop_iteration
from .graph import called, oracle_runs

PLOT_FILES = {
    "rmse": "rmse_per_iteration.png",
    "ga": "best_energy_per_generation.png",
    "parity": "parity_network_oracle.png",
    "energy_volume": "energy_volume.png",
}


def oracle_points(node) -> dict[str, list]:
    """Every oracle-relaxed structure of the run: volume and energy per atom, crystal system, batch label."""
    from ..analysis.symmetry import spacegroup
    from ..workchains.oracle import oracle_outputs

    points = {"volume": [], "energy": [], "system": [], "batch": []}
    for label, oracle in oracle_runs(node):
        if not oracle.is_finished_ok:
            continue
        structures = oracle_outputs(oracle, "relaxed_structures")
        for key, energy in oracle_outputs(oracle, "energies").items():
            atoms = structures[key].get_ase()
            points["volume"].append(atoms.get_volume() / len(atoms))
            points["energy"].append(energy.value / len(atoms))
            points["system"].append(spacegroup(atoms, 0.1).crystal_system)
            points["batch"].append(label)
    return points


def iteration_errors(node) -> list[dict]:
    """Per iteration: the network's validation RMSE and the previous network's RMSE on that iteration's oracle batch."""
    rows: dict[int, dict] = {}
    for label, training in called(node, "TrainCalculation"):
        if training.is_finished_ok:
            iteration = int(label.split("/")[0].rsplit("_", 1)[-1])
            rows.setdefault(iteration, {"iteration": iteration})["validation"] = \
                training.outputs.metrics["rmse_validation_mev_per_atom"]
    oracle_times = [(loop_iteration(label), oracle.ctime) for label, oracle in oracle_runs(node)
                    if loop_iteration(label) is not None]
    for _, check in called(node, "check_convergence"):
        if check.is_finished_ok:
            iteration = max((i for i, ctime in oracle_times if ctime < check.ctime), default=0)
            row = rows.setdefault(iteration, {"iteration": iteration})
            row["out_of_sample"] = check.outputs.result["rmse_mev_per_atom"]
            row["out_of_sample_basin"] = check.outputs.result.get("rmse_basin_mev_per_atom")
    return [rows[i] for i in sorted(rows)]


def ga_curves(node) -> dict[str, dict[str, list[float]]]:
    """GA label (``ga_01``, ``final_ga``) -> crystal system -> best predicted energy per atom per generation."""
    curves: dict[str, dict[str, list[float]]] = {}
    for label, evolve in called(node, "EvolveCalculation"):
        if evolve.is_finished_ok:
            name, systems = label.split("/")
            summary = evolve.outputs.summary.get_dict()
            for system, info in (summary.get("systems") or {systems: summary}).items():
                curves.setdefault(name, {})[system] = list(info["best_per_generation"])
    return curves


def parity_points(node) -> dict[str, list]:
    """Network against oracle energies per atom on frames each network had not seen: every network on the next
    oracle batch (the convergence checks) and the final network on the verification batch. A network trained on a
    prior predicts with it (the prior's labels stored with the frames, computed where they are not)."""
    from ..ml.prior import label_with_prior, predicted_energies
    from ..workchains.oracle import oracle_outputs

    points = {"oracle": [], "predicted": [], "group": []}

    def add(model, dataset, group: str) -> None:
        arrays = dataset.to_arrays()
        if len(arrays["energies"]) == 0:
            return
        network = model.load_model()
        if network.prior:
            arrays = label_with_prior(arrays, network.prior["name"])
        predicted = predicted_energies(network, arrays)
        points["oracle"] += list(arrays["energies"] / arrays["n_atoms"])
        points["predicted"] += list(predicted / arrays["n_atoms"])
        points["group"] += [group] * len(predicted)

    for index, (_, check) in enumerate(called(node, "check_convergence"), start=1):
        add(check.inputs.model, check.inputs.new_frames, f"network {index}, next batch")
    verification = [oracle for label, oracle in oracle_runs(node) if label == "oracle_verification"]
    if "model" in node.outputs and verification and verification[0].is_finished_ok:
        for dataset in oracle_outputs(verification[0], "frames").values():
            add(node.outputs.model, dataset, "final network, verification")
    return points


def write_plots(node, folder: Path) -> dict[str, Path]:
    """The four figures of the run as PNG files in ``folder``; caption -> path (figures without data left out)."""
    from ..analysis import plots

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    errors = iteration_errors(node)
    if errors:
        threshold = node.inputs.parameters["convergence_mev_per_atom"]
        written["Network RMSE per iteration"] = plots.plot_rmse(errors, threshold, folder / PLOT_FILES["rmse"])
    curves = ga_curves(node)
    if curves:
        written["Best predicted energy per generation, per crystal system"] = plots.plot_ga_progress(
            curves, folder / PLOT_FILES["ga"])
    parity = parity_points(node)
    if parity["oracle"]:
        written["Network against oracle (frames the network had not seen)"] = plots.plot_parity(
            parity["oracle"], parity["predicted"], parity["group"], folder / PLOT_FILES["parity"])
    points = oracle_points(node)
    if points["energy"]:
        pressure = node.inputs.pressure.value if "pressure" in node.inputs else 0.0
        caption = f"Enthalpy at {pressure:g} GPa" if pressure else "Energy"
        written[f"{caption} against volume of every oracle result"] = plots.plot_energy_volume(
            points["volume"], points["energy"], points["system"], folder / PLOT_FILES["energy_volume"], pressure)
    return written


def package_versions(node) -> dict[str, str]:
    """Package versions reported by the run's CalcJobs (``versions`` outputs); several values are joined."""
    from aiida import orm

    query = orm.QueryBuilder()
    query.append(orm.WorkflowNode, filters={"id": node.pk}, tag="run")
    query.append(orm.ProcessNode, with_incoming="run", tag="child")
    query.append(orm.Dict, with_incoming="child", edge_filters={"label": "versions"}, project=["attributes"])
    seen: dict[str, set] = {}
    for (attributes,) in query.iterall():
        for package, version in attributes.items():
            seen.setdefault(package, set()).add(str(version))
    import aiida

    versions = {"aiida-core (this profile)": aiida.__version__}
    versions.update({package: ", ".join(sorted(values)) for package, values in sorted(seen.items())})
    return versions


def provenance_summary(node) -> dict[str, str]:
    counts: dict[str, int] = {}
    for process in node.called_descendants:
        counts[process.process_label] = counts.get(process.process_label, 0) + 1
    summary = {"run": f"CrySPAIWorkChain<{node.pk}> {node.uuid}",
               "created": node.ctime.strftime("%Y-%m-%d %H:%M:%S %Z"),
               "processes": ", ".join(f"{n} {label}" for label, n in sorted(counts.items(), key=lambda x: -x[1]))}
    if "model" in node.outputs:
        model = node.outputs.model
        summary["final model"] = f"{model.__class__.__name__}<{model.pk}> {model.uuid}"
        dataset = model.creator.inputs.dataset
        summary["its training set"] = f"{dataset.__class__.__name__}<{dataset.pk}> {dataset.uuid}, " \
                                      f"{dataset.n_frames} frames"
    return summary


def reproduce_commands(node) -> list[str]:
    """The commands that run the same search again, and those that export this one."""
    import yaml

    from ..protocols import get_protocol

    inputs = node.inputs
    protocol = inputs.protocol.value
    command = ["cryspai", "predict", inputs.composition.value, "--engine", inputs.engine.value, "--protocol",
               protocol, "--seed", str(inputs.seed.value)]
    if inputs.crystal_system.value != "all":
        command += ["--crystal-system", inputs.crystal_system.value]
    if "volume" in inputs:
        command += ["--volume", repr(inputs.volume.value)]
    if "max_oracle_calls" in inputs:
        command += ["--max-oracle-calls", str(inputs.max_oracle_calls.value)]
    if "pressure" in inputs and inputs.pressure.value:
        command += ["--pressure", repr(inputs.pressure.value)]
    command += ["--prior", f"ase:{inputs.prior['name']}" if "prior" in inputs else "none"]
    lines = []
    changed = _difference(inputs.parameters.get_dict(), get_protocol(protocol))
    if changed:
        lines += ["cat > parameters.yaml <<'EOF'", yaml.safe_dump(changed, sort_keys=True).rstrip(), "EOF"]
        command += ["--parameters", "parameters.yaml"]
    lines.append(shlex.join(command))
    lines += ["", "# this run, as files and as an AiiDA archive:", f"cryspai export {node.pk} results/",
              f"verdi archive create -N {node.pk} -- run-{node.pk}.aiida"]
    return lines


def _difference(recorded: dict, defaults: dict) -> dict:
    """The entries of ``recorded`` that differ from ``defaults`` (nested)."""
    changed = {}
    for key, value in recorded.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            inner = _difference(value, default)
            if inner:
                changed[key] = inner
        elif value != default:
            changed[key] = value
    return changed


def collect_report(node, plot_folder: Path, reference: dict | None = None, n_views: int = 8) -> dict:
    """The plain data of :func:`aiida_cryspai.report.html.render` for the finished run ``node``."""
    from ..report.html import structure_view_data

    summary = node.outputs.summary.get_dict()
    candidates = [{**c, "volume_per_atom": c["volume"] / len(node.outputs.candidates[f"rank_{c['rank']:03d}"].sites)}
                  for c in summary["candidates"]]
    model = summary["model"]
    overview = {
        "composition": summary["composition"], "engine": summary["engine"],
        "prior": (summary.get("prior") or {}).get("name", "none"), "protocol": summary["protocol"],
        "seed": summary["seed"], "pressure (GPa)": summary.get("pressure_gpa", 0.0),
        "state": f"{node.process_state.value}, exit status {node.exit_status}",
        "oracle relaxations": summary["oracle"]["relaxations"], "oracle ionic steps": summary["oracle"]["ionic_steps"],
        "oracle wall time (s)": summary["oracle"]["wall_s"], "iterations": summary["iterations"],
        "converged": summary["converged"], "network RMSE (meV/atom)": _rounded(model.get("rmse_mev_per_atom")),
        "training frames": model.get("n_train"), "starting volume (Å³)": f"{summary['volume']['estimated']} "
        f"({summary['volume'].get('method', 'paper')})",
        "volume of rank 1 (Å³)": summary["volume"]["final_best"],
    }
    views = {c["rank"]: structure_view_data(node.outputs.candidates[f"rank_{c['rank']:03d}"].get_ase())
             for c in candidates[:n_views]}
    at = f" at {summary['pressure_gpa']:g} GPa" if summary.get("pressure_gpa") else ""
    return {
        "title": f"CrySPAI: {summary['composition']}{at} with {summary['engine']} (run {node.pk})",
        "pressure_gpa": summary.get("pressure_gpa", 0.0),
        "overview": overview,
        "plots": write_plots(node, plot_folder),
        "candidates": candidates,
        "views": views,
        "reference": reference,
        "provenance": provenance_summary(node),
        "versions": package_versions(node),
        "commands": reproduce_commands(node),
        "parameters": node.inputs.parameters.get_dict(),
    }


def _rounded(value):
    return None if value is None else round(float(np.asarray(value)), 2)

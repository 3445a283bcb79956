"""Where a CrySPAIWorkChain is, read from its provenance graph (works while it runs and after)."""

from __future__ import annotations

from .graph import called, oracle_runs


def run_status(node) -> dict:
    """State, iteration, network errors and oracle relaxations done/pending of the CrySPAIWorkChain ``node``."""
    runs = oracle_runs(node)
    done = pending = 0
    for _, oracle in runs:
        batch_done, batch_pending = oracle_progress(oracle)
        done, pending = done + batch_done, pending + batch_pending
    training = [calc for _, calc in called(node, "TrainCalculation")]
    checks = [check for _, check in called(node, "check_convergence") if check.is_finished_ok]
    rmse_validation = None
    if training and training[-1].is_finished_ok:
        rmse_validation = training[-1].outputs.metrics["rmse_validation_mev_per_atom"]
    rmse_out_of_sample = checks[-1].outputs.result["rmse_mev_per_atom"] if checks else None
    rmse_basin = checks[-1].outputs.result.get("rmse_basin_mev_per_atom") if checks else None
    status = {
        "process": f"CrySPAIWorkChain<{node.pk}>",
        "state": node.process_state.value if node.process_state else "unknown",
        "exit_status": node.exit_status,
        "composition": node.inputs.composition.value,
        "engine": node.inputs.engine.value,
        "iteration": len([label for label, _ in runs if "verification" not in label]),
        "oracle_relaxations_done": done,
        "oracle_relaxations_pending": pending,
        "network_trainings": len(training),
        "network_validation_rmse": None if rmse_validation is None else round(rmse_validation, 1),
        "network_out_of_sample_rmse": None if rmse_out_of_sample is None else round(rmse_out_of_sample, 1),
        "network_out_of_sample_rmse_near_basin": None if rmse_basin is None else round(rmse_basin, 1),
    }
    screening = [run for label, run in called(node, "OracleWorkChain") if label == "population/screening"]
    if screening:
        status.update(screening_progress(screening[-1]))
    if node.is_finished_ok and "summary" in node.outputs:
        best = node.outputs.summary["candidates"][:1]
        if best:
            status["rank_1"] = f"{best[0]['spacegroup_symbol']} ({best[0]['spacegroup_number']}) " \
                               f"{best[0]['energy_per_atom']:.4f} eV/atom"
    return status


def oracle_progress(oracle) -> tuple[int, int]:
    """(relaxations done, relaxations pending) of an OracleWorkChain: its structures not yet submitted are pending."""
    n = len(oracle.inputs.structures) if "structures" in oracle.inputs else 0
    done = pending = submitted = 0
    for child, n_child in _oracle_relaxations(oracle):
        submitted += n_child
        if child.is_terminated:
            done += n_child
        else:
            pending += n_child
    return done, pending + max(0, n - submitted)


def screening_progress(screening) -> dict:
    """The screening on the prior: structures relaxed of all, refusals by reason and the lowest energy so far."""
    from ..workchains.oracle import tally_results

    total = len(screening.inputs.structures) if "structures" in screening.inputs else 0
    statuses, energies = tally_results([child.outputs.results.get_dict() for child, _ in _oracle_relaxations(screening)
                                        if child.is_finished_ok and "results" in child.outputs])
    relaxed, lowest = sum(statuses.values()), min(energies, default=None)
    refused = {status: n for status, n in statuses.items() if status != "ok"}
    return {"screening_relaxed": f"{relaxed} of {total}",
            "screening_refused": ", ".join(f"{n} {s}" for s, n in sorted(refused.items())) or "none",
            "screening_lowest_energy_per_atom": None if lowest is None else round(lowest, 4)}


def _oracle_relaxations(oracle) -> list[tuple]:
    """(process, number of structures) of an oracle run: its batch CalcJobs, or its per-structure relaxation work
    chains (DFT engines); the CHGNet pre-relaxation of a DFT oracle is not an oracle relaxation."""
    from aiida.orm import CalcJobNode, WorkChainNode

    found = []
    for label, child in called(oracle):
        if isinstance(child, CalcJobNode) and label != "prerelaxation" and "structures" in child.inputs:
            found.append((child, len(child.inputs.structures)))
        elif isinstance(child, WorkChainNode) and label.startswith("relax_"):
            found.append((child, 1))
    return found

"""The search's own stopping test (``search/stopping.py``) replayed on finished runs that did not use it: at which
loop iteration it would have stopped, and what the loop found after that point — the lower structures the rule
would have cost, and the time it would have saved. A replay, labelled so: it reads what the run did, it does not
run the loop again (the final GA after an earlier stop would have learnt from fewer frames).

For each iteration the replay takes, as the work chain does, the best oracle objective after each loop batch
(``oracle_NN``, results the run refused left out) and the lower bounds (prediction less ensemble spread) of that
iteration's GA recommendations (``ga_NN``: its ``selection``, the spreads from its GA CalcJobs). A row per run and
patience: the stop iteration (None: never), the loop's batches after it and how much lower they went, the final
answer (rank 1) against the best at the stop, and the wall time from the stop to the end of the loop.

    cd benchmarks && python stopping_replay.py PK [PK ...] --patience 1 2 3 [--output results/stopping_replay.jsonl]
"""

from __future__ import annotations

import argparse

from rows import emit_row

from aiida_cryspai.search.objective import Objective
from aiida_cryspai.search.stopping import search_settled


def loop_batches(run) -> list[tuple[int, float, object]]:
    """(iteration, best objective per atom so far, the batch's OracleWorkChain) of every loop batch, in order."""
    from aiida_cryspai.cli.graph import loop_iteration, oracle_runs
    from aiida_cryspai.workchains.oracle import oracle_outputs

    objective = Objective(pressure_gpa=run.inputs.pressure.value)
    refused = set(run.outputs.summary.get_dict().get("refused", {}))
    best, out = float("inf"), []
    for label, batch in oracle_runs(run):
        iteration = loop_iteration(label)
        if iteration is None:
            continue
        structures = oracle_outputs(batch, "relaxed_structures")
        for key, energy in oracle_outputs(batch, "energies").items():
            if key not in refused:
                best = min(best, objective.of_atoms(structures[key].get_ase(), energy.value))
        out.append((iteration, best, batch))
    return out


def proposal_bounds(evolution, objective: Objective) -> list[float]:
    """Prediction less spread (eV/atom) of each recommendation of a loop's EvolutionWorkChain."""
    selection = evolution.outputs.selection.get_dict() if "selection" in evolution.outputs else {}
    spreads = {}
    from aiida.common.links import LinkType

    for link in evolution.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all():
        if link.node.process_label == "EvolveCalculation" and "predicted_energies" in link.node.outputs:
            spreads[link.link_label] = link.node.outputs.predicted_energies.get_dict()
    bounds = []
    for info in selection.values():
        predicted = info.get("predicted_objective_per_atom")
        if predicted is None:  # runs before the selection recorded the objective: zero pressure only
            if objective.pressure_gpa:
                raise ValueError(f"{evolution.pk}: no predicted objective recorded under pressure")
            predicted = info["predicted_energy_per_atom"]
        spread = info.get("spread_per_atom", spreads.get(info["ga_crystal_system"], {}).get(info["ga_key"], {})
                          .get("spread_per_atom", 0.0))
        bounds.append(predicted - spread)
    return bounds


def replay(run, patience: int, tolerance_mev: float) -> dict:
    """The row of one run and patience."""
    from aiida_cryspai.cli.graph import called

    objective = Objective(pressure_gpa=run.inputs.pressure.value)
    batches = loop_batches(run)
    evolutions = {int(label.removeprefix("ga_")): node for label, node in called(run, "EvolutionWorkChain")
                  if label.startswith("ga_")}
    history, stop, reason = [], None, None
    for iteration, best, _ in batches:
        history.append(best)
        if iteration not in evolutions:
            continue
        settled, why = search_settled(history, proposal_bounds(evolutions[iteration], objective),
                                      tolerance_mev / 1000.0, patience)
        if settled:
            stop, reason = iteration, why
            break
    summary = run.outputs.summary.get_dict()
    rank1 = summary["candidates"][0][objective.name] if summary["candidates"] else None
    loop_best = batches[-1][1] if batches else None
    row = {"pk": run.pk, "uuid": run.uuid, "composition": run.inputs.composition.value,
           "engine": run.inputs.engine.value, "seed": run.inputs.seed.value, "protocol": run.inputs.protocol.value,
           "patience": patience, "tolerance_mev": tolerance_mev, "loop_batches": len(batches),
           "iterations": summary["iterations"], "converged_by": summary["converged_by"], "stop_iteration": stop,
           "reason": reason, "rank1": rank1}
    if stop is None:
        return {**row, "batches_skipped": 0, "later_gain_mev": 0.0, "rank1_above_stop_best_mev": None,
                "loop_seconds_saved": 0.0}
    at_stop = history[-1]
    later = [entry for entry in batches if entry[0] > stop]
    end_of_stop = max(node.mtime for node in [evolutions[stop], *evolutions[stop].called_descendants])
    loop_end = max((batch.mtime for _, _, batch in later), default=end_of_stop)
    trainings = [node for label, node in called(run, "SurrogateWorkChain")
                 if int(label.removeprefix("surrogate_")) > stop]
    ga_after = [node for iteration, node in evolutions.items() if iteration > stop]
    loop_end = max([loop_end, *(node.mtime for node in trainings + ga_after)])
    return {**row, "batches_skipped": len(later),
            "later_gain_mev": round(1000 * (at_stop - loop_best), 2),
            "rank1_above_stop_best_mev": round(1000 * (rank1 - at_stop), 2) if rank1 is not None else None,
            "loop_seconds_saved": round((loop_end - end_of_stop).total_seconds(), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="pk or uuid of finished CrySPAIWorkChain runs")
    parser.add_argument("--patience", type=int, nargs="+", default=[2])
    parser.add_argument("--tolerance", type=float, default=1.0, help="meV/atom")
    parser.add_argument("--output", default=None)
    args = parser.parse_args()

    from aiida import load_profile, orm

    load_profile()
    for identifier in args.runs:
        run = orm.load_node(identifier)
        for patience in args.patience:
            emit_row(replay(run, patience, args.tolerance), args.output)


if __name__ == "__main__":
    main()

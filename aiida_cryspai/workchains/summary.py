"""The run's record in ``results.json`` (``summary``): what was asked, what it cost, how the network ended."""

from __future__ import annotations


def round_mev(value: float | None) -> float | None:
    """An RMSE in meV/atom as it is reported: to 0.1 meV/atom (None stays None: no frame to measure it on)."""
    return None if value is None else round(float(value), 1)


def loop_state() -> dict:
    """The loop's state at its start (a CrySPAIWorkChain's context): what run_info reports from."""
    return {"iteration": 0, "oracle_calls": 0, "ionic_steps": 0, "oracle_wall_s": 0.0,
            "oracle_runs": [],  # uuids of the oracle batches inspected, in order
            "model": None, "dataset": None, "converged": False, "converged_by": None,
            "ga_saturated": False,  # the last GA proposed nothing new: the next batch is random structures
            "random_rounds": 1,  # round 0 is the initial population's
            "convergence_history": [], "training_history": [],
            "best_by_batch": [],  # the best oracle objective after each oracle batch (the search's own test)
            "best_by_system": {},  # crystal system -> [(objective, uuid)]: the GA's seeds
            "relaxed_uuids": [],  # every structure the oracle relaxed: the GA's proposals must differ from them
            "refined": {},  # refined structure's key -> the key of the oracle structure it started from
            "refused": {},  # oracle results refused as implausible (key -> reason)
            "ga_failures": []}  # GA jobs that failed on their retry too: stage, crystal systems, exit


def ranking_settings(inputs, parameters, n_verify: int, objective, refined: dict, origins: list) -> dict:
    """The settings of ``rank_results``: at least 16 candidates, the objective, the crystal system asked, which
    structures were refined from which, the plausibility margin and every result's origin."""
    return {"n_candidates": max(n_verify, 16), "symprec": 0.1, "objective": objective.to_dict(),
            "crystal_system": inputs.crystal_system.value, "refined": refined,
            "energy_margin": parameters.guards["energy_margin"], "origins": origins}


def search_history(best_by_batch: list, parameters) -> dict:
    """What the search's own stopping test reads (``calcfunctions.stopping``): the best objective after each
    oracle batch (of a run, or of one composition of a system), the tolerance (eV/atom) and the patience."""
    return {"best_by_batch": list(best_by_batch), "patience": parameters.stop_patience,
            "tolerance_ev_per_atom": parameters.stop_tolerance_mev_per_atom / 1000.0}


def run_info(inputs, ctx, parameters, n_refined: int) -> dict:
    """The run's part of the summary from a CrySPAIWorkChain's inputs, context and parameters; ``n_refined``: the
    tight relaxations that ended with an energy."""
    last_training = ctx.training_history[-1] if ctx.training_history else {}
    history = ctx.convergence_history
    rmse = history[-1] if history and history[-1] is not None else last_training.get("rmse_validation_mev_per_atom")
    return {
        "composition": inputs.composition.value,
        "engine": inputs.engine.value,
        "prior": inputs.prior.get_dict() if "prior" in inputs else None,
        "protocol": inputs.protocol.value,
        "seed": inputs.seed.value,
        "crystal_system": inputs.crystal_system.value,
        "oracle": {"relaxations": ctx.oracle_calls, "ionic_steps": ctx.ionic_steps,
                   "wall_s": round(ctx.oracle_wall_s, 1)},
        "iterations": ctx.iteration,
        "converged": ctx.converged,
        "converged_by": ctx.converged_by,
        "convergence_history_mev_per_atom": history,
        "model": {"rmse_mev_per_atom": round_mev(rmse),
                  "validation_rmse_mev_per_atom": round_mev(last_training.get("rmse_validation_mev_per_atom")),
                  "n_train": last_training.get("n_train", 0)},
        "volume": {"estimated": round(ctx.volume_estimate, 3), "method": ctx.volume_method,
                   "eq2": round(ctx.eq2_volume, 3)},
        # crystal systems whose GA proposed nothing at a stage because its job failed twice: a narrower search
        "ga_failures": list(ctx.get("ga_failures", [])),
        "refinement": {"relaxations": len(ctx.refined), "converged": n_refined,
                       "fmax_ev_per_angstrom": parameters.refine["fmax"],
                       "max_steps": parameters.refine["max_steps"], "cell": "full"},
    }

"""``cryspai.main``: the CrySPAI loop (paper Fig. 1).

initial population (``cryspai.population``) -> loop: oracle relaxations (``cryspai.oracle``), the network learns
from them (``cryspai.surrogate``: dataset, convergence test, training), GA per crystal system on the network
(``cryspai.evolution``) -> final GA -> oracle verification of the best -> tight relaxation of the lowest -> ranked.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_

from ..analysis.compare import lowest_distinct
from ..analysis.crystal_systems import CRYSTAL_SYSTEMS, resolve_crystal_systems
from ..calcfunctions.results import rank_results
from ..calcfunctions.stopping import check_search
from ..data.dataset import DatasetData
from ..engines import get_engine
from ..ml.potentials import CALCULATORS
from ..protocols import ProtocolError
from ..search.budget import OracleBudget
from ..search.elite import keep_lowest
from ..search.plausibility import implausible_keys
from ..search.seeds import stage_seed
from .evolution import EvolutionWorkChain, evolution_parameters, failed_gas, loop_recommendation
from .oracle import OracleWorkChain, oracle_costs, oracle_outputs, oracle_results, search_oracle_inputs
from .population import InitialPopulationWorkChain, random_structures
from .request import RUN_EXIT_CODES, InputError, check_search_inputs, complete_builder, resolve_codes, resolve_prior
from .settings import SearchSettings, guard_settings, relaxation_parameters
from .summary import loop_state, ranking_settings, round_mev, run_info, search_history
from .surrogate import SurrogateWorkChain


class CrySPAIWorkChain(SearchSettings, WorkChain):
    """Predict the stable crystal structures of a composition, the CrySPAI way."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(InitialPopulationWorkChain)
        spec.input("crystal_system", valid_type=orm.Str, default=lambda: orm.Str("all"),
                   help="Crystal system of the final search ('all' or one of the seven); the loop uses all seven.")
        spec.input("max_oracle_calls", valid_type=orm.Int, required=False,
                   help="Most oracle relaxations in total, verification included.")
        spec.input("codes.train", valid_type=orm.AbstractCode, help="cryspai-train.")
        spec.input("codes.evolve", valid_type=orm.AbstractCode, help="cryspai-evolve.")
        spec.input("codes.oracle", valid_type=orm.AbstractCode, required=False,
                   help="The DFT engine's code (e.g. abinit@localhost); the ase engines use codes.relax.")
        spec.outline(
            cls.validate_inputs,
            cls.run_initial_population,
            cls.inspect_initial_population,
            while_(cls.should_run_oracle)(
                cls.run_oracle,
                cls.inspect_oracle,
                cls.update_surrogate,
                cls.inspect_surrogate,
                if_(cls.has_new_network)(
                    if_(cls.should_search_again)(cls.run_evolutionary_search, cls.collect_candidates),
                ).else_(cls.generate_more_random_structures),
            ),
            if_(cls.has_model)(
                cls.run_final_search,
                cls.recommend_structures,
                if_(cls.should_verify)(cls.verify_with_oracle, cls.inspect_oracle),
            ),
            if_(cls.should_refine)(cls.refine_best_structures, cls.inspect_oracle),
            cls.rank_results,
        )
        spec.output_namespace("candidates", valid_type=orm.StructureData, dynamic=True,
                              help="Ranked structures, rank_001 the lowest oracle energy.")
        spec.output("summary", valid_type=orm.Dict, help="The run and the ranked candidates (results.json).")
        spec.output("dataset", valid_type=DatasetData, required=False, help="The final training set.")
        spec.output("model", valid_type=orm.SinglefileData, required=False, help="The final network.")
        for status, label, message in RUN_EXIT_CODES:
            spec.exit_code(status, label, message=message)

    @classmethod
    def get_builder_from_protocol(cls, composition: str, engine: str = "ase:chgnet", protocol: str = "fast",
                                  crystal_system: str = "all", volume: float | None = None, seed: int = 1,
                                  max_oracle_calls: int | None = None, overrides: dict | None = None,
                                  codes: dict | None = None, computer: str = "localhost",
                                  prior: str | None = "default", pressure: float = 0.0, device: str = "auto"):
        """A builder filled from ``protocol`` (``fast``, ``moderate``, ``precise``) with ``overrides`` merged in,
        the initial population's part from its own builder. ``codes``: ``relax``/``train``/``evolve`` (default
        ``cryspai-*@computer``); ``prior``: a universal potential under the network (``ase:chgnet``,
        ``ase:sevennet``), ``None`` for the pure network, ``"default"`` for the engine's choice; ``device``: where
        the models compute (``auto``, ``cpu``, ``cuda``: :func:`request.device_options`)."""
        codes = resolve_codes(engine, codes, computer)
        name = resolve_prior(engine, prior)
        population = InitialPopulationWorkChain.get_builder_from_protocol(
            composition, engine=engine, protocol=protocol, volume=volume, seed=seed, pressure=pressure,
            overrides=overrides, prior=CALCULATORS[name].provenance() if name else None, code=codes["relax"])
        builder = cls.get_builder()
        builder._merge(population._inputs(prune=True))
        builder.crystal_system = orm.Str(crystal_system)
        if max_oracle_calls is not None:
            builder.max_oracle_calls = orm.Int(max_oracle_calls)
        return complete_builder(builder, codes, overrides, device)

    def _seed(self, stage: str, *indices: int) -> int:
        return stage_seed(self.inputs.seed.value, stage, *indices)

    def _guards(self) -> dict:
        return guard_settings(self.parameters, self.inputs.composition.value, self.ctx.volume_estimate,
                              self.ctx.length_scale)

    def _random_structures(self) -> dict:
        """Random symmetric structures of the next round, in all seven crystal systems, at the search volume."""
        rounds = self.ctx.random_rounds
        structures, origins = random_structures(self.inputs.composition, self.ctx.search_volume,
                                                self.parameters.initial_per_system, self._seed("random", rounds),
                                                f"random{rounds}", self.ctx.length_scale,
                                                max_seconds=self.parameters.draw_seconds)
        self.ctx.random_rounds += 1
        self.ctx.origins.update({key: info["origin"] for key, info in origins.get_dict().items()})
        return structures

    def validate_inputs(self):
        """Check every input before anything runs (exit codes 201-210)."""
        try:
            check_search_inputs(self.inputs)
        except (InputError, ProtocolError, ValueError, TypeError) as error:  # InputError names its exit code
            self.report(str(error))
            exit_code = getattr(self.exit_codes, getattr(error, "label", "ERROR_INVALID_PARAMETERS"))
            return exit_code.format(message=str(error))
        self.ctx.update(loop_state())
        total = self.inputs.max_oracle_calls.value if "max_oracle_calls" in self.inputs else None
        self.ctx.budget = OracleBudget.plan(total, self.parameters.n_verify,
                                            self.parameters.refine["n_candidates"]).to_dict()

    def run_initial_population(self):
        """The volume and the first oracle batch (``cryspai.population``)."""
        inputs = {**self.exposed_inputs(InitialPopulationWorkChain), "codes": {"relax": self.inputs.codes.relax},
                  "metadata": {"call_link_label": "population"}}
        node = self.submit(InitialPopulationWorkChain, **inputs)
        self.report(f"initial population -> InitialPopulationWorkChain<{node.pk}>")
        return ToContext(population=node)

    def inspect_initial_population(self):
        node = self.ctx.population
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_POPULATION_FAILED.format(message=f"InitialPopulationWorkChain<{node.pk}> "
                                                                          f"exit {node.exit_status}")
        summary = node.outputs.summary.get_dict()
        self.ctx.update(candidates=dict(node.outputs.structures), origins=dict(summary["origins"]),
                        volume_estimate=node.outputs.volume.value, search_volume=node.outputs.volume.value,
                        eq2_volume=node.outputs.eq2_volume.value, volume_method=summary["volume_method"],
                        length_scale=summary["length_scale"])

    def should_run_oracle(self):
        if not self.ctx.candidates or self.ctx.converged:
            return False
        stop = (f"iteration cap {self.parameters.max_iterations} reached"
                if self.ctx.iteration >= self.parameters.max_iterations else
                "oracle budget for the loop spent" if self.budget.loop_spent(self.ctx.oracle_calls) else None)
        if stop:
            self.report(stop)
        return stop is None

    def _submit_oracle(self, structures: dict, label: str, reserve: int = 0, tight: bool = False):
        """The oracle on ``structures``, as many as the budget allows after keeping ``reserve`` relaxations;
        ``tight``: the refinement's thresholds, the whole cell, no pre-relaxation."""
        left = self.budget.left(self.ctx.oracle_calls, reserve)
        keys = sorted(structures)[:left] if left is not None else sorted(structures)
        parameters = relaxation_parameters(get_engine(self.inputs.engine.value), self.parameters,
                                           self.inputs.protocol.value, self._guards(), self.inputs.pressure.value,
                                           tight=tight)
        inputs = search_oracle_inputs(self.inputs.engine, {key: structures[key] for key in keys}, parameters,
                                      self.inputs.codes, self.parameters.max_parallel_oracle,
                                      self.inputs.get("options"), label,
                                      None if tight else self.parameters.oracle.get("prerelax"))
        self.ctx.oracle_calls += len(keys)
        node = self.submit(OracleWorkChain, **inputs)
        self.report(f"{label}: {len(keys)} structures to the oracle ({self.inputs.engine.value}) "
                    f"-> OracleWorkChain<{node.pk}>")
        return ToContext(oracle=node)

    def run_oracle(self):
        """Oracle relaxations of the current candidates."""
        self.ctx.iteration += 1
        return self._submit_oracle(self.ctx.candidates, f"oracle_{self.ctx.iteration:02d}", self.budget.verify)

    def inspect_oracle(self):
        """The batch's statuses and costs; implausible results refused; each crystal system's best kept for its GA;
        the search volume follows the best oracle structure (adaptive volume)."""
        node = self.ctx.oracle
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ORACLE_FAILED.format(message=f"OracleWorkChain<{node.pk}> "
                                                                      f"exit {node.exit_status}")
        self.ctx.oracle_runs.append(node.uuid)
        statuses, steps, wall = oracle_costs(node)
        self.ctx.ionic_steps, self.ctx.oracle_wall_s = self.ctx.ionic_steps + steps, self.ctx.oracle_wall_s + wall
        # results implausibly far below the others (a potential's hole): out of the GA's seeds, volume and dataset
        refused = implausible_keys([(key, self.objective.of_atoms(structure.get_ase(), energy.value))
                                    for key, structure, energy in oracle_results(self.ctx.oracle_runs)],
                                   self.parameters.guards["energy_margin"])
        for key in sorted(set(refused) - set(self.ctx.refused)):
            self.report(f"oracle result {key} refused: {refused[key]}")
        self.ctx.refused.update(refused)
        self._keep_best(node)
        self.ctx.best_by_batch.append(self.ctx.get("best_objective", float("inf")))
        counts = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
        self.report(f"oracle done: {counts}; best {self.ctx.get('best_objective', float('nan')):.4f} eV/atom "
                    f"({self.objective.name.removesuffix('_per_atom')}); "
                    f"{self.ctx.oracle_calls} oracle relaxations so far")

    def _keep_best(self, node) -> None:
        """Each crystal system's lowest oracle structures (the GA's seeds) and the search volume at the best."""
        structures = oracle_outputs(node, "relaxed_structures")
        entries = [(self.objective.of_atoms(structures[key].get_ase(), energy.value), key)
                   for key, energy in oracle_outputs(node, "energies").items() if key not in self.ctx.refused]
        self.ctx.relaxed_uuids.extend(structures[key].uuid for _, key in entries)
        self.ctx.best_by_system = keep_lowest(self.ctx.best_by_system, [
            (value, structures[key].uuid, structures[key].get_ase()) for value, key in entries],
            self.parameters.seed_ga_with_best)
        best = min(entries, key=lambda entry: entry[0], default=None)
        if best is not None and best[0] <= self.ctx.get("best_objective", float("inf")):
            self.ctx.best_objective = best[0]
            self.ctx.search_volume = structures[best[1]].get_cell_volume()

    def update_surrogate(self):
        """The network learns from the batch (``cryspai.surrogate``): prior labels, dataset, test, training."""
        settings = {"excluded_sources": sorted(self.ctx.refused), "objective": self.objective.to_dict(),
                    "ga_saturated": self.ctx.ga_saturated, "training_seed": self._seed("training", self.ctx.iteration),
                    "train_below_min_samples": self.budget.loop_spent(self.ctx.oracle_calls)}
        inputs = {"composition": self.inputs.composition, "frames": oracle_outputs(self.ctx.oracle, "frames"),
                  "parameters": self.inputs.parameters, "settings": orm.Dict(settings), "dataset": self.ctx.dataset,
                  "model": self.ctx.model, "prior": self.inputs.get("prior"), "options": self.inputs.get("options"),
                  "codes": {"train": self.inputs.codes.train},
                  "metadata": {"call_link_label": f"surrogate_{self.ctx.iteration:02d}"}}
        inputs = {key: value for key, value in inputs.items() if value is not None}
        return ToContext(surrogate=self.submit(SurrogateWorkChain, **inputs))

    def inspect_surrogate(self):
        node = self.ctx.surrogate
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_TRAINING_FAILED.format(message=f"SurrogateWorkChain<{node.pk}> exit "
                                                                        f"{node.exit_status}")
        self.ctx.dataset = node.outputs.dataset
        if "convergence" in node.outputs:
            result = node.outputs.convergence.get_dict()
            self.ctx.convergence_history.append(round_mev(result["rmse_mev_per_atom"]))
            self.ctx.converged, self.ctx.converged_by = bool(result["converged"]), result["converged_by"]
        if "model" in node.outputs:
            self.ctx.model = node.outputs.model
            self.ctx.training_history.append(node.outputs.metrics.get_dict())

    def has_new_network(self):
        return "model" in self.ctx.surrogate.outputs

    def has_model(self):
        return self.ctx.model is not None

    def should_search_again(self):
        if self.ctx.converged or self.ctx.iteration >= self.parameters.max_iterations:
            return False
        return not self.budget.loop_spent(self.ctx.oracle_calls)

    def generate_more_random_structures(self):
        """Too few samples to train yet: another batch of random symmetric structures."""
        self.ctx.candidates = self._random_structures()
        self.report(f"dataset below {self.parameters.min_samples} samples: "
                    f"{len(self.ctx.candidates)} more random structures")

    def _submit_evolution(self, stage: str, systems: list[str], ga: dict, kappa: float, recommendation: dict,
                          known: list[str] = ()):
        """The GA of ``systems`` on the current network and its recommendations (``cryspai.evolution``)."""
        parameters = evolution_parameters(systems, self.ctx.search_volume, [
            self._seed(stage, self.ctx.iteration, index) for index in range(len(systems))], ga, kappa,
            self.objective, {**self.parameters.local, "guards": self._guards()}, recommendation)
        initial = {f"{system}_s{n}": orm.load_node(uuid) for system in systems
                   for n, (_, uuid) in enumerate(self.ctx.best_by_system.get(system, []))}
        label = f"ga_{self.ctx.iteration:02d}" if stage == "ga" else stage
        node = self.submit(EvolutionWorkChain, composition=self.inputs.composition, model=self.ctx.model,
                           parameters=orm.Dict(parameters), initial_structures=initial,
                           known={f"s{n}": orm.load_node(uuid) for n, uuid in enumerate(known)},
                           codes={"evolve": self.inputs.codes.evolve}, options=self.inputs.get("options") or {},
                           metadata={"call_link_label": label})
        self.report(f"{label}: GA in {len(systems)} crystal systems on the network -> EvolutionWorkChain<{node.pk}>")
        return ToContext(evolution=node)

    def run_evolutionary_search(self):
        """GA per crystal system (all seven, for a general network) on the current network."""
        recommendation = loop_recommendation(self.parameters.oracle_per_iteration, self.parameters.acquisition_kappa,
                                             f"ga{self.ctx.iteration:02d}", self.parameters.oracle_allocation,
                                             self._seed("recommendation", self.ctx.iteration))
        return self._submit_evolution("ga", list(CRYSTAL_SYSTEMS), self.parameters.ga,
                                      self.parameters.acquisition_kappa, recommendation, self.ctx.relaxed_uuids)

    def _recommended(self) -> dict:
        """The evolution's recommendations (none where every GA failed or proposed nothing), origins noted."""
        self.ctx.setdefault("ga_failures", []).extend(failed_gas(self.ctx.evolution))
        outputs = self.ctx.evolution.outputs
        selection = outputs.selection.get_dict() if "selection" in outputs else {}
        self.ctx.origins.update({key: info["origin"] for key, info in selection.items()})
        return dict(outputs.structures) if selection else {}

    def collect_candidates(self):
        """The next oracle batch: the GA's recommendations; where it proposed nothing new, random structures (they
        test the network out of sample and widen the search)."""
        self.ctx.candidates = self._recommended()
        self.report(f"{len(self.ctx.candidates)} new GA candidates for the next oracle batch")
        self.ctx.ga_saturated = not self.ctx.candidates
        if self._search_settled():
            return
        if not self.ctx.candidates:
            limit = self.parameters.oracle_per_iteration
            random = self._random_structures()
            self.ctx.candidates = {key: random[key] for key in (sorted(random)[:limit] if limit else sorted(random))}
            self.report(f"no new GA candidate: {len(self.ctx.candidates)} random symmetric structures instead")

    def _search_settled(self) -> bool:
        """The search's own test (``search/stopping.py``) where the protocol turns it on: converged_by "search"."""
        if not self.parameters.stop_patience:
            return False
        verdict = check_search(orm.Dict(search_history(self.ctx.best_by_batch, self.parameters)),
                               getattr(self.ctx.evolution.outputs, "selection", orm.Dict({})),
                               metadata={"call_link_label": f"stopping_{self.ctx.iteration:02d}"})
        self.report(f"search {'settled' if verdict['settled'] else 'goes on'}: {verdict['reason']}")
        if verdict["settled"]:
            self.ctx.converged, self.ctx.converged_by = True, "search"
        return bool(verdict["settled"])

    def run_final_search(self):
        """GA per crystal system on the final network (only the requested system when one is given)."""
        systems = resolve_crystal_systems(self.inputs.crystal_system.value)
        return self._submit_evolution("final_ga", systems, self.parameters.final_ga, 0.0,
                                      {"n_verify": self.budget.verify, "symprec": 0.1})

    def recommend_structures(self):
        """The ``n_verify`` lowest distinct structures of the final GA go to oracle verification."""
        self.ctx.candidates = self._recommended()
        self.report(f"{len(self.ctx.candidates)} recommended structures go to oracle verification")

    def should_verify(self):
        return bool(self.ctx.candidates) and self.budget.left(self.ctx.oracle_calls, self.budget.refine) != 0

    def verify_with_oracle(self):
        """Oracle relaxation of the recommended structures."""
        return self._submit_oracle(self.ctx.candidates, "oracle_verification", self.budget.refine)

    def should_refine(self):
        """Whether the budget keeps relaxations for the refinement and there are oracle structures to refine:
        the lowest distinct (within ``refine.energy_window`` of the lowest), as many as kept."""
        if not (self.budget.refine > 0 and self.budget.left(self.ctx.oracle_calls) != 0 and self.ctx.oracle_runs):
            return False
        results = [(key, structure, self.objective.of_atoms(structure.get_ase(), energy.value))
                   for key, structure, energy in oracle_results(self.ctx.oracle_runs) if key not in self.ctx.refused]
        chosen = lowest_distinct([entry[1].get_ase() for entry in results], [entry[2] for entry in results],
                                 self.parameters.refine["energy_window"], self.budget.refine)
        self.ctx.to_refine = {f"refined_{results[i][0]}": results[i][1] for i in chosen}
        return bool(self.ctx.to_refine)

    def refine_best_structures(self):
        """The chosen structures relaxed once more with tight thresholds and the whole cell free: the energies that
        are ranked and reported are converged."""
        structures = self.ctx.to_refine
        self.ctx.refined = {key: key.removeprefix("refined_") for key in structures}
        self.ctx.origins.update({key: self.ctx.origins.get(start, "") for key, start in self.ctx.refined.items()})
        self.report(f"tight relaxation of the {len(structures)} lowest distinct structures (fmax "
                    f"{self.parameters.refine['fmax']} eV/Å, whole cell)")
        return self._submit_oracle(structures, "oracle_refinement", tight=True)

    def rank_results(self):
        """Rank every oracle result by its objective; duplicates dropped; the summary written."""
        inputs, origins = {}, []
        for key, structure, energy in oracle_results(self.ctx.oracle_runs):
            inputs.update({f"structure_{key}": structure, f"energy_{key}": energy})
            origins.append([key, self.ctx.origins.get(key, "")])
        if not inputs:
            return self.exit_codes.ERROR_NO_RESULTS
        refined = {key: start for key, start in self.ctx.refined.items() if f"energy_{key}" in inputs}
        settings = ranking_settings(self.inputs, self.parameters, self.budget.verify, self.objective, refined, origins)
        outputs = rank_results(orm.Dict(run_info(self.inputs, self.ctx, self.parameters, len(refined))),
                               orm.Dict(settings), **inputs)
        self.out_many({**{f"candidates.{key}": node for key, node in outputs.items() if key.startswith("rank_")},
                       "summary": outputs["summary"],
                       **{name: self.ctx[name] for name in ("dataset", "model") if self.ctx[name] is not None}})
        candidates = outputs["summary"]["candidates"]
        for best in candidates[:1]:
            self.report(f"rank 1: {best['spacegroup_symbol']} ({best['spacegroup_number']}), "
                        f"{best[self.objective.name]:.4f} eV/atom; {len(candidates)} candidates")

"""``cryspai.system``: a whole chemical system at once (``Cu-Au``, ``Li-O``).

Every composition's loop runs in lock step and feeds one dataset and one network (its species the system's
elements: atomic energies transfer between compositions of the same elements):

populations (one ``cryspai.population`` per composition) -> loop: oracle batches (one ``cryspai.oracle`` per
composition, sized by its distance to the current hull) -> one ``cryspai.surrogate`` on all their frames -> a GA
per composition on the shared network (``cryspai.evolution``) -> final GA per composition -> oracle verification ->
tight relaxation of each composition's lowest -> the convex hull (``system_hull``).

The loop stops when the shared network has converged, at the iteration cap or when the budget is spent; with
``stop_patience`` (the protocols' default) each composition's search also stops on its own test
(``search/stopping.py``: its best has not moved and its GA promises nothing lower), and its oracle batches end there
while the others go on; it still takes part in the final GA, verification, refinement and the hull.
"""

from __future__ import annotations

import functools

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_

from ..analysis.compare import lowest_distinct
from ..analysis.crystal_systems import CRYSTAL_SYSTEMS
from ..analysis.hull import HullError, convex_hull
from ..calcfunctions.hull import system_hull
from ..calcfunctions.stopping import check_search
from ..data.dataset import DatasetData
from ..engines import get_engine
from ..ml.potentials import CALCULATORS
from ..protocols import ProtocolError, check_parameters, get_protocol
from ..search.budget import OracleBudget
from ..search.chemical_system import allocate_oracle, parse_system
from ..search.composition import CompositionError, parse_composition
from ..search.elite import keep_lowest
from ..search.plausibility import implausible_keys
from ..search.seeds import stage_seed
from .evolution import EvolutionWorkChain, evolution_parameters, failed_gas, loop_recommendation
from .oracle import OracleWorkChain, loop_iteration, oracle_outputs, oracle_results, search_oracle_inputs
from .population import InitialPopulationWorkChain, random_structures
from .request import compute_slots, resolve_codes, resolve_prior
from .settings import SearchSettings, guard_settings, relaxation_parameters
from .summary import search_history
from .surrogate import SurrogateWorkChain


def wave_processes(slots: int | None, n_processes: int) -> int | None:
    """How many CalcJobs each of ``n_processes`` processes of a wave may run at once on ``slots`` compute slots
    (None: no limit, the computer's scheduler queues them): the slots shared out, at least one each."""
    return None if not slots else max(1, slots // max(1, n_processes))


class SystemWorkChain(SearchSettings, WorkChain):
    """The stable compounds of a chemical system and their structures: one search per composition, one shared
    surrogate, one oracle budget, the convex hull."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        cls._define_inputs(spec)
        cls._define_outline(spec)
        cls._define_outputs(spec)

    @classmethod
    def _define_inputs(cls, spec):
        spec.input("system", valid_type=orm.Str, help="The chemical system, elements joined by '-': 'Cu-Au'.")
        spec.input("compositions", valid_type=orm.List,
                   help="The compositions searched (cells, e.g. ['Cu4', 'Cu3Au1', 'Au4']), each element alone "
                        "among them.")
        spec.input("engine", valid_type=orm.Str, default=lambda: orm.Str("ase:chgnet"), help="The oracle.")
        spec.input("protocol", valid_type=orm.Str, default=lambda: orm.Str("fast"),
                   help="Name of the protocol the parameters came from (recorded).")
        spec.input("parameters", valid_type=orm.Dict, help="The search parameters (one set for every composition).")
        spec.input("seed", valid_type=orm.Int, default=lambda: orm.Int(1), help="Seed of every random choice.")
        spec.input("pressure", valid_type=orm.Float, default=lambda: orm.Float(0.0),
                   help="GPa: every relaxation under it, the hull of enthalpies.")
        spec.input("prior", valid_type=orm.Dict, required=False,
                   help="The universal potential under the shared network (its provenance).")
        spec.input("max_oracle_calls", valid_type=orm.Int, required=False,
                   help="Most oracle relaxations for the whole system, verification and refinement included.")
        spec.input_namespace("codes", help="Codes of the console scripts.")
        spec.input("codes.relax", valid_type=orm.AbstractCode, help="cryspai-relax.")
        spec.input("codes.train", valid_type=orm.AbstractCode, help="cryspai-train.")
        spec.input("codes.evolve", valid_type=orm.AbstractCode, help="cryspai-evolve.")
        spec.input("codes.oracle", valid_type=orm.AbstractCode, required=False, help="A DFT engine's code.")
        spec.input("options", valid_type=dict, non_db=True, required=False,
                   help="Extra metadata.options for every CalcJob.")

    @classmethod
    def _define_outline(cls, spec):
        spec.outline(
            cls.validate_inputs,
            cls.choose_populations,
            while_(cls.has_waves)(cls.run_population_wave),
            cls.inspect_populations,
            while_(cls.should_run_oracle)(
                cls.choose_oracle_batches,
                while_(cls.has_waves)(cls.run_oracle_wave),
                cls.inspect_oracles,
                cls.update_surrogate,
                cls.inspect_surrogate,
                if_(cls.should_search_again)(
                    cls.choose_evolutionary_searches,
                    while_(cls.has_waves)(cls.run_evolution_wave),
                    cls.collect_candidates,
                ).else_(cls.generate_more_random_structures),
            ),
            if_(cls.has_model)(
                cls.choose_final_searches,
                while_(cls.has_waves)(cls.run_evolution_wave),
                cls.choose_verification,
                while_(cls.has_waves)(cls.run_oracle_wave),
                cls.inspect_oracles,
            ),
            if_(cls.should_refine)(
                cls.choose_refinement,
                while_(cls.has_waves)(cls.run_oracle_wave),
                cls.inspect_oracles,
            ),
            cls.build_hull,
        )

    @classmethod
    def _define_outputs(cls, spec):
        spec.output("summary", valid_type=orm.Dict, help="The hull, the stable set, every composition's best.")
        spec.output_namespace("stable", valid_type=orm.StructureData, dynamic=True,
                              help="The structure of each stable composition.")
        spec.output("dataset", valid_type=DatasetData, required=False, help="The shared training set.")
        spec.output("model", valid_type=orm.SinglefileData, required=False, help="The shared network.")
        spec.exit_code(201, "ERROR_INVALID_COMPOSITION", message="Invalid system or compositions: {message}")
        spec.exit_code(206, "ERROR_INVALID_PARAMETERS", message="Invalid parameters: {message}")
        spec.exit_code(401, "ERROR_POPULATION_FAILED", message="The initial population of an element failed: "
                                                               "{message}")
        spec.exit_code(402, "ERROR_TRAINING_FAILED", message="Training the shared network failed: {message}")
        spec.exit_code(411, "ERROR_NO_HULL", message="No hull: {message}")

    @classmethod
    def get_builder_from_protocol(cls, system: str, compositions: list[str], engine: str = "ase:chgnet",
                                  protocol: str = "fast", seed: int = 1, pressure: float = 0.0,
                                  max_oracle_calls: int | None = None, overrides: dict | None = None,
                                  codes: dict | None = None, computer: str = "localhost",
                                  prior: str | None = "default"):
        """A builder for the ``compositions`` of ``system`` with ``protocol``'s parameters (``overrides`` merged)."""
        codes = resolve_codes(engine, codes, computer)
        name = resolve_prior(engine, prior, "".join(parse_system(system)))
        builder = cls.get_builder()
        builder.system = orm.Str(system)
        builder.compositions = orm.List(list(compositions))
        builder.engine = orm.Str(engine)
        builder.protocol = orm.Str(protocol)
        builder.parameters = orm.Dict(get_protocol(protocol, overrides))
        builder.seed = orm.Int(seed)
        builder.pressure = orm.Float(pressure)
        if name:
            builder.prior = orm.Dict(CALCULATORS[name].provenance())
        if max_oracle_calls is not None:
            builder.max_oracle_calls = orm.Int(max_oracle_calls)
        builder.codes = codes
        return builder

    # -- helpers ------------------------------------------------------------------------------------------
    def _seed(self, stage: str, formula: str | None, *indices: int) -> int:
        """The seed of ``stage`` for the composition ``formula`` (its place in ``compositions``), or the system's."""
        where = () if formula is None else (list(self.ctx.state).index(formula),)
        return stage_seed(self.inputs.seed.value, stage, *where, *indices)

    def _guards(self, formula: str) -> dict:
        state = self.ctx.state[formula]
        return guard_settings(self.parameters, formula, state["volume_estimate"], state["length_scale"])

    def _active(self) -> list[str]:
        return [formula for formula, state in self.ctx.state.items() if not state.get("failed")]

    def _searching(self) -> list[str]:
        """The active compositions whose own search has not settled: those the loop's batches and GAs are for."""
        return [formula for formula in self._active() if not self.ctx.state[formula].get("settled")]

    def _above_hull(self) -> dict[str, float | None]:
        """Each composition's best objective above the hull of the bests so far (None until every element has
        one)."""
        bests = {f: s["best"] for f, s in self.ctx.state.items() if s.get("best") is not None}
        try:
            points = convex_hull([(f, f, value) for f, value in bests.items()])
        except HullError:
            return dict.fromkeys(self._active())
        above = {point.label: point.e_above_hull for point in points}
        return {formula: above.get(formula) for formula in self._active()}

    # -- outline steps ------------------------------------------------------------------------------------
    def validate_inputs(self):
        """The system, its compositions (each element alone among them) and the parameters (exit 201, 206)."""
        try:
            elements = parse_system(self.inputs.system.value)
            compositions = [parse_composition(text) for text in self.inputs.compositions.get_list()]
            for composition in compositions:
                foreign = sorted(set(composition.symbols) - set(elements))
                if foreign:
                    raise CompositionError(f"{composition.formula} has {', '.join(foreign)}, not an element of "
                                           f"{self.inputs.system.value}")
            missing = [e for e in elements if not any(c.symbols == [e] for c in compositions)]
            if missing:
                raise CompositionError(f"no composition of {', '.join(missing)} alone: the hull needs each "
                                       "element's own energy")
        except CompositionError as error:
            self.report(str(error))
            return self.exit_codes.ERROR_INVALID_COMPOSITION.format(message=str(error))
        try:
            check_parameters(self.inputs.parameters.get_dict())
        except (ProtocolError, ValueError, TypeError) as error:
            self.report(str(error))
            return self.exit_codes.ERROR_INVALID_PARAMETERS.format(message=str(error))
        self.ctx.elements = elements
        self.ctx.state = {c.formula: {"element": len(c.symbols) == 1} for c in compositions}
        self.ctx.iteration, self.ctx.oracle_calls = 0, 0
        self.ctx.model, self.ctx.dataset, self.ctx.converged = None, None, False
        self.ctx.oracle_labels = {}
        total = self.inputs.max_oracle_calls.value if "max_oracle_calls" in self.inputs else None
        n = len(compositions)
        self.ctx.budget = OracleBudget.plan(total, self.parameters.n_verify * n,
                                            self.parameters.refine["n_candidates"] * n).to_dict()

    def choose_populations(self):
        """The starting volume and first oracle batch of every composition, in waves."""
        self.report(f"{self.inputs.system.value}: {len(self.ctx.state)} compositions "
                    f"({', '.join(self.ctx.state)}), one shared network")
        self._plan("population", "population", {formula: True for formula in self.ctx.state})

    def run_population_wave(self):
        """The next wave of initial populations (one InitialPopulationWorkChain per composition; in waves, each
        with the wave's share of the slots, ``plan["processes"]``: one parameters node for the wave)."""
        @functools.cache
        def wave_parameters(processes: int | None) -> orm.Dict:
            if not processes:
                return self.inputs.parameters
            return orm.Dict({**self.inputs.parameters.get_dict(), "max_parallel_oracle": processes})

        def population_inputs(formula: str, plan: dict) -> dict:
            inputs = {"composition": orm.Str(formula), "engine": self.inputs.engine,
                      "seed": orm.Int(self._seed("population", formula)), "pressure": self.inputs.pressure,
                      "protocol": self.inputs.protocol, "parameters": wave_parameters(plan["processes"]),
                      "codes": {"relax": self.inputs.codes.relax},
                      "metadata": {"call_link_label": f"population_{formula}"}}
            if "prior" in self.inputs:
                inputs["prior"] = self.inputs.prior
            if self.inputs.get("options"):
                inputs["options"] = self.inputs.options
            return inputs

        self._run_wave("population", InitialPopulationWorkChain, population_inputs)

    def inspect_populations(self):
        for formula, state in self.ctx.state.items():
            node = self.ctx[f"population__{formula}"]
            if not node.is_finished_ok:
                if state["element"]:
                    return self.exit_codes.ERROR_POPULATION_FAILED.format(
                        message=f"{formula}: InitialPopulationWorkChain<{node.pk}> exit {node.exit_status}")
                self.report(f"{formula}: no initial population (exit {node.exit_status}); left out")
                state["failed"] = True
                continue
            summary = node.outputs.summary.get_dict()
            state.update(candidates={k: v.uuid for k, v in node.outputs.structures.items()},
                         volume_estimate=node.outputs.volume.value, search_volume=node.outputs.volume.value,
                         length_scale=summary["length_scale"], best=None, best_by_system={}, relaxed=[],
                         oracle_runs=[], refused={}, random_rounds=1, new_frames={})

    def should_run_oracle(self):
        if self.ctx.converged or not any(self.ctx.state[f].get("candidates") for f in self._searching()):
            return False
        if self.ctx.iteration >= self.parameters.max_iterations:
            self.report(f"iteration cap {self.parameters.max_iterations} reached")
            return False
        if self.budget.loop_spent(self.ctx.oracle_calls):
            self.report("oracle budget for the loop spent")
            return False
        return True

    def choose_oracle_batches(self):
        """The next batch of every composition, each as large as its distance to the current hull allows."""
        self.ctx.iteration += 1
        searching = self._searching()
        above = {formula: distance for formula, distance in self._above_hull().items() if formula in searching}
        sizes = {f: len(self.ctx.state[f]["candidates"]) for f in searching}
        shares = allocate_oracle(above, max(sizes.values()), self.budget.loop_left(self.ctx.oracle_calls), sizes)
        chosen = {}
        for formula in searching:
            keys = sorted(self.ctx.state[formula]["candidates"])[:shares[formula]]
            chosen[formula] = {key: self.ctx.state[formula]["candidates"][key] for key in keys}
        self.report(f"oracle_{self.ctx.iteration:02d}: " + ", ".join(
            f"{f} {len(chosen[f])}" + (f" ({above[f] * 1000:.0f} meV/atom above the hull)" if above[f] else "")
            for f in chosen))
        self._plan("oracle", f"oracle_{self.ctx.iteration:02d}", chosen)

    def _plan(self, stage: str, label: str, chosen: dict[str, dict], tight: bool = False) -> None:
        """The processes of a stage, one per composition (``chosen``: formula -> what it runs), in waves of at most
        as many as the computer runs at once (``compute_slots``: its cores here), so that several compositions never
        start more compute processes than there are cores: each process of a wave runs the wave's share of the slots
        (one CalcJob at a time in a full wave; a last wave of fewer compositions uses every slot)."""
        formulas = [f for f, what in chosen.items() if what]
        limit = compute_slots(self.inputs.codes.relax)
        slots = limit or len(formulas) or 1
        self.ctx.waves = [formulas[i:i + slots] for i in range(0, len(formulas), slots)]
        self.ctx.wave_stage = {"stage": stage, "label": label, "tight": tight, "chosen": chosen, "slots": limit,
                               "processes": None}
        if stage == "oracle":
            self.ctx.oracle_labels = {f: f"{label}_{f}" for f in formulas}

    def has_waves(self):
        return bool(self.ctx.waves)

    def _run_wave(self, key: str, process_class, inputs_of) -> None:
        """The next wave of the planned stage: one ``process_class`` per composition of the wave, with
        ``inputs_of(formula, plan)``, each to ``ctx[<key>__<formula>]``."""
        plan, wave = self.ctx.wave_stage, self.ctx.waves.pop(0)
        plan["processes"] = wave_processes(plan["slots"], len(wave))
        for formula in wave:
            self.to_context(**{f"{key}__{formula}": self.submit(process_class, **inputs_of(formula, plan))})

    def run_oracle_wave(self):
        """The next wave of oracle batches (one OracleWorkChain per composition)."""
        self._run_wave("oracle", OracleWorkChain, self._oracle_inputs)

    def _oracle_inputs(self, formula: str, plan: dict) -> dict:
        """The oracle batch of ``formula`` in the planned stage; its structures are counted as spent."""
        structures = {key: orm.load_node(uuid) for key, uuid in plan["chosen"][formula].items()}
        parameters = relaxation_parameters(get_engine(self.inputs.engine.value), self.parameters,
                                           self.inputs.protocol.value, self._guards(formula),
                                           self.inputs.pressure.value, tight=plan["tight"])
        self.ctx.oracle_calls += len(structures)
        return search_oracle_inputs(self.inputs.engine, structures, parameters, self.inputs.codes,
                                    plan["processes"] or self.parameters.max_parallel_oracle,
                                    self.inputs.get("options"), f"{plan['label']}_{formula}",
                                    None if plan["tight"] else self.parameters.oracle.get("prerelax"))

    def run_evolution_wave(self):
        """The next wave of GAs on the shared network (one EvolutionWorkChain per composition)."""
        self._run_wave("evolution", EvolutionWorkChain, self._evolution_inputs)

    def _evolution_inputs(self, formula: str, plan: dict) -> dict:
        """The GA of ``formula`` on the shared network in the planned stage, started from its best structures."""
        what, state = plan["chosen"][formula], self.ctx.state[formula]
        systems = list(CRYSTAL_SYSTEMS)
        parameters = evolution_parameters(systems, state["search_volume"], [
            self._seed(plan["stage"], formula, self.ctx.iteration, i) for i in range(len(systems))],
            what["ga"], what["kappa"], self.objective, {**self.parameters.local, "guards": self._guards(formula)},
            what["recommendation"])
        initial = {f"{system}_s{n}": orm.load_node(uuid) for system in systems
                   for n, (_, uuid) in enumerate(state["best_by_system"].get(system, []))}
        inputs = {"composition": orm.Str(formula), "model": self.ctx.model, "parameters": orm.Dict(parameters),
                  "initial_structures": initial,
                  "known": {f"s{n}": orm.load_node(uuid) for n, uuid in enumerate(state["relaxed"])},
                  "codes": {"evolve": self.inputs.codes.evolve}, "options": self.inputs.get("options") or {},
                  "metadata": {"call_link_label": f"{plan['label']}_{formula}"}}
        if plan["processes"]:
            inputs["max_parallel"] = orm.Int(plan["processes"])
        return inputs

    def inspect_oracles(self):
        """Each composition's results: implausible ones refused, its crystal systems' best kept, its best noted."""
        for formula in self._active():
            self.ctx.state[formula]["new_frames"] = {}
        for formula, label in self.ctx.oracle_labels.items():
            state, node = self.ctx.state[formula], self.ctx[f"oracle__{formula}"]
            if not node.is_finished_ok:
                self.report(f"{label}: OracleWorkChain<{node.pk}> exit {node.exit_status}; nothing from it")
                continue
            state["oracle_runs"].append(node.uuid)
            results = [(key, self.objective.of_atoms(structure.get_ase(), energy.value))
                       for key, structure, energy in oracle_results(state["oracle_runs"])]
            for key, reason in implausible_keys(results, self.parameters.guards["energy_margin"]).items():
                if key not in state["refused"]:
                    self.report(f"{formula}: oracle result {key} refused: {reason}")
                    state["refused"][key] = reason
            structures = oracle_outputs(node, "relaxed_structures")
            entries = [(self.objective.of_atoms(structures[key].get_ase(), energy.value), key)
                       for key, energy in oracle_outputs(node, "energies").items() if key not in state["refused"]]
            state["relaxed"].extend(structures[key].uuid for _, key in entries)
            state["best_by_system"] = keep_lowest(state["best_by_system"], [
                (value, structures[key].uuid, structures[key].get_ase()) for value, key in entries],
                self.parameters.seed_ga_with_best)
            best = min(entries, default=None)
            if best is not None and (state["best"] is None or best[0] < state["best"]):
                state["best"] = best[0]
                state["search_volume"] = structures[best[1]].get_cell_volume()
            if loop_iteration(label) is not None:  # a batch of the loop (not verification or refinement)
                state.setdefault("best_by_batch", []).append(state["best"] if state["best"] is not None
                                                             else float("inf"))
            state["new_frames"] = {f"{formula}_{k}": v.uuid for k, v in oracle_outputs(node, "frames").items()}
        bests = ", ".join(f"{f} {s['best']:.4f}" for f, s in self.ctx.state.items() if s.get("best") is not None)
        self.report(f"oracle done; best per composition (eV/atom): {bests}; {self.ctx.oracle_calls} oracle "
                    "relaxations so far")

    def update_surrogate(self):
        """One network learns from every composition's new frames (``cryspai.surrogate``)."""
        frames = {key: orm.load_node(uuid) for f in self._active()
                  for key, uuid in self.ctx.state[f].get("new_frames", {}).items()}
        refused = sorted({key for f in self._active() for key in self.ctx.state[f]["refused"]})
        settings = {"excluded_sources": refused, "objective": self.objective.to_dict(),
                    "training_seed": self._seed("training", None, self.ctx.iteration),
                    "train_below_min_samples": self.budget.loop_spent(self.ctx.oracle_calls)}
        inputs = {"composition": orm.Str("".join(self.ctx.elements)), "frames": frames,
                  "parameters": self.inputs.parameters, "settings": orm.Dict(settings),
                  "codes": {"train": self.inputs.codes.train},
                  "metadata": {"call_link_label": f"surrogate_{self.ctx.iteration:02d}"}}
        for name in ("dataset", "model"):
            if self.ctx[name] is not None:
                inputs[name] = self.ctx[name]
        if "prior" in self.inputs:
            inputs["prior"] = self.inputs.prior
        if self.inputs.get("options"):
            inputs["options"] = self.inputs.options
        return ToContext(surrogate=self.submit(SurrogateWorkChain, **inputs))

    def inspect_surrogate(self):
        node = self.ctx.surrogate
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_TRAINING_FAILED.format(message=f"SurrogateWorkChain<{node.pk}> exit "
                                                                        f"{node.exit_status}")
        self.ctx.dataset = node.outputs.dataset
        self.ctx.new_network = "model" in node.outputs
        if self.ctx.new_network:
            self.ctx.model = node.outputs.model
        if "convergence" in node.outputs:
            self.ctx.converged = bool(node.outputs.convergence["converged"])

    def should_search_again(self):
        if not self.ctx.new_network:
            return False
        return not (self.ctx.converged or self.ctx.iteration >= self.parameters.max_iterations
                    or self.budget.loop_spent(self.ctx.oracle_calls))

    def choose_evolutionary_searches(self):
        """A GA per composition (all seven crystal systems) on the shared network."""
        chosen = {}
        for formula in self._searching():
            recommendation = loop_recommendation(self.parameters.oracle_per_iteration,
                                                 self.parameters.acquisition_kappa, f"ga{self.ctx.iteration:02d}",
                                                 self.parameters.oracle_allocation,
                                                 self._seed("recommendation", formula, self.ctx.iteration))
            chosen[formula] = {"ga": self.parameters.ga, "kappa": self.parameters.acquisition_kappa,
                               "recommendation": recommendation}
        self._plan("ga", f"ga_{self.ctx.iteration:02d}", chosen)

    def _recommended(self, formula: str) -> dict:
        """``formula``'s GA recommendations at the stage just run; its GA jobs that failed twice noted."""
        self.ctx.state[formula].setdefault("ga_failures", []).extend(failed_gas(self.ctx[f"evolution__{formula}"]))
        outputs = self.ctx[f"evolution__{formula}"].outputs
        return {k: v.uuid for k, v in outputs.structures.items()} if "structures" in outputs else {}

    def collect_candidates(self):
        """Each composition's next batch: its GA's recommendations, or random structures where it proposed none;
        none where its own search has settled."""
        for formula in self._searching():
            state = self.ctx.state[formula]
            state["candidates"] = self._recommended(formula)
            if self._search_settled(formula):
                state["settled"], state["candidates"] = True, {}
            elif not state["candidates"]:
                state["candidates"] = self._random(formula, self.parameters.oracle_per_iteration or None)

    def _search_settled(self, formula: str) -> bool:
        """The search's own test (``search/stopping.py``) on ``formula``'s loop batches and its GA's proposals,
        where the protocol turns it on (``stop_patience``)."""
        if not self.parameters.stop_patience:
            return False
        history = search_history(self.ctx.state[formula].get("best_by_batch", []), self.parameters)
        outputs = self.ctx[f"evolution__{formula}"].outputs
        verdict = check_search(orm.Dict(history), outputs.selection if "selection" in outputs else orm.Dict({}),
                               metadata={"call_link_label": f"stopping_{self.ctx.iteration:02d}_{formula}"})
        if verdict["settled"]:
            self.report(f"{formula}: its search has settled ({verdict['reason']}); no more oracle batches for it")
        return bool(verdict["settled"])

    def _random(self, formula: str, limit: int | None) -> dict:
        state = self.ctx.state[formula]
        rounds = state["random_rounds"]
        structures, _ = random_structures(orm.Str(formula), state["search_volume"],
                                          self.parameters.initial_per_system, self._seed("random", formula, rounds),
                                          f"random{rounds}", state["length_scale"],
                                          max_seconds=self.parameters.draw_seconds)
        state["random_rounds"] = rounds + 1
        keys = sorted(structures)[:limit] if limit else sorted(structures)
        return {key: structures[key].uuid for key in keys}

    def generate_more_random_structures(self):
        """Too few samples to train yet: more random structures of every composition."""
        for formula in self._searching():
            self.ctx.state[formula]["candidates"] = self._random(formula, None)
        self.report(f"dataset below {self.parameters.min_samples} samples: more random structures")

    def has_model(self):
        return self.ctx.model is not None

    def choose_final_searches(self):
        """The final GA of every composition on the shared network."""
        chosen = {formula: {"ga": self.parameters.final_ga, "kappa": 0.0,
                            "recommendation": {"n_verify": self.parameters.n_verify, "symprec": 0.1}}
                  for formula in self._active()}
        self._plan("final_ga", "final_ga", chosen)

    def choose_verification(self):
        """The oracle on each composition's recommendations, within the budget kept for them."""
        left = self.budget.left(self.ctx.oracle_calls, self.budget.refine)
        chosen = {}
        for formula in self._active():
            recommended = self._recommended(formula)
            keys = sorted(recommended)
            if left is not None:
                keys = keys[:max(0, left - sum(len(c) for c in chosen.values()))]
            chosen[formula] = {key: recommended[key] for key in keys}
        self.report("oracle_verification: " + ", ".join(f"{f} {len(c)}" for f, c in chosen.items()))
        self._plan("oracle", "oracle_verification", chosen)

    def should_refine(self):
        """Each composition's lowest distinct structures, relaxed once more with tight thresholds."""
        if not self.budget.refine or self.budget.left(self.ctx.oracle_calls) == 0:
            return False
        per_composition = self.parameters.refine["n_candidates"]
        left = self.budget.left(self.ctx.oracle_calls)
        self.ctx.to_refine = {}
        for formula in self._active():
            state = self.ctx.state[formula]
            results = [(key, structure, self.objective.of_atoms(structure.get_ase(), energy.value))
                       for key, structure, energy in oracle_results(state["oracle_runs"])
                       if key not in state["refused"]]
            chosen = lowest_distinct([r[1].get_ase() for r in results], [r[2] for r in results],
                                     self.parameters.refine["energy_window"], per_composition)
            if left is not None:
                chosen = chosen[:max(0, left - sum(len(c) for c in self.ctx.to_refine.values()))]
            self.ctx.to_refine[formula] = {f"refined_{results[i][0]}": results[i][1].uuid for i in chosen}
        return any(self.ctx.to_refine.values())

    def choose_refinement(self):
        self.report("tight relaxation of each composition's lowest distinct structures: " + ", ".join(
            f"{f} {len(c)}" for f, c in self.ctx.to_refine.items()))
        self._plan("oracle", "oracle_refinement", self.ctx.to_refine, tight=True)

    def build_hull(self):
        """The hull of every composition's oracle results (``system_hull``); the shared dataset and network."""
        results = {}
        for formula in self._active():
            state = self.ctx.state[formula]
            for key, structure, energy in oracle_results(state["oracle_runs"]):
                if key not in state["refused"]:
                    results[f"structure__{formula}__{key}"] = structure
                    results[f"energy__{formula}__{key}"] = energy
        alone = {parse_composition(f).symbols[0] for f in self._active() if len(parse_composition(f).symbols) == 1
                 and any(name.startswith(f"structure__{f}__") for name in results)}
        without = [e for e in self.ctx.elements if e not in alone]
        if without:
            message = f"no oracle result of {', '.join(without)} alone"
            self.report(message)
            return self.exit_codes.ERROR_NO_HULL.format(message=message)
        settings = {"system": self.inputs.system.value, "pressure_gpa": self.inputs.pressure.value,
                    "oracle": {"relaxations": self.ctx.oracle_calls, "iterations": self.ctx.iteration,
                               "converged": self.ctx.converged, "compositions": list(self._active()),
                               "settled": [f for f in self._active() if self.ctx.state[f].get("settled")],
                               "ga_failures": {f: self.ctx.state[f]["ga_failures"] for f in self._active()
                                               if self.ctx.state[f].get("ga_failures")}}}
        outputs = system_hull(orm.Dict(settings), **results, metadata={"call_link_label": "hull"})
        summary = outputs["summary"].get_dict()
        self.out("summary", outputs["summary"])
        for key, node in outputs.items():
            if key.startswith("stable__"):
                self.out(f"stable.{key.removeprefix('stable__')}", node)
        for name in ("dataset", "model"):
            if self.ctx[name] is not None:
                self.out(name, self.ctx[name])
        stable = ", ".join(f"{s['composition']} ({s['spacegroup_symbol']}, {s['formation_per_atom'] * 1000:+.1f} "
                           "meV/atom)" for s in summary["stable"])
        self.report(f"stable: {stable}; {self.ctx.oracle_calls} oracle relaxations")

"""``cryspai.evolution``: the evolutionary search on the network (paper Fig. 1, "GA per crystal system" and
"recommend").

one GA per crystal system on the network, seeded with that system's best oracle structures (the systems shared out
over as many CalcJobs as the computer runs at once; in each, their generations relaxed in one batch) -> the
recommendations of all systems ranked (predicted objective - kappa x spread), those the oracle has relaxed left out.
"""

from __future__ import annotations

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import WorkChain, append_, while_
from aiida.plugins import CalculationFactory

from ..analysis.crystal_systems import CRYSTAL_SYSTEMS
from ..calcfunctions.recommendation import recommend_structures
from ..data.model import ModelData
from ..protocols import get_protocol
from ..search.objective import Objective
from .request import compute_slots
from .retry import ATTEMPTS, describe, died
from .settings import calcjob_options

EvolveCalculation = CalculationFactory("cryspai.evolve")


def validate_parameters(value, _ctx):
    parameters = value.get_dict()
    missing = {"crystal_systems", "volume", "seeds", "ga", "local", "recommendation"} - set(parameters)
    if missing:
        return f"the evolution's parameters lack {', '.join(sorted(missing))}"
    unknown = set(parameters["crystal_systems"]) - set(CRYSTAL_SYSTEMS)
    if unknown or not parameters["crystal_systems"]:
        return f"crystal_systems must be some of {', '.join(CRYSTAL_SYSTEMS)}, got {parameters['crystal_systems']}"


def evolution_parameters(systems: list[str], volume: float, seeds: list[int], ga: dict, kappa: float,
                         objective: Objective, local: dict, recommendation: dict) -> dict:
    """The ``parameters`` of an evolution: the GA of each of ``systems`` (with its seed) at ``volume``, the local
    optimisation on the network, the ranking by the objective - kappa x spread."""
    return {"crystal_systems": list(systems), "volume": volume, "seeds": dict(zip(systems, seeds, strict=True)),
            "ga": ga, "acquisition_kappa": kappa, "objective": objective.to_dict(), "local": local,
            "recommendation": {**recommendation, "objective": objective.to_dict()}}


def loop_recommendation(n_verify: int | None, kappa: float, prefix: str, allocation: str, seed: int) -> dict:
    """The ``recommendation`` settings of a loop's evolution: ``n_verify`` structures for the next oracle batch
    (None: all), ranked by the prediction - kappa x spread, allocated by ``allocation``."""
    return {"n_verify": n_verify if n_verify else 10**6, "kappa": kappa, "prefix": prefix, "symprec": 0.1,
            "allocation": allocation, "seed": seed}


class EvolutionWorkChain(WorkChain):
    """A GA per crystal system on a network and the ranked recommendations of all of them."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("composition", valid_type=orm.Str, help="The composition (atoms in the cell).")
        spec.input("model", valid_type=ModelData, help="The network the GA relaxes and ranks on.")
        spec.input("parameters", valid_type=orm.Dict, validator=validate_parameters,
                   help="crystal_systems, volume (Å^3), seeds (system -> seed), ga, local (with guards), "
                        "acquisition_kappa, objective, recommendation (recommend_structures' settings).")
        spec.input_namespace("initial_structures", valid_type=orm.StructureData, dynamic=True, required=False,
                             help="Structures that seed a system's population, keys <system>_<n>.")
        spec.input_namespace("known", valid_type=orm.StructureData, dynamic=True, required=False,
                             help="Structures the oracle has relaxed: their matches are not recommended again.")
        spec.input_namespace("codes", help="Codes of the console scripts.")
        spec.input("codes.evolve", valid_type=orm.AbstractCode, help="cryspai-evolve.")
        spec.input("options", valid_type=dict, non_db=True, required=False,
                   help="Extra metadata.options for every GA CalcJob.")
        spec.input("max_parallel", valid_type=orm.Int, required=False,
                   help="The number of GA CalcJobs, all at once, the crystal systems shared out over them; by default "
                        "the computer's --max-concurrent, or this machine's cores where it runs them without a queue "
                        "(request.compute_slots), else one per system.")
        spec.outline(cls.setup, while_(cls.has_ga_to_run)(cls.run_ga, cls.retry_dead_ga), cls.recommend)
        spec.output_namespace("structures", valid_type=orm.StructureData, dynamic=True, required=False,
                              help="The recommended structures, best first.")
        spec.output("selection", valid_type=orm.Dict, required=False,
                    help="Where each recommendation came from (crystal system, GA key, prediction).")

    @classmethod
    def get_builder_from_protocol(cls, composition: str, model: ModelData, volume: float, seed: int = 1,
                                  protocol: str = "fast", overrides: dict | None = None, final: bool = False,
                                  code: orm.AbstractCode | None = None, computer: str = "localhost"):
        """A builder of the loop's GA (``final``: the final search's) in every crystal system at ``volume`` with the
        settings of ``protocol``; every system seeded from ``seed``."""
        from ..executables.files import CODE_SCRIPTS
        from ..search.seeds import stage_seed

        parameters = get_protocol(protocol, overrides)
        stage = "final_ga" if final else "ga"
        builder = cls.get_builder()
        builder.composition = orm.Str(composition)
        builder.model = model
        builder.parameters = orm.Dict(evolution_parameters(
            CRYSTAL_SYSTEMS, volume, [stage_seed(seed, stage, 0, i) for i in range(len(CRYSTAL_SYSTEMS))],
            parameters[stage], 0.0 if final else parameters["acquisition_kappa"], Objective(), parameters["local"],
            {"n_verify": parameters["n_verify"], "symprec": 0.1}))
        builder.codes.evolve = code or orm.load_code(f"{CODE_SCRIPTS['evolve']}@{computer}")
        return builder

    def setup(self):
        systems = list(self.inputs.parameters["crystal_systems"])
        jobs = (self.inputs.max_parallel.value if "max_parallel" in self.inputs
                else compute_slots(self.inputs.codes.evolve)) or len(systems)
        jobs = min(len(systems), jobs)
        self.ctx.groups = [systems[k::jobs] for k in range(jobs)]
        self.ctx.attempts = {}  # ",".join(systems) -> CalcJobs submitted for them
        self.ctx.inspected = []

    def has_ga_to_run(self):
        return bool(self.ctx.groups)

    def retry_dead_ga(self):
        """A GA CalcJob whose process died runs again once for its systems; after a second death they propose
        nothing this round."""
        for node in self.ctx.ga_runs:
            if node.uuid in self.ctx.inspected:
                continue
            self.ctx.inspected.append(node.uuid)
            systems = list(node.inputs.parameters["crystal_systems"])
            if died(node) and self.ctx.attempts[",".join(systems)] < ATTEMPTS:
                self.report(f"GA of {', '.join(systems)} ({node.process_label}<{node.pk}>) died ({describe(node)}): "
                            "again, once")
                self.ctx.groups.append(systems)

    def run_ga(self):
        """The GAs on the network in CalcJobs that run at once, each for its share of the crystal systems (their
        generations relaxed in one batch); labelled by their systems."""
        parameters = self.inputs.parameters.get_dict()
        initial = self.inputs.get("initial_structures", {})
        groups, self.ctx.groups = self.ctx.groups, []
        for systems in groups:
            self.ctx.attempts[",".join(systems)] = self.ctx.attempts.get(",".join(systems), 0) + 1
            ga = {"composition": self.inputs.composition.value, "crystal_systems": systems,
                  "seeds": {system: parameters["seeds"][system] for system in systems},
                  "volume": parameters["volume"], "ga": parameters["ga"],
                  "acquisition_kappa": parameters.get("acquisition_kappa", 0.0),
                  "objective": parameters.get("objective"), "local": parameters["local"]}
            inputs = {
                "code": self.inputs.codes.evolve,
                "model": self.inputs.model,
                "parameters": orm.Dict(ga),
                "initial_structures": {key: node for key, node in sorted(initial.items())
                                       if key.split("_", 1)[0] in systems},
                "metadata": {"options": calcjob_options(self.inputs.get("options")),
                             "call_link_label": "_".join(systems)},
            }
            self.to_context(ga_runs=append_(self.submit(EvolveCalculation, **inputs)))
        self.report(f"GA on the network in {len(groups)} CalcJobs: "
                    + "; ".join(", ".join(systems) for systems in groups))

    def recommend(self):
        """The recommendations of every system, ranked, without the structures the oracle has relaxed."""
        inputs = {}
        last = {"_".join(systems): node for systems, node in last_attempts(self.ctx.ga_runs).items()}
        for label, node in last.items():
            if not node.is_finished_ok:
                self.report(f"GA of {label} failed (exit {node.exit_status}); it proposes nothing")
            elif "structures" not in node.outputs:
                self.report(f"GA of {label} kept no structure (every one stopped by a guard); it proposes nothing")
            else:
                inputs[f"predicted_{label}"] = node.outputs.predicted_energies
                inputs.update({f"structure_{label}_{key}": structure
                               for key, structure in node.outputs.structures.items()})
        if not any(name.startswith("structure_") for name in inputs):
            return
        known = self.inputs.get("known", {})
        inputs.update({f"known_{n}": known[key] for n, key in enumerate(sorted(known, key=_known_order))})
        outputs = recommend_structures(orm.Dict(self.inputs.parameters["recommendation"]), **inputs,
                                       metadata={"call_link_label": "recommendation"})
        self.out("selection", outputs["selection"])
        for key, node in outputs.items():
            if key != "selection":
                self.out(f"structures.{key}", node)


def last_attempts(jobs) -> dict[tuple[str, ...], orm.CalcJobNode]:
    """Each group of crystal systems' last GA job among ``jobs`` (in the order they ran: a job that died ran
    again once)."""
    return {tuple(node.inputs.parameters["crystal_systems"]): node for node in jobs}


def failed_gas(evolution) -> list[dict]:
    """The GA jobs of a finished evolution whose last attempt did not finish ok: their systems proposed nothing.
    Each with the evolution's stage (its call link label), its crystal systems, exit status and message, read from
    the graph."""
    stage = evolution.base.links.get_incoming(link_type=LinkType.CALL_WORK).one().link_label
    jobs = [node for node in sorted(evolution.called, key=lambda called: called.ctime)
            if node.process_label == "EvolveCalculation"]
    return [{"stage": stage, "systems": list(systems), "exit_status": node.exit_status, "message": describe(node)}
            for systems, node in last_attempts(jobs).items() if not node.is_finished_ok]


def _known_order(key: str) -> int:
    """Known structures are keyed s<n>, in the order the oracle relaxed them."""
    return int(key.removeprefix("s"))

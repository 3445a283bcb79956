"""``cryspai.oracle``: relax a set of structures with an engine, ``max_parallel`` processes at a time: batch engines
(``ase``) as ``max_parallel`` batch CalcJobs, per-structure engines (``abinit``, ``vasp``) as one restart work chain
per structure (``engines/base.py``)."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, append_, if_, while_

from ..data.dataset import DatasetData
from ..engines import PER_STRUCTURE, EngineError, get_engine
from .retry import ATTEMPTS, describe, died
from .settings import calcjob_options


def oracle_outputs(node: orm.ProcessNode, namespace: str) -> dict:
    """The ``namespace`` outputs (``energies``, ``relaxed_structures``, ``results``, ``frames``) of a finished
    OracleWorkChain as a dict; empty when none of its structures gave one (every relaxation failed)."""
    return dict(getattr(node.outputs, namespace)) if namespace in node.outputs else {}


def oracle_results(uuids: list[str]):
    """(key, relaxed structure, energy node) of every relaxation of the OracleWorkChains ``uuids``, in order."""
    for uuid in uuids:
        node = orm.load_node(uuid)
        structures = oracle_outputs(node, "relaxed_structures")
        for key, energy in oracle_outputs(node, "energies").items():
            yield key, structures[key], energy


def oracle_costs(node: orm.ProcessNode) -> tuple[dict[str, int], int, float]:
    """What a finished OracleWorkChain's relaxations ended as (status -> count), their ionic steps and wall time (s)."""
    statuses: dict[str, int] = {}
    steps, wall = 0, 0.0
    for results in oracle_outputs(node, "results").values():
        for info in results.get_dict().values():
            statuses[info["status"]] = statuses.get(info["status"], 0) + 1
            steps, wall = steps + int(info["n_steps"]), wall + float(info["wall_s"])
    return statuses, steps, wall


def tally_results(results: list[dict]) -> tuple[dict[str, int], list[float]]:
    """The statuses by count and the energies per atom of the structures that passed the checks, from the
    ``results`` dicts of finished relaxation groups: a refused structure's energy is a potential's hole (SevenNet-0
    reaches -1e8 eV/atom), never a result to show."""
    statuses, energies = {}, []
    for group in results:
        for info in group.values():
            statuses[info["status"]] = statuses.get(info["status"], 0) + 1
            if info["status"] == "ok" and info.get("energy_per_atom") is not None:
                energies.append(info["energy_per_atom"])
    return statuses, energies


def progress_line(results: list[dict], total: int) -> str:
    """'n of N relaxed', the statuses by count and the three lowest energies per atom of the structures that passed
    the checks (:func:`tally_results`)."""
    statuses, energies = tally_results(results)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "none finished"
    best = ", ".join(f"{e:.4f}" for e in sorted(energies)[:3])
    return f"{sum(statuses.values())} of {total} relaxed ({counts})" + (f"; lowest {best} eV/atom" if best else "")


def search_oracle_inputs(engine: orm.Str, structures: dict, parameters: dict, codes, max_parallel: int,
                         options: dict | None, label: str, prerelax: str | None = None) -> dict:
    """The inputs of the OracleWorkChain of a search's batch: the oracle ``engine`` on ``structures`` with its
    relaxation ``parameters``; ``codes``: the search's (``relax``, ``oracle`` for an engine with its own code);
    ``prerelax``: a batch engine that relaxes every structure first (per-structure engines)."""
    uses_relax_code = get_engine(engine.value).uses_relax_code
    inputs = {"engine": engine, "structures": structures, "parameters": orm.Dict(parameters),
              "code": codes["relax"] if uses_relax_code else codes["oracle"], "max_parallel": orm.Int(max_parallel),
              "options": calcjob_options(options), "metadata": {"call_link_label": label}}
    if prerelax:
        inputs.update(prerelax_engine=orm.Str(prerelax), prerelax_code=codes["relax"])
    return inputs


def validate_engine(value, _ctx):
    try:
        get_engine(value.value)
    except EngineError as error:
        return str(error)


def validate_prerelax_engine(value, _ctx):
    try:
        engine = get_engine(value.value)
    except EngineError as error:
        return str(error)
    if engine.kind == PER_STRUCTURE:
        return f"the pre-relaxation engine must be a batch engine (ase:...), got {value.value}"


def validate_inputs(inputs, _ctx):
    if not inputs.get("structures"):
        return "no structures to relax"
    if "prerelax_engine" in inputs and "prerelax_code" not in inputs:
        return "prerelax_engine needs prerelax_code (cryspai-relax)"


class OracleWorkChain(WorkChain):
    """Relaxes ``structures`` with the engine, ``max_parallel`` processes at a time, and gathers the results."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("engine", valid_type=orm.Str, validator=validate_engine, help="Engine name, e.g. 'ase:chgnet'.")
        spec.input_namespace("structures", valid_type=orm.StructureData, dynamic=True)
        spec.input("parameters", valid_type=orm.Dict, help="Engine parameters (fmax, max_steps, guards, ...).")
        spec.input("code", valid_type=orm.AbstractCode, help="The engine's code.")
        spec.input("max_parallel", valid_type=orm.Int, default=lambda: orm.Int(2),
                   help="Processes (batch CalcJobs or per-structure work chains) running at once.")
        spec.input("options", valid_type=dict, non_db=True, default=lambda: {"threads": 1},
                   help="metadata.options of every CalcJob (resources, threads, ...).")
        spec.input("group_size", valid_type=orm.Int, required=False,
                   help="Batch engines: at most this many structures per CalcJob, so that progress is reported as "
                        "each group finishes (n of N relaxed, refusals by reason, the best energies so far).")
        spec.input("prerelax_engine", valid_type=orm.Str, required=False, validator=validate_prerelax_engine,
                   help="A batch engine (e.g. 'ase:chgnet') that relaxes every structure before a per-structure "
                        "(DFT) engine does: DFT starts near a minimum. Its frames do not enter the dataset.")
        spec.input("prerelax_code", valid_type=orm.AbstractCode, required=False,
                   help="The code of the pre-relaxation engine (cryspai-relax).")
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            if_(cls.should_prerelax)(
                cls.run_prerelaxation,
                cls.inspect_prerelaxation,
            ),
            while_(cls.has_structures_left)(cls.run_relaxations, cls.retry_dead_relaxations),
            cls.collect_results,
        )
        spec.output_namespace("relaxed_structures", valid_type=orm.StructureData, dynamic=True)
        spec.output_namespace("energies", valid_type=orm.Float, dynamic=True)
        spec.output_namespace("results", valid_type=orm.Dict, dynamic=True, help="One per batch.")
        spec.output_namespace("frames", valid_type=DatasetData, dynamic=True, help="One per batch.")
        spec.exit_code(400, "ERROR_ALL_BATCHES_FAILED", message="Every oracle batch failed.")

    @property
    def engine(self):
        return get_engine(self.inputs.engine.value)

    def setup(self):
        keys = sorted(self.inputs.structures.keys())
        n_groups = self.inputs.max_parallel.value
        if "group_size" in self.inputs:
            n_groups = max(n_groups, -(-len(keys) // max(1, self.inputs.group_size.value)))
        self.ctx.waiting = self.engine.groups(keys, n_groups)
        self.ctx.starts = {key: node.uuid for key, node in self.inputs.structures.items()}
        self.ctx.relaxations = []
        self.ctx.groups = {}  # process uuid -> [call link label, structure keys]
        self.ctx.inspected = []  # uuids of the processes whose end has been looked at
        self.ctx.attempts = {}  # ",".join(structure keys) -> processes submitted for them
        self.ctx.labels = {}  # ",".join(structure keys) -> the call link label of their processes

    def should_prerelax(self):
        """Only structure-by-structure (DFT) engines start from pre-relaxed structures."""
        return "prerelax_engine" in self.inputs and self.engine.kind == PER_STRUCTURE

    def run_prerelaxation(self):
        """Every structure relaxed by the batch engine first (one CalcJob), with the search's ase settings."""
        engine = get_engine(self.inputs.prerelax_engine.value)
        given = self.inputs.parameters.get_dict()
        parameters = engine.default_parameters()
        parameters.update({k: given[k] for k in ("fmax", "max_steps", "relax_cell") if k in given})
        parameters["guards"] = {**parameters.get("guards", {}), **given.get("guards", {})}
        inputs = engine.get_inputs(dict(self.inputs.structures), parameters, self.inputs.prerelax_code,
                                   self.inputs.options)
        inputs["metadata"]["call_link_label"] = "prerelaxation"
        node = self.submit(engine.process_class(), **inputs)
        self.report(f"pre-relaxation of {len(self.ctx.starts)} structures with {engine.name} -> "
                    f"{node.process_label}<{node.pk}>")
        return ToContext(prerelaxation=node)

    def inspect_prerelaxation(self):
        """Pre-relaxed structures replace the given ones; where the pre-relaxation failed, the given one is used."""
        node = self.ctx.prerelaxation
        if not node.is_finished_ok or "relaxed_structures" not in node.outputs:
            self.report(f"pre-relaxation {node.process_label}<{node.pk}> failed (exit {node.exit_status}); "
                        "the engine starts from the given structures")
            return
        relaxed = node.outputs.relaxed_structures
        for key in self.ctx.starts:
            if key in relaxed:
                self.ctx.starts[key] = relaxed[key].uuid
        self.report(f"pre-relaxed {len(relaxed)} of {len(self.ctx.starts)} structures")

    def has_structures_left(self):
        return bool(self.ctx.waiting)

    def report_progress(self):
        """The progress so far (:func:`progress_line`, over the finished groups)."""
        finished = [node.outputs.results.get_dict() for node in self.ctx.relaxations
                    if node.is_finished_ok and "results" in node.outputs]
        self.report(progress_line(finished, len(self.ctx.starts)))

    def run_relaxations(self):
        """The next ``max_parallel`` groups of structures, one process each; wait for them."""
        if self.ctx.relaxations:
            self.report_progress()
        engine, process = self.engine, self.engine.process_class()
        n_parallel = self.inputs.max_parallel.value
        groups, self.ctx.waiting = self.ctx.waiting[:n_parallel], self.ctx.waiting[n_parallel:]
        for keys in groups:
            # a retry keeps the dead process's label: its outputs take the same place as an undisturbed run's
            label = self.ctx.labels.setdefault(",".join(keys), _label(engine, keys, len(self.ctx.labels)))
            structures = {key: orm.load_node(self.ctx.starts[key]) for key in keys}
            inputs = engine.get_inputs(structures, self.inputs.parameters.get_dict(), self.inputs.code,
                                       self.inputs.options)
            inputs.setdefault("metadata", {})["call_link_label"] = label
            node = self.submit(process, **inputs)
            self.report(f"{label}: {len(keys)} structure{'s' if len(keys) > 1 else ''} -> "
                        f"{process.__name__}<{node.pk}>")
            self.ctx.groups[node.uuid] = [label, list(keys)]
            self.ctx.attempts[",".join(keys)] = self.ctx.attempts.get(",".join(keys), 0) + 1
            self.to_context(relaxations=append_(node))

    def retry_dead_relaxations(self):
        """A batch CalcJob whose process died (killed by the kernel, its node lost) is queued again, once, for the same
        structures; a second death leaves them recorded as failed (``report_failures``) and the search goes on.
        Per-structure engines restart in their own work chains."""
        for node in self.ctx.relaxations:
            if node.uuid in self.ctx.inspected:
                continue
            self.ctx.inspected.append(node.uuid)
            label, keys = self.ctx.groups[node.uuid]
            if self.engine.kind == PER_STRUCTURE or not died(node):
                continue
            if self.ctx.attempts[",".join(keys)] < ATTEMPTS:
                self.report(f"{label} ({node.process_label}<{node.pk}>) died ({describe(node)}): its "
                            f"{len(keys)} structure{'s' if len(keys) > 1 else ''} again, once")
                self.ctx.waiting.insert(0, list(keys))
            else:
                self.report(f"{label} ({node.process_label}<{node.pk}>) died again ({describe(node)}): "
                            f"{', '.join(keys)} not relaxed")

    def collect_results(self):
        """The engine gathers its finished processes into the oracle's outputs; failures are reported. Where a
        process was run again, its last one counts."""
        nodes = {}
        for node in self.ctx.relaxations:
            label, keys = self.ctx.groups[node.uuid]
            nodes[label] = (list(keys), node)
        engine = self.engine
        for line in engine.report_failures(nodes):
            self.report(line)
        if self.engine.kind != PER_STRUCTURE:
            self.report_progress()
        outputs = engine.gather(nodes)
        if not outputs:
            return self.exit_codes.ERROR_ALL_BATCHES_FAILED
        for namespace, values in outputs.items():
            for key, value in values.items():
                self.out(f"{namespace}.{key}", value)


def _label(engine, keys: list[str], index: int) -> str:
    """The call link label of one group: ``relax_<key>`` for one structure per process, ``batch_NN`` otherwise."""
    return f"relax_{keys[0]}" if engine.kind == PER_STRUCTURE else f"batch_{index:02d}"


def loop_iteration(label: str) -> int | None:
    """The loop iteration of an oracle batch's call link label (``oracle_NN``, a system's ``oracle_NN_<formula>``);
    None for the verification and the refinement."""
    parts = label.split("_")
    return int(parts[1]) if len(parts) > 1 and parts[0] == "oracle" and parts[1].isdigit() else None

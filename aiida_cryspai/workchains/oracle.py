"""``cryspai.oracle``: relax a set of structures with an engine: batch engines (``ase``) in ``max_parallel`` batch
CalcJobs, per-structure engines (``abinit``, ``vasp``) as one restart work chain per structure, ``max_parallel`` at
a time."""

from __future__ import annotations

from aiida import orm
from aiida.engine import WorkChain, if_, while_
from aiida.plugins import CalculationFactory, WorkflowFactory

from ..calcfunctions.gather import gather_relaxations
from ..data.dataset import DatasetData
from ..engines import EngineError, get_engine


def oracle_outputs(node: orm.ProcessNode, namespace: str) -> dict:
    """The ``namespace`` outputs (``energies``, ``relaxed_structures``, ``results``, ``frames``) of a finished
    OracleWorkChain as a dict; empty when none of its structures gave one (every relaxation failed)."""
    return dict(getattr(node.outputs, namespace)) if namespace in node.outputs else {}


def _batches(keys: list[str], n_batches: int) -> list[list[str]]:
    n_batches = max(1, min(n_batches, len(keys)))
    return [keys[k::n_batches] for k in range(n_batches)]


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
    if engine.per_structure:
        return f"the pre-relaxation engine must be a batch engine (ase:...), got {value.value}"


def validate_inputs(inputs, _ctx):
    if not inputs.get("structures"):
        return "no structures to relax"
    if "prerelax_engine" in inputs and "prerelax_code" not in inputs:
        return "prerelax_engine needs prerelax_code (cryspai-relax)"


class OracleWorkChain(WorkChain):
    """Splits ``structures`` into ``max_parallel`` batches, relaxes them with the engine, gathers the results."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("engine", valid_type=orm.Str, validator=validate_engine, help="Engine name, e.g. 'ase:chgnet'.")
        spec.input_namespace("structures", valid_type=orm.StructureData, dynamic=True)
        spec.input("parameters", valid_type=orm.Dict, help="Engine parameters (fmax, max_steps, guards, ...).")
        spec.input("code", valid_type=orm.AbstractCode, help="The engine's code.")
        spec.input("max_parallel", valid_type=orm.Int, default=lambda: orm.Int(2),
                   help="Number of batch CalcJobs running at once.")
        spec.input("options", valid_type=dict, non_db=True, default=lambda: {"threads": 1},
                   help="metadata.options of every CalcJob (resources, threads, ...).")
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
            while_(cls.has_structures_left)(cls.run_relaxations),
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
        self.ctx.waiting = sorted(self.inputs.structures.keys())
        self.ctx.starts = {key: node.uuid for key, node in self.inputs.structures.items()}

    def _structure(self, key: str) -> orm.StructureData:
        """The structure the engine starts from: the pre-relaxed one where there is one."""
        return orm.load_node(self.ctx.starts[key])

    def should_prerelax(self):
        return "prerelax_engine" in self.inputs and self.engine.per_structure

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
        node = self.submit(CalculationFactory(engine.process_entry_point), **inputs)
        self.report(f"pre-relaxation of {len(self.ctx.waiting)} structures with {engine.name} -> "
                    f"{node.process_label}<{node.pk}>")
        self.to_context(prerelaxation=node)

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

    def run_relaxations(self):
        if self.engine.per_structure:
            return self._run_next_structures()
        self.ctx.waiting = []
        engine = self.engine
        process = CalculationFactory(engine.process_entry_point)
        keys = sorted(self.inputs.structures.keys())
        for index, batch in enumerate(_batches(keys, self.inputs.max_parallel.value)):
            inputs = engine.get_inputs(
                {key: self.inputs.structures[key] for key in batch},
                self.inputs.parameters.get_dict(),
                self.inputs.code,
                self.inputs.options,
            )
            inputs["metadata"]["call_link_label"] = f"batch_{index:02d}"
            node = self.submit(process, **inputs)
            self.report(f"batch {index}: {len(batch)} structures -> {process.__name__}<{node.pk}>")
            self.to_context(**{f"batch_{index:02d}": node})

    def _run_next_structures(self):
        """Submit the next ``max_parallel`` structures, one process each; wait for them."""
        engine = self.engine
        process = WorkflowFactory(engine.process_entry_point)
        batch, self.ctx.waiting = (self.ctx.waiting[: self.inputs.max_parallel.value],
                                   self.ctx.waiting[self.inputs.max_parallel.value:])
        for key in batch:
            inputs = engine.get_inputs(self._structure(key), self.inputs.parameters.get_dict(),
                                       self.inputs.code, self.inputs.options)
            inputs["metadata"] = {"call_link_label": f"relax_{key}"}
            node = self.submit(process, **inputs)
            self.report(f"{key} -> {process.__name__}<{node.pk}>")
            self.to_context(**{f"relax_{key}": node})

    def collect_results(self):
        if self.engine.per_structure:
            return self._collect_per_structure()
        finished = 0
        for label in sorted(k for k in self.ctx.keys() if k.startswith("batch_")):
            node = self.ctx[label]
            if not node.is_finished_ok:
                self.report(f"{label} ({node.process_label}<{node.pk}>) failed: exit {node.exit_status} "
                            f"{node.exit_message}; its structures are left out")
                continue
            finished += 1
            for namespace in ("relaxed_structures", "energies"):
                if namespace in node.outputs:
                    for key, value in node.outputs[namespace].items():
                        self.out(f"{namespace}.{key}", value)
            self.out(f"results.{label}", node.outputs.results)
            self.out(f"frames.{label}", node.outputs.frames)
        if not finished:
            return self.exit_codes.ERROR_ALL_BATCHES_FAILED

    def _collect_per_structure(self):
        """Finished relaxations give their structure, energy and frames; a failed one is recorded with its reason
        and gives nothing to the dataset."""
        engine, relaxations, details = self.engine, {}, {}
        for key in sorted(self.inputs.structures.keys()):
            node = self.ctx[f"relax_{key}"]
            wall_s = (node.mtime - node.ctime).total_seconds()
            outputs = engine.relaxation_outputs(node)
            if outputs is not None:
                structure, relaxations[key] = outputs
                details[key] = {"wall_s": wall_s}
                self.out(f"relaxed_structures.{key}", structure)
            else:
                reason = f"{node.process_label}<{node.pk}> exit {node.exit_status}: {node.exit_message}"
                details[key] = {"wall_s": wall_s, "reason": reason}
                self.report(f"{key} failed ({reason}); recorded, not used")
        if not relaxations:
            return self.exit_codes.ERROR_ALL_BATCHES_FAILED
        gathered = gather_relaxations(orm.Dict(details), **relaxations,
                                      metadata={"call_link_label": "gather_relaxations"})
        for key, energy in gathered["energies"].items():
            self.out(f"energies.{key}", energy)
        self.out("results.relaxations", gathered["results"])
        self.out("frames.relaxations", gathered["frames"])

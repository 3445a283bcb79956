"""``cryspai.oracle``: relax a set of structures with an engine, in parallel batches."""

from __future__ import annotations

from aiida import orm
from aiida.engine import WorkChain
from aiida.plugins import CalculationFactory

from ..data.dataset import DatasetData
from ..engines import EngineError, get_engine


def _batches(keys: list[str], n_batches: int) -> list[list[str]]:
    n_batches = max(1, min(n_batches, len(keys)))
    return [keys[k::n_batches] for k in range(n_batches)]


def validate_engine(value, _ctx):
    try:
        get_engine(value.value)
    except EngineError as error:
        return str(error)


def validate_inputs(inputs, _ctx):
    if not inputs.get("structures"):
        return "no structures to relax"


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
        spec.inputs.validator = validate_inputs
        spec.outline(cls.run_relaxations, cls.collect_results)
        spec.output_namespace("relaxed_structures", valid_type=orm.StructureData, dynamic=True)
        spec.output_namespace("energies", valid_type=orm.Float, dynamic=True)
        spec.output_namespace("results", valid_type=orm.Dict, dynamic=True, help="One per batch.")
        spec.output_namespace("frames", valid_type=DatasetData, dynamic=True, help="One per batch.")
        spec.exit_code(400, "ERROR_ALL_BATCHES_FAILED", message="Every oracle batch failed.")

    def run_relaxations(self):
        engine = get_engine(self.inputs.engine.value)
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

    def collect_results(self):
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

"""The one interface every oracle engine implements.

An engine turns structures into the inputs of one AiiDA process and the finished processes back into the
oracle's outputs. Two kinds:

- :class:`BatchEngine` (``ase:*``): one ``cryspai.relax`` CalcJob relaxes a whole group of structures; the oracle
  splits the structures into ``max_parallel`` groups and runs them at once.
- :class:`PerStructureEngine` (``abinit``, ``vasp``): one restart work chain per structure, ``max_parallel`` at
  a time; their trajectories are gathered into the same outputs by one calcfunction.

Either way the oracle's outputs are, per structure key, ``relaxed_structures.<key>`` and ``energies.<key>`` (eV),
and per process group ``results.<label>`` (status and details per key) and ``frames.<label>`` (the frames visited).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

BATCH = "batch"
PER_STRUCTURE = "per_structure"


class Engine(ABC):
    """An oracle: relaxes structures and reports their energies and the frames visited."""

    kind: ClassVar[str]
    code_label: ClassVar[str]  # the default code is ``{code_label}@{computer}``
    process_entry_point: ClassVar[str]

    @property
    @abstractmethod
    def name(self) -> str:
        """The engine's name on the command line (``ase:chgnet``, ``abinit``)."""

    @property
    def uses_relax_code(self) -> bool:
        """Whether the engine runs the project's own ``cryspai-relax`` script (else it needs its own code)."""
        return self.code_label == "cryspai-relax"

    @property
    def default_prior(self) -> str | None:
        """The universal potential under the network by default (a prior costlier than the oracle is pointless)."""
        return "chgnet"

    @abstractmethod
    def unsupported_elements(self, symbols: list[str]) -> list[str]:
        """The elements of ``symbols`` this engine cannot compute."""

    @abstractmethod
    def default_parameters(self) -> dict:
        """The engine's parameters before the search's ``oracle`` settings are merged in."""

    @abstractmethod
    def tight_parameters(self, parameters: dict, fmax: float, max_steps: int) -> dict:
        """``parameters`` for the final tight relaxation of an already relaxed structure: forces below ``fmax``
        (eV/Å), the whole cell relaxed (its volume too), at most ``max_steps`` ionic steps."""

    @abstractmethod
    def with_pressure(self, parameters: dict, pressure_gpa: float) -> dict:
        """``parameters`` for relaxations under the external hydrostatic ``pressure_gpa`` (GPa): the whole cell,
        its volume too, relaxes to zero stress against that pressure. Raises ``ValueError`` naming the setting
        when these parameters keep the cell or its volume fixed."""

    def check(self, symbols: list[str], parameters: dict) -> None:  # noqa: B027 - most engines need no check
        """Raise ``ValueError`` (or a subclass) when ``parameters`` cannot relax a structure of ``symbols``; run
        before anything is submitted."""

    def pseudopotentials(self, settings: dict, symbols: list[str]) -> dict:
        """Element -> pseudopotential node; engines without pseudopotentials raise ``ValueError``."""
        raise ValueError(f"engine {self.name} has no pseudopotentials")

    def settings(self, parameters: dict) -> dict:
        """The engine's full settings for ``parameters`` (DFT engines: their protocol with overrides)."""
        return dict(parameters)

    @abstractmethod
    def groups(self, keys: list[str], max_parallel: int) -> list[list[str]]:
        """The structure keys of each process the oracle runs."""

    @abstractmethod
    def process_class(self):
        """The AiiDA process (CalcJob or WorkChain) that relaxes one group."""

    @abstractmethod
    def get_inputs(self, structures: dict, parameters: dict, code, options: dict) -> dict:
        """Inputs of the process relaxing ``structures`` (key -> StructureData, one group)."""

    @abstractmethod
    def gather(self, nodes: dict) -> dict:
        """The oracle's outputs (``relaxed_structures``, ``energies``, ``results``, ``frames``: namespace -> key ->
        node) from the finished processes ``nodes`` (call link label -> (keys, node)); empty when none finished."""

    def report_failures(self, nodes: dict) -> list[str]:
        """One line per failed process of ``nodes``."""
        return [f"{label} ({node.process_label}<{node.pk}>) failed: exit {node.exit_status} {node.exit_message}"
                for label, (_, node) in sorted(nodes.items()) if not node.is_finished_ok]


class BatchEngine(Engine):
    """One ``cryspai.relax`` CalcJob per group of structures."""

    kind = BATCH
    code_label = "cryspai-relax"
    process_entry_point = "cryspai.relax"

    def groups(self, keys: list[str], max_parallel: int) -> list[list[str]]:
        n_groups = max(1, min(max_parallel, len(keys)))
        return [keys[k::n_groups] for k in range(n_groups)]

    def process_class(self):
        from aiida.plugins import CalculationFactory

        return CalculationFactory(self.process_entry_point)

    def gather(self, nodes: dict) -> dict:
        outputs: dict[str, dict] = {"relaxed_structures": {}, "energies": {}, "results": {}, "frames": {}}
        for label, (_, node) in sorted(nodes.items()):
            if not node.is_finished_ok:
                continue
            for namespace in ("relaxed_structures", "energies"):
                if namespace in node.outputs:
                    outputs[namespace].update(node.outputs[namespace].items())
            outputs["results"][label] = node.outputs.results
            outputs["frames"][label] = node.outputs.frames
        return outputs if outputs["results"] else {}


class PerStructureEngine(Engine):
    """One restart work chain per structure (DFT)."""

    kind = PER_STRUCTURE

    def groups(self, keys: list[str], max_parallel: int) -> list[list[str]]:
        return [[key] for key in keys]

    def process_class(self):
        from aiida.plugins import WorkflowFactory

        return WorkflowFactory(self.process_entry_point)

    def check(self, symbols: list[str], parameters: dict) -> None:
        self.pseudopotentials(self.settings(parameters), symbols)

    def get_inputs(self, structures: dict, parameters: dict, code, options: dict) -> dict:
        if len(structures) != 1:
            raise ValueError(f"engine {self.name} relaxes one structure per process, got {len(structures)}")
        (structure,) = structures.values()
        return self.structure_inputs(structure, parameters, code, options)

    @abstractmethod
    def structure_inputs(self, structure, parameters: dict, code, options: dict) -> dict:
        """Inputs of the restart work chain relaxing one ``structure`` (a StructureData)."""

    @staticmethod
    @abstractmethod
    def relaxation_outputs(node):
        """(relaxed structure, the node the frames are read from) of a finished work chain, or None."""

    def report_failures(self, nodes: dict) -> list[str]:
        return [f"{keys[0]} failed ({node.process_label}<{node.pk}> exit {node.exit_status}: {node.exit_message}); "
                "recorded, not used" for _, (keys, node) in sorted(nodes.items()) if self.relaxation_outputs(node)
                is None]

    def gather(self, nodes: dict) -> dict:
        """Finished relaxations give their structure, energy and frames (one calcfunction, so the graph shows
        where they came from); a failed one is recorded with its reason and gives nothing to the dataset."""
        from aiida import orm

        from .gather import gather_relaxations

        relaxations, details, structures = {}, {}, {}
        for _, (keys, node) in sorted(nodes.items()):
            key = keys[0]
            wall_s = (node.mtime - node.ctime).total_seconds()
            outputs = self.relaxation_outputs(node)
            if outputs is None:
                details[key] = {"wall_s": wall_s,
                                "reason": f"{node.process_label}<{node.pk}> exit {node.exit_status}: "
                                          f"{node.exit_message}"}
                continue
            structures[key], relaxations[key] = outputs
            details[key] = {"wall_s": wall_s}
        if not relaxations:
            return {}
        gathered = gather_relaxations(orm.Dict(details), **relaxations,
                                      metadata={"call_link_label": "gather_relaxations"})
        return {"relaxed_structures": structures, "energies": dict(gathered["energies"]),
                "results": {"relaxations": gathered["results"]}, "frames": {"relaxations": gathered["frames"]}}

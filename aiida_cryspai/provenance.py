"""Walks through the provenance graph of a finished CrySPAIWorkChain: where a candidate came from.

    from aiida import load_profile, orm
    from aiida_cryspai.provenance import trace_candidate
    load_profile()
    trace = trace_candidate(orm.load_node(RUN), rank=1)
    trace.oracle_calculation, trace.proposed_by, trace.model, trace.training_set
"""

from __future__ import annotations

from dataclasses import dataclass

from aiida import orm
from aiida.common.links import LinkType


@dataclass
class CandidateTrace:
    """The nodes behind one ranked candidate of a run."""

    rank: int
    oracle_structure: orm.StructureData  # as the oracle relaxed it (the ranked candidate is its symmetrised copy)
    oracle_calculation: orm.CalcJobNode  # the CalcJob that relaxed it (RelaxCalculation, Abinit's or VASP's)
    oracle_run: orm.WorkflowNode  # the OracleWorkChain of its batch
    start_structure: orm.StructureData  # what the oracle started from
    proposed_by: orm.ProcessNode  # EvolveCalculation (a network's GA) or generate_random_structures
    model: orm.Node | None = None  # the network whose GA proposed it
    training_set: orm.Node | None = None  # the dataset that network was trained on


def _created_with_label(node: orm.Node) -> tuple[orm.ProcessNode, str]:
    link = node.base.links.get_incoming(link_type=LinkType.CREATE).one()
    return link.node, link.link_label


def _input(process: orm.ProcessNode, label: str) -> orm.Node:
    return process.base.links.get_incoming(link_label_filter=label).one().node


def trace_candidate(run: orm.WorkflowNode, rank: int = 1) -> CandidateTrace:
    """From the candidate of ``rank`` back to its oracle calculation, its starting structure, the process that
    proposed it and, if a network did, that network and its training set."""
    candidates = run.outputs.summary["candidates"]
    if not 1 <= rank <= len(candidates):
        raise ValueError(f"rank {rank} is not among the {len(candidates)} candidates of run {run.pk}")
    oracle_structure = orm.load_node(candidates[rank - 1]["oracle_structure_uuid"])
    calculation, label = _created_with_label(oracle_structure)
    key = label.split("__", 1)[1]
    oracle_run = calculation.caller
    while oracle_run is not None and oracle_run.process_label != "OracleWorkChain":
        oracle_run = oracle_run.caller  # DFT engines: the CalcJob sits inside a per-structure relaxation work chain
    start = _input(oracle_run, f"structures__{key}")
    proposer, proposer_label = _created_with_label(start)
    trace = CandidateTrace(rank, oracle_structure, calculation, oracle_run, start, proposer)
    if proposer.process_label == "recommend_structures":
        selection = proposer.outputs.selection[proposer_label]
        ga_structure = _input(proposer, selection.get("ga_input")
                              or f"structure_{selection['ga_crystal_system']}_{selection['ga_key']}")
        trace.proposed_by = ga_structure.creator
        trace.model = trace.proposed_by.inputs.model
        trace.training_set = trace.model.creator.inputs.dataset
    return trace

"""The processes a run called, read from its call links (shared by ``cryspai show``, ``export`` and ``report``)."""

from __future__ import annotations

# the loop's stages, each a child work chain of the run: what they call is read as the run's, labelled stage/label
STAGES = ("InitialPopulationWorkChain", "SurrogateWorkChain", "EvolutionWorkChain")


def _calls(node) -> list[tuple[str, object]]:
    from aiida.common.links import LinkType

    links = node.base.links.get_outgoing(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).all()
    return [(link.link_label, link.node) for link in links]


def called(node, process_label: str | None = None) -> list[tuple[str, object]]:
    """(call link label, process) of the processes ``node`` called and those its stages (the initial population,
    the surrogate, the evolution) called, labelled ``<stage>/<label>`` (``surrogate_02/train``, ``ga_01/cubic``),
    oldest first; only those with ``process_label`` when given."""
    found = []
    for label, child in _calls(node):
        found.append((label, child))
        if child.process_label in STAGES:
            found.extend((f"{label}/{inner}", grandchild) for inner, grandchild in _calls(child))
    found = [pair for pair in found if process_label is None or pair[1].process_label == process_label]
    return sorted(found, key=lambda pair: pair[1].ctime)


def oracle_runs(node) -> list[tuple[str, object]]:
    """(call link label, OracleWorkChain) of the run's oracle batches (``oracle_NN``, ``oracle_verification``,
    ``oracle_refinement``); the screening on the prior is an OracleWorkChain too, but not the oracle."""
    return [(label, run) for label, run in called(node, "OracleWorkChain") if label.startswith("oracle_")]

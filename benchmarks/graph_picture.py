"""The provenance graph of one iteration of a finished run, as the picture of ``docs/design.md``: the run, the
stages of iteration N (``oracle_NN``, ``surrogate_NN``, ``ga_NN``: child work chains) and the processes each called,
with their inputs and outputs (aiida's ``Graph``, what ``verdi node graph generate`` draws; Graphviz's ``dot``).

    cd benchmarks && python graph_picture.py PK --iteration 2 --output ../docs/provenance_iteration
"""

from __future__ import annotations

import argparse

# data of the many structures of a batch, drawn as one node each would hide the stages: left out of the picture
PER_STRUCTURE = ("structures__", "relaxed_structures__", "energies__", "initial_structures__", "known__",
                 "structure_", "energy_", "rank_", "known_", "predicted_", "ga")


def _drawn(link) -> bool:
    return not link.link_label.startswith(PER_STRUCTURE)


def iteration_graph(run, iteration: int):
    """aiida's Graph of ``run``'s stages of ``iteration`` (links labelled): each stage with its inputs and outputs
    and the processes it called with theirs, the per-structure data left out."""
    from aiida.common.links import LinkType
    from aiida.orm.utils.links import LinkPair
    from aiida.tools.visualization import Graph
    from aiida.tools.visualization.graph import default_link_styles

    graph = Graph(graph_attr={"rankdir": "LR"}, node_id_type="pk")
    graph.add_node(run)
    stages = {f"{name}_{iteration:02d}" for name in ("oracle", "surrogate", "ga")}
    calls = run.base.links.get_outgoing(link_type=(LinkType.CALL_WORK, LinkType.CALL_CALC)).all()
    chosen = [link for link in calls if link.link_label in stages]
    if not chosen:
        raise SystemExit(f"run {run.pk} has no stage of iteration {iteration}")

    def edge(source, target, link) -> None:
        pair = LinkPair(link.link_type, link.link_label)
        graph.add_edge(source, target, link_pair=pair, style=default_link_styles(pair, True, False))

    def add(process, call_link) -> None:
        graph.add_node(process)
        edge(process.caller, process, call_link)
        for link in process.base.links.get_incoming(link_type=(LinkType.INPUT_CALC, LinkType.INPUT_WORK)).all():
            if _drawn(link) and link.node.pk != run.pk:
                graph.add_node(link.node)
                edge(link.node, process, link)
        for link in process.base.links.get_outgoing(link_type=(LinkType.CREATE, LinkType.RETURN)).all():
            if _drawn(link):
                graph.add_node(link.node)
                edge(process, link.node, link)

    for link in chosen:
        add(link.node, link)
        for inner in link.node.base.links.get_outgoing(link_type=(LinkType.CALL_WORK, LinkType.CALL_CALC)).all():
            if inner.link_label in ("cubic", "prior", "dataset", "convergence", "train", "recommendation") or \
                    inner.link_label.startswith("batch_"):
                add(inner.node, inner)
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pk", type=int, help="a finished CrySPAIWorkChain")
    parser.add_argument("--iteration", type=int, default=2)
    parser.add_argument("--output", default="provenance_iteration", help="path without suffix")
    parser.add_argument("--format", default="svg")
    args = parser.parse_args()

    from aiida import load_profile, orm

    load_profile()
    graph = iteration_graph(orm.load_node(args.pk), args.iteration)
    print(graph.graphviz.render(args.output, format=args.format, cleanup=True))


if __name__ == "__main__":
    main()

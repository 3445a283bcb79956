"""The provenance graph of one iteration of a finished run, as the picture of ``docs/design.md``: the run, the
stages of iteration N (``oracle_NN``, ``surrogate_NN``, ``ga_NN``: child work chains) and the processes each called,
with their inputs and outputs (aiida's ``Graph``, what ``verdi node graph generate`` draws; Graphviz's ``dot``).

    cd benchmarks && python graph_picture.py PK --iteration 2 --output ../docs/provenance_iteration
"""

from __future__ import annotations

import argparse


def iteration_graph(run, iteration: int):
    """aiida's Graph of ``run``'s stages of ``iteration`` and what they called, links labelled."""
    from aiida.common.links import LinkType
    from aiida.tools.visualization import Graph

    graph = Graph(graph_attr={"rankdir": "TB", "size": "14,20"}, node_id_type="pk")
    graph.add_node(run)
    stages = {f"{name}_{iteration:02d}" for name in ("oracle", "surrogate", "ga")}
    calls = run.base.links.get_outgoing(link_type=(LinkType.CALL_WORK, LinkType.CALL_CALC)).all()
    chosen = [link.node for link in calls if link.link_label in stages]
    if not chosen:
        raise SystemExit(f"run {run.pk} has no stage of iteration {iteration}")
    for stage in chosen:
        graph.add_incoming(stage, link_types=("input_work", "call_work"), annotate_links="label")
        graph.add_outgoing(stage, link_types=("return",), annotate_links="label")
        for link in stage.base.links.get_outgoing(link_type=(LinkType.CALL_WORK, LinkType.CALL_CALC)).all():
            graph.add_edge(stage, link.node, link_pair=None)
            graph.add_incoming(link.node, link_types=("input_calc", "input_work"), annotate_links="label")
            graph.add_outgoing(link.node, link_types=("create", "return"), annotate_links="label")
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

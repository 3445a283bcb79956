"""What the CHGNet pre-relaxation saves a DFT oracle: the same structures relaxed by DFT with and without it.

    verdi run benchmarks/prerelax_benefit.py run ORACLE_PK          # DFT without pre-relaxation, in this process
    verdi run benchmarks/prerelax_benefit.py compare ORACLE_PK OTHER_PK

``ORACLE_PK`` is an OracleWorkChain of a DFT engine that pre-relaxed (e.g. a search's ``oracle_01``). ``run``
relaxes its input structures with the same engine and settings, without the pre-relaxation, each scaled
isotropically to the volume its pre-relaxation reached (so both start at the same volume, which the default
fixed-volume DFT relaxation keeps). ``compare`` prints, per structure, the DFT ionic steps (all restarts counted),
calculations, wall time and final energy of both, as a Markdown table.
"""

from __future__ import annotations

import sys

from aiida import orm
from aiida.engine import run_get_node

from aiida_cryspai.workchains.oracle import OracleWorkChain


def _relaxations(oracle: orm.WorkflowNode) -> dict[str, orm.WorkflowNode]:
    from aiida.common.links import LinkType

    return {link.link_label.removeprefix("relax_"): link.node
            for link in oracle.base.links.get_outgoing(link_type=LinkType.CALL_WORK,
                                                       link_label_filter="relax_%").all()}


def _ionic_steps(relaxation: orm.WorkflowNode) -> tuple[int, int]:
    """(ionic steps over every calculation of a relaxation work chain, number of calculations)."""
    calculations = [n for n in relaxation.called if isinstance(n, orm.CalcJobNode)]
    steps = sum(len(c.outputs.output_trajectory.get_array("energy")) for c in calculations
                if "output_trajectory" in c.outputs)
    return steps, len(calculations)


def run_without_prerelaxation(pk: int) -> orm.WorkflowNode:
    oracle = orm.load_node(pk)
    prerelaxed = oracle.base.links.get_outgoing(link_label_filter="prerelaxation").one().node
    structures = {}
    for key, structure in oracle.inputs.structures.items():
        atoms = structure.get_ase()
        target = prerelaxed.outputs.relaxed_structures[key].get_cell_volume()
        atoms.set_cell(atoms.cell[:] * (target / atoms.get_volume()) ** (1 / 3), scale_atoms=True)
        structures[key] = orm.StructureData(ase=atoms)
    _, node = run_get_node(OracleWorkChain, engine=oracle.inputs.engine, structures=structures,
                           parameters=oracle.inputs.parameters, code=oracle.inputs.code,
                           max_parallel=orm.Int(1), options={"threads": 1})
    print(f"OracleWorkChain<{node.pk}> without pre-relaxation: exit {node.exit_status}")
    return node


def compare(pk_with: int, pk_without: int) -> None:
    rows, totals = [], {"with": [0, 0.0], "without": [0, 0.0]}
    with_, without = _relaxations(orm.load_node(pk_with)), _relaxations(orm.load_node(pk_without))
    print("| structure | DFT ionic steps with / without | calculations | wall s with / without | E with / without "
          "(eV/atom) |\n|---|---|---|---|---|")
    for key in sorted(with_):
        cells = []
        for label, relaxation in (("with", with_[key]), ("without", without.get(key))):
            if relaxation is None:
                cells.append(("-", "-", 0.0, "-"))
                continue
            steps, n_calc = _ionic_steps(relaxation)
            wall = (relaxation.mtime - relaxation.ctime).total_seconds()
            energy = "failed"
            if relaxation.is_finished_ok:
                n_atoms = len(relaxation.outputs.output_structure.sites)
                energy = f"{relaxation.outputs.output_trajectory.get_array('energy')[-1] / n_atoms:.4f}"
            totals[label][0] += steps
            totals[label][1] += wall
            cells.append((steps, n_calc, wall, energy))
        (s1, c1, w1, e1), (s2, c2, w2, e2) = cells
        rows.append(f"| {key} | {s1} / {s2} | {c1} / {c2} | {w1:.0f} / {w2:.0f} | {e1} / {e2} |")
    print("\n".join(rows))
    prerelaxation = orm.load_node(pk_with).base.links.get_outgoing(link_label_filter="prerelaxation").one().node
    print(f"(CHGNet pre-relaxation of all: {(prerelaxation.mtime - prerelaxation.ctime).total_seconds():.0f} s)")
    print(f"| total | {totals['with'][0]} / {totals['without'][0]} | | {totals['with'][1]:.0f} / "
          f"{totals['without'][1]:.0f} | |")


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run_without_prerelaxation(int(sys.argv[2]))
    else:
        compare(int(sys.argv[2]), int(sys.argv[3]))

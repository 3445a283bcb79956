"""A CalcJob whose process is killed (as by the kernel's OOM killer) is run again once; a second death leaves its
structures recorded as not relaxed. The kill is real: the job's shell limits the script's CPU time to one second
(``ulimit -t 1``), and the kernel ends it with SIGXCPU part-way through."""

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import run_get_node
from ase.build import bulk

from aiida_cryspai.workchains.oracle import OracleWorkChain

from ..commands import KILL_FIRST


def _oracle(codes, prepend_text: str):
    structures = {"fcc": orm.StructureData(ase=bulk("Cu", "fcc", a=3.7, cubic=True)),
                  "hcp": orm.StructureData(ase=bulk("Cu", "hcp", a=2.6).repeat((1, 1, 2)))}
    return run_get_node(OracleWorkChain, engine=orm.Str("ase:emt"), structures=structures,
                        parameters=orm.Dict({"fmax": 0.05, "max_steps": 100, "relax_cell": True}),
                        code=codes["relax"], max_parallel=orm.Int(1),
                        options={"threads": 1, "prepend_text": prepend_text})


def _log(node) -> str:
    from aiida.cmdline.utils.common import get_workchain_report

    return get_workchain_report(node, "REPORT")


def test_a_killed_oracle_job_is_run_again_once(aiida_profile, cryspai_codes, tmp_path):
    results, node = _oracle(cryspai_codes, KILL_FIRST.format(marker=tmp_path / "killed-once"))
    assert node.is_finished_ok, node.exit_status
    jobs = [c for c in node.called if c.process_label == "RelaxCalculation"]
    assert len(jobs) == 2
    assert jobs[0].exit_status == 300 and jobs[1].is_finished_ok  # the first died without its outputs
    assert set(results["energies"]) == {"fcc", "hcp"}
    # the retry takes the dead job's place: same call link label, its outputs where an undisturbed run's would be
    labels = [link.link_label for link in node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()]
    assert labels == ["batch_00", "batch_00"] and set(results["frames"]) == {"batch_00"}
    # relaxed for real: EMT's hcp below its fcc for Cu
    assert results["energies"]["hcp"].value / 4 < results["energies"]["fcc"].value / 4
    assert "died (exit 300" in _log(node) and "again, once" in _log(node)


def test_a_job_killed_twice_is_recorded_and_not_retried_again(aiida_profile, cryspai_codes):
    _, node = _oracle(cryspai_codes, "ulimit -t 1")
    jobs = [c for c in node.called if c.process_label == "RelaxCalculation"]
    assert len(jobs) == 2 and all(j.exit_status == 300 for j in jobs)
    assert node.exit_status == OracleWorkChain.exit_codes.ERROR_ALL_BATCHES_FAILED.status
    assert "died again" in _log(node) and "fcc, hcp not relaxed" in _log(node)


def test_a_killed_volume_scan_runs_again_and_gives_the_same_volume(aiida_profile, cryspai_codes, tmp_path):
    """The starting volume's scan (random Cu4 structures on EMT) killed once: scanned again, the same volume as an
    undisturbed scan, not Eq. 2's in its place."""
    from aiida_cryspai.workchains.population import InitialPopulationWorkChain

    from ..parameters import SMALL

    def population(prepend_text: str | None):
        builder = InitialPopulationWorkChain.get_builder_from_protocol(
            "Cu4", engine="ase:emt", seed=4, overrides={**SMALL, "volume_method": "scan"},
            code=cryspai_codes["relax"])
        if prepend_text:
            builder.options = {"prepend_text": prepend_text}
        return run_get_node(builder)[1]

    killed, undisturbed = population(KILL_FIRST.format(marker=tmp_path / "scan-killed")), population(None)
    assert killed.is_finished_ok and undisturbed.is_finished_ok
    scans = [c for c in killed.called if c.process_label == "RelaxCalculation"]
    assert [s.exit_status for s in scans] == [300, 0]
    assert killed.outputs.summary["volume_method"] == "scan"
    assert killed.outputs.volume.value == undisturbed.outputs.volume.value != killed.outputs.eq2_volume.value
    assert "volume scan RelaxCalculation" in _log(killed) and "again, once" in _log(killed)


def test_loop_batches_are_told_from_verification_and_refinement_by_their_labels():
    """The oracle batches' call link labels, of a run and of a system's compositions: the loop's iteration, or None."""
    from aiida_cryspai.workchains.oracle import loop_iteration

    labels = ["oracle_01", "oracle_12_Cu3Au1", "oracle_verification", "oracle_refinement_Cu4", "population", "x_01"]
    assert [loop_iteration(label) for label in labels] == [1, 12, None, None, None, None]

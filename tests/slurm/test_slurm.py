"""The cluster path: a one-node SLURM on this machine, an AiiDA computer with the ``core.slurm`` scheduler, and the
oracle, training and GA CalcJobs of a CrySPAI run submitted with sbatch and followed with squeue."""

import os
import subprocess

import pytest
from aiida.engine import run_get_node
from aiida.orm import CalcJobNode, load_computer

from aiida_cryspai.workchains.main import CrySPAIWorkChain
from aiida_cryspai.workchains.request import MAX_CONCURRENT_PROPERTY

from ..parameters import TINY
from . import cluster


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    env = cluster.start(folder)
    previous = os.environ.get("SLURM_CONF")
    os.environ.update(env)  # AiiDA's local transport runs sbatch/squeue in this environment
    yield folder
    cluster.stop(folder)
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous


@pytest.fixture(scope="module")
def slurm_codes(slurm, aiida_profile):
    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    computer = ensure_computer("slurm-local", scheduler="core.slurm", max_concurrent=3)
    return ensure_codes(computer)


def test_the_slurm_computer_takes_a_concurrency_limit(slurm_codes, cryspai_codes):
    computer = load_computer("slurm-local")
    assert computer.scheduler_type == "core.slurm"
    assert computer.get_property(MAX_CONCURRENT_PROPERTY) == 3
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", overrides=TINY,
                                                         computer="slurm-local")
    assert builder.parameters["max_parallel_oracle"] == 3
    assert builder.codes.relax.computer.label == "slurm-local"
    # an explicit value in the run's parameters wins over the computer's
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", computer="slurm-local",
                                                         overrides={**TINY, "max_parallel_oracle": 1})
    assert builder.parameters["max_parallel_oracle"] == 1
    # the GA's CalcJobs at once: the computer's limit; this machine run without a queue: its cores; no limit on a
    # queue without one (it spreads them)
    from aiida_cryspai.workchains.request import compute_slots

    assert compute_slots(builder.codes.evolve) == 3
    local = cryspai_codes["evolve"]
    assert local.computer.get_property(MAX_CONCURRENT_PROPERTY, None) is None
    assert compute_slots(local) == os.cpu_count()
    computer.delete_property(MAX_CONCURRENT_PROPERTY)
    try:
        assert compute_slots(builder.codes.evolve) is None
    finally:
        computer.set_property(MAX_CONCURRENT_PROPERTY, 3)


@pytest.mark.slow  # make test: the production daemon-crash run goes through this SLURM, with the same assertions
def test_a_search_runs_through_slurm(slurm, slurm_codes, emt):
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", protocol="fast", seed=2,
                                                         overrides=TINY, computer="slurm-local")
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    calcjobs = [n for n in node.called_descendants if isinstance(n, CalcJobNode)]
    labels = {n.process_label for n in calcjobs}
    assert {"RelaxCalculation", "TrainCalculation", "EvolveCalculation"} <= labels
    for calc in calcjobs:
        assert calc.computer.label == "slurm-local" and calc.is_finished_ok
        assert calc.get_job_id() and calc.get_job_id().isdigit()  # a SLURM job id from sbatch
        submit_script = calc.base.repository.get_object_content("_aiidasubmit.sh")
        assert "#SBATCH" in submit_script
    # the same jobs are in SLURM's own records (jobs leave squeue after MinJobAge; scontrol knows the last ones)
    last = max(calcjobs, key=lambda n: n.ctime)
    shown = subprocess.run(["scontrol", "show", "job", last.get_job_id()], capture_output=True, text=True)
    assert shown.returncode != 0 or "JobState=COMPLETED" in shown.stdout, shown.stdout
    # the search itself: the best Cu4 structure is EMT's lowest (hcp below fcc for Cu under EMT)
    best = node.outputs.summary["candidates"][0]
    from ase.build import bulk

    from aiida_cryspai.ml.relax import relax

    fcc = relax(bulk("Cu", "fcc", a=3.6, cubic=True), emt, fmax=0.001, max_steps=500).energy / 4
    assert best["energy_per_atom"] <= fcc + 0.002

"""The loop's stages run alone, each a child work chain with its own protocol builder: the initial population of
a composition, the surrogate on a small dataset of EMT relaxations, the evolution on the network it trained."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase.build import bulk

from aiida_cryspai.data.dataset import DatasetData
from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.relax import relax
from aiida_cryspai.workchains.evolution import EvolutionWorkChain
from aiida_cryspai.workchains.population import InitialPopulationWorkChain
from aiida_cryspai.workchains.surrogate import SurrogateWorkChain

from ..commands import KILL_FIRST
from ..parameters import SMALL

NETWORK_RMSE_BOUND = 30.0  # meV/atom on held-out frames of EMT's Cu relaxations


def emt_frames(emt, structures: dict, seed: int) -> DatasetData:
    """The frames of EMT relaxations of rattled copies of ``structures`` (name -> Atoms), one group each."""
    rng = np.random.default_rng(seed)
    frames, groups, sources = [], [], []
    for group, (name, atoms) in enumerate(structures.items()):
        start = atoms.copy()
        start.positions += rng.normal(0.0, 0.15, start.positions.shape)
        start.set_cell(start.cell[:] * 1.06, scale_atoms=True)
        outcome = relax(start, emt, fmax=0.05, max_steps=200)
        frames += outcome.frames
        groups += [group] * len(outcome.frames)
        sources += [name] * len(outcome.frames)
    return DatasetData.from_arrays(frames_to_arrays(frames, groups, sources))


@pytest.fixture(scope="module")
def cu_frames(emt):
    cells = {"fcc": bulk("Cu", "fcc", a=3.6, cubic=True), "hcp": bulk("Cu", "hcp", a=2.55).repeat((1, 1, 2)),
             "bcc": bulk("Cu", "bcc", a=2.87).repeat((2, 1, 1)), "sc": bulk("Cu", "sc", a=2.4).repeat((2, 2, 1))}
    # two rattled relaxations of each: a held-out relaxation has a sibling of its structure type in training
    return emt_frames(emt, {f"{name}_{copy}": atoms for name, atoms in cells.items() for copy in (1, 2)}, seed=0)


@pytest.fixture(scope="module")
def surrogate_run(aiida_profile, cu_frames, tmp_path_factory):
    """The surrogate on the Cu frames; its first training is killed part-way (the job's shell bounds the script's
    CPU time to 1 s, as the kernel's OOM killer would end it) and runs again: every test of the network below checks
    the retried one."""
    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    codes = ensure_codes(ensure_computer())
    builder = SurrogateWorkChain.get_builder_from_protocol("Cu4", {"batch_01": cu_frames}, overrides=SMALL,
                                                           code=codes["train"])
    builder.settings = orm.Dict({"training_seed": 1})
    builder.options = {"prepend_text": KILL_FIRST.format(marker=tmp_path_factory.mktemp("kill") / "training")}
    _, node = run_get_node(builder)
    return node


def test_a_killed_training_runs_again_once(surrogate_run):
    from aiida.cmdline.utils.common import get_workchain_report

    trainings = [n for n in surrogate_run.called if n.process_label == "TrainCalculation"]
    assert [t.exit_status for t in trainings] == [300, 0]
    assert surrogate_run.outputs.model.uuid == trainings[1].outputs.model.uuid
    assert "died (exit 300" in get_workchain_report(surrogate_run, "REPORT")


def test_the_population_alone_gives_the_first_batch_at_eq2s_volume(aiida_profile, cryspai_codes):
    builder = InitialPopulationWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", seed=4, overrides=SMALL,
                                                                   code=cryspai_codes["relax"])
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    structures = dict(node.outputs.structures)
    summary = node.outputs.summary.get_dict()
    assert set(structures) == set(summary["batch"]) and len(structures) == 7 * SMALL["initial_per_system"]
    assert summary["volume_method"] == "paper" and node.outputs.volume.creator.process_label == "estimate_volume"
    for key, structure in structures.items():  # each at the search volume, made by the random generation
        assert structure.get_cell_volume() == pytest.approx(node.outputs.volume.value, rel=1e-6)
        assert summary["batch"][key].startswith("random (space group ")
        assert structure.creator.process_label == "generate_random_structures"


def test_the_surrogate_alone_trains_a_network_on_its_frames(surrogate_run, cu_frames):
    node = surrogate_run
    assert node.is_finished_ok, node.exit_message
    assert node.outputs.dataset.n_frames == node.outputs.added.n_frames <= cu_frames.n_frames
    metrics = node.outputs.metrics.get_dict()
    assert metrics["n_validation"] > 0 and metrics["rmse_validation_mev_per_atom"] < NETWORK_RMSE_BOUND, metrics
    assert node.outputs.model.creator.inputs.dataset.uuid == node.outputs.dataset.uuid
    assert "convergence" not in node.outputs  # no earlier network to test


def test_the_surrogate_tests_the_previous_network_on_new_frames(surrogate_run, emt):
    """Given the network and new frames, the surrogate reports its out-of-sample RMSE on them: the same number as
    the network's own predictions give."""
    from aiida_cryspai.ml.prior import predicted_energies

    new = emt_frames(emt, {"fcc": bulk("Cu", "fcc", a=3.6, cubic=True)}, seed=7)
    builder = SurrogateWorkChain.get_builder_from_protocol("Cu4", {"batch_02": new},
                                                           overrides={**SMALL, "min_samples": 10**6},
                                                           code=surrogate_run.inputs.codes.train)
    builder.dataset, builder.model = surrogate_run.outputs.dataset, surrogate_run.outputs.model
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert "model" not in node.outputs  # below min_samples: no training
    arrays = node.outputs.added.to_arrays()
    errors = (predicted_energies(surrogate_run.outputs.model.load_model(), arrays) - arrays["energies"]) \
        / arrays["n_atoms"]
    rmse = 1000 * np.sqrt(np.mean(errors**2))
    assert node.outputs.convergence["rmse_mev_per_atom"] == pytest.approx(rmse, rel=1e-6)


def test_the_surrogate_trains_on_from_the_previous_network(surrogate_run, emt):
    """With ``warm_start`` the next training starts from the previous network (an input of the TrainCalculation in
    the graph) and every member of the ensemble says so; it learns the new relaxations (bcc and sc Cu, strained)."""
    from aiida.orm import CalcJobNode

    new = emt_frames(emt, {"bcc": bulk("Cu", "bcc", a=2.95).repeat((2, 1, 1)),
                           "sc": bulk("Cu", "sc", a=2.45).repeat((2, 2, 1))}, seed=11)
    overrides = {**SMALL, "training": {**SMALL["training"], "warm_start": True, "ensemble_size": 2}}
    builder = SurrogateWorkChain.get_builder_from_protocol("Cu4", {"batch_02": new}, overrides=overrides,
                                                           code=surrogate_run.inputs.codes.train)
    builder.dataset, builder.model = surrogate_run.outputs.dataset, surrogate_run.outputs.model
    builder.settings = orm.Dict({"training_seed": 1})
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    training = node.base.links.get_outgoing(node_class=CalcJobNode, link_label_filter="train").one().node
    assert training.inputs.start_model.uuid == surrogate_run.outputs.model.uuid
    metrics = node.outputs.metrics.get_dict()
    assert metrics["warm_started"] == metrics["ensemble_size"] >= 1
    assert metrics["rmse_validation_mev_per_atom"] < NETWORK_RMSE_BOUND, metrics
    from aiida_cryspai.ml.prior import predicted_energies

    arrays = node.outputs.added.to_arrays()
    errors = (predicted_energies(node.outputs.model.load_model(), arrays) - arrays["energies"]) / arrays["n_atoms"]
    assert 1000 * np.sqrt(np.mean(errors**2)) < node.outputs.convergence["rmse_mev_per_atom"]


def test_the_evolution_alone_recommends_new_structures_on_the_network(surrogate_run, tmp_path):
    from aiida_cryspai.analysis.compare import matcher, to_pymatgen

    model = surrogate_run.outputs.model
    fcc = orm.StructureData(ase=bulk("Cu", "fcc", a=3.6, cubic=True))
    builder = EvolutionWorkChain.get_builder_from_protocol("Cu4", model, volume=48.0, seed=5, overrides=SMALL,
                                                           final=True, code=orm.load_code("cryspai-evolve@localhost"))
    parameters = builder.parameters.get_dict()
    parameters.update(crystal_systems=["cubic", "hexagonal"],
                      seeds={"cubic": parameters["seeds"]["cubic"], "hexagonal": parameters["seeds"]["hexagonal"]})
    builder.parameters = orm.Dict(parameters)
    builder.known = {"s0": fcc}
    builder.max_parallel = orm.Int(1)  # one CalcJob: both systems' GAs in one process, their generations batched
    # its first process is killed part-way and runs again (see surrogate_run): the checks below are the retry's
    builder.options = {"prepend_text": KILL_FIRST.format(marker=tmp_path / "ga")}
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    dead, *ga = [n for n in node.called if n.process_label == "EvolveCalculation"]
    assert dead.exit_status == 300 and dead.inputs.parameters.get_dict() == ga[0].inputs.parameters.get_dict()
    assert len(ga) == 1 and ga[0].inputs.parameters["crystal_systems"] == ["cubic", "hexagonal"]
    assert set(ga[0].outputs.summary["systems"]) == {"cubic", "hexagonal"}
    assert {info["crystal_system"] for info in ga[0].outputs.predicted_energies.get_dict().values()} \
        == {"cubic", "hexagonal"}
    selection = node.outputs.selection.get_dict()
    assert selection and set(selection) == set(node.outputs.structures)
    assert {info["ga_crystal_system"] for info in selection.values()} <= {"cubic", "hexagonal"}
    for key, info in selection.items():  # each recommendation is the GA's structure it names, symmetrised
        proposed = ga[0].outputs.structures[info["ga_key"]].get_ase()
        assert info["ga_key"].startswith(info["ga_crystal_system"])
        assert len(proposed) == len(node.outputs.structures[key].get_ase())
    predicted = [selection[key]["predicted_energy_per_atom"] for key in sorted(selection)]
    assert predicted == sorted(predicted)  # best first
    # at zero pressure the objective is the energy; the spread is the ensemble's, for the stopping test
    assert all(info["predicted_objective_per_atom"] == pytest.approx(info["predicted_energy_per_atom"], abs=1e-9)
               and info["spread_per_atom"] >= 0 for info in selection.values())
    sm = matcher()
    network = model.load_model()
    for key, structure in node.outputs.structures.items():
        atoms = structure.get_ase()
        assert not sm.fit(to_pymatgen(atoms), to_pymatgen(fcc.get_ase()))  # the known structure is not proposed
        mine = network.predict_energies([atoms])[0] / len(atoms)
        assert mine == pytest.approx(selection[key]["predicted_energy_per_atom"], abs=0.02)

"""The CrySPAI loop end to end on a real profile, real CalcJobs on localhost, EMT as the oracle."""

import os

import numpy as np
import pytest
from aiida.common.links import LinkType
from aiida.engine import run_get_node
from aiida.orm import CalcFunctionNode, CalcJobNode, QueryBuilder, WorkflowNode
from ase.build import bulk

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS
from aiida_cryspai.ml.relax import relax
from aiida_cryspai.workchains.main import CrySPAIWorkChain

from ..parameters import SMALL, TINY

AG4_BUDGET = 22  # a first batch of 14, one GA batch, verification and refinement: the budget binds


def _emt_energy_per_atom(atoms, emt):
    return relax(atoms, emt, fmax=0.001, max_steps=500).energy / len(atoms)


@pytest.fixture(scope="module")
def ag4_run(aiida_profile):
    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    codes = ensure_codes(ensure_computer())
    builder = CrySPAIWorkChain.get_builder_from_protocol("Ag4", engine="ase:emt", protocol="fast", seed=3,
                                                         max_oracle_calls=AG4_BUDGET, overrides=SMALL, codes=codes)
    _, node = run_get_node(builder)
    return node


def test_ag4_ranks_emt_fcc_first(ag4_run, emt):
    assert ag4_run.is_finished_ok, ag4_run.exit_message
    candidates = ag4_run.outputs.summary["candidates"]
    fcc = _emt_energy_per_atom(bulk("Ag", "fcc", a=4.09, cubic=True), emt)
    hcp = _emt_energy_per_atom(bulk("Ag", "hcp", a=2.89, c=4.72), emt)
    assert hcp > fcc  # the oracle's own truth: under EMT, fcc is silver's lowest stacking
    assert candidates[0]["spacegroup_number"] == 225
    assert candidates[0]["energy_per_atom"] == pytest.approx(fcc, abs=1e-3)
    energies = [c["energy_per_atom"] for c in candidates]
    assert energies == sorted(energies)
    ranked = ag4_run.outputs.candidates
    assert set(ranked.keys()) == {f"rank_{c['rank']:03d}" for c in candidates}
    assert ag4_run.outputs.summary["ga_failures"] == []  # every GA job of the run ran to its end


def test_ranked_energies_are_converged(ag4_run, emt):
    """The lowest distinct structures were relaxed once more by the oracle, tightly and with the whole cell free,
    before ranking: relaxing rank 1 again, far tighter, changes its energy by less than 1 meV/atom."""
    summary = ag4_run.outputs.summary.get_dict()
    best = summary["candidates"][0]
    assert best["refined"] and summary["refinement"]["converged"] >= 1
    refinement = ag4_run.base.links.get_outgoing(link_label_filter="oracle_refinement").one().node
    parameters = refinement.inputs.parameters.get_dict()
    assert parameters["fmax"] == summary["refinement"]["fmax_ev_per_angstrom"] == 0.005 and parameters["relax_cell"]
    assert "prerelax_engine" not in refinement.inputs
    rank1 = ag4_run.outputs.candidates.rank_001.get_ase()
    again = relax(rank1, emt, fmax=1e-4, max_steps=3000)
    assert abs(again.energy / len(rank1) - best["energy_per_atom"]) < 1e-3
    # the refined result replaced the one it started from: each oracle structure is ranked once
    keys = [c["oracle_key"] for c in summary["candidates"]]
    assert not {key.removeprefix("refined_") for key in keys if key.startswith("refined_")} & set(keys)


def test_every_stage_is_in_the_provenance_graph(ag4_run):
    called = ag4_run.called_descendants
    calcfunctions = {n.process_label for n in called if isinstance(n, CalcFunctionNode)}
    assert {"estimate_volume", "generate_random_structures", "update_dataset", "check_convergence",
            "recommend_structures", "rank_results"} <= calcfunctions
    calcjobs = [n for n in called if isinstance(n, CalcJobNode)]
    assert {"RelaxCalculation", "TrainCalculation", "EvolveCalculation"} <= {n.process_label for n in calcjobs}
    assert all(n.is_finished_ok for n in calcjobs)
    # where each script computed: what it was asked for (its option) and what it used there (its versions output)
    # and the memory each may use on this machine without a queue: its memory shared by the jobs it runs at once
    for job in calcjobs:
        assert job.get_option("device") == "auto"
        assert job.outputs.versions["device"] in ("cpu", "cuda")
        assert 0 < job.get_option("memory_gb") <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    # each evolution shares the seven crystal systems out over at most as many GA CalcJobs as the machine has cores
    evolve = [n for n in calcjobs if n.process_label == "EvolveCalculation"]
    evolutions = {n.caller.pk for n in evolve}
    assert evolutions
    for pk in evolutions:
        jobs = [n for n in evolve if n.caller.pk == pk]
        assert sorted(s for n in jobs for s in n.inputs.parameters["crystal_systems"]) == sorted(CRYSTAL_SYSTEMS)
        assert len(jobs) <= max(1, os.cpu_count() or 1)
    # every oracle structure counted in the summary went through a RelaxCalculation
    relaxed = sum(len(n.inputs.structures) for n in calcjobs if n.process_label == "RelaxCalculation")
    assert relaxed == ag4_run.outputs.summary["oracle"]["relaxations"] <= AG4_BUDGET
    # the recommended structure walks back to the oracle calculation that relaxed it
    rank1 = ag4_run.outputs.candidates.rank_001
    assert rank1.creator.process_label == "rank_results"
    uuid = ag4_run.outputs.summary["candidates"][0]["oracle_structure_uuid"]
    sources = [n for n in rank1.creator.base.links.get_incoming().all_nodes() if n.uuid == uuid]
    assert len(sources) == 1 and sources[0].creator.process_label == "RelaxCalculation"
    # the final model and dataset are outputs, and the model was trained on that dataset
    model = ag4_run.outputs.model
    assert model.creator.process_label == "TrainCalculation"
    assert model.creator.inputs.dataset.uuid == ag4_run.outputs.dataset.uuid
    assert len(model.load_model()) == 3  # the fast protocol trains an ensemble of three networks
    # after the first network exists, the dataset update sees it (the useless-point filter) ...
    updates = [n for n in called if isinstance(n, CalcFunctionNode) and n.process_label == "update_dataset"]
    with_model = [n for n in updates if n.base.links.get_incoming(link_label_filter="model").all()]
    assert with_model and all("not_informative" in n.outputs.summary.get_dict() for n in with_model)
    # ... and the GA candidates carry the ensemble's spread
    spreads = [info["spread_per_atom"] for n in evolve for info in n.outputs.predicted_energies.get_dict().values()]
    assert spreads and max(spreads) > 0
    # the search's own stopping test after each loop's evolution: its verdict is the science layer's on the
    # recorded inputs, the best per oracle batch never rises, and the run stopped by it only where it settled
    from aiida_cryspai.search.stopping import search_settled

    checks = sorted((n for n in called if isinstance(n, CalcFunctionNode) and n.process_label == "check_search"),
                    key=lambda n: n.ctime)
    assert checks
    for check in checks:
        state = check.inputs.history.get_dict()
        history = state["best_by_batch"]
        assert history == sorted(history, reverse=True) and state["patience"] == 2
        bounds = [info["predicted_objective_per_atom"] - info["spread_per_atom"]
                  for info in check.inputs.selection.get_dict().values()]
        expected = search_settled(history, bounds, state["tolerance_ev_per_atom"], state["patience"])
        assert (check.outputs.result["settled"], check.outputs.result["reason"]) == expected
    settled = any(check.outputs.result["settled"] for check in checks)
    assert (ag4_run.outputs.summary["converged_by"] == "search") == settled


@pytest.mark.parametrize(
    ("inputs", "exit_status"),
    [({"composition": "Xx4"}, 201), ({"composition": "Si0"}, 201), ({"engine": "vasp2"}, 202),
     ({"crystal_system": "hexa"}, 203), ({"volume": -5.0}, 204), ({"max_oracle_calls": 0}, 205),
     ({"composition": "Si8"}, 202), ({"pressure": 2000.0}, 209), ({"pressure": -150.0}, 209)],
)
def test_bad_input_gets_an_exit_code_and_runs_nothing(aiida_profile, cryspai_codes, inputs, exit_status):
    from aiida import orm

    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", codes=cryspai_codes)
    for key, value in inputs.items():
        node_type = {str: orm.Str, float: orm.Float, int: orm.Int}[type(value)]
        builder[key] = node_type(value)
    _, node = run_get_node(builder)
    assert node.exit_status == exit_status
    assert 200 <= node.exit_status < 300
    assert node.called == []
    assert "candidates" not in node.outputs


def test_an_unknown_device_is_refused_with_its_exit_code(aiida_profile, cryspai_codes):
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", codes=cryspai_codes)
    builder.options = {**builder.options, "device": "tpu"}
    _, node = run_get_node(builder)
    assert node.exit_status == 210 and "unknown device 'tpu'" in node.exit_message
    assert node.called == []


def test_device_options_ask_a_queue_for_a_gpu_and_refuse_cuda_where_none_is_seen(monkeypatch):
    from types import SimpleNamespace

    from aiida_cryspai.ml import device
    from aiida_cryspai.workchains.request import InputError, device_options

    def code(transport, scheduler):
        return SimpleNamespace(computer=SimpleNamespace(label="c", transport_type=transport, scheduler_type=scheduler))

    monkeypatch.setattr(device, "gpu_available", lambda: False)
    cluster = code("core.ssh", "core.slurm")
    assert device_options("cuda", cluster, {"threads": 2}) == {
        "threads": 2, "device": "cuda", "custom_scheduler_commands": "#SBATCH --gres=gpu:1"}
    mine = {"custom_scheduler_commands": "#SBATCH --gpus=a100:1"}
    assert device_options("cuda", cluster, mine)["custom_scheduler_commands"] == "#SBATCH --gpus=a100:1"
    assert device_options("cpu", cluster) == {"device": "cpu"}
    with pytest.raises(InputError, match="torch sees no CUDA GPU on this machine") as error:
        device_options("cuda", code("core.local", "core.direct"))
    assert error.value.label == "ERROR_INVALID_DEVICE"
    with pytest.raises(InputError, match="unknown device"):
        device_options("gpu", cluster)


def test_a_seed_structure_of_another_composition_is_refused_by_name(aiida_profile, cryspai_codes):
    from aiida import orm
    from ase.build import bulk

    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", codes=cryspai_codes)
    builder.seed_structures = {"seed_000": orm.StructureData(ase=bulk("Cu", "fcc", a=3.6)),
                               "seed_001": orm.StructureData(ase=bulk("Si"), label="si.cif")}
    _, node = run_get_node(builder)
    assert node.exit_status == 208
    assert "si.cif is Si" in node.exit_message
    assert node.called == []


def test_unknown_parameter_is_refused(aiida_profile, cryspai_codes):
    from aiida import orm

    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", codes=cryspai_codes)
    parameters = builder.parameters.get_dict()
    parameters["ga"]["n_trail"] = 3
    builder.parameters = orm.Dict(parameters)
    _, node = run_get_node(builder)
    assert node.exit_status == 206
    assert "n_trail" in node.exit_message
    assert QueryBuilder().append(WorkflowNode, filters={"id": node.pk}).count() == 1


@pytest.mark.parametrize("change, words", [
    (lambda p: p["ga"].update(aenergy={"Ag": -3.0}), ("aenergy", "Cu")),
    (lambda p: p.update(oracle_allocation="uniform"), ("oracle_allocation", "uniform")),
    (lambda p: p.update(volume_radii="ionic"), ("volume_radii", "ionic")),
    (lambda p: p.update(volume_radii="pseudopotentials"), ("needs a DFT engine", "ase:emt has no pseudopotentials")),
])
def test_bad_search_parameters_are_refused(aiida_profile, cryspai_codes, change, words):
    from aiida import orm

    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", codes=cryspai_codes)
    parameters = builder.parameters.get_dict()
    change(parameters)
    builder.parameters = orm.Dict(parameters)
    _, node = run_get_node(builder)
    assert node.exit_status == 206
    assert all(word in node.exit_message for word in words)
    assert node.called == []
    assert QueryBuilder().append(WorkflowNode, filters={"id": node.pk}).count() == 1


def test_oracle_batch_without_any_result_does_not_break_the_run(aiida_profile, cryspai_codes):
    """Every relaxation abandoned (volume guard of +-0.1%): the oracle batches have no energies at all; the run
    goes on and ends with its own exit code instead of an exception."""
    overrides = {**TINY, "guard_volume_range": [0.999, 1.001]}
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", protocol="fast", seed=1,
                                                         max_oracle_calls=6, overrides=overrides, codes=cryspai_codes)
    _, node = run_get_node(builder)
    oracles = [n for n in node.called if n.process_label == "OracleWorkChain"]
    assert any(o.is_finished_ok and "energies" not in o.outputs for o in oracles)
    assert node.is_finished and not node.is_excepted
    assert node.exit_status == 403, node.exit_message


def test_a_ga_that_fails_twice_is_named_in_the_results(aiida_profile, cryspai_codes, tmp_path, capsys):
    """Every GA job dies (its code exits at once, as a job killed by the kernel would, without evolve.json): each
    runs again once, the run goes on with random structures in its place and ends with its oracle results, and
    its results name the crystal systems that proposed nothing at each stage, with a warning from the CLI."""
    from aiida.orm import InstalledCode

    from aiida_cryspai.cli.export import export_results
    from aiida_cryspai.cli.main import _print_results

    dying = InstalledCode(computer=cryspai_codes["evolve"].computer, filepath_executable="/bin/false",
                          label="evolve-dies", default_calc_job_plugin="cryspai.evolve").store()
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", protocol="fast", seed=1,
                                                         max_oracle_calls=8, overrides=TINY,
                                                         codes={**cryspai_codes, "evolve": dying})
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    jobs = [n for n in node.called_descendants if n.process_label == "EvolveCalculation"]
    assert jobs and all(job.exit_status == 300 for job in jobs)
    failures = node.outputs.summary["ga_failures"]
    stages = {link.link_label for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all()
              if link.node.process_label == "EvolutionWorkChain"}
    assert "final_ga" in stages and {failure["stage"] for failure in failures} == stages
    for stage in stages:  # every crystal system, each in one of the stage's jobs, each job twice
        systems = [s for failure in failures if failure["stage"] == stage for s in failure["systems"]]
        assert sorted(systems) == sorted(CRYSTAL_SYSTEMS)
    assert 2 * len(failures) == len(jobs) and all(failure["exit_status"] == 300 for failure in failures)
    results = export_results(node, tmp_path, None)
    assert results["ga_failures"] == failures and results["candidates"]
    _print_results(results, tmp_path)
    assert capsys.readouterr().err.count("failed twice") == len(failures)


def test_a_single_relaxation_in_the_dataset_does_not_break_the_loop(aiida_profile, cryspai_codes):
    """A budget of two oracle calls leaves one relaxation to train on: no frame is held out, the validation RMSE is
    None, and the run still ends cleanly with its candidates (it used to except in inspect_training). Its starting
    volume comes from the scan of random structures, the lowest 8 relaxed on EMT: within 5 % of EMT's fcc."""
    from ase.calculators.emt import EMT

    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", protocol="fast", seed=1,
                                                         max_oracle_calls=2, codes=cryspai_codes,
                                                         overrides={**TINY, "volume_method": "scan"})
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    population = node.base.links.get_outgoing(link_label_filter="population").one().node
    scan = population.base.links.get_outgoing(link_label_filter="volume_scan").one().node
    relaxed = [r["scan_relaxed"] for r in scan.outputs.results.get_dict().values() if "scan_relaxed" in r]
    assert len(scan.inputs.structures) == 28 and len(relaxed) == 8
    fcc = relax(bulk("Cu", "fcc", a=3.6), EMT(), fmax=0.001, record_frames=False).atoms.get_volume()
    volume = node.outputs.summary["volume"]
    assert volume["method"] == "scan" and volume["estimated"] / 4 == pytest.approx(fcc, rel=0.05)
    trainings = [n for n in node.called_descendants if n.process_label == "TrainCalculation"]
    assert trainings and trainings[0].outputs.metrics["rmse_validation_mev_per_atom"] is None
    summary = node.outputs.summary.get_dict()
    assert summary["oracle"]["relaxations"] <= 2 and summary["candidates"]


def test_a_run_with_a_prior_learns_the_correction_and_records_the_prior(aiida_profile, cryspai_codes):
    """Cu4 with EMT as the oracle and CHGNet as the prior: the first oracle batch is the prior's best distinct
    screened structures (random and the prototype library's), the frames are labelled by the prior once, every
    model is trained on the correction with the prior as an input of its TrainCalculation, and results name the
    prior and each candidate's origin."""
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", protocol="fast", seed=1,
                                                         max_oracle_calls=8, codes=cryspai_codes, prior="ase:chgnet",
                                                         overrides={**TINY, "screening_per_system": 1,
                                                                    "screening": {"max_steps": 60},
                                                                    "templates": {"source": "prototypes"}})
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    # screening: 1 per crystal system and the library's Cu4 structures on the prior, none of them an oracle call;
    # the first batch is its best 7
    population = node.base.links.get_outgoing(link_label_filter="population").one().node
    templates = population.base.links.get_outgoing(link_label_filter="template_structures").one().node
    known = [link.node for link in templates.base.links.get_outgoing().all() if link.link_label.startswith("known_")]
    assert len(known) > 10
    screening = population.base.links.get_outgoing(link_label_filter="screening").one().node
    assert screening.inputs.engine.value == "ase:chgnet"
    # the screening's own thresholds: its steps as set, its fmax the protocol's (fast: looser than the oracle's)
    assert screening.inputs.parameters["max_steps"] == 60
    assert screening.inputs.parameters["fmax"] == node.inputs.parameters["screening"]["fmax"] == 0.1
    assert node.inputs.parameters["oracle"]["fmax"] < 0.1
    assert len(screening.inputs.structures) == 7 + len(known)
    # `cryspai show` reports the screening as its outputs hold it: every structure relaxed, the lowest that passed
    from aiida_cryspai.cli.status import screening_progress
    from aiida_cryspai.workchains.oracle import oracle_outputs

    results = {k: v for group in oracle_outputs(screening, "results").values() for k, v in group.get_dict().items()}
    shown = screening_progress(screening)
    assert shown["screening_relaxed"] == f"{len(results)} of {len(screening.inputs.structures)}"
    passed = [info["energy_per_atom"] for info in results.values() if info["status"] == "ok"]
    assert shown["screening_lowest_energy_per_atom"] == round(min(passed), 4)
    origins = [c["origin"] for c in node.outputs.summary["candidates"]]
    assert all(o.startswith(("prototype ", "random (space group ", "GA generation ")) for o in origins), origins
    ranking = population.base.links.get_outgoing(link_label_filter="screening_ranking").one().node
    first = node.base.links.get_outgoing(link_label_filter="oracle_01").one().node
    chosen = {link.node.uuid for link in ranking.base.links.get_outgoing().all() if link.link_label.startswith("rank_")}
    assert {s.uuid for s in first.inputs.structures.values()} <= chosen and len(first.inputs.structures) >= 1
    assert node.outputs.summary["oracle"]["relaxations"] <= 8
    prior = node.inputs.prior.get_dict()
    assert prior["name"] == "chgnet" and len(prior["checkpoint_sha256"]) == 64
    assert node.outputs.summary["prior"] == prior
    labelled = [n for n in node.called_descendants
                if isinstance(n, CalcFunctionNode) and n.process_label == "label_frames"]
    assert labelled
    dataset = node.outputs.dataset.to_arrays()
    assert dataset["prior_energies"].shape == dataset["energies"].shape
    assert np.isfinite(dataset["prior_energies"]).all() and np.isfinite(dataset["prior_forces"]).all()
    # CHGNet and EMT have different zeros: the correction carries the whole offset, the surrogate the oracle's
    trainings = [n for n in node.called_descendants if n.process_label == "TrainCalculation"]
    assert trainings and all(t.inputs.prior.uuid == node.inputs.prior.uuid for t in trainings)
    model = node.outputs.model.load_model()
    assert model.prior == prior
    from aiida_cryspai.ml.prior import predicted_energies

    errors = (predicted_energies(model, dataset) - dataset["energies"]) / dataset["n_atoms"]
    prior_errors = (dataset["prior_energies"] - dataset["energies"]) / dataset["n_atoms"]
    assert np.sqrt(np.mean(prior_errors**2)) > 1.0  # eV/atom: CHGNet and EMT have different zeros
    # on relaxations held out of its training, the surrogate (prior + correction) is within 50 meV/atom of EMT
    metrics = trainings[-1].outputs.metrics.get_dict()
    assert metrics["n_validation"] > 0 and metrics["rmse_validation_mev_per_atom"] < 50.0, metrics
    assert np.sqrt(np.mean(errors**2)) < 0.05


@pytest.mark.parametrize("engine, prior, words", [
    ("ase:emt", "ase:emt", "oracle's own model"),
    ("ase:chgnet", "ase:chgnet", "oracle's own model"),
    ("ase:emt", "ase:mace", "unknown prior"),
])
def test_unusable_priors_are_refused(aiida_profile, cryspai_codes, engine, prior, words):
    from aiida_cryspai.workchains.request import InputError

    try:
        builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine=engine, codes=cryspai_codes, prior=prior)
    except InputError as error:  # an unknown prior cannot even be recorded
        assert error.label == "ERROR_INVALID_PRIOR" and words in str(error)
        return
    _, node = run_get_node(builder)
    assert node.exit_status == 207 and words in node.exit_message
    assert node.called == []


def test_a_pressure_on_a_fixed_cell_is_refused(aiida_profile, cryspai_codes):
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", codes=cryspai_codes, pressure=10.0,
                                                         overrides={"oracle": {"relax_cell": False}})
    _, node = run_get_node(builder)
    assert node.exit_status == 209 and "relax_cell" in node.exit_message
    assert node.called == []


@pytest.fixture(scope="module")
def cu4_under_pressure(aiida_profile):
    from aiida_cryspai.cli.profile import ensure_codes, ensure_computer

    codes = ensure_codes(ensure_computer())
    # from random structures alone (the library would hand it fcc): the scan of random structures, relaxed at 60 GPa
    overrides = {**TINY, "volume_method": "scan", "refine": {"n_candidates": 1}}
    builder = CrySPAIWorkChain.get_builder_from_protocol("Cu4", engine="ase:emt", protocol="fast", seed=2,
                                                         max_oracle_calls=10, overrides=overrides, codes=codes,
                                                         pressure=PRESSURE)
    _, node = run_get_node(builder)
    return node


PRESSURE = 60.0  # GPa


def test_a_search_under_pressure_ranks_by_the_oracles_enthalpy(cu4_under_pressure, emt):
    """Cu4 with EMT at 60 GPa: the scan puts the search volume at the enthalpy minimum (well below 0 GPa's), every
    oracle relaxation runs under the pressure, and rank 1's enthalpy is the lowest the oracle gives the close-packed
    and bcc phases relaxed directly at 60 GPa; results carry E, H = E + PV and V per atom."""
    from ase.units import GPa

    from aiida_cryspai.ml.enthalpy import relax_phases

    node = cu4_under_pressure
    assert node.is_finished_ok, node.exit_message
    summary = node.outputs.summary.get_dict()
    assert summary["pressure_gpa"] == PRESSURE and node.inputs.pressure.value == PRESSURE
    phases = {"fcc": bulk("Cu", "fcc", a=3.6, cubic=True), "hcp": bulk("Cu", "hcp", a=2.55, c=4.16).repeat((1, 1, 2)),
              "bcc": bulk("Cu", "bcc", a=2.87).repeat((2, 1, 1))}
    truth = {p.name: p for p in relax_phases(phases, emt, [PRESSURE], fmax=0.002)}
    lowest = min(p.enthalpy_per_atom for p in truth.values())
    candidates = summary["candidates"]
    best = candidates[0]
    assert best["enthalpy_per_atom"] == pytest.approx(lowest, abs=2e-3)
    assert best["volume_per_atom"] == pytest.approx(truth["fcc"].volume_per_atom, rel=0.01)
    for c in candidates:  # the bookkeeping: H = E + PV per atom, to 0.1 meV/atom
        assert abs(c["enthalpy_per_atom"] - c["energy_per_atom"] - PRESSURE * GPa * c["volume_per_atom"]) < 1e-4
    enthalpies = [c["enthalpy_per_atom"] for c in candidates]
    assert enthalpies == sorted(enthalpies)
    # the starting volume came from the scan at 60 GPa: near the compressed fcc volume, far below 0 GPa's 11.6
    assert summary["volume"]["method"] == "scan"
    assert summary["volume"]["estimated"] / 4 == pytest.approx(truth["fcc"].volume_per_atom, rel=0.05)
    oracles = [n for n in node.called if n.process_label == "OracleWorkChain"]
    assert oracles and all(o.inputs.parameters["pressure_gpa"] == PRESSURE for o in oracles)
    evolves = [n for n in node.called_descendants if n.process_label == "EvolveCalculation"]
    assert evolves and all(e.inputs.parameters["objective"]["pressure_gpa"] == PRESSURE for e in evolves)

"""Each handler of ``AbinitRelaxWorkChain`` on a generated calculation node (no Abinit run): what it changes,
by the factors in ``AbinitRelaxWorkChain.defaults``, and when it gives up. The real runs that trigger the SCF and
symmetry handlers are in ``test_oracle_abinit.py``."""

import shutil

import pytest
from ase.build import bulk

pytestmark = pytest.mark.skipif(shutil.which("abinit") is None, reason="Debian's abinit is not installed")

LOG = "aiida.abo"


@pytest.fixture
def generate_workchain(abinit_code):
    """An instantiated, set-up AbinitRelaxWorkChain for Si2 with the given Abinit ``parameters``."""
    from aiida import orm
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager

    from aiida_cryspai.engines.abinit import AbinitEngine
    from aiida_cryspai.workchains.abinit_relax import AbinitRelaxWorkChain

    def _generate(**parameters):
        settings = {"dft_protocol": "fast", "abinit": {"parameters": parameters}}
        inputs = AbinitEngine().get_inputs({"s": orm.StructureData(ase=bulk("Si", "diamond", a=5.43))}, settings,
                                           abinit_code, {})
        process = instantiate_process(get_manager().get_runner(), AbinitRelaxWorkChain, **inputs)
        process.setup()
        return process

    return _generate


@pytest.fixture
def generate_calculation(abinit_code):
    """A finished cryspai.abinit calculation node with ``exit_code``, Abinit's log ``log`` and, optionally, the
    last structure it reached."""
    from aiida import orm
    from aiida.common.links import LinkType
    from plumpy import ProcessState

    def _generate(exit_code, log: str = "", last_structure=None):
        node = orm.CalcJobNode(computer=abinit_code.computer, process_type="aiida.calculations:cryspai.abinit")
        node.base.attributes.set("output_filename", LOG)
        node.store()
        retrieved = orm.FolderData()
        retrieved.base.repository.put_object_from_bytes(log.encode(), LOG)
        retrieved.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label="retrieved")
        retrieved.store()
        if last_structure is not None:
            structure = orm.StructureData(ase=last_structure)
            structure.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label="output_structure")
            structure.store()
        node.set_process_state(ProcessState.FINISHED)
        node.set_exit_status(exit_code.status)
        return node

    return _generate


def _exit_code(label: str):
    from aiida_cryspai.calculations.abinit import CryspaiAbinitCalculation

    return getattr(CryspaiAbinitCalculation.exit_codes, label)


def _moved() -> object:
    atoms = bulk("Si", "diamond", a=5.50)
    atoms.positions[1] += [0.05, 0.0, 0.0]
    return atoms


def test_scf_not_converged_gets_more_steps_and_gentler_mixing(generate_workchain, generate_calculation):
    process = generate_workchain(nstep=12, diemix=0.8)
    defaults = process.defaults
    report = process.handle_scf_not_converged(generate_calculation(_exit_code("ERROR_SCF_CONVERGENCE_NOT_REACHED"),
                                                                   last_structure=_moved()))
    assert report.do_break and (report.exit_code is None or report.exit_code.status == 0)
    parameters = process.ctx.inputs.parameters.get_dict()
    assert parameters["nstep"] == defaults.nstep_factor * 12
    assert parameters["diemix"] == pytest.approx(defaults.diemix_factor * 0.8)
    assert process.ctx.inputs.structure.get_cell_volume() == pytest.approx(_moved().get_volume())


def test_scf_without_explicit_steps_starts_from_abinits_default(generate_workchain, generate_calculation):
    from aiida import orm

    process = generate_workchain()
    parameters = process.ctx.inputs.parameters.get_dict()
    parameters.pop("nstep", None)
    process.ctx.inputs.parameters = orm.Dict(parameters)
    process.handle_scf_not_converged(generate_calculation(_exit_code("ERROR_SCF_CONVERGENCE_NOT_REACHED")))
    assert process.ctx.inputs.parameters["nstep"] == process.defaults.nstep_factor * process.defaults.nstep


@pytest.mark.parametrize("handler, label", [
    ("handle_out_of_walltime", "ERROR_OUT_OF_WALLTIME"),
    ("handle_relaxation_not_converged", "ERROR_GEOMETRY_CONVERGENCE_NOT_REACHED"),
])
def test_unfinished_relaxations_go_on_from_their_last_structure(generate_workchain, generate_calculation, handler,
                                                                label):
    process = generate_workchain()
    before = process.ctx.inputs.parameters.get_dict()
    report = getattr(process, handler)(generate_calculation(_exit_code(label), last_structure=_moved()))
    assert report.do_break and (report.exit_code is None or report.exit_code.status == 0)
    assert process.ctx.inputs.structure.get_cell_volume() == pytest.approx(_moved().get_volume())
    assert process.ctx.inputs.parameters.get_dict() == before


def test_group_closure_tries_each_symmetry_tolerance_then_gives_up(generate_workchain, generate_calculation):
    """From Abinit's default 1e-5: first 1e-3 (find the whole group, symmetrise), then 1e-8 (exact symmetries only),
    then stop."""
    process = generate_workchain()
    error = _exit_code("ERROR_OUTPUT_CONTAINS_ERRORS")
    log = "--- !ERROR\nmessage: |\n    Error in group closure\n"
    seen = []
    for _ in process.defaults.symmetry_tolerances:
        report = process.handle_abinit_error(generate_calculation(error, log))
        assert report.exit_code is None or report.exit_code.status == 0
        seen.append(process.ctx.inputs.parameters["tolsym"])
    assert seen == list(process.defaults.symmetry_tolerances)
    report = process.handle_abinit_error(generate_calculation(error, log))
    assert report.exit_code.status == process.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status


def test_a_cell_that_moved_too_far_restarts_with_gentler_cell_steps(generate_workchain, generate_calculation):
    process = generate_workchain(strprecon=0.8)
    report = process.handle_abinit_error(generate_calculation(
        _exit_code("ERROR_OUTPUT_CONTAINS_ERRORS"),
        "--- !ERROR\nmessage: |\n    Dilatmx has been exceeded too many times\n", last_structure=_moved()))
    assert report.exit_code is None or report.exit_code.status == 0
    assert process.ctx.inputs.parameters["strprecon"] == pytest.approx(process.defaults.strprecon_factor * 0.8)
    assert process.ctx.inputs.structure.get_cell_volume() == pytest.approx(_moved().get_volume())


def test_any_other_abinit_error_stops_the_work_chain(generate_workchain, generate_calculation):
    process = generate_workchain()
    report = process.handle_abinit_error(generate_calculation(
        _exit_code("ERROR_OUTPUT_CONTAINS_ERRORS"), "--- !ERROR\nmessage: |\n    chkprim: the cell is not primitive\n"))
    assert report.exit_code.status == process.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status == 300

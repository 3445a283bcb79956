"""``cryspai.abinit.relax``: one Abinit relaxation, restarted when the SCF, the walltime or the ionic loop run out.

A BaseRestartWorkChain around ``cryspai.abinit`` (aiida-abinit's AbinitCalculation, fixed): like
aiida-quantumespresso's PwBaseWorkChain, each handler says what it changes and the next calculation starts from
the last structure the previous one reached.
"""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_

from ..engines.abinit_plugin import CryspaiAbinitCalculation


class AbinitRelaxWorkChain(BaseRestartWorkChain):
    """Relax one structure with Abinit; restart on SCF non-convergence (more steps, gentler mixing), walltime and
    ionic non-convergence (from the last structure)."""

    _process_class = CryspaiAbinitCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(CryspaiAbinitCalculation, namespace="abinit")
        spec.expose_outputs(CryspaiAbinitCalculation)
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(
                cls.run_process,
                cls.inspect_process,
            ),
            cls.results,
        )
        spec.exit_code(300, "ERROR_UNRECOVERABLE_FAILURE",
                       message="The calculation failed with an error no handler can fix.")

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(CryspaiAbinitCalculation, "abinit"))

    def _restart_from_last_structure(self, calculation) -> None:
        if "output_structure" in calculation.outputs:
            self.ctx.inputs.structure = calculation.outputs.output_structure

    def _update_parameters(self, **changes) -> None:
        parameters = self.ctx.inputs.parameters.get_dict()
        parameters.update(changes)
        self.ctx.inputs.parameters = orm.Dict(parameters)

    @process_handler(priority=600, exit_codes=CryspaiAbinitCalculation.exit_codes.ERROR_OUTPUT_CONTAINS_ERRORS)
    def handle_abinit_error(self, calculation):
        """An ERROR event from Abinit (bad input, unphysical structure): not fixable, stop."""
        self.report(f"{calculation.process_label}<{calculation.pk}> stopped with an Abinit error; no restart")
        return ProcessHandlerReport(True, self.exit_codes.ERROR_UNRECOVERABLE_FAILURE)

    @process_handler(priority=580, exit_codes=CryspaiAbinitCalculation.exit_codes.ERROR_OUT_OF_WALLTIME)
    def handle_out_of_walltime(self, calculation):
        """Out of walltime: go on from the last structure."""
        self._restart_from_last_structure(calculation)
        self.report(f"{calculation.process_label}<{calculation.pk}> ran out of walltime; restarting from its last "
                    "structure")
        return ProcessHandlerReport(True)

    @process_handler(priority=560, exit_codes=CryspaiAbinitCalculation.exit_codes.ERROR_SCF_CONVERGENCE_NOT_REACHED)
    def handle_scf_not_converged(self, calculation):
        """SCF not converged: twice the steps, and gentler density mixing."""
        parameters = self.ctx.inputs.parameters.get_dict()
        nstep = 2 * int(parameters.get("nstep", 30))
        diemix = 0.5 * float(parameters.get("diemix", 1.0))
        self._update_parameters(nstep=nstep, diemix=diemix)
        self._restart_from_last_structure(calculation)
        self.report(f"{calculation.process_label}<{calculation.pk}> SCF not converged; restarting with nstep {nstep},"
                    f" diemix {diemix}")
        return ProcessHandlerReport(True)

    @process_handler(priority=540,
                     exit_codes=CryspaiAbinitCalculation.exit_codes.ERROR_GEOMETRY_CONVERGENCE_NOT_REACHED)
    def handle_relaxation_not_converged(self, calculation):
        """Ionic loop out of steps: go on from the last structure."""
        self._restart_from_last_structure(calculation)
        self.report(f"{calculation.process_label}<{calculation.pk}> relaxation not converged; restarting from its "
                    "last structure")
        return ProcessHandlerReport(True)

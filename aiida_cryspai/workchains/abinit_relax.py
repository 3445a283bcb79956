"""``cryspai.abinit.relax``: one Abinit relaxation, restarted when the SCF, the walltime or the ionic loop run out.

A BaseRestartWorkChain around ``cryspai.abinit`` (aiida-abinit's AbinitCalculation, fixed): like
aiida-quantumespresso's PwBaseWorkChain, each handler says what it changes and the next calculation starts from
the last structure the previous one reached.
"""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_

from ..calculations.abinit import CryspaiAbinitCalculation

SYMMETRY_TOLERANCES = (1.0e-3, 1.0e-8)  # tolsym tried, in order, after an "Error in group closure"


class AbinitRelaxWorkChain(BaseRestartWorkChain):
    """Relax one structure with Abinit; restart on SCF non-convergence (more steps, gentler mixing), walltime and
    ionic non-convergence (from the last structure)."""

    _process_class = CryspaiAbinitCalculation
    # what the handlers change, as aiida-quantumespresso's PwBaseWorkChain keeps its factors
    defaults = AttributeDict({
        "nstep": 30,  # Abinit's default number of SCF steps
        "nstep_factor": 2,  # SCF not converged: this many times more steps
        "diemix_factor": 0.5,  # ... and gentler density mixing
        "strprecon_factor": 0.5,  # the cell moved too far: gentler cell steps
        "tolsym": 1.0e-5,  # Abinit's default symmetry tolerance
        "symmetry_tolerances": SYMMETRY_TOLERANCES,
    })

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
        """An ERROR event from Abinit. Symmetries that do not close into a group restart with another ``tolsym``;
        a cell that grew past ``dilatmx`` or moved too far (negative triple product)
        during the relaxation restarts from its last structure (with gentler cell steps); any other error (bad
        input, a cell Abinit refuses) is not fixable: stop."""
        log = _stdout(calculation)
        tolerances = self.defaults.symmetry_tolerances
        tolsym = float(self.ctx.inputs.parameters.get_dict().get("tolsym", self.defaults.tolsym))
        untried = tolerances[tolerances.index(tolsym) + 1:] if tolsym in tolerances else tolerances
        if "Error in group closure" in log and untried:
            # symmetry operations found within tolsym that do not form a group: a structure a little off a
            # symmetric one (a CHGNet-relaxed cell, say). Find the whole group and let Abinit symmetrize the
            # structure (tolsym 1e-3); failing that, use exact symmetries only.
            tolsym = untried[0]
            self._update_parameters(tolsym=tolsym)
            self.report(f"{calculation.process_label}<{calculation.pk}>: symmetry operations do not form a group; "
                        f"restarting with tolsym {tolsym}")
            return ProcessHandlerReport(True)
        if "output_structure" in calculation.outputs and ("Dilatmx has been exceeded" in log
                                                          or "negative (R1 x R2)" in log):
            parameters = self.ctx.inputs.parameters.get_dict()
            strprecon = self.defaults.strprecon_factor * float(parameters.get("strprecon", 1.0))
            self._update_parameters(strprecon=strprecon)
            self._restart_from_last_structure(calculation)
            self.report(f"{calculation.process_label}<{calculation.pk}>: the cell moved too far; restarting from "
                        f"its last structure with strprecon {strprecon}")
            return ProcessHandlerReport(True)
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
        nstep = self.defaults.nstep_factor * int(parameters.get("nstep", self.defaults.nstep))
        diemix = self.defaults.diemix_factor * float(parameters.get("diemix", 1.0))
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


def _stdout(calculation) -> str:
    """Abinit's log (the calculation's stdout), or '' when it was not retrieved."""
    try:
        name = calculation.base.attributes.get("output_filename")
        return calculation.outputs.retrieved.base.repository.get_object_content(name)
    except Exception:  # noqa: BLE001 - no retrieved folder or no file: nothing to read
        return ""

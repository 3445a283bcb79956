"""What the three script CalcJobs share: a ``parameters`` Dict written as JSON, a thread count, the codeinfo."""

from __future__ import annotations

import json

from aiida.common import CalcInfo, CodeInfo
from aiida.engine import CalcJob
from aiida.orm import Dict

from ..executables import files


def _check_device(value, _=None) -> str | None:
    from ..ml.device import DEVICES

    return None if value in DEVICES else f"unknown device {value!r}; choose one of {', '.join(DEVICES)}"


class ScriptCalculation(CalcJob):
    """A CalcJob that runs one ``cryspai-*`` console script in its folder."""

    _retrieve: tuple[str, ...] = ()

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("parameters", valid_type=Dict, help="Settings of the script, written to parameters.json.")
        spec.input("metadata.options.threads", valid_type=int, default=1,
                   help="Threads for torch/BLAS; several jobs share a machine, so keep it at the cores given.")
        spec.input("metadata.options.device", valid_type=str, default="auto", validator=_check_device,
                   help="Where the script's models compute: auto (a GPU where the computer has one), cpu or cuda.")
        spec.input("metadata.options.memory_gb", valid_type=float, required=False,
                   help="Most memory (GB) the script may use; beyond it a relaxation stops with status 'memory'.")
        spec.inputs["metadata"]["options"]["resources"].default = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        spec.inputs["metadata"]["options"]["withmpi"].default = False
        spec.inputs["metadata"]["options"]["output_filename"].default = "aiida.out"
        spec.output("versions", valid_type=Dict, required=False,
                    help="Python and package versions on the computer that ran the script.")
        spec.exit_code(300, "ERROR_MISSING_OUTPUT", message="The script did not write {filename}.")
        spec.exit_code(301, "ERROR_READING_OUTPUT", message="The output {filename} could not be read: {error}.")

    def write_parameters(self, folder, extra: dict | None = None) -> None:
        parameters = self.inputs.parameters.get_dict()
        parameters["threads"] = self.inputs.metadata.options.threads
        parameters["device"] = self.inputs.metadata.options.device
        memory = self.inputs.metadata.options.get("memory_gb")
        if memory:  # the script bounds its own memory (a direct scheduler cannot)
            parameters["max_memory_kb"] = int(memory * 1024**2)
        parameters.update(extra or {})
        with folder.open(files.PARAMETERS, "w") as handle:
            json.dump(parameters, handle, indent=1)

    def make_calcinfo(self, local_copy_list=None) -> CalcInfo:
        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.stdout_name = self.inputs.metadata.options.output_filename
        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.local_copy_list = local_copy_list or []
        calcinfo.retrieve_list = [self.inputs.metadata.options.output_filename, files.VERSIONS, *self._retrieve]
        return calcinfo

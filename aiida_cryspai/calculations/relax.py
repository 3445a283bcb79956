"""``cryspai.relax``: relax a batch of structures with an ASE calculator (``cryspai-relax``)."""

from __future__ import annotations

import io

from aiida.orm import Dict, Float, StructureData

from ..data.dataset import DatasetData
from ..data.model import ModelData
from ..executables import files
from .base import ScriptCalculation


class RelaxCalculation(ScriptCalculation):
    """Relaxes every structure of ``structures`` (FIRE, cell filter) and returns each one's result."""

    _retrieve = (files.RELAXED, files.RESULTS, files.FRAMES)

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace("structures", valid_type=StructureData, dynamic=True,
                             help="The structures to relax; their keys name the results.")
        spec.input("model", valid_type=ModelData, required=False,
                   help="A trained network, for the calculator 'network'.")
        spec.inputs["metadata"]["options"]["parser_name"].default = "cryspai.relax"
        spec.output_namespace("relaxed_structures", valid_type=StructureData, dynamic=True,
                              help="Final structure of every relaxation, also the abandoned ones.")
        spec.output_namespace("energies", valid_type=Float, dynamic=True,
                              help="Total energy (eV) of every relaxation that ended well.")
        spec.output("results", valid_type=Dict, help="Per key: status, reason, energy, steps, volume, wall time.")
        spec.output("frames", valid_type=DatasetData, help="Every frame visited by the good relaxations.")

    def prepare_for_submission(self, folder):
        from ase.io import write

        frames = []
        for key, structure in self.inputs.structures.items():
            atoms = structure.get_ase()
            atoms.info = {"key": key}
            frames.append(atoms)
        buffer = io.StringIO()
        write(buffer, frames, format="extxyz")
        with folder.open(files.STRUCTURES, "w") as handle:
            handle.write(buffer.getvalue())
        local_copy_list = []
        extra = {}
        if "model" in self.inputs:
            model = self.inputs.model
            local_copy_list.append((model.uuid, model.filename, files.MODEL))
            extra["model"] = files.MODEL
        self.write_parameters(folder, extra)
        return self.make_calcinfo(local_copy_list)

"""``cryspai.evolve``: the GA of one crystal system on a trained network (``cryspai-evolve``)."""

from __future__ import annotations

import io

from aiida.orm import Dict, StructureData

from ..data.model import ModelData
from ..executables import files
from .base import ScriptCalculation


class EvolveCalculation(ScriptCalculation):
    """Runs the GA of ``parameters['crystal_system']`` and returns the recommended structures."""

    _retrieve = (files.RECOMMENDED, files.EVOLVE)

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("model", valid_type=ModelData, help="The network used for local optimisation.")
        spec.input_namespace("initial_structures", valid_type=StructureData, dynamic=True, required=False,
                             help="Structures that join the first trial set (e.g. the best oracle results).")
        spec.inputs["metadata"]["options"]["parser_name"].default = "cryspai.evolve"
        spec.output_namespace("structures", valid_type=StructureData, dynamic=True,
                              help="Recommended structures, lowest predicted energy first.")
        spec.output("predicted_energies", valid_type=Dict,
                    help="Per key: predicted energy per atom (eV), origin, generation.")
        spec.output("summary", valid_type=Dict, help="Best energy per generation, counts, wall time.")

    def prepare_for_submission(self, folder):
        from ase.io import write

        initial = [s.get_ase() for s in self.inputs.get("initial_structures", {}).values()]
        if initial:
            buffer = io.StringIO()
            write(buffer, initial, format="extxyz")
            with folder.open(files.INITIAL, "w") as handle:
                handle.write(buffer.getvalue())
        self.write_parameters(folder)
        model = self.inputs.model
        return self.make_calcinfo([(model.uuid, model.filename, files.MODEL)])

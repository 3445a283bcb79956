"""``cryspai.evolve``: the GA of one or more crystal systems on a trained network (``cryspai-evolve``)."""

from __future__ import annotations

import io

from aiida.orm import Dict, StructureData

from ..data.model import ModelData
from ..executables import files
from .base import ScriptCalculation


class EvolveCalculation(ScriptCalculation):
    """Runs the GAs of ``parameters['crystal_systems']`` (or of one ``crystal_system``), their generations relaxed
    in one batch, and returns the recommended structures: keys ``c<n>``, or ``<system>_c<n>`` for several systems."""

    _retrieve = (files.RECOMMENDED, files.EVOLVE)

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("model", valid_type=ModelData, help="The network used for local optimisation.")
        spec.input_namespace("initial_structures", valid_type=StructureData, dynamic=True, required=False,
                             help="Structures that join the first trial set (e.g. the best oracle results); "
                                  "with several systems, keys <system>_<n>.")
        spec.inputs["metadata"]["options"]["parser_name"].default = "cryspai.evolve"
        spec.output_namespace("structures", valid_type=StructureData, dynamic=True,
                              help="Recommended structures, lowest predicted energy first.")
        spec.output("predicted_energies", valid_type=Dict,
                    help="Per key: crystal system, predicted energy per atom (eV), spread, origin, generation.")
        spec.output("summary", valid_type=Dict, help="Per crystal system: best objective per generation, counts, "
                                                     "wall time.")

    def prepare_for_submission(self, folder):
        from ase.io import write

        from ..analysis.crystal_systems import CRYSTAL_SYSTEMS

        one = self.inputs.parameters.get("crystal_system")
        initial = []
        for key, structure in sorted(self.inputs.get("initial_structures", {}).items()):
            atoms = structure.get_ase()
            system = key.split("_", 1)[0]
            atoms.info["crystal_system"] = system if one is None and system in CRYSTAL_SYSTEMS else one
            initial.append(atoms)
        if initial:
            buffer = io.StringIO()
            write(buffer, initial, format="extxyz")
            with folder.open(files.INITIAL, "w") as handle:
                handle.write(buffer.getvalue())
        self.write_parameters(folder)
        model = self.inputs.model
        return self.make_calcinfo([(model.uuid, model.filename, files.MODEL)])

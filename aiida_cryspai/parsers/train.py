"""Parser of ``cryspai.train``: the model file as a ``ModelData`` and the metrics."""

from __future__ import annotations

import io

from aiida.orm import Dict

from ..data.model import ModelData
from ..executables import files
from .base import ScriptParser


class TrainParser(ScriptParser):
    def parse_outputs(self):
        metrics = self.read_json(files.METRICS)
        content = self.read_bytes(files.MODEL)
        model = ModelData(io.BytesIO(content), filename=files.MODEL)
        parameters = self.node.inputs.parameters.get_dict()
        model.set_metadata(parameters["descriptor"], parameters.get("training", {}), metrics)
        self.out("model", model)
        self.out("metrics", Dict(metrics))

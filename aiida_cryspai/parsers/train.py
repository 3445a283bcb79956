"""Parser of ``cryspai.train``: the model file as a ``ModelData`` and the metrics."""

from __future__ import annotations

import io

from aiida.orm import Dict

from ..data.model import ModelData
from .base import ScriptParser


class TrainParser(ScriptParser):
    def parse_outputs(self):
        metrics = self.read_json("metrics.json")
        content = self.read_bytes("model.pt")
        model = ModelData(io.BytesIO(content), filename="model.pt")
        parameters = self.node.inputs.parameters.get_dict()
        model.set_metadata(parameters["descriptor"], parameters.get("training", {}), metrics)
        self.out("model", model)
        self.out("metrics", Dict(metrics))

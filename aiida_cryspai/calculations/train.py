"""``cryspai.train``: train the atomic-energy network on a dataset version (``cryspai-train``)."""

from __future__ import annotations

import io

import numpy as np
from aiida.orm import Dict

from ..data.dataset import DatasetData
from ..data.model import ModelData
from ..executables import files
from .base import ScriptCalculation


class TrainCalculation(ScriptCalculation):
    """Trains a new model on ``dataset`` with the ``descriptor`` and ``training`` settings of ``parameters``."""

    _retrieve = (files.MODEL, files.METRICS)

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("dataset", valid_type=DatasetData, help="The training set.")
        spec.input("prior", valid_type=Dict, required=False,
                   help="The universal potential (name, version, checkpoint_sha256) whose correction the network "
                        "learns; absent: the network alone.")
        spec.input("start_model", valid_type=ModelData, required=False,
                   help="The previous network: training starts from its weights (a warm start) where they fit.")
        spec.inputs["metadata"]["options"]["parser_name"].default = "cryspai.train"
        spec.output("model", valid_type=ModelData, help="The trained network.")
        spec.output("metrics", valid_type=Dict, help="RMSE (train, validation) in meV/atom, sizes, epochs.")

    def prepare_for_submission(self, folder):
        buffer = io.BytesIO()
        np.savez(buffer, **self.inputs.dataset.to_arrays())
        with folder.open(files.DATASET, "wb") as handle:
            handle.write(buffer.getvalue())
        self.write_parameters(folder, {"prior": self.inputs.prior["name"]} if "prior" in self.inputs else None)
        start = self.inputs.get("start_model")
        return self.make_calcinfo([(start.uuid, start.filename, files.START_MODEL)] if start else None)

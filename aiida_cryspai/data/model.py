"""``cryspai.model``: one trained atomic-energy network (a torch file) with its settings and metrics."""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiida.orm import SinglefileData


class ModelData(SinglefileData):
    """The ``model.pt`` file written by ``cryspai-train``; descriptor settings and metrics as attributes."""

    def set_metadata(self, descriptor: dict, training: dict, metrics: dict) -> None:
        self.base.attributes.set("descriptor", descriptor)
        self.base.attributes.set("training", training)
        self.base.attributes.set("metrics", metrics)
        self.base.attributes.set("species", list(descriptor.get("species", [])))

    @property
    def metrics(self) -> dict:
        return self.base.attributes.get("metrics", {})

    @property
    def rmse_mev_per_atom(self) -> float | None:
        return self.metrics.get("rmse_validation_mev_per_atom")

    def load_model(self):
        """The :class:`~aiida_cryspai.ml.network.EnsembleModel` stored in this node (one or more networks)."""
        from ..ml.network import load_potential

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.pt"
            path.write_bytes(self.get_content(mode="rb"))
            return load_potential(path)

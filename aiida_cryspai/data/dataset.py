"""``cryspai.dataset``: one version of the training set, as arrays (see :mod:`aiida_cryspai.ml.dataset`)."""

from __future__ import annotations

import numpy as np
from aiida.orm import ArrayData

from ..ml.dataset import ARRAY_NAMES, empty_arrays


class DatasetData(ArrayData):
    """Frames (cells, positions, species, energies, forces, stress), their trajectory groups and sources."""

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> DatasetData:
        node = cls()
        for name in ARRAY_NAMES:
            node.set_array(name, np.asarray(arrays[name]))
        node.base.attributes.set("n_frames", int(len(arrays["energies"])))
        node.base.attributes.set("n_groups", int(len(np.unique(arrays["groups"]))))
        node.base.attributes.set("species", sorted({int(z) for z in np.unique(arrays["numbers"])}))
        return node

    @classmethod
    def empty(cls) -> DatasetData:
        return cls.from_arrays(empty_arrays())

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: self.get_array(name) for name in ARRAY_NAMES}

    @property
    def n_frames(self) -> int:
        return int(self.base.attributes.get("n_frames"))

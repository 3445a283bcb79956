"""``cryspai.dataset``: one version of the training set, as arrays (see :mod:`aiida_cryspai.ml.dataset`)."""

from __future__ import annotations

import numpy as np
from aiida.orm import ArrayData

from ..ml.dataset import array_names, empty_arrays


class DatasetData(ArrayData):
    """Frames (cells, positions, species, energies, forces, stress), their trajectory groups and sources, and
    any optional arrays (``ml.dataset.OPTIONAL_ARRAYS``, e.g. a prior's energies and forces)."""

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> DatasetData:
        node = cls()
        for name in array_names(arrays):
            node.set_array(name, np.asarray(arrays[name]))
        node.base.attributes.set("n_frames", int(len(arrays["energies"])))
        node.base.attributes.set("n_groups", int(len(np.unique(arrays["groups"]))))
        node.base.attributes.set("species", sorted({int(z) for z in np.unique(arrays["numbers"])}))
        return node

    @classmethod
    def empty(cls) -> DatasetData:
        return cls.from_arrays(empty_arrays())

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: self.get_array(name) for name in array_names(dict.fromkeys(self.get_arraynames()))}

    @property
    def optional_arrays(self) -> list[str]:
        """The optional arrays this dataset carries."""
        return array_names(dict.fromkeys(self.get_arraynames()))[len(empty_arrays()):]

    @property
    def n_frames(self) -> int:
        return int(self.base.attributes.get("n_frames"))

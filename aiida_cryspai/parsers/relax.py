"""Parser of ``cryspai.relax``: relaxed structures, energies, per-structure results, frames."""

from __future__ import annotations

import io

import numpy as np
from aiida.orm import Dict, Float, StructureData

from ..data.dataset import DatasetData
from ..executables import files
from ..ml.dataset import array_names
from .base import ParsingFailed, ScriptParser


class RelaxParser(ScriptParser):
    def parse_outputs(self):
        results = self.read_json(files.RESULTS)
        relaxed = self.read_extxyz(files.RELAXED)
        try:
            with np.load(io.BytesIO(self.read_bytes(files.FRAMES)), allow_pickle=False) as data:
                arrays = {name: data[name] for name in array_names(dict.fromkeys(data.files))}
        except (ValueError, KeyError, OSError) as error:
            raise ParsingFailed(
                self.exit_codes.ERROR_READING_OUTPUT.format(filename=files.FRAMES, error=error)
            ) from None
        # name the source of every frame: this calculation and the structure's key
        arrays["sources"] = np.asarray([f"{self.node.uuid}/{key}" for key in arrays["sources"]], dtype="<U80")
        for atoms in relaxed:
            key = atoms.info["key"]
            atoms.info = {}
            self.out(f"relaxed_structures.{key}", StructureData(ase=atoms))
            energy = results[key]["energy"]
            if results[key]["status"] == "ok" and energy is not None:
                self.out(f"energies.{key}", Float(energy))
        self.out("results", Dict(results))
        self.out("frames", DatasetData.from_arrays(arrays))

"""Parser of ``cryspai.evolve``: recommended structures with their predicted energies."""

from __future__ import annotations

from aiida.orm import Dict, StructureData

from ..executables import files
from .base import ScriptParser


class EvolveParser(ScriptParser):
    def parse_outputs(self):
        summary = self.read_json(files.EVOLVE)
        predicted = {}
        for index, atoms in enumerate(self.read_extxyz(files.RECOMMENDED)):
            key = f"c{index:03d}"
            predicted[key] = {
                "energy_per_atom": float(atoms.info["predicted_energy_per_atom"]),
                "spread_per_atom": float(atoms.info.get("spread_per_atom", 0.0)),
                "origin": str(atoms.info.get("origin", "")),
                "generation": int(atoms.info.get("generation", 0)),
            }
            atoms.info = {}
            self.out(f"structures.{key}", StructureData(ase=atoms))
        self.out("predicted_energies", Dict(predicted))
        self.out("summary", Dict(summary))

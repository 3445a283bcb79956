"""Parser of ``cryspai.evolve``: recommended structures with their predicted energies."""

from __future__ import annotations

from aiida.orm import Dict, StructureData

from ..executables import files
from .base import ScriptParser


class EvolveParser(ScriptParser):
    def parse_outputs(self):
        summary = self.read_json(files.EVOLVE)
        several = len(self.node.inputs.parameters.get("crystal_systems", [])) > 1
        predicted, counts = {}, {}
        for atoms in self.read_extxyz(files.RECOMMENDED):
            system = str(atoms.info.get("crystal_system", self.node.inputs.parameters.get("crystal_system", "")))
            index = counts[system] = counts.get(system, -1) + 1
            key = f"{system}_c{index:03d}" if several else f"c{index:03d}"
            predicted[key] = {
                "crystal_system": system,
                "energy_per_atom": float(atoms.info["predicted_energy_per_atom"]),
                "spread_per_atom": float(atoms.info.get("spread_per_atom", 0.0)),
                "origin": str(atoms.info.get("origin", "")),
                "generation": int(atoms.info.get("generation", 0)),
            }
            atoms.info = {}
            self.out(f"structures.{key}", StructureData(ase=atoms))
        self.out("predicted_energies", Dict(predicted))
        self.out("summary", Dict(summary))

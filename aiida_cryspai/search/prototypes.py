"""Known structure types as starting points: the AFLOW Library of Crystallographic Prototypes that pymatgen ships
(``pymatgen/analysis/prototypes/aflow_prototypes.json.gz``, 288 prototypes), decorated with the composition's
elements.

A prototype fits a composition when it has as many species and its primitive cell's species counts are the
composition's divided by one whole number m (the cell is then an m-fold supercell of the primitive cell). Every
assignment of the elements to the prototype's species with those counts is made; assignments that give the same
structure (NaCl with Na and Cl swapped) are kept once.
"""

from __future__ import annotations

import gzip
import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations, product
from pathlib import Path

from ase import Atoms

from .composition import Composition
from .crystal_systems import crystal_system_of
from .generation import scale_to_volume
from .geometry import cell_is_sane


@dataclass(frozen=True)
class Prototype:
    """One prototype of the library: its AFLOW label, its name and its primitive cell (with its own elements)."""

    label: str  # e.g. "A2B_tP6_136_f_a"
    name: str  # mineral or Strukturbericht designation, e.g. "Rutile"; may be empty
    atoms: Atoms

    @property
    def spacegroup(self) -> int:
        return int(self.label.split("_")[2])

    @property
    def origin(self) -> str:
        return f"prototype {self.label}" + (f" ({self.name})" if self.name else "")


def library_path() -> Path:
    import pymatgen.analysis.prototypes as module

    return Path(module.__file__).parent / "aflow_prototypes.json.gz"


def _name(tags: dict) -> str:
    for key in ("mineral", "strukturbericht"):
        value = str(tags.get(key) or "").strip()
        if value and value != "None":
            return value
    return ""


@lru_cache(maxsize=1)
def aflow_prototypes() -> tuple[Prototype, ...]:
    """The library's prototypes, each as its primitive cell (spglib), in the library's order."""
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    entries = json.loads(gzip.open(library_path(), "rt").read())
    prototypes = []
    for entry in entries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_dict(entry["snl"])
            primitive = SpacegroupAnalyzer(structure, symprec=1e-3).find_primitive() or structure
        prototypes.append(Prototype(entry["tags"]["aflow"], _name(entry["tags"]),
                                    AseAtomsAdaptor.get_atoms(primitive)))
    return tuple(prototypes)


def _counts(atoms: Atoms) -> dict[str, int]:
    symbols = atoms.get_chemical_symbols()
    return {s: symbols.count(s) for s in dict.fromkeys(symbols)}


def _compact_supercell(atoms: Atoms, multiple: int) -> Atoms:
    """The diagonal ``multiple``-fold supercell whose cell lengths are most alike."""
    lengths = atoms.cell.lengths()
    best = None
    for a, b in product(range(1, multiple + 1), repeat=2):
        if multiple % (a * b):
            continue
        repeat = (a, b, multiple // (a * b))
        new = lengths * repeat
        score = new.max() / new.min()
        if best is None or score < best[0] - 1e-9:
            best = (score, repeat)
    return atoms.repeat(best[1])


def decorations(prototype: Prototype, composition: Composition) -> list[dict[str, str]]:
    """Every assignment {prototype element: composition element} whose counts fit ``composition``; empty when the
    prototype does not fit (other number of species, counts not proportional, or more atoms than the cell)."""
    counts = _counts(prototype.atoms)
    if len(counts) != len(composition.counts):
        return []
    found = []
    for order in permutations(composition.counts):
        ratios = {n / counts[s] for s, (_, n) in zip(counts, order)}
        if len(ratios) == 1 and float(next(iter(ratios))).is_integer():
            found.append({s: element for s, (element, _) in zip(counts, order)})
    return found


def prototype_structures(composition: Composition, volume: float | None = None,
                         library: tuple[Prototype, ...] | None = None) -> list[Atoms]:
    """The composition's structures from the prototype library: each fitting prototype with each distinct
    assignment of the elements, as the composition's cell (a supercell where needed), scaled to ``volume`` (Å^3)
    when given. Each carries ``info["origin"]`` (``prototype LABEL (name)``) and ``info["crystal_system"]``."""
    from ..analysis.compare import unique_indices

    structures = []
    for prototype in library if library is not None else aflow_prototypes():
        made = []
        for assignment in decorations(prototype, composition):
            atoms = prototype.atoms.copy()
            atoms.set_chemical_symbols([assignment[s] for s in atoms.get_chemical_symbols()])
            multiple = composition.n_atoms // len(atoms)
            if multiple > 1:
                atoms = _compact_supercell(atoms, multiple)
            if volume is not None:
                atoms = scale_to_volume(atoms, volume)
            if not cell_is_sane(atoms):
                continue
            atoms.info.update(origin=prototype.origin, crystal_system=crystal_system_of(prototype.spacegroup))
            made.append(atoms)
        structures.extend(made[k] for k in unique_indices(made, fingerprint_tolerance=None))
    return structures

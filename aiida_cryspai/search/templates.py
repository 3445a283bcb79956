"""Known structures as starting points: the AFLOW Library of Crystallographic Prototypes that pymatgen ships
(``pymatgen/analysis/prototypes/aflow_prototypes.json.gz``, 288 prototypes) decorated with the composition's
elements, and the user's own structure files.

A prototype fits a composition when it has as many species and its primitive cell's species counts are the
composition's divided by one whole number m (the cell is then an m-fold supercell of the primitive cell). Every
assignment of the elements to the prototype's species with those counts is made; assignments that give the same
structure (NaCl with Na and Cl swapped) are kept once. The structures come ordered by chemical distance: the sum
over the prototype's sites of |ΔM| between the Mendeleev number (Pettifor) of the element the prototype was
found with and the element put there. Compounds of elements with near Mendeleev numbers share structure types
(Pettifor's structure maps), so rutile comes first for TiO2 and for SnO2, zincblende and wurtzite for ZnO.
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

from ..analysis.crystal_systems import crystal_system_of
from .composition import Composition
from .generation import scale_to_volume
from .geometry import MIN_DISTANCE_FACTOR, cell_problem, crowding


class SeedStructureError(ValueError):
    """A structure file cannot seed the search of this composition."""


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
    """The library's file, found without importing ``pymatgen.analysis.prototypes`` (its import parses every
    entry's bibliography, ~8 s)."""
    from importlib.util import find_spec

    spec = find_spec("pymatgen.analysis.prototypes")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pymatgen.analysis.prototypes is not installed: pymatgen >= 2024 carries the AFLOW "
                                "prototype library")
    return Path(next(iter(spec.submodule_search_locations))) / "aflow_prototypes.json.gz"


def _name(tags: dict) -> str:
    for key in ("mineral", "strukturbericht"):
        value = str(tags.get(key) or "").strip()
        if value and value != "None":
            return value
    return ""


@lru_cache(maxsize=1)
def aflow_prototypes() -> tuple[Prototype, ...]:
    """The library's prototypes, each as its primitive cell, in the library's order."""
    from pymatgen.core import Structure

    entries = json.loads(gzip.open(library_path(), "rt").read())
    prototypes = []
    for entry in entries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structure = Structure.from_dict(entry["snl"])
        prototypes.append(Prototype(entry["tags"]["aflow"], _name(entry["tags"]), primitive_cell(structure)))
    return tuple(prototypes)


def primitive_cell(structure) -> Atoms:
    """The primitive cell (spglib through pymatgen, tolerance 1e-3 Å) of a pymatgen structure or ASE atoms."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    if isinstance(structure, Atoms):
        structure = AseAtomsAdaptor.get_structure(structure)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        primitive = SpacegroupAnalyzer(structure, symprec=1e-3).find_primitive() or structure
    return AseAtomsAdaptor.get_atoms(primitive)


def _counts(atoms: Atoms) -> dict[str, int]:
    symbols = atoms.get_chemical_symbols()
    return {s: symbols.count(s) for s in dict.fromkeys(symbols)}


def compact_supercell(atoms: Atoms, multiple: int) -> Atoms:
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


def chemical_distance(assignment: dict[str, str]) -> float:
    """Sum of |ΔM| (Mendeleev numbers) between the prototype's elements and the ones put in their place."""
    from pymatgen.core import Element

    return float(sum(abs(Element(old).mendeleev_no - Element(new).mendeleev_no) for old, new in assignment.items()))


@lru_cache(maxsize=1)
def _usable_prototypes() -> tuple[Prototype, ...]:
    """The library's prototypes without overlapping sites (the library's partial occupancies written out)."""
    return tuple(p for p in aflow_prototypes() if cell_problem(p.atoms, max_neighbours=None) is None)


def prototype_structures(composition: Composition, volume: float | None = None) -> list[Atoms]:
    """The composition's structures from the prototype library: each fitting prototype with each distinct
    assignment of the elements, as the composition's cell (a supercell where needed), scaled to ``volume`` (Å^3)
    when given (or the smallest volume above it where no atoms overlap), nearest in chemistry first
    (:func:`chemical_distance`, then the library's order). Each carries ``info["origin"]`` (``prototype LABEL
    (name)``), ``info["crystal_system"]`` and ``info["chemical_distance"]``. Prototypes whose own cell has
    overlapping sites (the library's partial occupancies) and cells that fail the sanity check are left out."""
    from ..analysis.compare import unique_indices

    structures = []
    for prototype in _usable_prototypes():
        made = []
        for assignment in decorations(prototype, composition):
            atoms = prototype.atoms.copy()
            atoms.set_chemical_symbols([assignment[s] for s in atoms.get_chemical_symbols()])
            multiple = composition.n_atoms // len(atoms)
            if multiple > 1:
                atoms = compact_supercell(atoms, multiple)
            if volume is not None:
                atoms = _sane_at(atoms, volume)
            if cell_problem(atoms) is not None:
                continue
            atoms.info.update(origin=prototype.origin, crystal_system=crystal_system_of(prototype.spacegroup),
                              chemical_distance=chemical_distance(assignment))
            made.append(atoms)
        structures.extend(made[k] for k in unique_indices(made, fingerprint_tolerance=None))
    return sorted(structures, key=lambda atoms: atoms.info["chemical_distance"])


def _sane_at(atoms: Atoms, volume: float) -> Atoms:
    """``atoms`` at ``volume``, or, where that cell fails the sanity check (a volume estimate far too small for these
    elements: Eq. 2 puts SiO2 at its volume floor, where atoms overlap or crowd), at the first volume in steps of 10 %
    above the one where no atoms overlap that passes it (the prototype's own cell passes it)."""
    scaled = scale_to_volume(atoms, volume)
    shortest = crowding(scaled).shortest_ratio
    if shortest < MIN_DISTANCE_FACTOR:
        volume = volume * (1.01 * MIN_DISTANCE_FACTOR / shortest) ** 3
        scaled = scale_to_volume(atoms, volume)
    for step in range(1, 30):
        if cell_problem(scaled) is None:
            break
        scaled = scale_to_volume(atoms, volume * 1.1**step)
    return scaled


def read_seed_structure(path: str | Path) -> Atoms:
    """One structure from a CIF, POSCAR or extxyz file (ASE's readers; the format from the name, VASP's POSCAR and
    CONTCAR by name); the error names the file."""
    from ase.io import read

    path = Path(path)
    name = path.name.upper()
    fmt = "vasp" if name.startswith(("POSCAR", "CONTCAR")) or path.suffix.lower() == ".vasp" else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            atoms = read(path, format=fmt)
    except FileNotFoundError:
        raise SeedStructureError(f"seed structure {path}: no such file") from None
    except Exception as error:  # ASE's readers raise many types for unreadable files
        raise SeedStructureError(f"seed structure {path}: cannot be read as CIF, POSCAR or extxyz ({error})") from None
    if not atoms.pbc.all() or atoms.cell.rank < 3:
        raise SeedStructureError(f"seed structure {path}: not a periodic crystal (no full 3D cell)")
    return atoms


def fit_seed_to_composition(atoms: Atoms, composition: Composition, name: str) -> Atoms:
    """``atoms`` as a cell of ``composition``: itself, a supercell where the composition is a multiple of it, or
    its primitive cell (or a supercell of it) where the file holds a larger cell. Raises
    :class:`SeedStructureError` naming ``name`` and the mismatch."""
    from pymatgen.core import Composition as PymatgenComposition

    found = PymatgenComposition(atoms.get_chemical_formula())
    wanted = PymatgenComposition(composition.formula)
    if found.reduced_composition != wanted.reduced_composition:
        raise SeedStructureError(f"seed structure {name} is {found.reduced_formula} ({atoms.get_chemical_formula()}),"
                                 f" not {wanted.reduced_formula} as the composition {composition.formula}")
    for cell in (atoms, primitive_cell(atoms)):
        if composition.n_atoms % len(cell) == 0:
            multiple = composition.n_atoms // len(cell)
            fitted = compact_supercell(cell, multiple) if multiple > 1 else cell.copy()
            fitted.info = {"origin": f"seed file {name}"}
            return fitted
    raise SeedStructureError(f"seed structure {name} has {len(atoms)} atoms (primitive cell "
                             f"{len(primitive_cell(atoms))}); {composition.formula} has {composition.n_atoms}, "
                             "not a multiple of either")


def first_batch_keys(random_keys: list[str], template_order: list[str], seed_keys: list[str],
                     fraction: float) -> tuple[list[str], list[str]]:
    """The known structures and the random ones of a first oracle batch as long as ``random_keys``: the seed files
    always, the other known structures (in ``template_order``: lowest on the scan's potential, or nearest in
    chemistry) up to ``fraction`` of the batch, random structures for the rest."""
    batch = len(random_keys)
    seeds = [key for key in template_order if key in seed_keys]
    n_known = min(len(template_order), max(len(seeds), round(fraction * batch)))
    known = (seeds + [key for key in template_order if key not in seeds])[:n_known]
    return known, sorted(random_keys)[: max(0, batch - n_known)]

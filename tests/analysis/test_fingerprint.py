import numpy as np
from ase.build import bulk

from aiida_cryspai.analysis import compare
from aiida_cryspai.analysis.compare import FINGERPRINT_TOLERANCE, unique_indices
from aiida_cryspai.analysis.fingerprint import fingerprint, fingerprint_distance, species_counts
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_symmetric_structure


def _distance(a, b):
    return fingerprint_distance(fingerprint(a), fingerprint(b), species_counts(a))


def test_fingerprint_ignores_rotation_supercell_and_scale():
    rocksalt = bulk("NaCl", "rocksalt", a=5.64)
    other = rocksalt.repeat((2, 1, 3))
    other.rotate(40, "x", rotate_cell=True)
    other.set_cell(other.cell * 1.07, scale_atoms=True)
    assert _distance(rocksalt, other) < 1e-8


def test_fingerprint_tells_close_packings_and_polymorphs_apart():
    fcc = bulk("Cu", "fcc", a=3.6, cubic=True)
    bcc = bulk("Cu", "bcc", a=2.87, cubic=True) * (2, 1, 1)
    diamond = bulk("Si", "diamond", a=5.43, cubic=True)
    beta_tin = bulk("Sn", "bct", a=5.83, c=3.18)  # built with Sn, compared as structure only
    beta_tin.set_chemical_symbols(["Si"] * len(beta_tin))
    assert _distance(fcc, bcc) > FINGERPRINT_TOLERANCE
    assert _distance(diamond, beta_tin) > FINGERPRINT_TOLERANCE


def test_slightly_perturbed_copies_stay_below_the_tolerance():
    rng = np.random.default_rng(3)
    composition = parse_composition("Ti4O8")
    for _ in range(5):
        atoms = random_symmetric_structure(composition, "tetragonal", 126.0, rng)
        copy = atoms.copy()
        copy.rattle(0.05, seed=int(rng.integers(100)))
        assert _distance(atoms, copy) < FINGERPRINT_TOLERANCE / 3


def test_prefilter_keeps_the_verdicts_and_spares_structure_matcher(monkeypatch):
    rng = np.random.default_rng(7)
    composition = parse_composition("Ti4O8")
    structures = []
    for system in ["cubic", "tetragonal", "orthorhombic", "monoclinic", "triclinic", "hexagonal", "trigonal"]:
        atoms = random_symmetric_structure(composition, system, 126.0, rng)
        duplicate = atoms.repeat((1, 2, 1))
        duplicate.rattle(0.02, seed=1)
        structures += [atoms, duplicate]
    calls = {"n": 0}
    fit = compare.matcher().__class__.fit

    def counted_fit(self, *args, **kwargs):
        calls["n"] += 1
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(compare.matcher().__class__, "fit", counted_fit)
    without = unique_indices(structures, fingerprint_tolerance=None)
    calls_without, calls["n"] = calls["n"], 0
    with_prefilter = unique_indices(structures)
    assert with_prefilter == without == list(range(0, 14, 2))
    assert calls["n"] < calls_without / 3  # the 7 true duplicates are still confirmed by StructureMatcher

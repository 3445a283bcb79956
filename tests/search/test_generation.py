import ast
import gc
import sys
import threading

import numpy as np
import pytest

from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS, CrystalSystemError, resolve_crystal_systems
from aiida_cryspai.analysis.symmetry import spacegroup
from aiida_cryspai.search import generation
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.generation import random_structures
from aiida_cryspai.search.geometry import cell_is_sane


@pytest.mark.parametrize("formula", ["Si8", "CaTiO3"])
def test_random_structures_keep_their_crystal_system(formula):
    composition = parse_composition(formula)
    structures = random_structures(composition, list(CRYSTAL_SYSTEMS), 2, 40.0 * composition.n_atoms / 2, seed=3)
    assert len(structures) >= 12
    for atoms in structures:
        assert sorted(atoms.get_chemical_symbols()) == sorted(composition.expanded())
        assert atoms.get_volume() == pytest.approx(20.0 * composition.n_atoms)
        assert cell_is_sane(atoms)
        # the structure is generated in a group of the system: spglib finds that group or a supergroup
        found = spacegroup(atoms, symprec=1e-3)
        assert found.number >= CRYSTAL_SYSTEMS[atoms.info["crystal_system"]][0]


def test_random_structures_are_reproducible():
    composition = parse_composition("Si8")
    first = random_structures(composition, ["cubic", "hexagonal"], 2, 160.0, seed=7)
    second = random_structures(composition, ["cubic", "hexagonal"], 2, 160.0, seed=7)
    for a, b in zip(first, second):
        assert np.allclose(a.positions, b.positions)


def test_crystal_systems():
    assert resolve_crystal_systems("all") == list(CRYSTAL_SYSTEMS)
    assert resolve_crystal_systems("cubic") == ["cubic"]
    with pytest.raises(CrystalSystemError, match="unknown crystal system 'hexa'"):
        resolve_crystal_systems("hexa")


def test_first_batch_is_the_start_of_the_random_symmetric_search():
    from itertools import islice

    from aiida_cryspai.search.generation import random_structures_by_spacegroup, symmetric_draws

    composition = parse_composition("Si8")
    systems = list(CRYSTAL_SYSTEMS)
    first = random_structures_by_spacegroup(composition, systems, 5, 160.0, seed=3)
    search = list(islice(symmetric_draws(composition, systems, 160.0, seed=3), 8))
    assert len(first) == 5
    for a, b in zip(first, search):
        assert a.info["spacegroup_generated"] == b.info["spacegroup_generated"]
        assert np.allclose(a.positions, b.positions)
    # space groups are drawn over all systems: many draws reach several crystal systems
    many = random_structures_by_spacegroup(composition, systems, 30, 160.0, seed=4)
    assert len({a.info["crystal_system"] for a in many}) >= 4


@pytest.mark.parametrize(("formula", "group", "volume"), [("Si2", 227, 40.0), ("Na1Cl1", 225, 46.0),
                                                          ("Mg2Al4O8", 227, 133.0)])
def test_centred_groups_are_drawn_as_primitive_cells(formula, group, volume):
    """Diamond, rocksalt and spinel have centred (F) groups: their N-atom cells are primitive cells, drawn as the
    4N-atom conventional cell and reduced, since the group's conventional cell cannot hold N atoms."""
    from aiida_cryspai.search.generation import random_symmetric_structure, symmetric_choices

    composition = parse_composition(formula)
    choices = symmetric_choices("cubic", tuple(composition.numbers))
    assert (group, 4) in choices and (group, 1) not in choices
    rng = np.random.default_rng(0)
    atoms = random_symmetric_structure(composition, "cubic", volume, rng, choice=(group, 4))
    assert atoms is not None and atoms.info["cell_generated"] == "primitive"
    assert sorted(atoms.get_chemical_symbols()) == sorted(composition.expanded())
    assert atoms.get_volume() == pytest.approx(volume)
    assert cell_is_sane(atoms)
    assert spacegroup(atoms, symprec=1e-3).number == group


def test_centred_groups_keep_their_conventional_draws():
    """About a third of the choices are primitive cells of centred groups; those groups are still drawn as
    conventional cells wherever these can hold the atoms."""
    from aiida_cryspai.search.generation import symmetric_choices

    many = symmetric_choices("orthorhombic", (8,))
    assert 0.2 < sum(points > 1 for _, points in many) / len(many) < 0.5
    assert {number for number, points in many if points > 1} & {number for number, points in many if points == 1}


def test_random_symmetric_search_reaches_rocksalt_at_two_atoms():
    """Na1Cl1 relaxed by CHGNet: rocksalt, the oracle's lowest of rocksalt and CsCl, is reached within the first five
    draws of the random symmetric search for seeds 0-2 (its only 2-atom cell is the primitive cell of Fm-3m)."""
    from itertools import islice

    from ase.build import bulk

    from aiida_cryspai.ml.potentials import get_calculator
    from aiida_cryspai.ml.relax import relax
    from aiida_cryspai.search.generation import symmetric_draws

    calculator = get_calculator("chgnet")
    rocksalt, cscl = (relax(bulk("NaCl", kind, a=a), calculator, fmax=0.01, max_steps=300).energy / 2
                      for kind, a in [("rocksalt", 5.6), ("cesiumchloride", 3.4)])
    assert rocksalt < cscl - 0.05
    composition = parse_composition("Na1Cl1")
    for seed in range(3):
        energies = []
        for atoms in islice(symmetric_draws(composition, list(CRYSTAL_SYSTEMS), 46.0, seed), 5):
            result = relax(atoms, calculator, fmax=0.01, max_steps=300)
            energies.append(result.energy / 2 if result.ok else np.inf)
            if energies[-1] < rocksalt + 1e-3:
                break
        assert min(energies) == pytest.approx(rocksalt, abs=1e-3), (seed, energies)


def test_a_choice_that_cannot_be_drawn_ends_within_its_time_bound_with_its_reason(monkeypatch):
    """pyxtal has no time bound of its own: a choice whose attempts take too long is skipped between attempts, and
    the reason is kept."""
    import time

    import numpy as np

    from aiida_cryspai.search.composition import parse_composition

    def slow_and_failing(composition, choice, seed, seconds=None):
        time.sleep(0.2)
        return None

    monkeypatch.setattr(generation, "_drawn", slow_and_failing)
    generation.symmetric_choices("cubic", (2, 4, 8))  # pyxtal's groups, cached: not part of a draw's time
    skipped = []
    start = time.perf_counter()
    atoms = generation.random_symmetric_structure(parse_composition("Mg2Al4O8"), "cubic", 140.0,
                                                  np.random.default_rng(0), max_tries=1000, choice=(195, 1),
                                                  max_seconds=0.5, skipped=skipped)
    elapsed = time.perf_counter() - start
    assert atoms is None and elapsed < 0.5 + 0.2 + 0.2  # the bound plus at most one attempt (and slack)
    assert len(skipped) == 1 and skipped[0]["spacegroups"] == [195] and skipped[0]["crystal_system"] == "cubic"
    assert 2 <= skipped[0]["attempts"] <= 4 and "bound 0.5 s" in skipped[0]["reason"]


def test_a_pyxtal_call_that_outlasts_the_bound_is_stopped_inside(monkeypatch):
    """One pyxtal call took 211 s against a 60 s bound (Mg2Al4O8, P23): a call still running at the bound is
    stopped there, and the choice is skipped with its reason."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from pyxtal import pyxtal

    from aiida_cryspai.search.composition import parse_composition

    def step():
        return sum(range(100))

    def endless(self, *args, **kwargs):  # pyxtal's loops: Python calls that never find a structure
        while True:
            step()

    monkeypatch.setattr(pyxtal, "from_random", endless)
    generation.symmetric_choices("cubic", (2, 4, 8))  # pyxtal's groups, cached: not part of a draw's time

    def bounded_draw():
        skipped = []
        start = time.perf_counter()
        atoms = generation.random_symmetric_structure(parse_composition("Mg2Al4O8"), "cubic", 140.0,
                                                      np.random.default_rng(0), choice=(195, 1), max_seconds=0.5,
                                                      skipped=skipped)
        return atoms, time.perf_counter() - start, skipped

    with ThreadPoolExecutor(1) as pool:  # the GA draws in worker threads, the work chains in the main thread
        outcomes = [bounded_draw(), pool.submit(bounded_draw).result()]
    for atoms, elapsed, skipped in outcomes:
        assert atoms is None and 0.5 <= elapsed < 0.8
        assert len(skipped) == 1 and skipped[0]["attempts"] == 1 and "bound 0.5 s" in skipped[0]["reason"]
    # nothing is left to land later: real draws after it run to their end
    monkeypatch.undo()
    drawn = generation.random_symmetric_structure(parse_composition("Cu4"), "cubic", 48.0, np.random.default_rng(0),
                                                  max_seconds=0.3)
    time.sleep(0.4)
    assert drawn is not None and len(drawn) == 4


def test_the_first_batch_records_the_choices_it_skipped(monkeypatch):
    """Through the draws of a whole batch: skipped choices are reported, the batch is filled from the others."""
    from aiida_cryspai.search.composition import parse_composition

    real = generation._drawn

    def cubic_never(composition, choice, seed, seconds=None):
        if choice[0] >= 195:  # every cubic group: as if pyxtal ran into its time bound there
            raise generation.DrawTimeout("stopped")
        return real(composition, choice, seed, seconds)

    monkeypatch.setattr(generation, "_drawn", cubic_never)
    skipped = []
    structures = generation.random_structures_by_spacegroup(parse_composition("Cu4"), ["cubic", "tetragonal"], 4,
                                                            48.0, seed=3, skipped=skipped)
    assert len(structures) == 4 and all(a.info["crystal_system"] == "tetragonal" for a in structures)
    assert {entry["crystal_system"] for entry in skipped} == {"cubic"}
    assert all(entry["attempts"] == 1 for entry in skipped)


def _parse_in_threads(parse, threads: int = 3, repeats: int = 200) -> list[str]:
    """The SystemErrors of ``parse`` called at once from ``threads`` threads at different stack depths, while every
    garbage collection runs Python code (a finalizer) and the interpreter switches threads as often as it can: the
    conditions of a GA job, where pyxtal parses its tables in one thread per crystal system."""
    text = repr([[f"x+{i}, y-{j}, z" for j in range(30)] for i in range(30)])
    state, errors = {"on": True}, []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            if state["on"]:
                Cycle()

    def deep(n: int, work):
        return deep(n - 1, work) if n else work()

    def loop():
        for _ in range(repeats):
            try:
                parse(text)
            except SystemError as error:
                errors.append(str(error))
                return

    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    gc.set_threshold(50)
    sys.setswitchinterval(1e-6)
    Cycle()
    try:
        workers = [threading.Thread(target=deep, args=(5 + 40 * i, loop)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        state["on"] = False
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
        gc.collect()
    return errors


def test_pyxtal_parses_its_tables_safely_from_several_threads():
    """CPython's AST converter fails when threads parse at once (one recursion-depth counter per interpreter): a GA
    job died of it in pyxtal's table parsing. The raw parser fails in this setting; pyxtal's, as this module
    installs it, does not."""
    if not _parse_in_threads(ast.literal_eval):
        pytest.skip("this Python's parser is safe in threads")
    symmetry = generation._pyxtal_symmetry()
    assert symmetry.literal_eval is generation._serialised_literal_eval
    assert _parse_in_threads(symmetry.literal_eval) == []
    assert symmetry.Group(227).number == 227  # pyxtal still parses its tables through it

"""Random symmetric structures in a crystal system (pyxtal), scaled to a target volume."""

from __future__ import annotations

import ast
import ctypes
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from itertools import islice

import numpy as np
from ase import Atoms

from ..analysis.crystal_systems import spacegroups_of
from .composition import Composition
from .geometry import cell_is_sane

SymmetricChoice = tuple[int, int]  # (space group, lattice points of the drawn conventional cell kept as atoms)
# seconds one choice may take over its attempts: pyxtal has no time bound, and one of its draws (P23, Mg2Al4O8) took
# 0.3-27 s here, 496 s over a choice's attempts once, 211 s in one call once; a typical draw takes well under a second
DRAW_SECONDS = 60.0


class DrawTimeout(BaseException):
    """A pyxtal draw stopped at its time bound (a BaseException, so that pyxtal's own ``except Exception`` cannot
    swallow it)."""


# pyxtal parses its Wyckoff, site-symmetry and generator tables with ast.literal_eval, once per space group. CPython
# 3.11's AST converter keeps its recursion depth in one counter per interpreter, set from the calling thread's stack
# depth: two threads converting at once (a garbage collection that runs Python code lets the other thread in) end
# with "SystemError: AST constructor recursion depth mismatch". The GA draws in one thread per crystal system, and
# this killed a GA job (Zr4O8, four systems in one job). One lock around pyxtal's parsing: taken once per table.
_PARSE_LOCK = threading.Lock()


def _serialised_literal_eval(text: str):
    with _PARSE_LOCK:
        return ast.literal_eval(text)


@lru_cache(maxsize=1)
def _pyxtal_symmetry():
    """``pyxtal.symmetry`` with its table parsing serialised across threads (see :data:`_PARSE_LOCK`)."""
    import pyxtal.symmetry

    pyxtal.symmetry.literal_eval = _serialised_literal_eval
    return pyxtal.symmetry


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`DrawTimeout` inside the code run in this block, in this thread, once ``seconds`` have passed:
    pyxtal's draw loops cannot be told a time limit. A timer thread sets the exception asynchronously
    (CPython's ``PyThreadState_SetAsyncExc``; it lands at the thread's next bytecode), so a draw costs nothing
    extra until its bound; one that was set but had not landed when the block ends is cleared. None: no bound."""
    if seconds is None:
        yield
        return
    thread, lock, state = threading.get_ident(), threading.Lock(), {"done": False, "fired": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(DrawTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            state["done"] = True
            if state["fired"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), None)
        timer.cancel()


@lru_cache(maxsize=256)
def symmetric_choices(system: str, numbers: tuple[int, ...]) -> tuple[SymmetricChoice, ...]:
    """The ways to draw ``numbers`` atoms of each species in a space group of ``system``.

    ``(group, 1)``: the group's conventional cell holds the atoms. ``(group, k)``, for a centred group with k
    lattice points: the conventional cell holds k x the atoms and is reduced to its primitive cell. Without the
    second kind the primitive cell of a centred structure (rocksalt NaCl, diamond Si2, spinel MgAl2O4) could
    never be drawn.
    """
    found, symmetry = [], _pyxtal_symmetry()
    for number in spacegroups_of(system):
        group = symmetry.Group(number)
        if group.check_compatible(list(numbers))[0]:
            found.append((number, 1))
        points = group.cellsize()  # lattice points of the conventional cell (R groups: hexagonal setting, 3)
        if points > 1 and group.check_compatible([points * n for n in numbers])[0]:
            found.append((number, points))
    return tuple(found)


def _drawn(composition: Composition, choice: SymmetricChoice, seed: int, seconds: float | None = None) -> Atoms | None:
    """pyxtal's structure for ``choice`` with the atoms of ``composition`` (a primitive cell when the choice
    reduces a centred cell), or None when pyxtal or the reduction fails; raises :class:`DrawTimeout` when pyxtal
    takes longer than ``seconds``."""
    from pyxtal import pyxtal

    from ..analysis.symmetry import primitive

    _pyxtal_symmetry()

    number, points = choice
    crystal = pyxtal()
    try:
        with warnings.catch_warnings(), _deadline(seconds):
            warnings.simplefilter("ignore")
            crystal.from_random(3, number, composition.symbols, [points * n for n in composition.numbers],
                                random_state=seed)
    except Exception:  # pyxtal signals an impossible draw with several exception types (DrawTimeout is none)
        return None
    if not crystal.valid:
        return None
    atoms = crystal.to_ase()
    if points == 1:
        return atoms
    reduced = primitive(atoms)
    if reduced is None or len(reduced) != composition.n_atoms:  # a draw with extra translations: not this choice
        return None
    order = np.argsort([composition.symbols.index(s) for s in reduced.get_chemical_symbols()], kind="stable")
    return reduced[order]


def random_symmetric_structure(
    composition: Composition,
    system: str,
    volume: float,
    rng: np.random.Generator,
    max_tries: int = 30,
    choice: SymmetricChoice | None = None,
    length_scale: float = 1.0,
    max_seconds: float | None = None,
    skipped: list[dict] | None = None,
) -> Atoms | None:
    """One random structure of ``system`` at ``volume`` (Å^3), drawn for ``choice`` or a random one of
    :func:`symmetric_choices`.

    Returns ``None`` when no structure with sane interatomic distances (at 0 GPa: ``length_scale``, see
    :func:`~.geometry.cell_is_sane`) was found in ``max_tries`` attempts, or when the attempts took longer than
    ``max_seconds`` (default :data:`DRAW_SECONDS`; a pyxtal call still running at the bound is stopped there);
    that case is appended to ``skipped`` (space group, system, attempts, seconds, reason).
    """
    choices = symmetric_choices(system, tuple(composition.numbers))
    if not choices:
        return None
    start, tried = time.perf_counter(), []
    max_seconds = DRAW_SECONDS if max_seconds is None else max_seconds

    def skip(attempts: int) -> None:
        if skipped is not None:
            seconds = time.perf_counter() - start
            skipped.append({"spacegroups": sorted(set(tried)), "crystal_system": system, "attempts": attempts,
                            "seconds": round(seconds, 1),
                            "reason": f"no sane structure after {attempts} attempts in {seconds:.0f} s "
                                      f"(bound {max_seconds:g} s)"})

    for attempt in range(max_tries):
        left = max_seconds - (time.perf_counter() - start)
        if attempt and left <= 0:
            skip(attempt)
            return None
        number, points = choice or choices[int(rng.integers(len(choices)))]
        tried.append(number)
        try:
            atoms = _drawn(composition, (number, points), int(rng.integers(2**31 - 1)), seconds=max(left, 0.0))
        except DrawTimeout:
            skip(attempt + 1)
            return None
        if atoms is None:
            continue
        atoms = scale_to_volume(atoms, volume)
        if cell_is_sane(atoms, length_scale):
            atoms.info["spacegroup_generated"] = number
            atoms.info["crystal_system"] = system
            atoms.info["cell_generated"] = "primitive" if points > 1 else "conventional"
            return atoms
    return None


def scale_to_volume(atoms: Atoms, volume: float) -> Atoms:
    """A copy of ``atoms`` with its cell scaled isotropically to ``volume`` (Å^3)."""
    scaled = atoms.copy()
    factor = (volume / scaled.get_volume()) ** (1.0 / 3.0)
    scaled.set_cell(scaled.cell[:] * factor, scale_atoms=True)
    return scaled


def random_structures(
    composition: Composition,
    systems: list[str],
    per_system: int,
    volume: float,
    seed: int,
) -> list[Atoms]:
    """``per_system`` random symmetric structures in each of ``systems``, reproducible by ``seed``."""
    rng = np.random.default_rng(seed)
    structures = []
    for system in systems:
        made = 0
        for _ in range(per_system * 3):
            if made == per_system:
                break
            atoms = random_symmetric_structure(composition, system, volume, rng)
            if atoms is not None:
                structures.append(atoms)
                made += 1
    return structures


def symmetric_draws(composition: Composition, systems: list[str], volume: float, seed: int,
                    max_failures: int = 200, length_scale: float = 1.0, max_seconds: float | None = None,
                    skipped: list[dict] | None = None) -> Iterator[Atoms]:
    """Endless random symmetric structures, each drawn uniformly from the :func:`symmetric_choices` of all
    ``systems`` (the random symmetric search), reproducible by ``seed``; a choice over ``max_seconds`` is skipped
    and appended to ``skipped``.

    Stops only when ``max_failures`` draws in a row give no structure with sane distances."""
    rng = np.random.default_rng(seed)
    choices = [(choice, system) for system in systems
               for choice in symmetric_choices(system, tuple(composition.numbers))]
    failures = 0
    while choices and failures < max_failures:
        choice, system = choices[int(rng.integers(len(choices)))]
        atoms = random_symmetric_structure(composition, system, volume, rng, max_tries=5, choice=choice,
                                           length_scale=length_scale, max_seconds=max_seconds, skipped=skipped)
        if atoms is None:
            failures += 1
            continue
        failures = 0
        yield atoms


def random_structures_by_spacegroup(composition: Composition, systems: list[str], count: int, volume: float,
                                    seed: int, length_scale: float = 1.0, max_seconds: float | None = None,
                                    skipped: list[dict] | None = None) -> list[Atoms]:
    """The first ``count`` structures of :func:`symmetric_draws`: the first oracle batch is exactly the start of
    a random symmetric search with the same seed, so the loop can only add to what random search finds."""
    draws = symmetric_draws(composition, systems, volume, seed, length_scale=length_scale, max_seconds=max_seconds,
                            skipped=skipped)
    return list(islice(draws, count))

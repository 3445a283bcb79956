"""The GA of one crystal system (paper §4.1.1, Fig. 2).

N_trial random symmetric structures are locally optimised and form the trial set. Each generation the third
lowest in the objective (energy per atom, or enthalpy under pressure: ``objective.py``) are parents; crossover,
mutation and fresh symmetric structures make offspring, which are locally optimised; the best ``n_replace``
distinct offspring replace the worst members of the trial set. At the end the ``n_recommend`` lowest distinct
structures are recommended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ..analysis.compare import unique_indices
from ..protocols.schema import GAParameters
from .composition import Composition
from .generation import random_symmetric_structure
from .objective import Objective
from .operators import crossover, permute, rattle, strain

_DEFAULT = GAParameters()  # the defaults live in the parameter schema
ENERGY = Objective()  # the energy per atom


@dataclass
class GASettings:
    n_trial: int = _DEFAULT.n_trial
    n_generations: int = _DEFAULT.n_generations
    n_replace: int = _DEFAULT.n_replace
    n_offspring: int = _DEFAULT.n_offspring
    n_recommend: int = _DEFAULT.n_recommend
    parent_fraction: float = 1.0 / 3.0
    fresh_fraction: float = 0.2
    crossover_fraction: float = 0.4
    max_energy_per_atom: float | None = None  # discard structures above this energy (eV/atom)
    aenergy: dict[str, float] | None = None  # the paper's filter: discard above sum_i N_i aenergy_i (eV per atom)
    length_scale: float = 1.0  # under pressure (V_P / V_0)^(1/3): new cells are checked as they would be at 0 GPa


def energy_limit_per_atom(settings: GASettings, composition: Composition) -> float | None:
    """The energy per atom above which the GA discards a structure: the lower of ``max_energy_per_atom`` and the
    paper's ``aenergy`` sum (sum over atoms of their species' value, divided by the number of atoms)."""
    limits = [] if settings.max_energy_per_atom is None else [float(settings.max_energy_per_atom)]
    if settings.aenergy is not None:
        missing = sorted(set(composition.symbols) - set(settings.aenergy))
        if missing:
            raise ValueError(f"aenergy has no value for {', '.join(missing)} (give eV/atom for every species)")
        total = sum(float(settings.aenergy[s]) * n for s, n in zip(composition.symbols, composition.numbers))
        limits.append(total / composition.n_atoms)
    return min(limits) if limits else None


@dataclass
class Individual:
    atoms: Atoms
    energy: float  # eV, of the whole cell
    objective_per_atom: float  # what the GA minimises (eV/atom)
    origin: str
    generation: int

    @property
    def energy_per_atom(self) -> float:
        return self.energy / len(self.atoms)


@dataclass
class GAResult:
    recommended: list[Individual]
    population: list[Individual] = field(default_factory=list)  # the final trial set, lowest objective first
    best_per_generation: list[float] = field(default_factory=list)  # lowest objective per atom
    n_local_optimisations: int = 0
    wall_s: float = 0.0


# A local optimiser: takes a batch of structures, returns for each (relaxed structure, its energy in eV) or None
# where it failed. Batches let the network relax a whole generation at once.
LocalOptimiser = Callable[[list[Atoms]], "list[tuple[Atoms, float] | None]"]


def _make_offspring(parents, system, volume, composition, rng, settings):
    draw = rng.uniform()
    scale = settings.length_scale
    if draw < settings.fresh_fraction:
        return random_symmetric_structure(composition, system, volume, rng, max_tries=5, length_scale=scale), "fresh"
    if draw < settings.fresh_fraction + settings.crossover_fraction and len(parents) > 1:
        a, b = rng.choice(len(parents), size=2, replace=False)
        return crossover(parents[a].atoms, parents[b].atoms, volume, rng, length_scale=scale), "crossover"
    parent = parents[int(rng.integers(len(parents)))].atoms
    mutation = rng.choice(["strain", "rattle", "permute"])
    if mutation == "strain":
        return strain(parent, system, volume, rng, length_scale=scale), "strain"
    if mutation == "permute":
        child = permute(parent, volume, rng, length_scale=scale)
        if child is not None:
            return child, "permute"
    return rattle(parent, volume, rng, length_scale=scale), "rattle"


def _accept(individual: Individual | None, limit: float | None) -> bool:
    if individual is None:
        return False
    return limit is None or individual.energy_per_atom <= limit


def _distinct(individuals: list[Individual]) -> list[Individual]:
    individuals = sorted(individuals, key=lambda ind: ind.objective_per_atom)
    keep = unique_indices([ind.atoms for ind in individuals], [ind.objective_per_atom for ind in individuals])
    return [individuals[k] for k in keep]


def evolve(
    composition: Composition,
    system: str,
    volume: float,
    optimise: LocalOptimiser,
    settings: GASettings,
    seed: int,
    initial: list[Atoms] | None = None,
    log: Callable[[str], None] = print,
    stop: Callable[[float], bool] | None = None,
    objective: Objective = ENERGY,
) -> GAResult:
    """Run the GA of one crystal system; ``initial`` structures (e.g. known good ones) join the first trial set.

    ``stop`` is asked before each new generation with the lowest objective per atom so far; when it answers True
    the GA ends there (a target reached, a budget spent)."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    result = GAResult(recommended=[])
    limit = energy_limit_per_atom(settings, composition)

    def local(candidates: list[tuple[Atoms | None, str]], generation: int) -> list[Individual]:
        """Optimise a batch of (structure, origin); the accepted individuals."""
        candidates = [(atoms, origin) for atoms, origin in candidates if atoms is not None]
        if not candidates:
            return []
        result.n_local_optimisations += len(candidates)
        outcomes = optimise([atoms for atoms, _ in candidates])
        individuals = [Individual(out[0], out[1], objective.of_atoms(out[0], out[1]), origin, generation)
                       for out, (_, origin) in zip(outcomes, candidates) if out is not None]
        return [ind for ind in individuals if _accept(ind, limit)]

    trial: list[Individual] = local([(atoms, "seed") for atoms in initial or []], 0)
    attempts = 0
    while len(trial) < settings.n_trial and attempts < 3 * settings.n_trial:
        batch = min(settings.n_trial - len(trial), 3 * settings.n_trial - attempts)
        attempts += batch
        trial += local([(random_symmetric_structure(composition, system, volume, rng, max_tries=5,
                                                    length_scale=settings.length_scale), "random")
                        for _ in range(batch)], 0)
    if not trial:
        log(f"{system}: no valid structure could be generated")
        result.wall_s = time.perf_counter() - start
        return result
    trial = _distinct(trial)
    result.best_per_generation.append(trial[0].objective_per_atom)
    log(f"{system}: generation 0, {len(trial)} trial structures, best {trial[0].objective_per_atom:.4f} eV/atom")

    for generation in range(1, settings.n_generations + 1):
        if stop is not None and stop(trial[0].objective_per_atom):
            break
        n_parents = max(2, int(np.ceil(settings.parent_fraction * len(trial))))
        parents = trial[:n_parents]
        children = [_make_offspring(parents, system, volume, composition, rng, settings)
                    for _ in range(settings.n_offspring)]
        offspring = local(children, generation)
        best_offspring = _distinct(offspring)[: settings.n_replace]
        # the best offspring enter the trial set, displacing its worst members
        trial = _distinct(trial + best_offspring)[: settings.n_trial]
        result.best_per_generation.append(trial[0].objective_per_atom)
        log(f"{system}: generation {generation}, best {trial[0].objective_per_atom:.4f} eV/atom")

    result.population = trial
    result.recommended = trial[: settings.n_recommend]
    result.wall_s = time.perf_counter() - start
    return result


class _Lockstep:
    """Gathers the batches of several GAs, each in its own thread, and relaxes them in one call of ``optimise``: a
    generation of every crystal system in one batch (one network graph per step for all of them). A call waits
    until every GA still running has handed in its batch; the GAs stay independent (each its own random numbers),
    only their relaxations are shared. Where one GA fails, the others stop at their next batch: the job's result is
    lost with it, and its retry should not wait for them."""

    def __init__(self, optimise: LocalOptimiser, clients: int):
        self.optimise, self.active = optimise, clients
        self.pending: dict[int, list[Atoms]] = {}
        self.results: dict[int, list] = {}
        self.error: BaseException | None = None
        self.condition = threading.Condition()

    def _flush(self) -> None:
        clients = sorted(self.pending)  # the same batch order whatever order the threads came in
        batches = [self.pending.pop(client) for client in clients]
        flat = [atoms for batch in batches for atoms in batch]
        try:
            outcomes = self.optimise(flat)
        except BaseException as error:  # handed to every waiting GA, which raises it
            self.error, outcomes = error, [None] * len(flat)
        start = 0
        for client, batch in zip(clients, batches):
            self.results[client] = outcomes[start : start + len(batch)]
            start += len(batch)
        self.condition.notify_all()

    def optimiser(self, client: int) -> LocalOptimiser:
        def optimise(structures: list[Atoms]) -> list:
            with self.condition:
                if self.error is None:
                    self.pending[client] = structures
                    if len(self.pending) == self.active:
                        self._flush()
                while client not in self.results and self.error is None:
                    self.condition.wait()
                if self.error is not None:
                    self.pending.pop(client, None)
                    raise self.error
                return self.results.pop(client)

        return optimise

    def fail(self, error: BaseException) -> None:
        """A GA raised ``error``: every other GA raises it at its next batch (or while it waits for one)."""
        with self.condition:
            if self.error is None:
                self.error = error
            self.condition.notify_all()

    def leave(self) -> None:
        with self.condition:
            self.active -= 1
            if self.active and self.error is None and len(self.pending) == self.active:
                self._flush()


def evolve_together(jobs: list[dict], optimise: LocalOptimiser, **common) -> list[GAResult]:
    """:func:`evolve` for each of ``jobs`` (keyword arguments: system, seed, initial, ...) with ``common`` ones
    (composition, volume, settings, log, objective), their relaxations batched together by ``optimise``. Each GA's
    result is the one it would give alone with ``optimise`` (the relaxations of a structure do not depend on its
    batch). Raises the first GA's error; the other GAs stop at their next batch."""
    if len(jobs) == 1:
        return [evolve(optimise=optimise, **common, **jobs[0])]
    lockstep = _Lockstep(optimise, len(jobs))

    def run(index: int) -> GAResult:
        try:
            return evolve(optimise=lockstep.optimiser(index), **common, **jobs[index])
        except BaseException as error:
            lockstep.fail(error)
            raise
        finally:
            lockstep.leave()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, index) for index in range(len(jobs))]
        return [future.result() for future in futures]

"""The CrySPAI loop against a random symmetric search, same oracle (CHGNet), same budget of oracle relaxations.

Every oracle relaxation is counted in the order it ran, the initial training set included. A run succeeds when
an oracle-relaxed structure lies within ``--tolerance`` eV/atom (default 5 meV/atom) of the target: the lowest
CHGNet energy of the known structures of the composition (``known_structures.py``), each relaxed by the same
oracle. Both searches use cells at the composition's known volume.

- random: a random space group and cell per trial (uniform over `symmetric_choices` of all 230), filled by pyxtal.
- cryspai: the workchain's loop with the science layer's functions and the protocol's parameters: the first
  oracle batch (``initial_per_system`` x 7 draws of the random search with the same seed, so both searches
  start identically), dataset, ensemble training, the GA of each crystal system on the network, then the
  ``oracle_per_iteration`` best new candidates of all systems (by E - kappa sigma, matches of oracle results
  left out) relaxed by the oracle, retrained, and so on until the budget is spent. With the override
  ``{"oracle_allocation": "spacegroups"}`` each oracle slot first draws a crystal system with the random
  search's odds (its number of symmetric choices) and takes that system's best candidate.

- random+templates: the work chain's first batch without a prior, then random: the prototype library's structures
  (scanned on the oracle, single points not counted) lowest at their own minimum take half of the first batch.

With ``--prior NAME`` (a universal potential other than the oracle) two more methods:

- screening: the protocol's ``screening_per_system`` x 7 random symmetric structures relaxed on the prior, then
  the oracle relaxes the lowest distinct ones in order (the next pool when one is used up); no learning.
- cryspai+prior: the work chain with a prior: its first batch is the screening's ``initial_per_system`` x 7 best,
  the correction (the prior's scale, then the network where it beats it on held-out relaxations) is trained on the
  oracle's frames with the prior's labels, and the GA relaxes on the surrogate.

    cd benchmarks && python search_vs_random.py Si8 Cu4 --seeds 0 1 2 3 4 --budget 60
    cd benchmarks && python search_vs_random.py Si8 Ti4O8 --prior sevennet --methods screening cryspai+prior \
        --output results/prior_search.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from known_structures import candidates
from rows import emit_row

from aiida_cryspai.analysis.compare import unique_indices
from aiida_cryspai.analysis.crystal_systems import CRYSTAL_SYSTEMS, crystal_system_of
from aiida_cryspai.ml.acquisition import allocate_by_weight, choose_candidates
from aiida_cryspai.ml.dataset import frames_to_arrays
from aiida_cryspai.ml.descriptors import DescriptorSettings
from aiida_cryspai.ml.potentials import get_calculator
from aiida_cryspai.ml.prior import Surrogate, prior_labels, train_correction
from aiida_cryspai.ml.relax import RelaxGuards, relax, relax_batch
from aiida_cryspai.ml.training import TrainingSettings, train
from aiida_cryspai.protocols import get_protocol
from aiida_cryspai.search.composition import parse_composition
from aiida_cryspai.search.ga import GASettings, evolve
from aiida_cryspai.search.generation import (
    random_structures_by_spacegroup,
    symmetric_choices,
    symmetric_draws,
)


class Found(Exception):
    """The target was reached: the search stops."""


@dataclass
class Oracle:
    """CHGNet relaxations, counted; raises :class:`Found` at the first structure within tolerance of the target."""

    calculator: object
    target: float
    tolerance: float
    budget: int
    volume_per_atom: float
    energies: list[float] = field(default_factory=list)
    frames: list[list[Atoms]] = field(default_factory=list)
    relaxed: list[Atoms] = field(default_factory=list)
    first_find: int | None = None

    def relax(self, atoms: Atoms) -> Atoms | None:
        if len(self.energies) >= self.budget:
            raise StopIteration
        guards = RelaxGuards(min_volume_per_atom=0.3 * self.volume_per_atom,
                             max_volume_per_atom=4.0 * self.volume_per_atom, max_seconds=300)
        outcome = relax(atoms, self.calculator, fmax=0.05, max_steps=300, guards=guards)
        energy = outcome.energy / len(atoms) if outcome.ok and outcome.energy is not None else np.inf
        self.energies.append(float(energy))
        self.frames.append(outcome.frames)
        if not outcome.ok:
            return None
        self.relaxed.append(outcome.atoms)
        if energy <= self.target + self.tolerance:
            self.first_find = len(self.energies)
            raise Found
        return outcome.atoms


class Checkpoint:
    """The oracle's relaxations of one CrySPAI run and its completed iterations, saved after the first batch and
    after every iteration, so that a run longer than a session resumes at its next iteration
    (``results/checkpoints/<composition>_<method>_<seed>/``: ``state.json``, ``frames.extxyz.gz`` with the prior's
    labels where computed, ``relaxed.extxyz.gz``); removed when the run's row is written. The training seeds and
    the GA's seeds depend only on the seed and the iteration, so a resumed run continues as the uninterrupted one
    (the ``spacegroups`` allocation's random draws excepted)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.started = time.perf_counter()
        self.spent = 0.0  # wall seconds of the run in earlier processes

    def wall_s(self) -> float:
        """Wall seconds of the whole run, earlier processes included."""
        return self.spent + time.perf_counter() - self.started

    def load(self, oracle: Oracle) -> tuple[int, dict[int, list[Atoms]]]:
        """Fill ``oracle`` with the saved relaxations; (iterations done, -1 for none and no first batch; frames
        with the prior's labels by relaxation)."""
        from ase.io import read

        state_file = self.directory / "state.json"
        if not state_file.exists():
            return -1, {}
        state = json.loads(state_file.read_text())
        self.spent = float(state["wall_s"])
        frames = read(self.directory / "frames.extxyz.gz", index=":") if state["n_frames"] else []
        relaxed = read(self.directory / "relaxed.extxyz.gz", index=":") if state["n_relaxed"] else []
        oracle.energies = [float(e) for e in state["energies"]]
        oracle.frames = [[f for f in frames if f.info["relaxation"] == k] for k in range(len(oracle.energies))]
        oracle.relaxed = sorted(relaxed, key=lambda a: a.info["relaxation"])
        for atoms in [*frames, *oracle.relaxed]:
            atoms.info.pop("relaxation")
        labelled = {k: trajectory for k, trajectory in enumerate(oracle.frames)
                    if trajectory and "prior_energies" in trajectory[0].info}
        return int(state["iterations_done"]), labelled

    def save(self, oracle: Oracle, iterations_done: int, labelled: dict[int, list[Atoms]]) -> None:
        from ase.io import write

        self.directory.mkdir(parents=True, exist_ok=True)
        frames = []
        for k, trajectory in enumerate(oracle.frames):
            for frame in labelled.get(k, trajectory):
                copy = frame.copy()
                copy.calc = frame.calc
                copy.info["relaxation"] = k
                frames.append(copy)
        relaxed, index = [], [k for k, e in enumerate(oracle.energies) if np.isfinite(e)]
        for k, atoms in zip(index, oracle.relaxed):
            copy = atoms.copy()
            copy.info["relaxation"] = k
            relaxed.append(copy)
        for name, images in (("frames", frames), ("relaxed", relaxed)):
            if images:
                partial = self.directory / f"{name}.part.extxyz.gz"  # the extension chooses the compression
                write(partial, images, format="extxyz")
                partial.replace(self.directory / f"{name}.extxyz.gz")
        state = {"iterations_done": iterations_done, "energies": oracle.energies, "n_frames": len(frames),
                 "n_relaxed": len(relaxed), "wall_s": round(self.wall_s(), 1)}
        (self.directory / "state.json").write_text(json.dumps(state))

    def remove(self) -> None:
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)


def target_energy(composition: str, calculator) -> tuple[float, str, Atoms]:
    """Lowest oracle energy per atom of the known structures, its name and the relaxed structure."""
    best = (np.inf, "", None)
    for name, atoms in candidates(composition).items():
        outcome = relax(atoms, calculator, fmax=0.01, max_steps=500, record_frames=False)
        if outcome.energy is None:
            raise RuntimeError(f"{composition} {name}: oracle relaxation failed ({outcome.status}: {outcome.reason})")
        if outcome.energy / len(atoms) < best[0]:
            best = (outcome.energy / len(atoms), name, outcome.atoms)
    return best


def library_match(composition: str, target: Atoms) -> str | None:
    """The origin of the first prototype-library structure of ``composition`` that is the target's structure
    (StructureMatcher's default tolerances, volumes scaled), or None when the library does not hold it."""
    from aiida_cryspai.analysis.compare import matcher, to_pymatgen
    from aiida_cryspai.search.templates import prototype_structures

    sm, reference = matcher(), to_pymatgen(target)
    for atoms in prototype_structures(parse_composition(composition), target.get_volume()):
        if sm.fit(reference, to_pymatgen(atoms)):
            return atoms.info.get("origin", "prototype")
    return None


def random_search(composition, volume: float, oracle: Oracle, seed: int) -> None:
    for atoms in symmetric_draws(composition, list(CRYSTAL_SYSTEMS), volume, seed):
        oracle.relax(atoms)


def templates_then_random(composition, volume: float, oracle: Oracle, seed: int, protocol: str) -> None:
    """The work chain's first batch without a prior: the prototype library's structures scanned on the oracle
    (single points, not counted), the lowest at their own minimum take half of the first batch; then the random
    symmetric search. On a composition the library does not cover this is the random search itself."""
    from aiida_cryspai.ml.potentials import batch_evaluator
    from aiida_cryspai.search.templates import prototype_structures
    from aiida_cryspai.search.volume import scan_for_volume

    batch = get_protocol(protocol)["initial_per_system"] * len(CRYSTAL_SYSTEMS)
    known = prototype_structures(composition, volume)[:64]
    if known:
        _, ranked = scan_for_volume(known, batch_evaluator(oracle.calculator), volume, True)
        for atoms in ranked[:round(batch / 2)]:
            oracle.relax(atoms)
    random_search(composition, volume, oracle, seed)


_SCREENED: dict[tuple, list[Atoms]] = {}


def screened(composition, volume: float, seed: int, count: int, prior, log) -> list[Atoms]:
    """``count`` random symmetric structures relaxed on the prior: the distinct ones, lowest first (kept for the
    process: screening and cryspai+prior of one seed share their first pool)."""
    key = (composition.formula, round(volume, 6), seed, count)
    if key not in _SCREENED:
        _SCREENED[key] = _screen(composition, volume, seed, count, prior, log)
    return [atoms.copy() for atoms in _SCREENED[key]]


def _screen(composition, volume: float, seed: int, count: int, prior, log) -> list[Atoms]:
    start = time.perf_counter()
    pool = random_structures_by_spacegroup(composition, list(CRYSTAL_SYSTEMS), count, volume, seed)
    per_atom = volume / composition.n_atoms
    guards = RelaxGuards(min_volume_per_atom=0.3 * per_atom, max_volume_per_atom=4.0 * per_atom, max_seconds=None)
    outcomes = relax_batch(pool, prior, fmax=0.05, max_steps=300, guards=guards, record_frames=False)
    relaxed = sorted(((r.energy / len(r.atoms), r.atoms) for r in outcomes if r.ok), key=lambda t: t[0])
    keep = unique_indices([a for _, a in relaxed], [e for e, _ in relaxed])
    log(f"screening: {len(pool)} structures on the prior, {len(keep)} distinct ({time.perf_counter() - start:.0f} s)")
    return [relaxed[k][1] for k in keep]


def screening_search(composition, volume: float, oracle: Oracle, seed: int, protocol: str, prior, log) -> None:
    count = get_protocol(protocol)["screening_per_system"] * len(CRYSTAL_SYSTEMS)
    for round_ in range(1000):
        for atoms in screened(composition, volume, seed + 7919 * round_, count, prior, log):
            oracle.relax(atoms)


def _labelled(trajectory: list[Atoms], prior) -> list[Atoms]:
    """The frames of one oracle relaxation with the prior's energies and forces, as the dataset carries them."""
    labels = prior_labels(trajectory, prior)
    out, offset = [], 0
    for k, atoms in enumerate(trajectory):
        copy = atoms.copy()
        copy.calc = atoms.calc
        copy.info["prior_energies"] = labels["prior_energies"][k]
        copy.info["prior_stress"] = labels["prior_stress"][k]
        copy.arrays["prior_forces"] = labels["prior_forces"][offset:offset + len(atoms)]
        offset += len(atoms)
        out.append(copy)
    return out


def cryspai_search(composition, volume: float, oracle: Oracle, seed: int, protocol: str, log,
                   overrides: dict | None = None, prior=None, prior_name: str | None = None,
                   checkpoint: Checkpoint | None = None) -> None:
    """The loop; with ``checkpoint``, resumed from its last completed iteration and saved after each."""
    parameters = {**get_protocol(protocol), **(overrides or {})}
    systems = list(CRYSTAL_SYSTEMS)
    count = parameters["initial_per_system"] * len(systems)
    done, labelled = checkpoint.load(oracle) if checkpoint else (-1, {})

    def save(iterations_done: int) -> None:
        if checkpoint:
            checkpoint.save(oracle, iterations_done, labelled)

    if done >= 0:
        log(f"resumed after iteration {done} from {checkpoint.directory}: {len(oracle.energies)} relaxations")
    else:
        if prior is None:
            first = random_structures_by_spacegroup(composition, systems, count, volume, seed)
        else:
            first = screened(composition, volume, seed, parameters["screening_per_system"] * len(systems), prior,
                             log)[:count]
        for atoms in first:
            oracle.relax(atoms)
        save(0)
        done = 0
    descriptor = DescriptorSettings(species=sorted(set(composition.symbols)), **parameters["descriptor"])
    training = TrainingSettings(**{**parameters["training"], "seed": seed})
    ga = GASettings(**parameters["ga"])
    local = parameters["local"]
    kappa = float(parameters["acquisition_kappa"])
    weights = {s: len(symmetric_choices(s, tuple(composition.numbers))) for s in systems}
    allocation_rng = np.random.default_rng(seed + 12345)
    for iteration in range(done, parameters["max_iterations"] * 10):
        frames, groups = [], []
        lowest = min(oracle.energies)
        for index, trajectory in enumerate(oracle.frames):
            if prior is not None and trajectory:
                if index not in labelled:
                    labelled[index] = _labelled(trajectory, prior)
                trajectory = labelled[index]
            for frame in trajectory:
                if frame.get_potential_energy() / len(frame) <= lowest + parameters["dataset"]["energy_window"]:
                    frames.append(frame)
                    groups.append(index)
        start = time.perf_counter()
        if prior is None:
            model, metrics = train(frames_to_arrays(frames, groups), descriptor, training, log=lambda _: None)
        else:
            correction, metrics = train_correction(frames_to_arrays(frames, groups), descriptor, training, prior_name,
                                                   log=lambda _: None)
            model = Surrogate(prior_name, correction, prior)
            log(f"iteration {iteration}: prior x {metrics['prior_scale']:.3f}, network "
                f"{'used' if metrics['network_used'] else 'off'}")
        rmse = metrics["rmse_validation_mev_per_atom"]
        log(f"iteration {iteration}: {len(oracle.energies)} relaxations, {len(frames)} frames, validation RMSE "
            f"{'-' if rmse is None else f'{rmse:.1f}'} meV/atom ({time.perf_counter() - start:.0f} s)")

        def optimise(structures, model=model):
            outcomes = relax_batch(structures, model, fmax=local["fmax"], max_steps=local["max_steps"],
                                   relax_cell=local["relax_cell"], guards=RelaxGuards(max_seconds=None),
                                   record_frames=False)
            return [(r.atoms, r.energy) if r.ok else None for r in outcomes]

        proposals, scores, proposal_systems = [], [], []
        best_oracle = {}
        for index, atoms in enumerate(oracle.relaxed):
            system = crystal_system_of(_spacegroup_number(atoms))
            best_oracle.setdefault(system, []).append((oracle.energies[index], atoms))
        for k, system in enumerate(systems):
            seeds = [a for _, a in sorted(best_oracle.get(system, []), key=lambda t: t[0])[:2]]
            result = evolve(composition, system, volume, optimise, ga, seed=seed * 100 + iteration * 7 + k,
                            initial=seeds, log=lambda _: None)
            if not result.population:
                continue
            energies = np.array([i.objective_per_atom for i in result.population])
            spreads = model.energies_and_spread([i.atoms for i in result.population])[1] / composition.n_atoms
            for index in choose_candidates(energies, spreads, ga.n_recommend, kappa):
                proposals.append(result.population[index].atoms)
                scores.append(energies[index] - kappa * spreads[index])
                proposal_systems.append(system)
        order = np.argsort(scores, kind="stable")
        proposals = [proposals[k] for k in order]
        proposal_systems = [proposal_systems[k] for k in order]
        known = len(oracle.relaxed)
        keep = [k - known for k in unique_indices(oracle.relaxed + proposals) if k >= known]
        n_oracle = parameters.get("oracle_per_iteration") or len(keep)
        if parameters.get("oracle_allocation", "rank") == "spacegroups":
            chosen = allocate_by_weight([proposal_systems[k] for k in keep], n_oracle, weights, allocation_rng)
            keep = [keep[k] for k in chosen]
        log(f"iteration {iteration}: {len(keep)} new candidates for the oracle, from "
            f"{', '.join(proposal_systems[k] for k in keep[:n_oracle])}")
        for k in keep[:n_oracle]:
            oracle.relax(proposals[k])
        save(iteration + 1)


def _spacegroup_number(atoms: Atoms) -> int:
    from aiida_cryspai.analysis.symmetry import spacegroup

    return spacegroup(atoms).number


def run(name: str, method: str, seed: int, budget: int, tolerance: float, protocol: str, calculator,
        target: float, overrides: dict | None = None, prior=None, prior_name: str | None = None,
        checkpoints: Path | None = None) -> dict:
    """One search; the CrySPAI methods resume from and save to ``checkpoints`` when given."""
    composition = parse_composition(name)
    known = candidates(name)
    volume = float(np.mean([a.get_volume() / len(a) for a in known.values()])) * composition.n_atoms
    oracle = Oracle(calculator, target, tolerance, budget, volume / composition.n_atoms)
    start = time.perf_counter()
    checkpoint = Checkpoint(checkpoints / f"{name}_{method}_{seed}") if checkpoints and "cryspai" in method else None
    try:
        log = lambda m: print(f"#   {m}", flush=True)  # noqa: E731
        if method == "random":
            random_search(composition, volume, oracle, seed)
        elif method == "random+templates":
            templates_then_random(composition, volume, oracle, seed, protocol)
        elif method == "screening":
            screening_search(composition, volume, oracle, seed, protocol, prior, log)
        else:
            cryspai_search(composition, volume, oracle, seed, protocol, log=log, overrides=overrides,
                           checkpoint=checkpoint,
                           **({"prior": prior, "prior_name": prior_name} if method == "cryspai+prior" else {}))
    except (Found, StopIteration):
        pass
    if checkpoint:
        checkpoint.remove()
    finite = [e for e in oracle.energies if np.isfinite(e)]
    return {"composition": name, "method": method, "seed": seed, "found": oracle.first_find is not None,
            "relaxations_to_find": oracle.first_find, "relaxations": len(oracle.energies),
            "best_above_target_mev": round((min(finite) - target) * 1000, 1) if finite else None,
            "wall_s": round(checkpoint.wall_s() if checkpoint else time.perf_counter() - start, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compositions", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=100, help="oracle relaxations per run")
    parser.add_argument("--tolerance", type=float, default=0.005, help="eV/atom above the target")
    parser.add_argument("--methods", nargs="+", default=["random", "cryspai"],
                        choices=["random", "random+templates", "cryspai", "screening", "cryspai+prior"])
    parser.add_argument("--protocol", default="fast")
    parser.add_argument("--override", default="{}", help="JSON overrides of the protocol's top-level parameters")
    parser.add_argument("--oracle", default="chgnet")
    parser.add_argument("--prior", default=None, help="a universal potential other than the oracle")
    parser.add_argument("--output", default=None, help="append rows to this JSON-lines file; rows in it are skipped")
    parser.add_argument("--checkpoints", default="results/checkpoints",
                        help="where a CrySPAI run saves its iterations and resumes from ('' for none)")
    args = parser.parse_args()
    if {"screening", "cryspai+prior"} & set(args.methods) and args.prior in (None, args.oracle):
        parser.error("screening and cryspai+prior need --prior, a potential other than the oracle")
    oracle_calculator = get_calculator(args.oracle)
    prior_calculator = get_calculator(args.prior) if args.prior else None
    done, done_lines = set(), []
    if args.output and Path(args.output).exists():
        done_lines = Path(args.output).read_text().splitlines()
        done = {(r["composition"], r["method"], r["seed"]) for r in map(json.loads, done_lines) if "method" in r}
    for name in args.compositions:
        target, reference, relaxed = target_energy(name, oracle_calculator)
        header = json.dumps({"composition": name, "target_ev_per_atom": round(target, 5), "reference": reference,
                          "in_library": library_match(name, relaxed)})
        print(header, flush=True)
        if args.output and not any(f'"composition": "{name}", "target' in line for line in done_lines):
            with open(args.output, "a") as handle:
                handle.write(header + "\n")
        for method in args.methods:
            for seed in args.seeds:
                if (name, method, seed) in done:
                    continue
                row = run(name, method, seed, args.budget, args.tolerance, args.protocol, oracle_calculator, target,
                          json.loads(args.override), prior_calculator, args.prior,
                          Path(args.checkpoints) if args.checkpoints else None)
                row.update(oracle=args.oracle, prior=args.prior if method in ("screening", "cryspai+prior") else None)
                emit_row(row, args.output)

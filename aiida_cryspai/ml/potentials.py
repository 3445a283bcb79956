"""The potentials by name (ASE calculators), and how to evaluate many structures at once.

:data:`CALCULATORS` is the one registry: each entry says how to build the calculator, which elements it knows and
which energies per atom are unphysical for it. Every entry is also an oracle engine ``ase:<name>`` (see
``engines/__init__.py``); adding a calculator means adding one entry here. The trained network is the calculator
``network`` (it needs a model file, so it is not an oracle).

A *batch evaluator* gives energies, forces and stresses of a list of structures in one call: the relaxer drives
every structure of a batch in lock step through it (:func:`batch_evaluator`). The network evaluates a batch in one
graph, CHGNet in one call of its ``predict_graph`` (as its ASE calculator does for one structure); any other ASE
calculator is called structure by structure.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from ase import Atoms


@dataclass(frozen=True)
class CalculatorSpec:
    """One ASE calculator of the registry."""

    name: str
    description: str
    build: Callable[[], object]
    elements: tuple[str, ...] | None = None  # None: every element up to ``max_atomic_number`` but ``excluded``
    max_atomic_number: int = 94
    excluded: tuple[str, ...] = ()
    # energies per atom above this are unphysical (calculators whose zero is the free atoms); None: no limit
    max_energy_per_atom: float | None = None
    # ... and below this: no real solid lies there on the calculator's energy scale (a hole); None: no limit
    min_energy_per_atom: float | None = None
    package: str = "ase"  # the distribution whose version is recorded
    default_prior: str | None = None  # the prior under the network when this calculator is the oracle
    checkpoint: Callable[[], Path] | None = None  # the weights file, whose SHA-256 is recorded

    def provenance(self) -> dict:
        """Which model exactly: ``name``, ``version`` (of its package) and ``checkpoint_sha256`` (None without
        weights), for the graph and results.json."""
        from importlib.metadata import version

        digest = None if self.checkpoint is None else _sha256(Path(self.checkpoint()))
        return {"name": self.name, "version": version(self.package), "checkpoint_sha256": digest}

    def energy_bounds(self) -> dict:
        """The calculator's own limits of a physical energy per atom, as ``RelaxGuards`` fields: every relaxation on
        it is held to them unless its guards say otherwise."""
        return {"max_energy_per_atom": self.max_energy_per_atom, "min_energy_per_atom": self.min_energy_per_atom}

    def unsupported_elements(self, symbols: list[str]) -> list[str]:
        from ase.data import atomic_numbers

        if self.elements is None:
            return sorted({s for s in symbols if atomic_numbers[s] > self.max_atomic_number or s in self.excluded})
        return sorted({s for s in symbols if s not in self.elements})


@functools.cache
def _sha256(path: Path) -> str:
    """The SHA-256 of a weights file, read once per process (every model load checks it)."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build_emt():
    from ase.calculators.emt import EMT

    return EMT()


def _build_chgnet():
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    from .device import current_device

    return CHGNetCalculator(model=CHGNet.load(verbose=False), use_device=current_device())


def _chgnet_checkpoint() -> Path:
    import chgnet

    return Path(chgnet.__file__).parent / "pretrained" / "0.3.0" / "chgnet_0.3.0_e29f68s314m37.pth.tar"


def _build_sevennet():
    from sevenn.calculator import SevenNetCalculator

    from .device import current_device

    return SevenNetCalculator("7net-0", device=current_device())


def _sevennet_checkpoint() -> Path:
    from sevenn.util import pretrained_name_to_path

    return Path(pretrained_name_to_path("7net-0"))


# The lowest energy per atom a real solid can have on the Materials Project's scale (MPtrj, on which CHGNet and
# SevenNet-0 are trained; the free atoms near zero), with room to spare: the lowest MP energies per atom are
# those of the dense 5d and f metals, near -13 to -14 eV/atom, and a compound's lies within its formation energy
# (at most ~4.5 eV/atom) of its elements'. Below it lie only the potentials' holes (SevenNet-0: -387 to -8.6e10
# eV/atom for compressed O4, -1e8 for Al4O6), which a statistical test of a batch misses when they are the most.
MP_ENERGY_FLOOR = -25.0

CALCULATORS: dict[str, CalculatorSpec] = {
    spec.name: spec
    for spec in (
        CalculatorSpec("emt", "ASE's effective-medium theory (metals; a test oracle)", _build_emt,
                       elements=("H", "C", "N", "O", "Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au")),
        CalculatorSpec("chgnet", "CHGNet 0.3.0, the universal potential whose weights ship in its wheel",
                       _build_chgnet,
                       max_atomic_number=94, max_energy_per_atom=0.0, min_energy_per_atom=MP_ENERGY_FLOOR,
                       package="chgnet",
                       checkpoint=_chgnet_checkpoint),
        CalculatorSpec("sevennet", "SevenNet-0 (11Jul2024), the checkpoint shipped in the sevenn wheel",
                       _build_sevennet,
                       max_atomic_number=94, excluded=("Po", "At", "Rn", "Fr", "Ra"), max_energy_per_atom=0.0,
                       min_energy_per_atom=MP_ENERGY_FLOOR,
                       package="sevenn", checkpoint=_sevennet_checkpoint, default_prior="chgnet"),
    )
}
NETWORK = "network"


def get_calculator(name: str, model_path: str | Path | None = None):
    """A ready ASE calculator; raises ``ValueError`` for an unknown name."""
    if name == NETWORK:
        if model_path is None:
            raise ValueError("the 'network' calculator needs a model file")
        from .network import NetworkCalculator, load_potential

        return NetworkCalculator(load_potential(model_path))
    if name not in CALCULATORS:
        raise ValueError(f"unknown calculator {name!r}; choose one of {', '.join([*CALCULATORS, NETWORK])}")
    # CHGNet announces itself on stdout ("CHGNet will run on cpu"): keep stdout for the commands' own output
    with contextlib.redirect_stdout(sys.stderr):
        return CALCULATORS[name].build()


class BatchEvaluator(Protocol):
    """Energies (eV), forces (eV/Å) and stresses (eV/Å^3, 3x3, ASE's sign) of many structures in one call."""

    def __call__(self, structures: list[Atoms]) -> list[tuple[float, np.ndarray, np.ndarray | None]]: ...


def batch_evaluator(calculator) -> BatchEvaluator:
    """The batch evaluator of ``calculator``: a network evaluates the batch in one graph, a surrogate (prior +
    correction, ``ml/prior.py``) adds its prior's values; an ASE calculator goes structure by structure (stress
    None where it has none)."""
    from .network import NetworkCalculator, Potential

    own = getattr(calculator, "evaluate", None)  # a model that evaluates batches itself (the Surrogate)
    if callable(own):
        return own
    model = calculator.model if isinstance(calculator, NetworkCalculator) else calculator
    if isinstance(model, Potential):
        return lambda structures: _network_batch(model, structures)
    batch = _BATCHES.get(type(calculator).__name__)
    if batch is not None:
        return functools.partial(batch, calculator)
    return lambda structures: [_single(calculator, atoms) for atoms in structures]


# structures per CHGNet graph: a volume scan hands it hundreds at once (one graph of 225 small cells took 16-23 GB);
# the 29 Ga2N2 prototypes' scan: 4 per graph 2.1 GB and 38 s, 16 per graph 6.0 GB and 36 s
CHGNET_BATCH_SIZE = 4


def _chgnet_batch(calculator, structures: list[Atoms]) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """CHGNet on many structures at once, converted as ``CHGNetCalculator.calculate`` converts one (energy per atom
    times atoms, stress in GPa times its ``stress_weight``)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    if not structures:
        return []
    model = calculator.model
    graphs = [model.graph_converter(AseAtomsAdaptor.get_structure(atoms)) for atoms in structures]
    predictions = model.predict_graph(graphs, task="efs", batch_size=min(len(graphs), CHGNET_BATCH_SIZE))
    if isinstance(predictions, dict):
        predictions = [predictions]
    out = []
    for atoms, prediction in zip(structures, predictions):
        factor = len(atoms) if model.is_intensive else 1
        out.append((float(prediction["e"]) * factor, np.asarray(prediction["f"], dtype=float),
                    np.asarray(prediction["s"], dtype=float) * calculator.stress_weight))
    return out


def _sevennet_batch(calculator, structures: list[Atoms]) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """SevenNet on many structures at once: their graphs in one torch_geometric batch (as SevenNet's own inference
    batches them), converted as ``SevenNetCalculator.calculate`` converts one."""
    import sevenn._keys as KEY
    from ase.stress import voigt_6_to_full_3x3_stress
    from sevenn.atom_graph_data import AtomGraphData
    from sevenn.train.dataload import unlabeled_atoms_to_graph
    from torch_geometric.data import Batch

    out = []
    for start in range(0, len(structures), SEVENNET_BATCH_SIZE):
        chunk = structures[start:start + SEVENNET_BATCH_SIZE]
        graphs = []
        for atoms in chunk:
            graph = AtomGraphData.from_numpy_dict(unlabeled_atoms_to_graph(atoms, calculator.cutoff, with_shift=False))
            if calculator.modal:
                graph[KEY.DATA_MODALITY] = calculator.modal
            graphs.append(graph)
        calculator.model.set_is_batch_data(True)  # the calculator keeps its model in one-structure mode
        try:
            output = calculator.model(Batch.from_data_list(graphs).to(calculator.device))
        finally:
            calculator.model.set_is_batch_data(False)
        energies = output[KEY.PRED_TOTAL_ENERGY].detach().cpu().numpy().reshape(-1)
        forces = output[KEY.PRED_FORCE].detach().cpu().numpy()
        stresses = -output[KEY.PRED_STRESS].detach().cpu().numpy().reshape(len(chunk), 6)
        offset = 0
        for atoms, energy, stress in zip(chunk, energies, stresses):
            out.append((float(energy), forces[offset:offset + len(atoms)].astype(float),
                        voigt_6_to_full_3x3_stress(stress[[0, 1, 2, 4, 5, 3]].astype(float))))
            offset += len(atoms)
    return out


# structures per SevenNet batch
SEVENNET_BATCH_SIZE = 16


def _sevennet_cpu_or_batch(calculator, structures: list[Atoms]) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """SevenNet batched on an accelerator; on a CPU one structure after the other, which is faster there (16 Ti4O8
    cells: 8.2 s one by one, 10.7 s as one batch, one thread)."""
    if str(calculator.device) == "cpu":
        return [_single(calculator, atoms) for atoms in structures]
    return _sevennet_batch(calculator, structures)


# ASE calculator class -> how to evaluate a batch with it
_BATCHES: dict[str, Callable] = {"CHGNetCalculator": _chgnet_batch, "SevenNetCalculator": _sevennet_cpu_or_batch}


def _network_batch(model, structures: list[Atoms]) -> list[tuple[float, np.ndarray, np.ndarray]]:
    if not structures:
        return []
    energies, forces, virials = model.energies_forces_virials(structures)
    return [(float(e), f, -v / atoms.get_volume()) for e, f, v, atoms in zip(energies, forces, virials, structures)]


def _single(calculator, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray | None]:
    from ase.calculators.calculator import PropertyNotImplementedError
    from ase.stress import voigt_6_to_full_3x3_stress

    work = atoms.copy()
    work.calc = calculator
    energy = float(work.get_potential_energy())
    forces = work.get_forces()
    try:
        stress = voigt_6_to_full_3x3_stress(work.get_stress())
    except PropertyNotImplementedError:
        stress = None
    return energy, forces, stress

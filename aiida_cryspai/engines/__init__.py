"""The oracle's engines: one adapter per engine, turning structures into process inputs and finished processes
into the oracle's outputs (the interface: ``engines/base.py``).

An engine name is ``family:variant``: ``ase:<calculator>`` for every calculator of the registry in
``ml/potentials.py`` (``ase:emt``, ``ase:chgnet``), ``abinit`` / ``abinit:lda``, ``vasp``.
"""

from __future__ import annotations

from collections.abc import Callable

from ..ml.potentials import CALCULATORS
from .abinit import AbinitEngine
from .ase import AseEngine
from .base import BATCH, PER_STRUCTURE, BatchEngine, Engine, PerStructureEngine
from .vasp import VaspEngine

ENGINES: dict[str, Callable[[], Engine]] = {
    **{f"ase:{name}": (lambda name=name: AseEngine(name)) for name in CALCULATORS},
    "abinit": lambda: AbinitEngine("PBE"),
    "abinit:lda": lambda: AbinitEngine("LDA"),
    "vasp": VaspEngine,
}

__all__ = ["BATCH", "ENGINES", "PER_STRUCTURE", "BatchEngine", "Engine", "EngineError", "PerStructureEngine",
           "get_engine"]


class EngineError(ValueError):
    """Unknown or unusable engine."""


def get_engine(name: str) -> Engine:
    """The adapter of engine ``name``; raises :class:`EngineError` naming the known ones."""
    try:
        return ENGINES[name]()
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}") from None

"""The DFT module's adapters: one per engine, turning structures into CalcJob inputs.

An engine name is ``family:variant`` (``ase:emt``, ``ase:chgnet``, ``abinit``, ``abinit:lda``, ``vasp``). Batch
engines (``ase``) relax many structures in one CalcJob; per-structure engines (``per_structure``: ``abinit``,
``vasp``) run one restart work chain per structure, whose outputs the oracle gathers into the same form. The oracle
returns, per structure key, ``relaxed_structures.<key>``, ``energies.<key>`` (eV), and per batch ``results`` (status
and details) and ``frames`` (a ``cryspai.dataset`` of the frames visited).
"""

from __future__ import annotations

from .abinit import AbinitEngine
from .ase import AseEngine
from .vasp import VaspEngine

ENGINES = {
    "ase:emt": lambda: AseEngine("emt"),
    "ase:chgnet": lambda: AseEngine("chgnet"),
    "abinit": lambda: AbinitEngine("PBE"),
    "abinit:lda": lambda: AbinitEngine("LDA"),
    "vasp": VaspEngine,
}


class EngineError(ValueError):
    """Unknown or unusable engine."""


def get_engine(name: str):
    """The adapter of engine ``name``; raises :class:`EngineError` naming the known ones."""
    try:
        return ENGINES[name]()
    except KeyError:
        raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}") from None

"""ASE calculators by name: ``emt`` (ASE), ``chgnet`` (weights inside its wheel), ``network`` (a trained model)."""

from __future__ import annotations

from pathlib import Path

CALCULATORS = ("emt", "chgnet", "network")


def get_calculator(name: str, model_path: str | Path | None = None):
    """A ready ASE calculator; raises ``ValueError`` for an unknown name."""
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    if name == "chgnet":
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        return CHGNetCalculator(model=CHGNet.load(verbose=False), use_device="cpu")
    if name == "network":
        if model_path is None:
            raise ValueError("the 'network' calculator needs a model file")
        from .calculator import NetworkCalculator
        from .network import load_potential

        return NetworkCalculator(load_potential(model_path))
    raise ValueError(f"unknown calculator {name!r}; choose one of {', '.join(CALCULATORS)}")

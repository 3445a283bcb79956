"""Where the models compute: ``cpu`` or ``cuda``, chosen once per process.

A search asks for ``auto`` (a GPU where one can be seen, else the CPU), ``cpu`` or ``cuda``; each script resolves the
request on the computer that runs it (:func:`resolve_device`), and :func:`use_device` makes the answer the device of
everything the process builds afterwards: CHGNet and SevenNet are built on it, the network's tensors are created on
it (:func:`on_device`: its training, evaluation and loading) and its results come back to numpy through the CPU.
The universal potentials' own code runs outside that scope, on the device they were built for.
"""

from __future__ import annotations

import functools

DEVICES = ("auto", "cpu", "cuda")

_current = "cpu"


class DeviceError(ValueError):
    """A device that cannot be used here: an unknown name, or ``cuda`` where no GPU can be seen."""


def gpu_available() -> bool:
    """Whether torch sees a CUDA GPU in this process."""
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(requested: str) -> str:
    """``cpu`` or ``cuda`` for the request ``auto``, ``cpu`` or ``cuda``; raises :class:`DeviceError` for an unknown
    name or for ``cuda`` without a GPU."""
    if requested not in DEVICES:
        raise DeviceError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "auto":
        return "cuda" if gpu_available() else "cpu"
    if requested == "cuda" and not gpu_available():
        raise DeviceError("device 'cuda' was asked for, but torch sees no CUDA GPU here "
                          "(use --device cpu or auto)")
    return requested


def use_device(requested: str) -> str:
    """Resolve ``requested`` and make it the device of this process; returns the device used."""
    global _current
    _current = resolve_device(requested)
    return _current


def on_device(function):
    """Run ``function`` with the network's tensors created on the current device (torch's device context)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if _current == "cpu":  # torch's default: no device context, whose hook would sit on every torch call
            return function(*args, **kwargs)
        import torch

        with torch.device(_current):
            return function(*args, **kwargs)

    return wrapper


def current_device() -> str:
    """The device this process computes on (``cpu`` until :func:`use_device`)."""
    return _current

"""Protocols: ``fast`` (a laptop, minutes), ``moderate``, ``precise`` (the paper's defaults)."""

from __future__ import annotations

import copy
from importlib import resources

import yaml

PROTOCOLS = ("fast", "moderate", "precise")


class ProtocolError(ValueError):
    """Unknown protocol or unknown override key."""


def _merge(base: dict, overrides: dict, path: str = "", free_form: tuple[str, ...] = ()) -> dict:
    out = copy.deepcopy(base)
    free = base == {} or path.rstrip(".") in free_form  # these take any keys (e.g. oracle.abinit, INCAR tags)
    for key, value in overrides.items():
        if key not in base and not free:
            raise ProtocolError(f"unknown parameter {path + key!r}; known: {', '.join(sorted(out))}")
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value, f"{path}{key}.", free_form)
        else:
            out[key] = value
    return out


def get_protocol(name: str, overrides: dict | None = None, filename: str = "main.yaml",
                 free_form: tuple[str, ...] = ()) -> dict:
    """The parameters of protocol ``name`` with ``overrides`` merged in (keys must exist, except inside the
    mappings named in ``free_form``, e.g. an engine's own input variables); ``filename`` is ``main.yaml`` (the
    search) or an engine's file (``abinit.yaml``, ``vasp.yaml``)."""
    data = yaml.safe_load(resources.files(__package__).joinpath(filename).read_text())
    if name not in data["protocols"]:
        raise ProtocolError(f"unknown protocol {name!r}; choose one of: {', '.join(data['protocols'])}")
    parameters = _merge(data["default"], data["protocols"][name] or {}, free_form=free_form)
    return _merge(parameters, overrides or {}, free_form=free_form)

"""Protocols: ``fast`` (a laptop, minutes), ``moderate``, ``precise`` (the paper's defaults).

The search's parameters have one schema (:mod:`.schema`): it holds every default; ``main.yaml`` holds what each
protocol changes. The DFT engines' files (``abinit.yaml``, ``vasp.yaml``) keep their own ``default`` section.
"""

from __future__ import annotations

import copy
from importlib import resources

import yaml

from .schema import PROTOCOL_NAMES, default_parameters, validate_parameters

PROTOCOLS = PROTOCOL_NAMES


class ProtocolError(ValueError):
    """Unknown protocol, unknown override key, or a value out of its range."""


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


def _read(filename: str) -> dict:
    return yaml.safe_load(resources.files(__package__).joinpath(filename).read_text())


def protocol_overrides(name: str) -> dict:
    """What protocol ``name`` changes from the schema's defaults (``main.yaml``)."""
    protocols = _read("main.yaml")["protocols"]
    if name not in protocols:
        raise ProtocolError(f"unknown protocol {name!r}; choose one of: {', '.join(protocols)}")
    return protocols[name] or {}


def get_protocol(name: str, overrides: dict | None = None, filename: str = "main.yaml",
                 free_form: tuple[str, ...] = ()) -> dict:
    """The parameters of protocol ``name`` with ``overrides`` merged in.

    For the search (``main.yaml``) the result is checked against the schema: an unknown key or a value out of its
    range raises :class:`ProtocolError` naming the key. For a DFT engine's file (``abinit.yaml``, ``vasp.yaml``),
    keys must exist except inside the mappings named in ``free_form`` (e.g. the engine's own input variables).
    """
    if filename == "main.yaml":
        return _validated(_merge(_merge(default_parameters(), protocol_overrides(name)), overrides or {}))
    data = _read(filename)
    if name not in data["protocols"]:
        raise ProtocolError(f"unknown protocol {name!r}; choose one of: {', '.join(data['protocols'])}")
    parameters = _merge(data["default"], data["protocols"][name] or {}, free_form=free_form)
    return _merge(parameters, overrides or {}, free_form=free_form)


def check_parameters(parameters: dict) -> dict:
    """A complete parameter set (e.g. a work chain's input) checked against the schema; raises
    :class:`ProtocolError` naming the key."""
    return _validated(_merge(default_parameters(), parameters))


def _validated(parameters: dict) -> dict:
    try:
        return validate_parameters(parameters)
    except ValueError as error:
        raise ProtocolError(str(error)) from None

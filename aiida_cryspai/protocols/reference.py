"""The parameter reference of the docs, generated from the schema (``python -m aiida_cryspai.protocols.reference
docs/workchain.md`` rewrites the block between the markers; a test checks that the docs are up to date)."""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

import annotated_types
from pydantic import BaseModel

from . import _read, get_protocol
from .schema import PROTOCOL_NAMES, SearchParameters

START = "<!-- parameters: generated from aiida_cryspai/protocols/schema.py; do not edit by hand -->"
END = "<!-- parameters: end -->"

_BOUNDS = ((annotated_types.Ge, "ge", "≥"), (annotated_types.Gt, "gt", ">"), (annotated_types.Le, "le", "≤"),
           (annotated_types.Lt, "lt", "<"), (annotated_types.MinLen, "min_length", "length ≥"),
           (annotated_types.MaxLen, "max_length", "length ≤"))


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if annotation is type(None):
        return "null"
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(annotation))}]"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(field) -> str:
    found = list(field.metadata)
    for arg in typing.get_args(field.annotation):  # Optional[Annotated[int, Field(ge=1)]]
        if typing.get_origin(arg) is typing.Annotated:
            for extra in typing.get_args(arg)[1:]:
                found.extend(getattr(extra, "metadata", []))
    words = []
    for item in found:
        for kind, attribute, sign in _BOUNDS:
            if isinstance(item, kind):
                words.append(f"{sign} {getattr(item, attribute)}")
    return ", ".join(words)


def _value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _rows(model: type[BaseModel], protocols: dict[str, dict], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + name
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.append(f"| **`{key}`** | | | | | | {field.description} |")
            rows += _rows(annotation, {p: values[name] for p, values in protocols.items()}, key + ".")
            continue
        values = [protocols[p][name] for p in PROTOCOL_NAMES]
        shown = [f"`{_value(v)}`" for v in values]
        rows.append(f"| `{key}` | {_type_name(annotation)} | {_constraints(field)} | "
                    f"{' | '.join(shown)} | {field.description} |")
    return rows


def parameter_reference() -> str:
    """The markdown block: each protocol in a line, then every key with its type, range and values."""
    descriptions = _read("main.yaml")["descriptions"]
    lines = [START, "", "Protocols:", ""]
    lines += [f"- `{name}`: {descriptions[name]}" for name in PROTOCOL_NAMES]
    lines += ["", f"| key | type | range | {' | '.join(PROTOCOL_NAMES)} | meaning |",
              "|---|---|---|" + "---|" * len(PROTOCOL_NAMES) + "---|"]
    lines += _rows(SearchParameters, {name: get_protocol(name) for name in PROTOCOL_NAMES})
    return "\n".join([*lines, "", END])


def rewrite(path: Path) -> bool:
    """Replace the block between the markers in ``path``; True when the file changed."""
    text = path.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    new = before + parameter_reference() + after
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {'rewritten' if rewrite(Path(name)) else 'up to date'}")

"""What the specs say of each operation, read from ``zoom_async/_generated/fake_operations.json``.

The file (written by ``python -m codegen fake``) is read on first use only: importing the package,
or a FakeZoom that is only asked for users and meetings, never loads it. Shared sub-schemas are
linked back into one object graph, so a schema used by a hundred operations is held once.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["BodySpec", "OperationSpec", "QueryParam", "operation_spec"]

Schema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    required: bool
    schema: Schema


@dataclass(frozen=True, slots=True)
class BodySpec:
    required: bool
    media_type: str
    schema: Schema


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """One operation as FakeZoom answers it."""

    key: str
    """``"METHOD /path/template"``."""
    status: int
    """The spec's success status."""
    media_type: str | None
    """The success answer's media type when it is not JSON."""
    query: tuple[QueryParam, ...]
    body: BodySpec | None
    response: Schema | None
    """JSON schema of the success answer; ``None`` when the spec documents no body."""


_lock = threading.Lock()


def _link(node: Any, defs: list[Any], linked: dict[int, Any]) -> Any:
    if isinstance(node, list):
        return [_link(v, defs, linked) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if len(node) == 1 and isinstance(ref, int):
        if ref not in linked:
            linked[ref] = _link(defs[ref], defs, linked)
        return linked[ref]
    return {
        k: (v if k in ("example", "enum", "default") else _link(v, defs, linked))
        for k, v in node.items()
    }


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("zoom_async._generated").joinpath("fake_operations.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


_specs: dict[str, OperationSpec] = {}
_linked: dict[int, Any] = {}


def operation_spec(method: str, path: str) -> OperationSpec | None:
    """The spec of ``METHOD path`` (a catalog path template), or ``None`` if it has none."""
    key = f"{method} {path}"
    found = _specs.get(key)
    if found is not None:
        return found
    with _lock:
        raw = _raw()
        row = raw["ops"].get(key)
        if row is None:
            return None
        status, media, query, body, response = row
        defs = raw["defs"]
        spec = OperationSpec(
            key=key,
            status=int(status),
            media_type=media,
            query=tuple(QueryParam(q[0], bool(q[1]), _link(q[2], defs, _linked)) for q in query),
            body=None
            if body is None
            else BodySpec(bool(body[0]), str(body[1]), _link(body[2], defs, _linked)),
            response=None if response is None else _link(response, defs, _linked),
        )
        _specs[key] = spec
        return spec

"""Answers built from an operation's response schema, for operations the fake does not simulate.

A value is the spec's example where the example fits its schema, else the enum's first value or
the default, else a value made up from the type and format. Made-up values come from a random
generator seeded with the fake's seed, the operation and the item's index: the same fake answers
the same request the same way, whatever was asked before.
"""

from __future__ import annotations

import copy
import json
import random
import string
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

__all__ = ["build_value", "built", "merged", "object_properties", "rng_for"]

Schema = Mapping[str, Any]

_MAX_DEPTH = 12
_ALNUM = string.ascii_letters + string.digits
_BASE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_ID_NAMES = ("id", "uuid", "email")


def rng_for(seed: int | None, *parts: object) -> random.Random:
    """A generator that depends only on ``seed`` and ``parts``."""
    return random.Random(f"{seed}|" + "|".join(str(p) for p in parts))


def merged(schema: Schema) -> Schema:
    """``schema`` with its ``allOf`` members folded in (properties and ``required`` united)."""
    members = schema.get("allOf")
    if not members:
        return schema
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    props: dict[str, Any] = dict(out.get("properties") or {})
    required = set(out.get("required") or ())
    for member in members:
        m = merged(member)
        for k, v in m.items():
            if k == "properties":
                props.update(v)
            elif k == "required":
                required.update(v)
            else:
                out.setdefault(k, v)
    if props:
        out["properties"] = props
        out.setdefault("type", "object")
    if required:
        out["required"] = sorted(required)
    return out


def object_properties(schema: Schema) -> dict[str, Any]:
    """The properties of an object schema (``allOf`` merged, first ``oneOf``/``anyOf`` member)."""
    s = merged(schema)
    props = dict(s.get("properties") or {})
    for key in ("oneOf", "anyOf"):
        variants = s.get(key)
        if variants and not props:
            props.update(object_properties(variants[0]))
    return props


def _types(schema: Schema) -> list[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    if "properties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return []


def _fits(value: Any, schema: Schema) -> bool:
    """Whether ``value`` is a sensible answer for ``schema`` (type, enum and bounds; nested
    objects only by type)."""
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        return False
    if any(not _fits(value, m) for m in schema.get("allOf") or ()):
        return False
    variants = schema.get("anyOf") or schema.get("oneOf")
    if variants and not any(_fits(value, m) for m in variants):
        return False
    types = _types(schema)
    if not types:
        return True
    ok = False
    for t in types:
        if t == "string" and isinstance(value, str):
            ok = schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 1 << 30)
        elif t in ("integer", "number") and _is_number(value, integer=t == "integer"):
            ok = _in_bounds(value, schema)
        elif t == "boolean":
            ok = isinstance(value, bool)
        elif t == "null":
            ok = value is None
        elif t == "object":
            ok = isinstance(value, dict) and _object_fits(value, schema)
        elif t == "array":
            ok = isinstance(value, list) and all(_fits(v, schema.get("items") or {}) for v in value)
        if ok:
            return True
    return False


def _is_number(value: Any, *, integer: bool) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (not integer and isinstance(value, float))


def _object_fits(value: dict[str, Any], schema: Schema) -> bool:
    props = object_properties(schema)
    if any(r not in value for r in merged(schema).get("required") or ()):
        return False
    return all(_fits(v, props[k]) for k, v in value.items() if k in props)


def _in_bounds(value: float, schema: Schema) -> bool:
    lo, hi = schema.get("minimum"), schema.get("maximum")
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _made_up_string(schema: Schema, rng: random.Random, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        moment = _BASE_TIME + timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "date":
        return (_BASE_TIME + timedelta(days=rng.randrange(0, 90))).date().isoformat()
    if fmt == "email" or name.endswith("email"):
        return f"user{rng.randrange(10_000)}@example.com"
    if fmt in ("uri", "url") or name.endswith("url"):
        return f"https://example.com/{''.join(rng.choices(_ALNUM, k=10))}"
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128)))
    lo = int(schema.get("minLength", 0))
    hi = int(schema.get("maxLength", 22))
    n = max(lo, min(hi, 22))
    return "".join(rng.choices(_ALNUM, k=n))


def _made_up_number(schema: Schema, rng: random.Random, integer: bool) -> int | float:
    lo = schema.get("minimum", 1)
    hi = schema.get("maximum", max(lo, 0) + 1000)
    if hi < lo:
        lo, hi = hi, lo
    if integer:
        return rng.randint(int(lo if lo == int(lo) else lo + 1), int(hi))
    return round(rng.uniform(float(lo), float(hi)), 2)


def build_value(
    schema: Schema, rng: random.Random, *, name: str = "", fresh_ids: bool = False, depth: int = 0
) -> Any:
    """A value valid for ``schema``.

    ``fresh_ids``: make up ``id``/``*_id``/``uuid``/``email`` values instead of using the spec's
    example, so the items of a list differ from each other.
    """
    schema = merged(schema)
    for key in ("oneOf", "anyOf"):
        variants = schema.get(key)
        if variants and not schema.get("properties"):
            base = {k: v for k, v in schema.items() if k != key}
            candidate: Any = None
            for variant in variants:
                # The variant's own words win over the base's (its type, its example).
                candidate = build_value(
                    merged({"allOf": [variant, base]}),
                    rng,
                    name=name,
                    fresh_ids=fresh_ids,
                    depth=depth,
                )
                if _fits(candidate, schema):
                    break
            return candidate
    idlike = fresh_ids and (name in _ID_NAMES or name.endswith(("_id", "Id", "_email")))
    example = schema.get("example")
    if "example" in schema and not idlike and _fits(example, schema):
        return copy.deepcopy(example)
    plain = {k: v for k, v in schema.items() if k != "enum"}
    for choice in schema.get("enum") or ():
        if _fits(choice, plain):
            return copy.deepcopy(choice)
    if "default" in schema and not idlike and _fits(schema["default"], schema):
        return copy.deepcopy(schema["default"])
    types = [t for t in _types(schema) if t != "null"] or ["string"]
    kind = types[0]
    if kind == "object":
        if depth >= _MAX_DEPTH:
            return {}
        props = schema.get("properties") or {}
        value = {
            key: build_value(sub, rng, name=key, fresh_ids=fresh_ids, depth=depth + 1)
            for key, sub in props.items()
        }
        for key in schema.get("required") or ():  # required, but the spec forgot to describe it
            value.setdefault(key, _made_up_string({}, rng, key))
        return value
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return []
        n = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            n = min(n, int(schema["maxItems"]))
        items = schema.get("items") or {}
        return [
            build_value(items, rng, name=name, fresh_ids=fresh_ids, depth=depth + 1)
            for _ in range(n)
        ]
    if kind == "integer":
        return _made_up_number(schema, rng, integer=True)
    if kind == "number":
        return _made_up_number(schema, rng, integer=False)
    if kind == "boolean":
        return rng.random() < 0.5
    return _made_up_string(schema, rng, name)


# -- whole answers -----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _built(key: str, seed: int | None, index: int, part: str) -> str:
    from ._spec import operation_spec

    method, path = key.split(" ", 1)
    spec = operation_spec(method, path)
    assert spec is not None and spec.response is not None
    schema: Schema = spec.response
    if part != "":
        schema = object_properties(schema)[part].get("items") or {}
        schema = merged(schema)
    value = build_value(schema, rng_for(seed, key, part, index), fresh_ids=index > 0)
    return json.dumps(value)


def built(key: str, seed: int | None, index: int = 0, part: str = "") -> Any:
    """The answer (``part=""``) or the ``index``-th item of list ``part``, built once and copied."""
    return json.loads(_built(key, seed, index, part))

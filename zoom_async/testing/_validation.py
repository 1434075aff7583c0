"""Requests checked against the spec, answered as Zoom does: 400 ``{"code": 300, "message":
"Validation Failed.", "errors": [{"field": ..., "message": ...}]}``.

Query parameters are checked for presence, type and enum by hand (they arrive as strings); JSON
bodies are checked with ``jsonschema`` against the operation's request schema (required fields,
types, enums, lengths and bounds; formats and patterns are not checked, as Zoom's specs write
some of them loosely).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from ._responses import ZoomHTTPError
from ._spec import OperationSpec, QueryParam

__all__ = ["check_request"]

_MAX_ERRORS = 20
_INVALID_JSON = "Request Body should be a valid JSON object."


def _failed(errors: list[dict[str, str]]) -> ZoomHTTPError:
    return ZoomHTTPError(400, 300, "Validation Failed.", errors=errors[:_MAX_ERRORS])


def _query_value(param: QueryParam, raw: str) -> tuple[bool, Any]:
    """``(ok, parsed value)`` of one query parameter."""
    types = param.schema.get("type")
    kind = types if isinstance(types, str) else "string"
    value: Any = raw
    if kind == "integer":
        try:
            value = int(raw)
        except ValueError:
            return False, raw
    elif kind == "number":
        try:
            value = float(raw)
        except ValueError:
            return False, raw
    elif kind == "boolean":
        if raw.lower() not in ("true", "false"):
            return False, raw
        value = raw.lower() == "true"
    enum = param.schema.get("enum")
    if enum is not None and kind != "array" and value not in enum:
        return False, value
    if kind in ("integer", "number"):
        lo, hi = param.schema.get("minimum"), param.schema.get("maximum")
        # A page_size above the maximum is capped, not refused, by Zoom.
        if (lo is not None and value < lo) or (
            hi is not None and value > hi and param.name != "page_size"
        ):
            return False, value
    return True, value


def check_query(spec: OperationSpec, query: Mapping[str, str]) -> None:
    errors = []
    for param in spec.query:
        raw = query.get(param.name)
        if raw is None or raw == "":
            if param.required:
                errors.append(
                    {"field": param.name, "message": f"The {param.name} field is required."}
                )
            continue
        ok, _ = _query_value(param, raw)
        if not ok:
            errors.append({"field": param.name, "message": "Invalid field."})
    if errors:
        raise _failed(errors)


@cache
def _validator(key: str, schema_id: int) -> Any:
    from jsonschema import Draft7Validator

    from ._spec import operation_spec

    method, path = key.split(" ", 1)
    spec = operation_spec(method, path)
    assert spec is not None and spec.body is not None and id(spec.body.schema) == schema_id
    return Draft7Validator(spec.body.schema)


def _field(path: Any, name: str | None = None) -> str:
    parts = [str(p) for p in path]
    if name is not None:
        parts.append(name)
    return ".".join(parts) or "body"


def _message(error: Any) -> tuple[str, str]:
    """``(field, message)`` for one jsonschema error, in Zoom's words where we know them."""
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return _field(error.absolute_path, missing), "This field is required."
    if error.validator == "type":
        return _field(error.absolute_path), f"Expected {error.validator_value}."
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value)
        return _field(error.absolute_path), f"Must be one of: {allowed}."
    if error.validator in ("maxLength", "minLength", "maximum", "minimum", "maxItems", "minItems"):
        return _field(
            error.absolute_path
        ), f"Invalid field ({error.validator} {error.validator_value})."
    return _field(error.absolute_path), "Invalid field."


def check_body(spec: OperationSpec, body: bytes, content_type: str) -> Any:
    """The parsed JSON body (``None`` if empty or not JSON); 400 if it breaks the spec."""
    described = spec.body
    empty = not body.strip()
    if described is None:
        return None
    if empty:
        if described.required and described.media_type == "application/json":
            raise ZoomHTTPError(400, 300, _INVALID_JSON)
        return None
    if described.media_type != "application/json" or (content_type and "json" not in content_type):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        raise ZoomHTTPError(400, 300, _INVALID_JSON) from None
    if not described.schema:
        return value
    validator = _validator(spec.key, id(described.schema))
    found = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    if found:
        raise _failed([dict(zip(("field", "message"), _message(e), strict=True)) for e in found])
    return value


def check_request(
    spec: OperationSpec, query: Mapping[str, str], body: bytes, content_type: str
) -> Any:
    """Check one request; returns the parsed JSON body, raises Zoom's 400 otherwise."""
    check_query(spec, query)
    return check_body(spec, body, content_type)

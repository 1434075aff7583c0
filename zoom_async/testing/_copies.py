"""Copies of the fake's JSON-shaped records, for answers and for callers who may change them.

A record is dicts and lists of strings, numbers, booleans and ``None``: walking those directly
costs a fraction of :func:`copy.deepcopy` (no memo, no dispatch by ``__deepcopy__``), which the
fake paid on every ``GET`` of a user or a meeting. Anything else inside a record (a tuple, a
set, a user's own object in a resource) is still handed to :func:`copy.deepcopy`.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

__all__ = ["copied"]

T = TypeVar("T")

_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def copied(value: T) -> T:
    """A deep copy of ``value``: new dicts and lists all the way down, shared immutables."""
    result: T = _copy(value)
    return result


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    return copy.deepcopy(value)

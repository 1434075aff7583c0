"""Handlers and fixtures users register for an operation (``fake.handle``, ``fake.fixture``)."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .. import catalog

__all__ = ["CustomHandler", "FakeRequest", "FakeResponse", "OperationRef", "resolve_operation"]


@dataclass(frozen=True)
class FakeRequest:
    """A request, as a handler registered with :meth:`FakeZoom.handle` sees it.

    The fake has already authenticated it, applied the rate limits and validated it against the
    spec.
    """

    operation: catalog.Operation
    """The catalog operation it is for."""
    method: str
    path: str
    """The request path, as sent (``/v2/users/me/settings``)."""
    path_params: Mapping[str, str]
    """The path parameters by the spec's names (``{"userId": "me"}``)."""
    query: Mapping[str, str]
    body: bytes
    user_id: str
    """The user the access token acts as (the owner's id for Server-to-Server tokens)."""

    def json(self) -> Any:
        """The body as JSON (``None`` when empty)."""
        return json.loads(self.body) if self.body.strip() else None


@dataclass
class FakeResponse:
    """What a handler may return to choose the status or headers. ``status=None``: the spec's
    success status. ``body=None``: an empty body."""

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


CustomHandler: TypeAlias = Callable[[FakeRequest], "FakeResponse | Any | Awaitable[Any]"]
"""``handler(request)`` returning a JSON-able body (answered with the spec's status), a
:class:`FakeResponse`, or an awaitable of either."""

OperationRef: TypeAlias = "str | catalog.Operation"
"""An operation: ``"GET /users/{userId}/settings"`` (a template or a concrete path), an
operationId (``"userSettings"``, or ``"users:userSettings"`` when several APIs use it), or a
:class:`zoom_async.catalog.Operation`."""


def resolve_operation(ref: OperationRef) -> catalog.Operation:
    """The catalog operation ``ref`` names; ``KeyError`` if none."""
    if isinstance(ref, catalog.Operation):
        return ref
    text = ref.strip()
    method, sep, path = text.partition(" ")
    if sep and method.isalpha() and method.upper() == method and path.startswith("/"):
        found = catalog.match(method, path)
        if found is None:
            raise KeyError(f"no operation {text!r} in the catalog")
        return found[0]
    api, sep, op_id = text.partition(":")
    return catalog.by_operation_id(op_id, api) if sep else catalog.by_operation_id(text)


def fixture_handler(body: Any, status: int | None, headers: Mapping[str, str]) -> CustomHandler:
    """A handler answering a copy of ``body`` every time."""
    frozen = copy.deepcopy(body)

    def handler(request: FakeRequest) -> FakeResponse:
        return FakeResponse(status, copy.deepcopy(frozen), dict(headers))

    return handler

"""Every operation of Zoom's REST API, with its rate-limit label, and a fast request router.

The data comes from Zoom's OpenAPI specs through ``python -m codegen catalog`` (see
``docs/catalog.md``); at run time this module reads only the generated
``zoom_async._generated.catalog_data``.

>>> op, params = match("GET", "https://api.zoom.us/v2/users/jo%40example.com/meetings?page_size=300")
>>> op.operation_id, op.category.value, op.list_key, op.max_page_size, params
('meetings', 'Medium', 'meetings', 300, {'userId': 'jo@example.com'})
>>> resolve("GET", "/users/me/zak").operation_id
'userZak'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal
from urllib.parse import unquote

from .plans import Category, Family

__all__ = [
    "Operation",
    "Pagination",
    "by_operation_id",
    "by_python_name",
    "match",
    "operations",
    "resolve",
]

Pagination = Literal["next_page_token", "page_number", "both", "none"]
"""How a list operation pages: by ``next_page_token``, by ``page_number``, either, or not."""

_FAMILIES: dict[str, Family] = {"general": "general", "phone": "phone"}
_PAGINATIONS: dict[str, Pagination] = {
    "next_page_token": "next_page_token",
    "page_number": "page_number",
    "both": "both",
    "none": "none",
}


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of Zoom's REST API, as its OpenAPI spec describes it.

    ``path`` is the spec's template (``/users/{userId}/meetings``), relative to its base:
    ``base_path`` is the path of the spec's server URL, ``"/v2"`` for almost every API (the
    client's ``https://api.zoom.us/v2`` base URL) and ``""`` for SCIM2 (``/scim2/...``), whose
    spec names the API root ``https://api.zoom.us`` as its server (see ``docs/catalog.md``).
    Uploads whose descriptions name a file host (``https://fileapi.zoom.us/v2/``) have it in
    ``file_host``; the client sends them to its ``file_base_url``.
    """

    api: str
    """The spec's file stem, e.g. ``"meetings"``, ``"phone"``, ``"contact-center"``."""
    area: str
    """The spec's directory, e.g. ``"workplace"``, ``"accounts"``, ``"business_services"``."""
    method: str
    """Upper-case HTTP method."""
    path: str
    """Path template, e.g. ``/users/{userId}/meetings``."""
    operation_id: str
    """The spec's operationId. Not unique across APIs: see :func:`by_operation_id`."""
    category: Category
    """Zoom's rate-limit label."""
    category_defaulted: bool
    """True when the spec gives no label and ``category`` is the configured default."""
    family: Family
    """``"phone"`` for paths under ``/phone/`` (Zoom Phone's own limits), else ``"general"``."""
    pagination: Pagination
    """Which paging query parameters the operation takes."""
    list_key: str | None
    """The array property holding a page's items (``"meetings"``), if paginated and unambiguous."""
    max_page_size: int | None
    """The ``maximum`` of the ``page_size`` query parameter, if the spec gives one."""
    base_path: str = "/v2"
    """Path of the spec's server URL (``"/v2"``, or ``""`` for SCIM2 at the API root)."""
    summary: str = ""
    """The spec's one-line summary: the operation's title in Zoom's API docs."""
    python_name: str = ""
    """The typed method's dotted path from the client: ``"meetings.create"`` is
    ``zoom.meetings.create`` (see ``docs/naming.md``). Unique across all operations."""
    file_host: str | None = None
    """The file host Zoom's docs send this upload to: ``"fileapi.zoom.us"`` (Clips, Zoom Events,
    Rooms, Whiteboard, Zoom Docs, Revenue Accelerator, Phone fax and Team Chat emoji files) or
    ``"file.zoom.us"`` (Team Chat's two file uploads), both under ``/v2``; ``None`` for every
    operation at ``api.zoom.us``."""


@cache
def operations() -> tuple[Operation, ...]:
    """All operations, sorted by area, api, path and method."""
    # Imported on first use: the table is a sizeable part of ``import zoom_async``.
    from ._generated.catalog_data import SPECS

    out: list[Operation] = []
    for area, api, base_path, rows in SPECS:
        for row in rows:
            method, path, op_id, label, defaulted, family, pages, list_key, max_size = row[:9]
            summary, python_name, file_host = row[9], row[10], row[11]
            out.append(
                Operation(
                    api=api,
                    area=area,
                    method=method,
                    path=path,
                    operation_id=op_id,
                    category=Category(label),
                    category_defaulted=defaulted,
                    family=_FAMILIES[family],
                    pagination=_PAGINATIONS[pages],
                    list_key=list_key,
                    max_page_size=max_size,
                    base_path=base_path,
                    summary=summary,
                    python_name=python_name,
                    file_host=file_host,
                )
            )
    return tuple(out)


@cache
def _operation_ids() -> dict[str | tuple[str, str], Operation]:
    index: dict[str | tuple[str, str], Operation] = {}
    for op in operations():
        index.setdefault(op.operation_id, op)
        index.setdefault((op.api, op.operation_id), op)
    return index


def by_operation_id(operation_id: str, api: str | None = None) -> Operation:
    """The operation with this operationId; ``KeyError`` if there is none.

    Some operationIds appear in more than one API (``users`` is both ``GET /users`` in ``users``
    and ``GET /contact_center/users`` in ``contact-center``; ``docs/catalog.md`` lists them all).
    Without ``api`` such an id gives the first operation in :func:`operations` order (sorted by
    area, then api); pass ``api`` (the spec's file stem) to choose. ``(api, operationId)`` is
    unique.
    """
    key: str | tuple[str, str] = operation_id if api is None else (api, operation_id)
    try:
        return _operation_ids()[key]
    except KeyError:
        raise KeyError(operation_id if api is None else f"{api}:{operation_id}") from None


@cache
def _python_names() -> dict[str, Operation]:
    return {op.python_name: op for op in operations()}


def by_python_name(python_name: str) -> Operation:
    """The operation of typed method ``python_name`` (``"meetings.create"``); ``KeyError`` if
    there is none."""
    try:
        return _python_names()[python_name]
    except KeyError:
        raise KeyError(python_name) from None


class _Node:
    """A trie node: one child per literal segment, one for any parameter, routes by method."""

    __slots__ = ("literals", "param", "routes")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.routes: dict[str, tuple[Operation, tuple[str, ...]]] = {}


@cache
def _trie() -> _Node:
    """The router, built on first use and then cached."""
    root = _Node()
    for op in operations():
        node = root
        names: list[str] = []
        for seg in op.path[1:].split("/"):
            if seg.startswith("{") and seg.endswith("}"):
                names.append(seg[1:-1])
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                child = node.literals.get(seg)
                if child is None:
                    child = node.literals[seg] = _Node()
                node = child
        node.routes.setdefault(op.method, (op, tuple(names)))
    return root


def _segments(path: str) -> list[str]:
    """The unquoted segments of ``path`` below the API base, without any ``/v2`` prefix."""
    cut = path.find("?")
    if cut >= 0:
        path = path[:cut]
    cut = path.find("#")
    if cut >= 0:
        path = path[:cut]
    scheme = path.find("://")
    if scheme > 0 and path[:scheme].isalpha():
        slash = path.find("/", scheme + 3)
        path = path[slash:] if slash >= 0 else ""
    segs = path.split("/")
    if segs and segs[0] == "":
        del segs[0]
    if segs and segs[-1] == "":
        del segs[-1]
    if segs and segs[0] == "v2":
        del segs[0]
    # Split the raw path first: a double-encoded meeting UUID keeps its %2F inside one segment.
    return [unquote(s) if "%" in s else s for s in segs]


def _walk(
    node: _Node, segs: list[str], i: int, method: str, values: list[str]
) -> tuple[Operation, tuple[str, ...]] | None:
    if i == len(segs):
        return node.routes.get(method)
    seg = segs[i]
    child = node.literals.get(seg)
    if child is not None:
        found = _walk(child, segs, i + 1, method, values)
        if found is not None:
            return found
    if node.param is not None and seg:
        values.append(seg)
        found = _walk(node.param, segs, i + 1, method, values)
        if found is not None:
            return found
        values.pop()
    return None


def match(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The operation a request is for, and its path parameters; ``None`` if no operation fits.

    ``path`` may be a path with or without a leading slash, with or without a ``/v2`` prefix,
    trailing slash, query string or fragment, or a full URL (its host is ignored). Parameter
    values are URL-unquoted once, after splitting the raw path on ``/``: a double-encoded
    meeting UUID ``%252Fab%253D%253D`` gives ``{"meetingId": "%2Fab%3D%3D"}``, a single-encoded
    ``%2Fab==`` gives ``"/ab=="``.

    At each segment a literal route wins over a parameter (``/users/me/zak`` is ``userZak``, not
    ``/users/{userId}/...``), falling back to the parameter when the literal branch has no route
    for ``method``: ``GET /users/me/meetings`` is ``/users/{userId}/meetings`` with
    ``userId="me"``. Empty segments never match a parameter.
    """
    found = _locate(method.upper(), path)
    if found is None:
        return None
    op, names, values = found
    return op, dict(zip(names, values, strict=True))


def resolve(method: str, path: str) -> Operation | None:
    """The operation a request is for, or ``None``; :func:`match` without the parameters."""
    found = _locate(method.upper(), path)
    return None if found is None else found[0]


def _locate(method: str, path: str) -> tuple[Operation, tuple[str, ...], list[str]] | None:
    """:func:`match` for an upper-case ``method``, with the parameters' names and values apart
    (no dict built for a caller that does not need them)."""
    if path[:1] == "/" and "%" not in path and "?" not in path and "#" not in path:
        # The common case (a client's relative path): nothing to cut off or unquote.
        segs = path.split("/")
        del segs[0]
        if segs and segs[-1] == "":
            del segs[-1]
        if segs and segs[0] == "v2":
            del segs[0]
    else:
        segs = _segments(path)
    # The first path the search below tries (a literal wherever there is one) is nearly always
    # the answer: follow it without recursion, and search only when it leads nowhere.
    node = _trie()
    values: list[str] = []
    for seg in segs:
        child = node.literals.get(seg)
        if child is None:
            child = node.param
            if child is None or not seg:
                break
            values.append(seg)
        node = child
    else:
        route = node.routes.get(method)
        if route is not None:
            return route[0], route[1], values
    values = []
    found = _walk(_trie(), segs, 0, method, values)
    return None if found is None else (found[0], found[1], values)

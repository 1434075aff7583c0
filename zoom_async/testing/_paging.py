"""Zoom-style paging: ``page_size`` with either ``page_number`` or an opaque ``next_page_token``.

A token remembers the listing it belongs to and the position after the last item served (the
item's creation sequence number, so deleting items between pages skips nothing). Tokens expire
``ttl`` seconds after they were issued, as Zoom's do after about 15 minutes.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._responses import ZoomHTTPError, validation_error

__all__ = ["Page", "PageTokens", "paginate"]

_TOKEN_ALPHABET = string.ascii_letters + string.digits

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Cursor:
    listing: str
    after_seq: int
    issued: float


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing and the paging fields of the answer."""

    items: list[T]
    fields: dict[str, Any]


class PageTokens:
    """Issues and checks ``next_page_token`` values."""

    def __init__(self, rng: random.Random, ttl: float) -> None:
        self._rng = rng
        self.ttl = ttl
        self._cursors: dict[str, _Cursor] = {}

    def issue(self, listing: str, after_seq: int, now: float) -> str:
        """A new token continuing ``listing`` after the item numbered ``after_seq``."""
        if len(self._cursors) > 10_000:
            self._purge(now)
        token = "".join(self._rng.choices(_TOKEN_ALPHABET, k=32))
        self._cursors[token] = _Cursor(listing, after_seq, now)
        return token

    def resolve(self, token: str, listing: str, now: float) -> int:
        """The sequence number to continue after; 400/300 if the token is unknown or expired."""
        cursor = self._cursors.get(token)
        if cursor is None or cursor.listing != listing or now - cursor.issued >= self.ttl:
            raise ZoomHTTPError(400, 300, "The next page token is invalid or expired.")
        return cursor.after_seq

    def expire_all(self) -> None:
        """Invalidate every token issued so far."""
        self._cursors.clear()

    def _purge(self, now: float) -> None:
        self._cursors = {k: c for k, c in self._cursors.items() if now - c.issued < self.ttl}


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise validation_error(name) from None


def paginate(
    query: Mapping[str, str],
    items: Sequence[tuple[int, T]],
    *,
    tokens: PageTokens,
    listing: str,
    now: float,
    max_page_size: int,
    default_page_size: int = 30,
    page_numbers: bool = True,
) -> Page[T]:
    """Cut one page out of ``items`` (``(sequence number, item)`` pairs in listing order).

    ``page_size`` above the maximum is capped to it, as Zoom does; a ``next_page_token`` wins
    over ``page_number``.
    """
    page_size = _int_param(query, "page_size", default_page_size)
    if page_size < 1:
        raise validation_error("page_size")
    page_size = min(page_size, max_page_size)
    token = query.get("next_page_token") or ""
    if token:
        after = tokens.resolve(token, listing, now)
        start = next((i for i, (seq, _) in enumerate(items) if seq > after), len(items))
    elif page_numbers:
        page_number = _int_param(query, "page_number", 1)
        if page_number < 1:
            raise validation_error("page_number")
        start = (page_number - 1) * page_size
    else:
        start = 0
    chunk = items[start : start + page_size]
    end = start + len(chunk)
    next_token = ""
    if end < len(items) and chunk:
        next_token = tokens.issue(listing, chunk[-1][0], now)
    fields: dict[str, Any] = {
        "page_count": math.ceil(len(items) / page_size),
        "page_number": start // page_size + 1,
        "page_size": page_size,
        "total_records": len(items),
        "next_page_token": next_token,
    }
    return Page([item for _, item in chunk], fields)

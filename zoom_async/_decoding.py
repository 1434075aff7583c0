"""Reading and decoding what a server sent, whatever it sent: bodies read up to a bound, JSON that
fails only with ``ValueError``, and short single-line excerpts of bodies for error messages.

``json.loads`` raises ``RecursionError`` for deeply nested input (``"[" * 200_000``), which is
not a ``ValueError``: every decoding path of the package goes through :func:`loads` so a hostile
body ends in the caller's typed error instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, cast

import httpx

__all__ = ["EXCERPT_LENGTH", "excerpt", "loads", "read_at_most"]

EXCERPT_LENGTH = 200
"""The most characters of a body an error message quotes."""

_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]{0,200}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


async def read_at_most(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of a streamed body, and whether it held more.

    Reading stops at the bound, so a huge or endless body costs at most ``limit`` bytes of memory.
    """
    parts: list[bytes] = []
    size = 0
    # aiter_bytes() is an async generator: close it when leaving the loop early.
    body = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
    async with aclosing(body) as chunks:
        async for chunk in chunks:
            if size + len(chunk) > limit:
                parts.append(chunk[: limit - size])
                return b"".join(parts), True
            parts.append(chunk)
            size += len(chunk)
    return b"".join(parts), False


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """``json.loads``, raising ``ValueError`` for any body it cannot decode.

    >>> loads(b'{"a": 1}')
    {'a': 1}
    >>> loads("[" * 100_000)
    Traceback (most recent call last):
    ...
    ValueError: JSON nested too deeply to decode
    """
    if isinstance(data, memoryview):
        data = data.tobytes()
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None


def excerpt(body: bytes | str, limit: int = EXCERPT_LENGTH) -> str:
    """A short single-line excerpt of a body for an error message: markup tags dropped,
    whitespace and control characters collapsed, at most ``limit`` characters.

    >>> excerpt("<html>\\n<head><title>502 Bad Gateway</title></head>\\n<body>...</body></html>")
    '502 Bad Gateway ...'
    """
    if isinstance(body, bytes | bytearray):
        # Only the start is quoted: decode no more than could be shown (x16 for markup).
        text = bytes(body[: limit * 16]).decode("utf-8", errors="replace")
    else:
        text = body[: limit * 16]
    if "<" in text:
        text = _TAG.sub(" ", text)
    text = _WHITESPACE.sub(" ", _CONTROL.sub(" ", text)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text

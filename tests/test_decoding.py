"""Bodies read up to a bound (zoom_async._decoding.read_at_most)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from zoom_async._decoding import read_at_most


class _Chunks(httpx.AsyncByteStream):
    """A body sent in chunks that records how far it was read and whether it was closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def _response(stream: _Chunks) -> httpx.Response:
    return httpx.Response(200, stream=stream, request=httpx.Request("GET", "https://x.test/"))


@pytest.mark.parametrize(
    ("chunks", "limit", "expected"),
    [
        ([b"abc", b"def"], 6, (b"abcdef", False)),  # exactly the bound: nothing more
        ([b"abc", b"def"], 10, (b"abcdef", False)),
        ([b"abc", b"def"], 5, (b"abcde", True)),
        ([b"abcdef"], 0, (b"", True)),
        ([], 0, (b"", False)),
    ],
)
async def test_reads_up_to_the_bound_and_says_whether_more_came(
    chunks: list[bytes], limit: int, expected: tuple[bytes, bool]
) -> None:
    assert await read_at_most(_response(_Chunks(chunks)), limit) == expected


async def test_stops_reading_an_endless_body_at_the_bound() -> None:
    stream = _Chunks([b"x" * 1024] * 10_000)
    body, more = await read_at_most(_response(stream), 4096)
    assert (len(body), more) == (4096, True)
    assert stream.sent == 5  # the fifth chunk crossed the bound; nothing after it was pulled

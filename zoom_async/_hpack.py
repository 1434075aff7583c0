"""HPACK for the default client's HTTP/2 connections, coded in Rust.

h2 codes every request's headers and decodes every answer's head with hpack, in pure Python.
jh2 (the maintained fork of h2 that niquests speaks HTTP/2 with) ships the same codec compiled
from Rust. :class:`Encoder` and :class:`Decoder` give it hpack's interface, the one h2's state
machine calls, so httpcore and h2 stay as they are and only the codec changes: a request's
headers (a 700-byte bearer token among them) are coded in 8 µs instead of 21 (hpack, with the
token's Huffman code remembered by :class:`zoom_async._pool._RememberedHuffman`), an answer's
head decoded in 7 µs instead of 26, and a request over HTTP/2 takes 2.15 M instructions instead
of 2.33 M (``benchmarks/bench_pool.py --pool default-h2`` under callgrind). Without jh2's
compiled module (a platform it has no wheel for), h2 keeps hpack's.

What the Rust decoder refuses is raised as hpack's own errors, which h2 turns into a
``ProtocolError`` (or a ``DenialOfServiceError`` for a header list over its limit) and the
connection is closed, as with hpack: a hostile or broken server's head is never let through
half-read, and a panic in the compiled code is an error of the connection, not of the caller
(Rust's panic hook still prints its one line to stderr: a truncated literal causes one).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, cast

import hpack
from hpack import HeaderTuple, NeverIndexedHeaderTuple

_rust: Any
try:
    _rust = importlib.import_module("jh2._hazmat")  # (it has no stubs of its own)
except ImportError:  # pragma: no cover - (jh2 without its compiled part: hpack's own coder)
    _rust = None
if not hasattr(_rust, "OversizedHeaderListError"):  # pragma: no cover
    _rust = None  # (before jh2 5.0.11: no never-indexed flag; its errors were not its own)


def _setting(name: str) -> Any:
    """One of the compiled coder's sizes, read and set through as hpack's attribute."""

    def get(self: Encoder | Decoder) -> int:
        return int(getattr(self._rust, name))

    def set(self: Encoder | Decoder, value: int) -> None:
        setattr(self._rust, name, value)

    return property(get, set)


class Encoder:
    """hpack's :class:`hpack.Encoder` interface over jh2's compiled encoder."""

    def __init__(self, header_table_size: int) -> None:
        assert _rust is not None
        self._rust = _rust.Encoder()
        if header_table_size != self._rust.header_table_size:
            self._rust.header_table_size = header_table_size

    def __repr__(self) -> str:  # (its table holds the headers sent: never shown)
        return f"<{type(self).__name__} (Rust)>"

    header_table_size = _setting("header_table_size")

    def encode(self, headers: Iterable[Any], huffman: bool = True) -> bytes:
        # h2 hands a header it must never index (Authorization, short cookies) as hpack's
        # NeverIndexedHeaderTuple: the Rust coder takes that as a flag, as hpack does (sent as
        # a literal never to be indexed, unless its value is the static table's own).
        return cast(
            bytes,
            self._rust.encode(
                [
                    (
                        h[0] if type(h[0]) is bytes else bytes(h[0], "utf-8"),
                        h[1] if type(h[1]) is bytes else bytes(h[1], "utf-8"),
                        not getattr(h, "indexable", True),
                    )
                    for h in headers
                ],
                huffman,
            ),
        )


class Decoder:
    """hpack's :class:`hpack.Decoder` interface over jh2's compiled decoder, with hpack's
    errors (which h2 turns into errors of the connection)."""

    def __init__(self, max_header_list_size: int, max_allowed_table_size: int) -> None:
        assert _rust is not None
        self._rust = _rust.Decoder(max_header_list_size)
        self._rust.max_allowed_table_size = max_allowed_table_size

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (Rust)>"

    header_table_size = _setting("header_table_size")
    max_header_list_size = _setting("max_header_list_size")
    max_allowed_table_size = _setting("max_allowed_table_size")

    def decode(self, data: bytes, raw: bool = False) -> list[HeaderTuple]:
        assert _rust is not None
        try:
            decoded = self._rust.decode(data, raw=True)
        except _rust.OversizedHeaderListError as exc:
            raise hpack.OversizedHeaderListError(str(exc)) from None
        except Exception as exc:
            raise hpack.HPACKDecodingError(str(exc)) from None
        except BaseException as exc:
            # A panic in the compiled code (pyo3's PanicException derives from BaseException,
            # so that nothing catches it by accident): bad input, not a reason to stop.
            if type(exc).__name__ != "PanicException":
                raise
            raise hpack.HPACKDecodingError(f"undecodable header block ({exc})") from None
        headers = [
            NeverIndexedHeaderTuple(name, value) if sensitive else HeaderTuple(name, value)
            for name, value, sensitive in decoded
        ]
        if not raw:
            return [type(h)(bytes(h[0]).decode(), bytes(h[1]).decode()) for h in headers]
        return headers


def install(state: Any) -> bool:
    """Give an h2 connection state (before its first frame) the compiled codec, with the
    limits and table sizes its hpack coder and decoder have; ``False`` where there is none."""
    encoder, decoder = state.encoder, state.decoder
    if type(encoder) is Encoder:
        return True  # (already: a codec is never swapped once it may have coded a header)
    if _rust is None or type(encoder) is not hpack.Encoder or type(decoder) is not hpack.Decoder:
        return False
    state.encoder = Encoder(encoder.header_table_size)
    state.decoder = Decoder(decoder.max_header_list_size, decoder.max_allowed_table_size)
    return True

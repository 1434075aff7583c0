"""zoom_async._hpack: the HTTP/2 connections' header codec, compiled, with hpack's interface.

Checked against hpack itself (each side's blocks decoded by the other, over a connection's
worth of blocks, so that their dynamic tables must agree), and against what a hostile server
may send: every bad block is one of hpack's errors, which h2 makes an error of the connection.
"""

from __future__ import annotations

import contextlib

import h2.config
import h2.connection
import h2.exceptions
import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_pool import h2_answering, http2_streams, serve
from zoom_async import _hpack
from zoom_async._pool import PoolClient

pytestmark = pytest.mark.skipif(_hpack._rust is None, reason="jh2's compiled codec is missing")

_names = st.sampled_from([b"accept", b"user-agent", b":path", b"x-zm-trackingid", b"etag"])
_headers = st.lists(
    st.tuples(
        st.one_of(_names, st.binary(min_size=1, max_size=20).map(bytes.lower)),
        st.binary(max_size=300),
        st.booleans(),  # never indexed
    ),
    max_size=12,
)


def _as_hpack(headers: list[tuple[bytes, bytes, bool]]) -> list[hpack.HeaderTuple]:
    return [
        hpack.NeverIndexedHeaderTuple(n, v) if secret else hpack.HeaderTuple(n, v)
        for n, v, secret in headers
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(_headers, min_size=1, max_size=6), st.sampled_from([0, 256, 4096]))
def test_blocks_decode_as_hpack_s_own_both_ways(
    blocks: list[list[tuple[bytes, bytes, bool]]], table_size: int
) -> None:
    """Each block, over a connection's worth of them, decodes as it does between hpack's own
    coder and decoder: the same headers, each marked never-indexed where hpack's would be (a
    value in the static table goes by its index either way)."""
    ours, theirs = _hpack.Encoder(4096), hpack.Decoder()
    their_encoder, our_decoder = hpack.Encoder(), _hpack.Decoder(1 << 20, 4096)
    reference_encoder, reference_decoder = hpack.Encoder(), hpack.Decoder()
    for encoder in (ours, their_encoder, reference_encoder):
        encoder.header_table_size = table_size
    for block in blocks:
        sent = _as_hpack(block)
        expected = reference_decoder.decode(reference_encoder.encode(sent), raw=True)
        assert expected == sent
        for decoded in (
            theirs.decode(ours.encode(sent), raw=True),
            our_decoder.decode(their_encoder.encode(sent), raw=True),
        ):
            assert decoded == expected
            assert [type(h) for h in decoded] == [type(h) for h in expected]


def test_a_secret_never_enters_the_table_and_the_coders_show_nothing() -> None:
    token = b"Bearer " + b"t" * 700
    encoder = _hpack.Encoder(4096)
    first = encoder.encode([hpack.NeverIndexedHeaderTuple(b"authorization", token)])
    again = encoder.encode([hpack.NeverIndexedHeaderTuple(b"authorization", token)])
    assert first == again  # sent as a literal each time, never by an index
    assert first[0] & 0xF0 == 0x10  # RFC 7541 §6.2.3: literal, never indexed
    assert "Bearer" not in repr(encoder) and "t" * 10 not in repr(encoder)
    assert "Rust" in repr(_hpack.Decoder(100, 4096))
    # (as hpack's, text unless asked for raw bytes)
    block = hpack.Encoder().encode([(b"x-a", b"b")])
    assert _hpack.Decoder(100, 4096).decode(block) == [("x-a", "b")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_hpack_s_errors(data: bytes) -> None:
    with contextlib.suppress(hpack.HPACKError):
        _hpack.Decoder(65536, 4096).decode(data, raw=True)


@pytest.mark.parametrize(
    "block",
    [
        b"\x00",  # a literal cut short (the compiled decoder panics: PanicException)
        b"\xbf",  # an index past both tables
        b"\xff" * 10,  # an integer that never ends
        b"\x3f\xe1\x7f",  # a table size above what was allowed
    ],
)
def test_broken_blocks_are_hpack_errors(block: bytes) -> None:
    with pytest.raises(hpack.HPACKDecodingError):
        _hpack.Decoder(65536, 4096).decode(block, raw=True)


def test_a_header_list_over_the_limit_is_refused_as_hpack_refuses_it() -> None:
    block = hpack.Encoder().encode([(b"x-big", b"v" * 200)])
    with pytest.raises(hpack.OversizedHeaderListError):
        _hpack.Decoder(100, 4096).decode(block, raw=True)
    # ...which h2 reports as an attack on the connection
    state = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    assert _hpack.install(state)
    encoder = state.encoder
    assert _hpack.install(state) and state.encoder is encoder  # (never swapped again)
    state.decoder.max_header_list_size = 100
    with pytest.raises(h2.exceptions.DenialOfServiceError):
        h2.connection._decode_headers(state.decoder, block)


async def test_the_default_client_s_http2_connections_use_it() -> None:
    seen: list[dict[bytes, bytes]] = []
    token = "Bearer " + "x" * 700
    async with (
        await serve(h2_answering(seen)) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        paths = [f"/users/u{n}" for n in range(5)] * 2
        for path in paths:
            response = await http.get(
                f"http://127.0.0.1:{port}{path}", headers={"authorization": token}
            )
            assert response.http_version == "HTTP/2"
            assert response.json() == {}
        state = http2_streams(http)._h2_state
        assert type(state.encoder) is _hpack.Encoder
        assert type(state.decoder) is _hpack.Decoder
    assert [h[b":path"].decode() for h in seen] == paths
    assert {h[b"authorization"].decode() for h in seen} == {token}

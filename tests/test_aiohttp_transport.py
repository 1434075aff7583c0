"""``ZoomClient(transport="aiohttp")``: failures classified by whether Zoom may have the request.

The same cases run through httpx's own transport, so both are held to one contract: a request
that may have reached Zoom is never re-sent blindly, and one that was never written is.
"""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import httpx
import pytest
import respx

from tests.conftest import served_client
from zoom_async import RetryPolicy, StaticToken, ZoomClient
from zoom_async._aiohttp_transport import _remapped
from zoom_async.errors import ZoomConnectionError, ZoomTimeoutError
from zoom_async.retries import ExponentialBackoff
from zoom_async.testing import FakeZoom

TRANSPORTS = [pytest.param(None, id="httpx"), pytest.param("aiohttp", id="aiohttp")]
FAST_RETRIES = RetryPolicy(backoff=ExponentialBackoff(initial=0.001, maximum=0.002))


def posts(fake: FakeZoom) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path.endswith("/meetings"))


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_post_whose_connection_drops_is_not_sent_again(transport: Any) -> None:
    fake = FakeZoom()
    fake.inject("POST", "/users/{userId}/meetings", None, drop_connection=True, after_apply=True)
    async with (
        fake.serve() as server,
        served_client(fake, server, transport, retry=FAST_RETRIES) as zoom,
    ):
        with pytest.raises(ZoomConnectionError) as info:
            await zoom.post("/users/me/meetings", json={"topic": "Sync", "type": 2})
    assert info.value.may_have_reached_zoom
    assert "not re-sent" in str(info.value)
    assert posts(fake) == 1
    assert len(fake.meetings) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_get_whose_connection_drops_is_retried(transport: Any) -> None:
    fake = FakeZoom()
    fake.inject("GET", "/users/{userId}", None, drop_connection=True)
    async with (
        fake.serve() as server,
        served_client(fake, server, transport, retry=FAST_RETRIES) as zoom,
    ):
        me = await zoom.get("/users/me")
    assert me["id"]
    assert sum(1 for r in fake.requests if r.method == "GET") == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_post_that_outlives_its_timeout_is_not_sent_again(transport: Any) -> None:
    fake = FakeZoom()
    fake.inject("POST", "/users/{userId}/meetings", None, delay=2.0)
    async with (
        fake.serve() as server,
        served_client(fake, server, transport, retry=FAST_RETRIES, timeout=0.3) as zoom,
    ):
        await zoom.get("/users/me")  # the token and a connection first
        with pytest.raises(ZoomTimeoutError) as info:
            await zoom.post("/users/me/meetings", json={"topic": "Sync", "type": 2})
    assert info.value.may_have_reached_zoom
    assert posts(fake) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_refused_connection_counts_as_never_sent(transport: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake = FakeZoom()
    async with (
        fake.serve() as server,
        served_client(
            fake, server, transport, retry=FAST_RETRIES, base_url=f"http://127.0.0.1:{port}/v2"
        ) as zoom,
    ):
        with pytest.raises(ZoomConnectionError) as info:
            await zoom.post("/users/me/meetings", json={"topic": "Sync", "type": 2})
    assert not info.value.may_have_reached_zoom
    assert "attempts" in str(info.value)  # never written, so a POST may be tried again


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), httpx.ReadError),
        (aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout),
        (aiohttp.ConnectionTimeoutError("connect"), httpx.ConnectTimeout),
        (aiohttp.ClientPayloadError("truncated"), httpx.ReadError),
    ],
)
def test_aiohttp_errors_are_mapped_by_whether_the_request_may_have_left(
    error: BaseException, expected: type[httpx.TransportError]
) -> None:
    # httpx-aiohttp maps every ClientConnectionError to ConnectTimeout ("never sent").
    wrapped = httpx.ConnectTimeout(str(error))
    wrapped.__cause__ = error
    assert type(_remapped(wrapped)) is expected
    assert type(_remapped(error)) is expected


async def test_respx_mocks_the_aiohttp_transport_at_httpxs_level() -> None:
    # respx's default mock patches httpcore, which aiohttp bypasses; using="httpx" (what
    # docs/client.md tells users of transport="aiohttp") intercepts above the transport.
    with respx.mock(using="httpx", base_url="https://api.zoom.us/v2") as mocked:
        route = mocked.get("/users/me").respond(json={"id": "u1"})
        async with ZoomClient(auth=StaticToken("token"), transport="aiohttp") as zoom:
            assert await zoom.get("/users/me") == {"id": "u1"}
    assert route.call_count == 1

"""EventStream against a local WebSocket server standing in for wss://ws.zoom.us/ws."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from zoom_async.errors import AuthError, ConfigurationError, ZoomConnectionError
from zoom_async.event_stream import EventStream, mask_token
from zoom_async.events import MeetingStartedEvent, ZoomEvent

TOKEN_PREFIX = "s3cr3t-token-"
STARTED = {
    "event": "meeting.started",
    "event_ts": 1700000000000,
    "payload": {"account_id": "A", "object": {"id": "1", "topic": "Réunion"}},
}
OTHER = {"event": "brand.new_event", "event_ts": 1, "payload": {"account_id": "A", "x": 1}}


def frame(module: str, **fields: Any) -> str:
    return json.dumps({"module": module, **fields})


def message(event: dict[str, Any], *, as_string: bool = True) -> str:
    return frame("message", content=json.dumps(event) if as_string else event)


Script = Callable[[ServerConnection, int], Awaitable[None]]


@dataclass
class FakeZoom:
    """A WebSocket server; ``script(ws, n)`` plays the n-th accepted connection (0-based)."""

    script: Script
    reject_tokens: set[str] = field(default_factory=set)
    tokens: list[str] = field(default_factory=list)  # every token presented, in order
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    received: list[list[Any]] = field(default_factory=list)  # per accepted connection
    url: str = ""

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        self.queries.append(query)
        token = query.get("access_token", [""])[0]
        self.tokens.append(token)
        if token in self.reject_tokens or not token:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid access token\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        n = len(self.received)
        inbox: list[Any] = []
        self.received.append(inbox)

        async def read() -> None:
            async for raw in ws:
                inbox.append(json.loads(raw))

        reader = asyncio.create_task(read())
        try:
            await self.script(ws, n)
        finally:
            reader.cancel()


@pytest.fixture
async def zoom_server() -> AsyncIterator[Callable[..., Awaitable[FakeZoom]]]:
    servers: list[Any] = []

    async def start(script: Script, **kw: Any) -> FakeZoom:
        fake = FakeZoom(script, **kw)
        server = await serve(fake.handler, "127.0.0.1", 0, process_request=fake.process_request)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        fake.url = f"ws://127.0.0.1:{port}/ws"
        return fake

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def tokens() -> Callable[[], Awaitable[str]]:
    count = 0

    async def provider() -> str:
        nonlocal count
        count += 1
        return f"{TOKEN_PREFIX}{count}"

    return provider


def stream_for(fake: FakeZoom, provider: Callable[[], Awaitable[str]] | None = None,
               **kw: Any) -> EventStream:  # fmt: skip
    kw.setdefault("backoff_initial", 0.001)
    kw.setdefault("backoff_max", 0.01)
    return EventStream(
        "sub-123",
        provider or tokens(),
        url=fake.url,
        rng=random.Random(7),
        connect_options={"proxy": None, "open_timeout": 2},
        **kw,
    )


async def hold(ws: ServerConnection) -> None:
    await ws.wait_closed()


async def test_yields_typed_events_and_skips_control_frames(
    zoom_server: Callable[..., Awaitable[FakeZoom]], caplog: pytest.LogCaptureFixture
) -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(frame("build_connection", success=True, content="ok"))
        await ws.send(frame("heartbeat", success=True))
        await ws.send(frame("something_new"))
        await ws.send("not json")
        await ws.send("[1, 2]")
        await ws.send(frame("message"))
        await ws.send(frame("message", content="{broken"))
        await ws.send(message(STARTED))
        await ws.send(message(OTHER, as_string=False))
        await hold(ws)

    fake = await zoom_server(script)
    async with asyncio.timeout(5), stream_for(fake) as stream:
        first = await anext(stream)
        second = await anext(stream)
        assert stream.connected
    assert not stream.connected
    assert isinstance(first, MeetingStartedEvent)
    assert first.payload.object is not None and first.payload.object.topic == "Réunion"
    assert type(second) is ZoomEvent and second.event == "brand.new_event"
    assert second.model_dump(exclude_none=True) == OTHER
    assert fake.queries[0]["subscriptionId"] == ["sub-123"]
    assert fake.tokens == [f"{TOKEN_PREFIX}1"]
    assert "not JSON" in caplog.text and "ignoring an event" in caplog.text


async def test_sends_heartbeats(zoom_server: Callable[..., Awaitable[FakeZoom]]) -> None:
    beats = asyncio.Event()

    async def script(ws: ServerConnection, n: int) -> None:
        async with asyncio.timeout(2):
            while fake.received[n].count({"module": "heartbeat"}) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        beats.set()
        await ws.send(message(STARTED))
        await hold(ws)

    fake = await zoom_server(script)
    async with asyncio.timeout(5), stream_for(fake, heartbeat_interval=0.01) as stream:
        event = await anext(stream)
    assert beats.is_set()
    assert event.event == "meeting.started"


async def test_reconnects_with_a_renewed_token(
    zoom_server: Callable[..., Awaitable[FakeZoom]],
) -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(message({**STARTED, "event_ts": n}))
        if n < 2:
            await ws.close(1011, "going away")  # Zoom drops the connection
        else:
            await hold(ws)

    fake = await zoom_server(script)
    async with asyncio.timeout(5), stream_for(fake) as stream:
        got = [await anext(stream) for _ in range(3)]
    assert [e.event_ts for e in got] == [0, 1, 2]
    assert fake.tokens == [f"{TOKEN_PREFIX}{i}" for i in (1, 2, 3)]
    assert stream.connections == 3


async def test_refused_handshake_retries_with_a_new_token(
    zoom_server: Callable[..., Awaitable[FakeZoom]], caplog: pytest.LogCaptureFixture
) -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(message(STARTED))
        await hold(ws)

    fake = await zoom_server(script, reject_tokens={f"{TOKEN_PREFIX}1", f"{TOKEN_PREFIX}2"})
    invalidated: list[str] = []

    async def invalidate(token: str) -> None:
        invalidated.append(token)
        if len(invalidated) == 2:
            raise RuntimeError("cache unavailable")  # logged, not fatal

    async with asyncio.timeout(5), stream_for(fake, invalidate_token=invalidate) as stream:
        event = await anext(stream)
    assert event.event == "meeting.started"
    assert invalidated == [f"{TOKEN_PREFIX}1", f"{TOKEN_PREFIX}2"]
    assert "invalidate_token failed" in caplog.text
    assert fake.tokens == [f"{TOKEN_PREFIX}{i}" for i in (1, 2, 3)]
    assert stream.connections == 1
    assert "HTTP 401" in caplog.text


async def test_gives_up_after_max_attempts_without_leaking_the_token(
    zoom_server: Callable[..., Awaitable[FakeZoom]], caplog: pytest.LogCaptureFixture
) -> None:
    async def script(ws: ServerConnection, n: int) -> None:  # pragma: no cover - never accepted
        await hold(ws)

    fake = await zoom_server(script, reject_tokens={f"{TOKEN_PREFIX}{i}" for i in range(1, 9)})
    caplog.set_level(logging.DEBUG)  # includes the websockets library's request lines
    async with asyncio.timeout(5), stream_for(fake, max_attempts=3) as stream:
        with pytest.raises(ZoomConnectionError) as info:
            await anext(stream)
    assert len(fake.tokens) == 3
    assert "3 consecutive connection failures" in str(info.value)
    assert info.value.url is not None and "access_token=***" in info.value.url
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("zoom_async")
    )  # (the fake server logs the request line too, token and all: not our business)
    assert "GET /ws?" in ours  # the websockets library's debug line, through our logger...
    assert "access_token=***" in ours
    assert TOKEN_PREFIX not in ours  # ...with the token masked
    assert TOKEN_PREFIX not in str(info.value) + repr(info.value) + str(info.value.url)


async def test_unreachable_server_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    stream = EventStream(
        "sub",
        tokens(),
        url="ws://127.0.0.1:9/ws",  # discard port: connection refused
        backoff_initial=0.001,
        backoff_max=0.002,
        max_attempts=2,
        connect_options={"proxy": None},
    )
    async with asyncio.timeout(5):
        with pytest.raises(ZoomConnectionError, match="could not connect"):
            await anext(stream)
    await stream.aclose()
    assert TOKEN_PREFIX not in caplog.text  # (no fake server here)


async def test_token_provider_errors(zoom_server: Callable[..., Awaitable[FakeZoom]]) -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(message(STARTED))
        await hold(ws)

    fake = await zoom_server(script)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ZoomConnectionError("token endpoint unreachable")
        return f"{TOKEN_PREFIX}{calls}"

    async with asyncio.timeout(5), stream_for(fake, flaky) as stream:
        assert (await anext(stream)).event == "meeting.started"
    assert fake.tokens == [f"{TOKEN_PREFIX}2"]

    async def wrong_credentials() -> str:
        raise AuthError("invalid client_id or client_secret", step="token")

    async with asyncio.timeout(5), stream_for(fake, wrong_credentials) as stream:
        with pytest.raises(AuthError):
            await anext(stream)

    async def empty() -> str:
        return ""

    async with asyncio.timeout(5), stream_for(fake, empty) as stream:
        with pytest.raises(ConfigurationError):
            await anext(stream)


async def test_refused_subscription_reconnects(
    zoom_server: Callable[..., Awaitable[FakeZoom]],
) -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        if n == 0:
            await ws.send(frame("build_connection", success=False, content="not allowed"))
        else:
            await ws.send(message(STARTED))
        await hold(ws)

    fake = await zoom_server(script)
    invalidated: list[str] = []

    async def invalidate(token: str) -> None:
        invalidated.append(token)

    async with asyncio.timeout(5), stream_for(fake, invalidate_token=invalidate) as stream:
        assert (await anext(stream)).event == "meeting.started"
    assert stream.connections == 2
    assert len(fake.tokens) == 2
    assert invalidated == [f"{TOKEN_PREFIX}1"]


async def test_aclose_ends_a_pending_iteration(
    zoom_server: Callable[..., Awaitable[FakeZoom]],
) -> None:
    async def script(ws: ServerConnection, n: int) -> None:
        await ws.send(message(STARTED))
        await hold(ws)

    fake = await zoom_server(script)
    stream = stream_for(fake, heartbeat_interval=0.01)
    events: list[ZoomEvent] = []
    got_one = asyncio.Event()

    async def consume() -> None:
        async for event in stream:
            events.append(event)
            got_one.set()

    async with asyncio.timeout(5):
        task = asyncio.create_task(consume())
        await got_one.wait()
        await stream.aclose()
        await task  # ends cleanly (StopAsyncIteration)
    assert not stream.connected
    assert [e.event for e in events] == ["meeting.started"]
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_aclose_interrupts_backoff() -> None:
    stream = EventStream(
        "sub", tokens(), url="ws://127.0.0.1:9/ws", backoff_initial=30, backoff_max=30,
        connect_options={"proxy": None},
    )  # fmt: skip
    async with asyncio.timeout(5):
        task = asyncio.create_task(anext(stream))
        while stream._failures == 0:  # noqa: ASYNC110 - waiting for the first failure
            await asyncio.sleep(0.005)
        await stream.aclose()  # the stream is now waiting ~15-30 s before retrying
        with pytest.raises(StopAsyncIteration):
            await task


def test_backoff_is_capped_exponential_with_jitter() -> None:
    stream = EventStream("sub", tokens(), backoff_initial=1, backoff_max=20, rng=random.Random(1))
    assert stream.backoff_delay(0) == 0
    for failures, base in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 20), (30, 20)]:
        delays = [stream.backoff_delay(failures) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays), failures
        assert len(set(delays)) > 1  # jittered


def test_configuration_errors_and_url() -> None:
    with pytest.raises(ConfigurationError):
        EventStream("", tokens())
    with pytest.raises(ConfigurationError):
        EventStream("sub", tokens(), heartbeat_interval=0)
    with pytest.raises(ConfigurationError):
        EventStream("sub", tokens(), max_attempts=0)
    stream = EventStream("a b", tokens(), url="wss://example.test/ws?region=eu")
    url = stream._connect_url("t&k")
    assert url == "wss://example.test/ws?region=eu&subscriptionId=a+b&access_token=t%26k"
    assert mask_token(url) == "wss://example.test/ws?region=eu&subscriptionId=a+b&access_token=***"
    assert "t%26k" not in repr(stream)

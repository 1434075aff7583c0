"""The default client's pool (zoom_async._pool): httpcore's pool with its assignment fixed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any

import httpcore
import httpx
import pytest
import respx
from httpcore._async.http11 import AsyncHTTP11Connection
from hypothesis import given, settings
from hypothesis import strategies as st

from zoom_async import StaticToken, ZoomClient, ZoomConnectionError, ZoomTimeoutError, _hpack, _pool
from zoom_async._client import _answer_time
from zoom_async._pool import PoolClient, ZoomHTTPTransport, _fits, _FixedPool
from zoom_async.clock import loop_time
from zoom_async.limits import ANSWER_AT

# The pool's own stream is asyncio's streams on whichever asyncio loop runs: uvloop's too.
pytestmark = pytest.mark.both_loops

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def mock_pool(**limits: Any) -> tuple[_FixedPool, list[int]]:
    """A pool whose connections answer 200 from memory, and the number of its planning passes."""
    pool = _FixedPool(network_backend=httpcore.AsyncMockBackend([OK] * 10), **limits)
    passes = [0]
    plan = pool._assign_requests_to_connections

    def counted() -> list[httpcore.AsyncConnectionInterface]:
        passes[0] += 1
        return plan()

    pool._assign_requests_to_connections = counted  # type: ignore[method-assign]
    return pool, passes


async def open_streams(pool: _FixedPool, n: int, stack: contextlib.AsyncExitStack) -> None:
    for _ in range(n):  # each answer read, the connection stays busy until its stream closes
        response = await stack.enter_async_context(pool.stream("GET", "http://zoom.test/"))
        await response.aread()


def states(pool: _FixedPool) -> list[str]:
    return [c.info().split(", ")[2] for c in pool.connections]


async def test_a_burst_on_idle_connections_takes_one_each_and_plans_each_request_twice() -> None:
    # httpcore 1.0.9 hands the same idle connection to every request that arrives before the
    # first of them starts on it; the others fail with ConnectionNotAvailable and re-plan.
    pool, passes = mock_pool(max_connections=10, max_keepalive_connections=10)
    async with contextlib.AsyncExitStack() as stack:
        await open_streams(pool, 4, stack)
    assert states(pool) == ["IDLE"] * 4
    passes[0] = 0

    await asyncio.gather(*(pool.request("GET", "http://zoom.test/") for _ in range(4)))

    assert passes[0] == 8  # once when each request arrives, once when its answer is read
    assert len(pool.connections) == 4
    assert all("Request Count: 2" in c.info() for c in pool.connections)


async def test_a_wave_on_idle_connections_looks_at_one_connection_per_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpcore 1.0.9 (and this pool before) looked at every connection on each request's
    # arrival: a wave of N requests on N idle connections cost N * N looks.
    pool, _ = mock_pool(max_connections=40, max_keepalive_connections=40)
    async with contextlib.AsyncExitStack() as stack:
        await open_streams(pool, 40, stack)
    looks = [0]
    is_idle = AsyncHTTP11Connection.is_idle

    def counted(self: AsyncHTTP11Connection) -> bool:
        looks[0] += 1
        return is_idle(self)

    monkeypatch.setattr(AsyncHTTP11Connection, "is_idle", counted)
    await asyncio.gather(*(pool.request("GET", "http://zoom.test/") for _ in range(40)))

    assert len(pool.connections) == 40
    assert all("Request Count: 2" in c.info() for c in pool.connections)
    assert looks[0] <= 3 * 40  # was 40 * 40 and more


async def test_a_wave_that_opens_a_connection_each_looks_at_no_other_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A burst on a cold client: each request arrives while every connection is busy. The pool
    # looked at every connection (and every request) on each arrival: N * N / 2 looks.
    pool, passes = mock_pool(max_connections=60, max_keepalive_connections=60)
    looks = [0]
    is_idle = AsyncHTTP11Connection.is_idle

    def counted(self: AsyncHTTP11Connection) -> bool:
        looks[0] += 1
        return is_idle(self)

    monkeypatch.setattr(AsyncHTTP11Connection, "is_idle", counted)
    async with contextlib.AsyncExitStack() as stack:
        await open_streams(pool, 50, stack)
        assert states(pool) == ["ACTIVE"] * 50
        assert looks[0] <= 50  # was 50 * 49 / 2
        assert passes[0] == 50
    assert states(pool) == ["IDLE"] * 50
    # ...and a wave that finds them idle takes them, opening none.
    await asyncio.gather(*(pool.request("GET", "http://zoom.test/") for _ in range(50)))
    assert len(pool.connections) == 50
    assert all("Request Count: 2" in c.info() for c in pool.connections)


async def test_a_request_arriving_after_one_left_takes_the_connection_it_freed() -> None:
    # Only a request leaving frees a connection: the next arrival must look again.
    pool, _ = mock_pool(max_connections=10, max_keepalive_connections=10)
    async with contextlib.AsyncExitStack() as outer:
        await open_streams(pool, 3, outer)
        async with contextlib.AsyncExitStack() as inner:
            await open_streams(pool, 1, inner)
        assert sorted(states(pool)) == ["ACTIVE"] * 3 + ["IDLE"]
        await open_streams(pool, 1, outer)
        assert states(pool) == ["ACTIVE"] * 4


async def test_idle_connections_are_handed_out_least_recently_used_first() -> None:
    # The next request takes the connection idle the longest: the pool finds it first in
    # its list (each connection handed out moves to the end).
    pool, _ = mock_pool(max_connections=10, max_keepalive_connections=10)
    async with contextlib.AsyncExitStack() as stack:
        await open_streams(pool, 3, stack)
    first = list(pool.connections)
    for _ in range(3):
        await pool.request("GET", "http://zoom.test/")
    assert pool.connections == first
    assert all("Request Count: 2" in c.info() for c in pool.connections)


async def test_the_keep_alive_cap_counts_idle_connections_only() -> None:
    # httpcore 1.0.9 compares every connection with the cap, so a connection that finishes
    # while more than `cap` others are busy is closed, and the next burst reconnects.
    pool, _ = mock_pool(max_connections=10, max_keepalive_connections=2)
    async with contextlib.AsyncExitStack() as outer:
        await open_streams(pool, 3, outer)
        async with contextlib.AsyncExitStack() as inner:
            await open_streams(pool, 1, inner)
        assert sorted(states(pool)) == ["ACTIVE"] * 3 + ["IDLE"]
    assert states(pool) == ["IDLE", "IDLE"]  # the surplus closed once idle


async def test_at_the_connection_limit_a_request_waits_for_a_connection_to_come_free() -> None:
    pool, _ = mock_pool(max_connections=2, max_keepalive_connections=2)
    async with contextlib.AsyncExitStack() as stack:
        await open_streams(pool, 2, stack)
        waiting = asyncio.ensure_future(pool.request("GET", "http://zoom.test/"))
        await asyncio.sleep(0.01)
        assert not waiting.done()
    assert (await waiting).status == 200
    assert len(pool.connections) == 2


async def test_only_a_request_that_waits_for_a_connection_gets_an_event_to_wake_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # httpcore made and set an anyio Event for every request, though nearly all are handed a
    # connection in the pass their arrival runs and never wait on it.
    made: list[object] = []
    setup = httpcore._synchronization.AsyncEvent.setup

    def counted(event: httpcore._synchronization.AsyncEvent) -> None:
        made.append(event)
        setup(event)

    monkeypatch.setattr(httpcore._synchronization.AsyncEvent, "setup", counted)
    pool, _ = mock_pool(max_connections=2, max_keepalive_connections=2)
    async with contextlib.AsyncExitStack() as stack:
        await open_streams(pool, 2, stack)  # each handed a connection as it arrives
        assert made == []
        waiting = asyncio.ensure_future(pool.request("GET", "http://zoom.test/"))
        await asyncio.sleep(0.01)
        assert len(made) == 1  # the one that waits
    assert (await waiting).status == 200  # woken when one came free
    assert len(made) == 1


async def test_an_answer_s_close_is_shielded_only_if_it_suspends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shields: list[object] = []
    real = _pool.AsyncShieldCancellation

    def counted() -> httpcore._synchronization.AsyncShieldCancellation:
        shields.append(1)
        return real()

    monkeypatch.setattr(_pool, "AsyncShieldCancellation", counted)
    pool, _ = mock_pool()
    async with pool:
        response = await pool.request("GET", "http://zoom.test/")  # read and closed
        assert response.status == 200
        assert type(response.stream) is _pool._PoolByteStream
        assert shields == []  # its close never suspended
        assert pool.connections[0].is_idle()
        assert not pool._requests  # the pool let go of it

    # A close that suspends finishes shielded: a cancelled scope around it does not stop it.
    import anyio

    steps: list[str] = []

    async def closing() -> None:
        steps.append("started")
        await anyio.sleep(0.01)
        await anyio.sleep(0.001)
        steps.append("closed")

    with anyio.CancelScope() as scope:
        scope.cancel()
        await _pool._shielded(closing())
    assert steps == ["started", "closed"]
    assert shields == [1]

    async def failing() -> None:
        await asyncio.sleep(0)
        raise OSError("while closing")

    with pytest.raises(OSError, match="while closing"):
        await _pool._shielded(failing())

    # A native cancellation reaches the close where it waits, as it would without the shield.
    seen: list[BaseException] = []

    async def waiting() -> None:
        try:
            await asyncio.sleep(10)
        except BaseException as exc:
            seen.append(exc)
            raise

    task = asyncio.ensure_future(_pool._shielded(waiting()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [type(exc) for exc in seen] == [asyncio.CancelledError]


async def serve(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    tls: ssl.SSLContext | None = None,
) -> contextlib.AbstractAsyncContextManager[int]:
    @contextlib.asynccontextmanager
    async def running() -> AsyncIterator[int]:
        server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            await server.wait_closed()

    return running()


def answering(
    requests: int, then_wait: float = 0.0
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A connection's handler: ``OK`` to each of ``requests`` requests, then (``then_wait``
    seconds later) closed."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(requests):
            await read_head(reader)
            writer.write(OK)
            await writer.drain()
        await asyncio.sleep(then_wait)
        writer.close()

    return answer


def tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server's TLS context for 127.0.0.1 and a client's that trusts it (trustme's CA)."""
    import trustme

    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    return server_tls, client_tls


async def read_head(reader: asyncio.StreamReader) -> list[bytes]:
    return (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[:-2]


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_an_idle_connection_the_server_closed_is_not_handed_out(scheme: str) -> None:
    # Between sweeps a connection is probed when it is about to carry a request: a keep-alive
    # connection the server has since closed is dropped, and the request goes on a new one.
    # Over TLS the server closes politely (close_notify, then it waits for the client's before
    # its FIN, as asyncio's servers do): nothing is left in the socket for a probe to see once
    # the client's TLS layer has read the alert, but the stream reads it as it arrives and
    # reports the end of stream (through anyio's stream, the next request failed).
    server_tls, client_tls = tls_contexts() if scheme == "https" else (None, None)
    connections = 0

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_head(reader)
        writer.write(OK)
        await writer.drain()
        writer.close()  # no "Connection: close": the client believes it may reuse it

    async with (
        await serve(once, tls=server_tls) as port,
        PoolClient(verify=client_tls or True) as http,
    ):
        assert (await http.get(f"{scheme}://127.0.0.1:{port}/")).status_code == 200
        await asyncio.sleep(0.05)  # the server's FIN (or close_notify) arrives
        assert (await http.get(f"{scheme}://127.0.0.1:{port}/")).status_code == 200
    assert connections == 2


async def test_the_default_client_sends_through_a_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        seen.append(head[0])
        body = json.dumps({"id": "me"}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async with await serve(proxy) as port:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with ZoomClient(auth=StaticToken("t"), base_url="http://zoom.invalid/v2") as zoom:
            assert isinstance(zoom.http, PoolClient)
            assert await zoom.get("/users/me") == {"id": "me"}
    assert seen == [b"GET http://zoom.invalid/v2/users/me HTTP/1.1"]


async def test_respx_default_mock_intercepts_the_default_client() -> None:
    async with ZoomClient(auth=StaticToken("t")) as zoom:
        assert isinstance(zoom.http, PoolClient)
        with respx.mock as mock:  # respx's default mocker patches httpcore's pool
            route = mock.get("https://api.zoom.us/v2/users/me").respond(json={"id": "me"})
            assert await zoom.get("/users/me") == {"id": "me"}
    assert route.call_count == 1


def test_the_transport_is_httpx_own_over_the_fixed_pool() -> None:
    transport = ZoomHTTPTransport(http2=True, limits=httpx.Limits(max_keepalive_connections=3))
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    assert isinstance(transport._pool, _FixedPool)
    assert transport._pool._max_keepalive_connections == 3
    assert transport._pool._http2


@pytest.mark.parametrize(
    ("httpcore_version", "httpx_version", "fits"),
    [
        ("1.0.9", "0.28.1", True),
        ("1.0.9", "0.29.0", True),
        ("1.0.3", "0.27.0", True),
        ("1.0.9", "0.30.0", False),  # not checked
        ("1.0.2", "0.28.1", False),  # before the pool took its present shape
        ("1.0.10", "0.28.1", False),  # not checked: it may fix the pool or move its parts
        ("1.1.0", "0.28.1", False),
        ("2.0.0", "0.28.1", False),
        ("1.0.9", "1.0.0", False),  # httpx 1.0 may drop AsyncClient._init_transport
        ("1.0.9", "1.0.dev3", False),
        ("1.0.10.dev1", "0.28.1", False),
    ],
)
def test_the_fixed_pool_is_used_only_on_the_releases_it_was_checked_against(
    httpcore_version: str, httpx_version: str, fits: bool
) -> None:
    assert _fits(httpcore_version, httpx_version) is fits


async def test_on_another_release_the_default_client_is_httpx_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_pool, "_FITS", False)
    async with ZoomClient(auth=StaticToken("t")) as zoom:
        assert type(zoom.http) is httpx.AsyncClient
        transport = zoom.http._transport
        assert isinstance(transport, httpx.AsyncHTTPTransport)
        assert type(transport._pool) is httpcore.AsyncConnectionPool
    assert type(ZoomHTTPTransport()._pool) is httpcore.AsyncConnectionPool
    monkeypatch.setattr(_pool, "_FITS", True)
    async with ZoomClient(auth=StaticToken("t")) as zoom:
        assert type(zoom.http) is PoolClient


async def test_concurrent_requests_share_one_http2_connection() -> None:
    import hpack
    import hyperframe.frame

    def answer(stream_id: int) -> list[bytes]:
        headers = hpack.Encoder().encode([(b":status", b"200"), (b"content-length", b"2")])
        return [
            hyperframe.frame.HeadersFrame(
                stream_id=stream_id, data=headers, flags=["END_HEADERS"]
            ).serialize(),
            hyperframe.frame.DataFrame(
                stream_id=stream_id, data=b"{}", flags=["END_STREAM"]
            ).serialize(),
        ]

    frames = [hyperframe.frame.SettingsFrame().serialize()]
    for stream_id in (1, 3, 5):
        frames += answer(stream_id)
    pool = _FixedPool(
        network_backend=httpcore.AsyncMockBackend(frames, http2=True), http1=False, http2=True
    )
    async with pool:
        responses = await asyncio.gather(
            *(pool.request("GET", "https://zoom.test/") for _ in range(3))
        )
        assert [r.status for r in responses] == [200, 200, 200]
        assert [c.info() for c in pool.connections] == [
            "'https://zoom.test:443', HTTP/2, IDLE, Request Count: 3"
        ]


def h2_answering(
    seen: list[dict[bytes, bytes]] | None = None,
    late: dict[bytes, float] | None = None,
    answered: dict[bytes, float] | None = None,
    max_streams: int | None = None,
    go_away_after: int | None = None,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """An HTTP/2 server answering ``{}`` to every request; ``seen`` gets each one's headers.
    A path in ``late`` is answered that many seconds after its request, the others at once;
    ``answered`` gets the loop's time when each path's answer was written. ``max_streams``: the
    SETTINGS it sends; ``go_away_after``: a connection answers that many requests, then sends
    GOAWAY naming the last answered and answers no more on it (as a server that recycles its
    connections), leaving the others unprocessed."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings

    async def h2_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        if max_streams is not None:
            conn.local_settings = h2.settings.Settings(
                client=False,
                initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_streams},
            )
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        answers: set[asyncio.Task[None]] = set()
        done: list[int] = []

        async def answer(stream_id: int, path: bytes) -> None:
            await asyncio.sleep((late or {}).get(path, 0))
            if go_away_after is not None and len(done) >= go_away_after:
                return  # past the GOAWAY: never processed
            conn.send_headers(stream_id, [(":status", "200"), ("content-length", "2")])
            conn.send_data(stream_id, b"{}", end_stream=True)
            done.append(stream_id)
            if go_away_after is not None and len(done) == go_away_after:
                conn.close_connection(last_stream_id=stream_id)
            if answered is not None:
                answered[path] = asyncio.get_running_loop().time()
            writer.write(conn.data_to_send())

        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        headers = dict(event.headers)
                        if seen is not None:
                            seen.append(headers)
                        if late and headers[b":path"] in late:
                            task = asyncio.create_task(answer(event.stream_id, headers[b":path"]))
                            answers.add(task)
                        else:
                            await answer(event.stream_id, headers[b":path"])
                writer.write(conn.data_to_send())
                await writer.drain()
        writer.close()

    return h2_server


def http2_streams(http: httpx.AsyncClient) -> Any:
    """The HTTP/2 connection of a client's pool that holds one connection."""
    [connection] = http._transport._pool.connections  # type: ignore[attr-defined]
    return connection._connection


def counted_lock(taken: list[int]) -> _pool._FastLock:
    """A connection's lock that adds one to ``taken[0]`` each time it is taken."""

    class Counted(_pool._FastLock):
        async def __aenter__(self) -> httpcore._synchronization.AsyncLock:
            taken[0] += 1
            return await super().__aenter__()

    return Counted()


async def test_over_http2_requests_a_closing_connection_never_processed_go_out_on_another() -> None:
    # A server recycles a connection (nginx after 1,000 requests: GOAWAY, NO_ERROR). Streams
    # above the last it names were never processed, and those still waiting for a stream of
    # their own never left (RFC 9113 §6.8): each goes out on a new connection. httpcore raised
    # for them (a RemoteProtocolError, or "Max outbound streams is 100, 100 open" for those
    # that were waiting on the connection's stream limit).
    connections = [0]
    handler = h2_answering(max_streams=2, go_away_after=1, late={b"/": 0.05})

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[0] += 1
        await handler(reader, writer)

    async with await serve(counted) as port, PoolClient(http1=False, http2=True) as http:
        url = f"http://127.0.0.1:{port}/"
        assert (await http.get(url)).status_code == 200  # connects, and the 1st is recycled
        responses = await asyncio.gather(*(http.get(url) for _ in range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    assert connections[0] > 2


async def test_over_http2_an_answer_is_never_dated_before_its_bytes_arrived() -> None:
    # One connection carries every stream: the first bytes read after the connection's last
    # write may answer another request. Dated by them, a slow answer freed its slot early,
    # and the request W after it could reach Zoom less than W after this one did.
    loop = asyncio.get_running_loop()
    answered: dict[bytes, float] = {}
    async with (
        await serve(h2_answering(late={b"/slow": 0.1}, answered=answered)) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        url = f"http://127.0.0.1:{port}"
        await http.get(f"{url}/")  # connects
        slow = asyncio.create_task(http.get(f"{url}/slow"))
        await asyncio.sleep(0.02)
        fast = await http.get(f"{url}/fast")  # written after /slow, answered before it
        fast_answered_at = _answer_time(fast)
        slow_answered_at = _answer_time(await slow)
    assert fast_answered_at is not None
    assert slow_answered_at is not None
    assert answered[b"/fast"] <= fast_answered_at < answered[b"/slow"]
    assert answered[b"/slow"] <= slow_answered_at <= loop_time(loop)  # (the stamps' clock)


async def test_over_http2_an_answer_is_dated_by_the_read_that_brought_its_head() -> None:
    # Not by the connection's last read when the caller gets round to it: a slot frees as
    # soon as the client can know its answer exists, whoever reads the socket.
    answered: dict[bytes, float] = {}
    async with (
        await serve(h2_answering(answered=answered)) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        url = f"http://127.0.0.1:{port}"
        await http.get(f"{url}/")  # connects
        async with http.stream("GET", f"{url}/held") as held:
            await asyncio.sleep(0.02)
            await http.get(f"{url}/after")  # read while /held waits for its caller
            await held.aread()
            answered_at = _answer_time(held)
    assert answered_at is not None
    assert answered[b"/held"] <= answered_at < answered[b"/after"]


async def test_over_http2_an_answer_nobody_waits_for_leaves_no_note() -> None:
    answered: dict[bytes, float] = {}
    async with (
        await serve(h2_answering(answered=answered, late={b"/slow": 0.05})) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        url = f"http://127.0.0.1:{port}"
        await http.get(f"{url}/")  # connects
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await http.get(f"{url}/slow")  # given up on: its answer comes all the same
        await asyncio.sleep(0.08)
        await http.get(f"{url}/")  # reads it
        assert b"/slow" in answered
        assert http2_streams(http)._answered_at == {}


async def test_over_http2_a_read_wakes_the_streams_it_brought_answers_for() -> None:
    # httpcore's streams queued for the connection's read lock, each in turn to find its
    # events there or to read: a turn of the lock (and of the loop) per stream per read. Now
    # only the stream reading for all takes the lock, and those it read for wake at once.
    taken, reads = [0], [0]
    async with await serve(h2_answering()) as port, PoolClient(http1=False, http2=True) as http:
        url = f"http://127.0.0.1:{port}/"
        await http.get(url)  # connects
        http2 = http2_streams(http)
        http2._read_lock = counted_lock(taken)
        read = http2._read_incoming_data

        async def counted(request: httpcore.Request) -> Any:
            reads[0] += 1
            return await read(request)

        http2._read_incoming_data = counted
        responses = await asyncio.gather(*(http.get(url) for _ in range(20)))
        assert {r.status_code for r in responses} == {200}
        assert taken == reads  # each turn of the lock a read
        assert http2._waiting == {}
        assert not http2._reading


async def test_over_http2_requests_past_a_connection_s_stream_limit_go_out_on_another() -> None:
    # httpcore handed every request to the open HTTP/2 connection, however many of its streams
    # were in use; those past the server's limit waited there for a stream to close.
    late = {b"/held": 0.2}
    async with (
        await serve(h2_answering(late=late, max_streams=2)) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        url = f"http://127.0.0.1:{port}"
        await http.get(f"{url}/")  # connects, and learns the server's limit
        responses = await asyncio.gather(*(http.get(f"{url}/held") for _ in range(4)))
        assert {r.status_code for r in responses} == {200}
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert [c.info().rsplit(", ", 1)[1] for c in pool.connections] == [
            "Request Count: 3",
            "Request Count: 2",
        ]


async def test_over_http2_an_arriving_request_shares_a_connection_without_a_look_at_each() -> None:
    # Every request over HTTP/2 arrives to find the shared connection busy, and the pool's
    # full pass looked at every request it held: O(requests in flight) a request.
    looks = [0]

    class Looked(list):  # type: ignore[type-arg]
        def __iter__(self) -> Any:
            looks[0] += 1
            return super().__iter__()

    async with (
        await serve(h2_answering(late={b"/held": 0.1})) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        url = f"http://127.0.0.1:{port}"
        await http.get(f"{url}/")  # connects
        pool = http._transport._pool  # type: ignore[attr-defined]
        pool._requests = Looked(pool._requests)
        responses = await asyncio.gather(*(http.get(f"{url}/held") for _ in range(20)))
        assert {r.status_code for r in responses} == {200}
        assert looks == [0]
        assert len(pool.connections) == 1


@pytest.mark.parametrize("leaves", ["cancelled", "with its answer"])
async def test_over_http2_when_the_stream_reading_for_all_leaves_another_reads(leaves: str) -> None:
    late = {b"/reader": 5.0 if leaves == "cancelled" else 0.4, b"/a": 0.8, b"/b": 0.9}
    async with (
        await serve(h2_answering(late=late)) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        url = f"http://127.0.0.1:{port}"
        await http.get(f"{url}/")  # connects
        http2 = http2_streams(http)
        reader = asyncio.create_task(http.get(f"{url}/reader"))
        while not http2._reading:  # noqa: ASYNC110 - until /reader reads for all
            await asyncio.sleep(0.001)
        others = [asyncio.create_task(http.get(f"{url}{p}")) for p in ("/a", "/b")]
        while len(http2._waiting) < 2:  # noqa: ASYNC110 - until /a and /b wait for its read
            await asyncio.sleep(0.001)
        assert http2._reading
        if leaves == "cancelled":
            reader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reader
        else:
            assert (await reader).status_code == 200
        responses = await asyncio.wait_for(asyncio.gather(*others), 2.0)
        assert [r.status_code for r in responses] == [200, 200]


async def test_over_http2_streams_waiting_for_a_read_fail_when_the_connection_drops() -> None:
    import h2.config
    import h2.connection
    import h2.events

    async def dropping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        received = 0
        while received < 3 and (data := await reader.read(65536)):
            for event in conn.receive_data(data):
                received += isinstance(event, h2.events.RequestReceived)
            writer.write(conn.data_to_send())
        await asyncio.sleep(0.05)
        writer.transport.abort()  # three streams open, none answered

    async with await serve(dropping) as port, PoolClient(http1=False, http2=True) as http:
        url = f"http://127.0.0.1:{port}/"
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(http.get(url) for _ in range(3)), return_exceptions=True), 2.0
        )
        assert all(isinstance(o, httpx.TransportError) for o in outcomes), outcomes


def h2_broken_heads(
    requests: list[bytes],
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """An HTTP/2 server answering every request with a head that cannot be decoded (a
    literal cut short); ``requests`` gets each one's method."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    from hyperframe.frame import HeadersFrame

    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        with contextlib.suppress(ConnectionError, h2.exceptions.ProtocolError):
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        requests.append(dict(event.headers)[b":method"])
                        frame = HeadersFrame(event.stream_id, data=b"\x00")
                        frame.flags.add("END_HEADERS")
                        writer.write(frame.serialize())
                writer.write(conn.data_to_send())
                await writer.drain()
        writer.close()

    return broken


async def test_over_http2_a_head_that_cannot_be_decoded_fails_a_request_that_was_sent() -> None:
    """httpcore calls every h2 protocol error a local one, a server's broken head included,
    and a LocalProtocolError means "never sent" to the client: a POST that reached Zoom was
    reported unsent (safe to repeat) and freed its slot as if it never arrived. And the
    connection, idle but closed to new streams, was handed to the next request, which it
    refused at once, forever: the pool spun without yielding to the loop."""
    requests: list[bytes] = []
    async with await serve(h2_broken_heads(requests)) as port:
        async with PoolClient(http1=False, http2=True) as http:
            for _ in range(2):  # (the second on a new connection: the first takes no more)
                with pytest.raises(httpx.RemoteProtocolError, match="header block"):
                    await asyncio.wait_for(http.get(f"http://127.0.0.1:{port}/"), 2.0)
        assert requests == [b"GET", b"GET"]
        requests.clear()
        async with (
            PoolClient(http1=False, http2=True) as http,
            ZoomClient(
                auth=StaticToken("t"), base_url=f"http://127.0.0.1:{port}/v2", http_client=http
            ) as zoom,
        ):
            with pytest.raises(ZoomConnectionError) as info:
                await asyncio.wait_for(zoom.post("/users", json={"action": "create"}), 5)
    assert info.value.may_have_reached_zoom is True
    assert "may have reached Zoom" in str(info.value)
    assert requests == [b"POST"]  # not re-sent


async def test_http2_over_tls_is_negotiated_on_the_pool_s_own_stream() -> None:
    """What the default client speaks to Zoom: TLS, HTTP/2 chosen by ALPN on the stream's
    start_tls, concurrent requests multiplexed on one connection."""
    server_tls, client_tls = tls_contexts()
    server_tls.set_alpn_protocols(["h2"])

    async with (
        await serve(h2_answering(), tls=server_tls) as port,
        PoolClient(verify=client_tls, http2=True) as http,
    ):
        responses = await asyncio.gather(
            *(http.get(f"https://127.0.0.1:{port}/") for _ in range(5))
        )
        assert {(r.http_version, r.status_code) for r in responses} == {("HTTP/2", 200)}
        assert isinstance(http2_streams(http)._network_stream, _pool._Stream)


async def test_a_connection_offered_http2_that_speaks_http11_carries_one_request_at_once() -> None:
    # While connecting, a connection that may speak HTTP/2 takes later requests beside its own;
    # once it speaks HTTP/1.1 (the server chose it by ALPN) it is no longer shared.
    server_tls, client_tls = tls_contexts()
    server_tls.set_alpn_protocols(["http/1.1"])
    async with (
        await serve(answering(5, then_wait=1.0), tls=server_tls) as port,
        PoolClient(verify=client_tls, http2=True) as http,
    ):
        url = f"https://127.0.0.1:{port}/"
        for _ in range(2):  # cold, then on kept connections
            responses = await asyncio.gather(*(http.get(url) for _ in range(5)))
            assert {(r.http_version, r.status_code) for r in responses} == {("HTTP/1.1", 200)}
        pool = http._transport._pool  # type: ignore[attr-defined]
        # Each carries one request at once: never handed another while it has one.
        assert {_pool._streams(c) for c in pool.connections} == {1}


async def test_over_http2_a_bearer_token_is_huffman_coded_once_per_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """h2 never indexes Authorization, so hpack codes the token on every request; the
    connection's coder remembers the code of its last few long values (where jh2's compiled
    codec is missing: test_hpack.py checks the connections that have it)."""
    import hpack.huffman

    monkeypatch.setattr(_hpack, "_rust", None)

    seen: list[dict[bytes, bytes]] = []
    coded: list[int] = []
    encode = hpack.huffman.HuffmanEncoder.encode

    def counted(self: hpack.huffman.HuffmanEncoder, value: bytes | None) -> bytes:
        coded.append(len(value or b""))
        return encode(self, value)

    monkeypatch.setattr(hpack.huffman.HuffmanEncoder, "encode", counted)
    t0, t1, t2, t3, t4 = (f"Bearer {n}" + "x" * 700 for n in range(5))
    sent = [t0, t0, t0, t1, t1, t0, t2, t3, t4, t0]
    async with (
        await serve(h2_answering(seen)) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        for token in sent:
            response = await http.get(f"http://127.0.0.1:{port}/", headers={"authorization": token})
            assert response.http_version == "HTTP/2"
        coder = http2_streams(http)._h2_state.encoder.huffman_coder
        assert isinstance(coder, _pool._RememberedHuffman)
        assert "Bearer" not in repr(coder)

    # every token as it was sent, remembered or not
    assert [headers[b"authorization"].decode() for headers in seen] == sent
    # Coded once while among the last four coded: t0, t1, t2, t3, t4 (which pushes t0 out),
    # then t0 again. Without the coder's memory: 10; without its bound: 5.
    assert sum(1 for n in coded if n > 700) == 6
    assert len(coder._codes) == _pool._RememberedHuffman.KEEP


async def test_the_default_client_keeps_a_whole_wave_of_connections_for_the_next() -> None:
    # A strict-safe schedule sends a lane's L requests together once a window: over HTTP/1.1
    # the next wave needs as many connections, so the pool keeps the plan's largest burst.
    connections = 0

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                await read_head(reader)
                writer.write(OK)
                await asyncio.sleep(0.2)  # the whole wave in flight at once
                await writer.drain()
        writer.close()

    async with (
        await serve(keep_alive) as port,
        ZoomClient(
            auth=StaticToken("t"), base_url=f"http://127.0.0.1:{port}/v2", plan="business_plus"
        ) as zoom,
    ):
        opened = []
        for _ in range(2):  # two windows of 80 Light
            await asyncio.gather(*(zoom.get("/users/me") for _ in range(80)))
            opened.append(connections)
    # The first wave's requests overlap (80 connections unless the machine is very slow to
    # send them); the second wave opens none (with 16 kept: 64 more).
    assert opened[0] > 16
    assert opened[1] == opened[0]


@pytest.mark.parametrize(("plan", "kept"), [("business_plus", 180), ("pro", 60)])
async def test_the_pool_keeps_a_wave_of_every_per_second_lane_at_once(plan: str, kept: int) -> None:
    # A mixed batch has Light, Medium and Heavy waves in flight together (80 + 60 + 40 on
    # Business+): keeping only the largest re-opened the others' connections every window.
    async with ZoomClient(auth=StaticToken("t"), plan=plan) as zoom:
        transport = zoom.http._transport
        assert isinstance(transport, ZoomHTTPTransport)
        assert transport._pool._max_keepalive_connections == kept


async def test_connections_take_their_locks_without_a_turn_of_the_loop() -> None:
    # No sleep(0) when nobody holds them, as anyio's lock took (see _FastLock).
    async with await serve(answering(2)) as port, PoolClient() as http:
        for _ in range(2):  # the second on the same connection, through the same locks
            assert (await http.get(f"http://127.0.0.1:{port}/")).status_code == 200
        pool = http._transport._pool  # type: ignore[attr-defined]
        [connection] = pool.connections
        assert isinstance(connection, _pool._Connection)
        http11 = connection._connection
        assert isinstance(http11, AsyncHTTP11Connection)
        for lock in (connection._request_lock, http11._state_lock):
            assert isinstance(lock, _pool._FastLock)
            assert isinstance(lock._loop_lock, _pool._HandOffLock)
        assert isinstance(http11._network_stream, _pool._Stream)
        assert "Request Count: 2" in connection.info()


async def test_https_goes_through_the_pool_s_own_stream_and_its_idle_probe() -> None:
    """Zoom is HTTPS: the TLS stream httpcore makes of ours (start_tls) is ours again, reused
    while the server keeps it, and probed before reuse once the server has closed it."""
    server_tls, client_tls = tls_contexts()
    connections = 0

    async def twice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        for _ in range(2):
            await read_head(reader)
            writer.write(OK)
            await writer.drain()
        # No "Connection: close": the client believes it may reuse it. Closed at once, as a
        # load balancer drops an idle keep-alive connection (asyncio's writer.close() would
        # wait for the client's close_notify before its FIN, which the probe cannot see).
        writer.transport.abort()

    async with await serve(twice, tls=server_tls) as port, PoolClient(verify=client_tls) as http:
        for _ in range(2):
            assert (await http.get(f"https://127.0.0.1:{port}/")).status_code == 200
        pool = http._transport._pool  # type: ignore[attr-defined]
        [connection] = pool.connections
        stream = connection._connection._network_stream
        assert isinstance(stream, _pool._Stream)
        assert stream.get_extra_info("ssl_object") is not None
        assert "Request Count: 2" in connection.info()
        await asyncio.sleep(0.05)  # the server's close arrives
        assert (await http.get(f"https://127.0.0.1:{port}/")).status_code == 200
    assert connections == 2


@types.coroutine
def suspensions(awaitable: Awaitable[Any], counted: list[int]) -> Generator[Any, Any, Any]:
    """``awaitable``'s result; ``counted[0]``: how many times it suspended its task."""
    steps = awaitable.__await__()
    try:
        value = steps.send(None)
        while True:
            counted[0] += 1
            try:
                sent = yield value
            except BaseException as exc:  # (a cancellation: passed in)
                value = steps.throw(exc)
            else:
                value = steps.send(sent)
    except StopIteration as done:
        return done.value


async def test_a_request_on_a_kept_connection_suspends_only_to_wait_for_its_answer() -> None:
    # Each suspension is a turn of the loop, and on a loop busy with a wave of requests a turn
    # is a queue of other tasks to wait behind: anyio's stream slept once after each write
    # (and before each read of data already there) and read only when asked to (see _Stream).
    async with await serve(answering(2, then_wait=1.0)) as port, PoolClient() as http:
        url = f"http://127.0.0.1:{port}/"
        assert (await http.get(url)).status_code == 200  # connects
        counted = [0]
        assert (await suspensions(http.get(url), counted)).status_code == 200
        assert counted == [1]


async def test_a_write_the_socket_takes_arms_no_timeout_and_one_it_cannot_take_times_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A write asyncio hands to the socket whole needs no timer: only a drain that waits does.
    armed = [0]
    real_timeout = asyncio.timeout

    def counted(delay: float | None) -> asyncio.Timeout:
        armed[0] += 1
        return real_timeout(delay)

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_head(reader)
            writer.write(OK)
        await asyncio.sleep(5)  # reads nothing more: the next upload fills the socket
        writer.close()

    async with await serve(never_reads) as port, PoolClient() as http:
        url = f"http://127.0.0.1:{port}/"
        assert (await http.get(url)).status_code == 200  # connects
        monkeypatch.setattr(asyncio, "timeout", counted)
        assert (await http.get(url)).status_code == 200
        assert armed == [1]  # the read of its answer; two before (the write's too)
        with pytest.raises(httpx.WriteTimeout):
            await http.post(url, content=b"x" * 64_000_000, timeout=httpx.Timeout(5, write=0.2))


async def test_http2_streams_take_their_connection_s_free_locks_without_a_loop_turn() -> None:
    # httpcore takes an HTTP/2 connection's locks eight times a request; each anyio acquire
    # slept once even when nobody held the lock. Streams still queue for a held one.
    async with await serve(h2_answering()) as port, PoolClient(http1=False, http2=True) as http:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(2):  # connects; httpcore makes the stream limit (a semaphore)
            assert (await http.get(url)).http_version == "HTTP/2"
        counted = [0]
        assert (await suspensions(http.get(url), counted)).status_code == 200
        assert counted == [1]  # for its answer; 9 with httpcore's locks and semaphore
        responses = await asyncio.gather(*(http.get(url) for _ in range(20)))
        assert {r.status_code for r in responses} == {200}
        http2 = http2_streams(http)
        assert "Request Count: 23" in http2.info()
        for name in ("_state_lock", "_init_lock", "_read_lock", "_write_lock"):
            assert isinstance(getattr(http2, name), _pool._FastLock)


@pytest.mark.parametrize("permits", [1, 2], ids=["lock", "semaphore"])
async def test_the_hand_off_lock_or_semaphore_passes_to_its_first_live_waiter_in_order(
    permits: int,
) -> None:
    limit = _pool._HandOffLock() if permits == 1 else _pool._HandOffSemaphore(permits)
    counted = [0]
    for _ in range(permits):
        await suspensions(limit.acquire(), counted)
    assert counted == [0]  # free: taken without a turn of the loop
    if isinstance(limit, _pool._HandOffLock):
        assert limit.locked()
    order: list[str] = []

    async def take(name: str) -> None:
        await limit.acquire()
        order.append(name)
        await asyncio.sleep(0)
        limit.release()

    first, cancelled, last = (asyncio.create_task(take(n)) for n in ("first", "gone", "last"))
    await asyncio.sleep(0)  # all three wait
    cancelled.cancel()
    limit.release()
    # One that arrives while a permit passes to "first" queues behind the others.
    late = asyncio.create_task(take("late"))
    await asyncio.gather(first, last, late)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert order == ["first", "last", "late"]
    assert not limit._waiters  # the cancelled one's waiter is not kept
    for _ in range(permits - 1):
        limit.release()
    assert limit._free == permits  # every permit back
    if isinstance(limit, _pool._HandOffLock):
        assert not limit.locked()


async def test_the_hand_off_lock_handed_to_a_task_being_cancelled_passes_it_on() -> None:
    lock = _pool._HandOffLock()
    await lock.acquire()
    handed = asyncio.create_task(lock.acquire())
    after = asyncio.create_task(lock.acquire())
    await asyncio.sleep(0)
    lock.release()  # to `handed`, which is cancelled before it runs
    handed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handed
    await asyncio.wait_for(after, 1.0)  # not lost with the cancelled task
    assert lock.locked()
    lock.release()
    assert not lock.locked()


async def test_over_http2_the_stream_limit_is_taken_without_a_turn_and_still_holds() -> None:
    # anyio's semaphore looked up the task's cancel scopes at each free acquire; the limit is
    # still the server's: with 3 streams allowed, the fourth request waits for a stream.
    late = {b"/slow": 0.3}
    async with (
        await serve(h2_answering(late=late, max_streams=3)) as port,
        PoolClient(http1=False, http2=True) as http,
    ):
        url = f"http://127.0.0.1:{port}/"
        assert (await http.get(url)).http_version == "HTTP/2"  # connects, reads the settings
        http2 = http2_streams(http)
        assert isinstance(http2._max_streams_semaphore, _pool._FastSemaphore)
        slow = [asyncio.create_task(http.get(url + "slow")) for _ in range(3)]
        await asyncio.sleep(0.1)
        limit = http2._max_streams_semaphore
        assert limit._loop_semaphore._free == 0
        fourth = asyncio.create_task(limit.acquire())  # as the connection's next request would
        await asyncio.sleep(0.1)
        assert not fourth.done()
        assert {r.status_code for r in await asyncio.gather(*slow)} == {200}
        await asyncio.wait_for(fourth, 1.0)  # handed a slow one's permit as its stream closed
        await limit.release()
        assert limit._loop_semaphore._free == 3


async def test_a_traced_http2_request_goes_through_httpcore_s_steps() -> None:
    # The trace steps are left out only when nobody listens: a "trace" extension sees them.
    steps: list[str] = []

    async def trace(name: str, info: dict[str, Any]) -> None:
        steps.append(name)

    async with await serve(h2_answering()) as port, PoolClient(http1=False, http2=True) as http:
        url = f"http://127.0.0.1:{port}/"
        assert (await http.get(url)).status_code == 200
        response = await http.get(url, extensions={"trace": trace})
        assert response.json() == {}
    assert "http2.send_request_headers.started" in steps
    assert "http2.receive_response_headers.complete" in steps
    assert "http2.receive_response_body.complete" in steps
    assert "http2.response_closed.complete" in steps


async def test_over_http2_a_request_takes_the_write_lock_only_for_what_it_sends() -> None:
    # httpcore wrote after every read and every piece of an answer's body, whether or not h2
    # had queued anything: for small answers nothing, at a turn of the write lock each.
    taken = [0]
    async with await serve(h2_answering()) as port, PoolClient(http1=False, http2=True) as http:
        url = f"http://127.0.0.1:{port}/"
        assert (await http.get(url)).http_version == "HTTP/2"  # connects
        http2 = http2_streams(http)
        http2._write_lock = counted_lock(taken)
        for _ in range(5):
            assert (await http.get(url)).json() == {}
        assert taken == [5]  # the headers of each; 15 before (10 with nothing to send)


async def test_over_http2_streams_get_their_window_from_the_settings_and_no_empty_chunk() -> None:
    # httpcore widened each stream's window with a WINDOW_UPDATE of its own (a frame a request
    # for both sides to make and read) and passed an empty DATA frame up as a chunk of b"".
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings

    body = bytes(range(256)) * 1200  # 307,200 bytes: past the protocol's default window
    windows: list[int] = []
    updated: list[int] = []

    async def h2_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RemoteSettingsChanged):
                        setting = event.changed_settings.get(
                            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
                        )
                        windows.append(setting.new_value if setting else 65_535)
                    elif isinstance(event, h2.events.WindowUpdated):
                        updated.append(event.stream_id)
                    elif isinstance(event, h2.events.RequestReceived):
                        stream_id = event.stream_id
                        size = str(len(body))
                        conn.send_headers(stream_id, [(":status", "200"), ("content-length", size)])
                        # The whole answer at once, as the window allows; then an empty frame.
                        assert conn.local_flow_control_window(stream_id) >= len(body)
                        for at in range(0, len(body), 16_384):
                            conn.send_data(stream_id, body[at : at + 16_384])
                        conn.end_stream(stream_id)
                writer.write(conn.data_to_send())
                await writer.drain()
        writer.close()

    pool = _FixedPool(http1=False, http2=True)
    async with await serve(h2_server) as port, pool:
        for _ in range(3):
            async with pool.stream("GET", f"http://127.0.0.1:{port}/") as response:
                chunks = [chunk async for chunk in response.aiter_stream()]
            assert b"".join(chunks) == body
            assert all(chunks)  # (the last frame was empty)
        assert len(pool.connections) == 1
    assert windows == [65_535 + 2**24]
    assert [stream_id for stream_id in updated if stream_id] == []


def test_http2_state_walks_its_streams_only_when_the_server_s_limit_may_be_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import h2.config
    import h2.connection
    import h2.exceptions
    import h2.settings

    walks = [0]
    walk = h2.connection.H2Connection._open_streams

    def counted(self: h2.connection.H2Connection, remainder: int) -> int:
        walks[0] += 1
        return walk(self, remainder)

    monkeypatch.setattr(h2.connection.H2Connection, "_open_streams", counted)
    client = _pool._H2State(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    server.local_settings = h2.settings.Settings(
        client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 3}
    )
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    request = [(":method", "GET"), (":path", "/"), (":authority", "z.test"), (":scheme", "https")]

    for stream_id in (1, 3, 5):
        client.send_headers(stream_id, request, end_stream=True)
    assert walks == [0]  # fewer streams held than the limit: no walk
    with pytest.raises(h2.exceptions.TooManyStreamsError):
        client.send_headers(7, request, end_stream=True)  # at the limit: counted as before
    assert walks == [1]
    client.reset_stream(1)  # closes it
    client.send_headers(7, request, end_stream=True)  # counted, the closed one dropped
    assert 1 not in client.streams
    assert client.open_outbound_streams == 3  # read elsewhere: h2's own count

    # Whatever the server allows, closed streams are dropped past SWEEP_ABOVE streams held.
    monkeypatch.setattr(_pool._H2State, "SWEEP_ABOVE", 4)
    server.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
    client.receive_data(server.data_to_send())
    for stream_id in range(9, 49, 2):
        client.send_headers(stream_id, request, end_stream=True)
        client.reset_stream(stream_id)
        assert len(client.streams) <= 5


async def test_the_stream_notes_when_each_answer_began_to_arrive() -> None:
    # What the client passes to Permit.release(answered_at=...): the loop's time when the
    # answer's first bytes were read off the socket, even if its task reads it later.
    loop = asyncio.get_running_loop()
    async with await serve(answering(2, then_wait=1.0)) as port, PoolClient() as http:
        for _ in range(2):  # the second on the same connection: noted afresh
            sent = loop_time(loop)
            async with http.stream("GET", f"http://127.0.0.1:{port}/") as response:
                await asyncio.sleep(0.05)  # the caller is slow to read it
                await response.aread()
                stream = response.extensions["network_stream"]
                answered_at = stream.get_extra_info(ANSWER_AT)
            assert sent < answered_at < loop_time(loop) - 0.04
        assert _answer_time(response) == answered_at
    assert _answer_time(httpx.Response(200)) is None  # another transport: unknown


async def test_bytes_nobody_asked_for_keep_an_idle_connection_from_carrying_a_request() -> None:
    # An idle HTTP/1.1 connection has nothing to read. Were bytes the server sent on it after
    # its answer (read into the stream's buffer as they arrive) taken for the next request's
    # answer, a request would get another's response.
    stray = b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n"stray"'
    connections = 0

    async def answer_then_more(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await read_head(reader)
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(stray)
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    async with await serve(answer_then_more) as port, PoolClient() as http:
        assert (await http.get(f"http://127.0.0.1:{port}/")).json() == {}
        await asyncio.sleep(0.1)  # the stray answer arrives
        assert (await http.get(f"http://127.0.0.1:{port}/")).json() == {}
    assert connections == 2


@pytest.mark.parametrize(("host", "races"), [("127.0.0.1", False), ("localhost", True)])
async def test_only_a_host_name_is_connected_to_with_happy_eyeballs(
    monkeypatch: pytest.MonkeyPatch, host: str, races: bool
) -> None:
    # An address has nothing to race, but Python 3.11 starts the race anyway (a task, a
    # wait and a timer a connection). A name may resolve to several, and is raced (RFC 8305)
    # on asyncio's own loop; uvloop's create_connection has no such option (a TypeError).
    loop = asyncio.get_running_loop()
    races = races and isinstance(loop, asyncio.BaseEventLoop)
    create_connection = loop.create_connection
    delays: list[float | None] = []

    async def recorded(*args: Any, **kwargs: Any) -> Any:
        delays.append(kwargs.get("happy_eyeballs_delay"))
        return await create_connection(*args, **kwargs)

    monkeypatch.setattr(loop, "create_connection", recorded)
    async with await serve(answering(1, then_wait=1.0)) as port, PoolClient() as http:
        assert (await http.get(f"http://{host}:{port}/")).status_code == 200
    assert delays == [_pool._HAPPY_EYEBALLS_DELAY if races else None]


async def test_the_stream_s_errors_are_httpcore_s() -> None:
    backend = _pool._Backend()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(httpcore.ConnectError):  # nothing listens: never sent
        await backend.connect_tcp("127.0.0.1", port)

    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with await serve(close_at_once) as port:
        keepalive = (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        stream = await backend.connect_tcp("127.0.0.1", port, socket_options=[keepalive])
        assert isinstance(stream, _pool._Stream)
        sock = stream.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        assert await stream.read(100, timeout=5) == b""  # the server's FIN: end of stream
        assert stream.get_extra_info("is_readable")
        await stream.aclose()
        with pytest.raises(httpcore.WriteError):  # not dropped without a word, as asyncio would
            await stream.write(b"GET / HTTP/1.1\r\n\r\n")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(1)

    async with await serve(silent) as port:
        stream = await backend.connect_tcp("127.0.0.1", port)
        assert not stream.get_extra_info("is_readable")  # idle, nothing came
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(100, timeout=0.05)
        await stream.aclose()


async def test_a_read_past_its_timeout_is_a_read_timeout_and_frees_the_pool() -> None:
    # Reads and writes are bounded by asyncio.timeout instead of anyio's cancel scopes: the
    # same httpx errors, and the connection is dropped as before.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(5)

    async with await serve(silent) as port, PoolClient(timeout=httpx.Timeout(5, read=0.1)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://127.0.0.1:{port}/")
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert pool._requests == [] and all(c.is_closed() for c in pool.connections)


async def test_a_request_cancelled_while_it_waits_for_its_answer_frees_the_pool() -> None:
    heads: list[bytes] = []
    arrived = asyncio.Event()

    async def slow_then_fast(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append((await read_head(reader))[0])
        arrived.set()
        if len(heads) == 1:
            await asyncio.sleep(5)  # the first never answers in time
            return
        writer.write(OK)
        await writer.drain()
        writer.close()

    async with await serve(slow_then_fast) as port, PoolClient() as http:
        url = f"http://127.0.0.1:{port}/"
        waiting = asyncio.ensure_future(http.get(url))
        await arrived.wait()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        pool = http._transport._pool  # type: ignore[attr-defined]
        assert pool._requests == []
        assert all(c.is_closed() for c in pool.connections)  # half-used: closed
        assert (await http.get(url)).status_code == 200  # on a new connection


async def test_the_zoom_client_s_timeouts_by_phase_still_hold() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(5)

    async with await serve(silent) as port:
        zoom = ZoomClient(
            auth=StaticToken("t"),
            base_url=f"http://127.0.0.1:{port}/v2",
            timeout=httpx.Timeout(5, read=0.1),
        )
        async with zoom:
            with pytest.raises(ZoomTimeoutError) as caught:
                await zoom.get("/users/me", max_retries=0)
    assert "ReadTimeout" in str(caught.value)  # the read's own, not the 5 s attempt deadline


def _h2_pair(state_class: type[Any]) -> tuple[Any, Any]:
    """A client's h2 state and a server's, both of ``state_class``, past the preface."""
    import h2.config

    client = state_class(h2.config.H2Configuration(client_side=True))
    server = state_class(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())
    return client, server


def _frames_after_close(
    state_class: type[Any], reset: bool, swept: bool
) -> tuple[list[str], bytes, str]:
    """What a client state makes of an answer's frames arriving on a stream it closed: the
    events, what it sends back, and the error it raises (``""``: none)."""
    import h2.errors

    client, server = _h2_pair(state_class)
    client.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "http"),
                            (":authority", "x")], end_stream=True)  # fmt: skip
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200")])
    server.send_data(1, b"first")
    events = [type(e).__name__ for e in client.receive_data(server.data_to_send())]
    if reset:
        client.reset_stream(1, h2.errors.ErrorCodes.CANCEL)  # the caller gave up on it
    else:
        server.send_data(1, b"", end_stream=True)
        events += [type(e).__name__ for e in client.receive_data(server.data_to_send())]
    client.data_to_send()
    if swept:
        assert client.open_outbound_streams == 0  # (h2 drops the closed stream as it counts)
    # The server, not having seen any reset yet, goes on sending on the stream.
    server._get_stream_by_id(1).state_machine.state = server._get_stream_by_id(
        1
    ).state_machine.state.__class__.HALF_CLOSED_REMOTE
    raw = b"\x00\x00\x04\x00\x00\x00\x00\x00\x01late"  # DATA, stream 1, "late"
    try:
        events += [type(e).__name__ for e in client.receive_data(raw)]
    except Exception as exc:  # (compared as it is)
        return events, client.data_to_send(), type(exc).__name__
    return events, client.data_to_send(), ""


@pytest.mark.parametrize("swept", [False, True], ids=["kept", "swept"])
@pytest.mark.parametrize("reset", [True, False], ids=["reset-by-us", "ended"])
def test_h2_state_reads_frames_without_their_repr_and_as_h2_does(
    monkeypatch: pytest.MonkeyPatch, reset: bool, swept: bool
) -> None:
    # h2 built every frame's repr for its logger, which logs nothing unless configured: that
    # repr is gone, and a frame on a closed stream is answered (RST_STREAM) or refused (a
    # connection error) exactly as by h2's own method.
    import h2.connection
    import hyperframe.frame

    expected = _frames_after_close(h2.connection.H2Connection, reset, swept)
    reprs = [0]
    real_repr = hyperframe.frame.Frame.__repr__

    def counted(frame: Any) -> str:
        reprs[0] += 1
        return real_repr(frame)

    monkeypatch.setattr(hyperframe.frame.Frame, "__repr__", counted)
    assert _frames_after_close(_pool._H2State, reset, swept) == expected
    assert reprs == [0]
    assert expected[1] or expected[2]  # (answered with RST_STREAM, or refused)
    _frames_after_close(h2.connection.H2Connection, reset, swept)
    assert reprs[0] > 0  # (h2's own builds them: the count sees it)


_HEADER_NAMES = [
    b"Accept", b"authorization", b"Authorization", b"proxy-authorization", b"Cookie", b"cookie",
    b"Connection", b"keep-alive", b"Proxy-Connection", b"Upgrade", b"TE", b"te", b"x-zoom",
    b"X-Zoom ", b" host", b"Host", b":path", b":status", b"Content-Length", b"Transfer-Encoding",
]  # fmt: skip
_HEADER_VALUES = [b"", b"trailers", b"gzip", b" padded\t", b"Bearer tok", b"a=1", b"x" * 30, b"1"]


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from([b"GET", b"POST", b"CONNECT", b"PATCH"]),
    extra=st.lists(
        st.tuples(st.sampled_from(_HEADER_NAMES), st.sampled_from(_HEADER_VALUES)), max_size=8
    ),
)
def test_http2_request_headers_are_what_h2_makes_of_httpcore_s_or_refused_alike(
    method: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    # A usual request's header block is normalised in one pass and h2 is told not to redo it:
    # the frames sent are byte for byte those h2 makes from httpcore's list with its own
    # normalising and checks, and what h2 refuses is still refused (as a ProtocolError).
    import h2.config
    import h2.connection
    import h2.exceptions

    request = httpcore.Request(
        method, "https://api.zoom.us/v2/users?x=1", headers=[(b"Host", b"api.zoom.us"), *extra]
    )

    def sent(state: Any, headers: list[Any], end_stream: bool) -> bytes | str:
        state.initiate_connection()
        state.data_to_send()
        try:
            state.send_headers(1, headers, end_stream=end_stream)
        except h2.exceptions.ProtocolError:
            return "refused"
        return bytes(state.data_to_send())

    # httpcore's own list (before _h2_request_headers): h2 normalises and checks it.
    names = [n.lower() for n, _ in request.headers]
    if b"host" not in names:
        return
    authority = dict((n.lower(), v) for n, v in reversed(request.headers))[b"host"]
    httpcore_list = [
        (b":method", method),
        (b":authority", authority),
        (b":scheme", b"https"),
        (b":path", b"/v2/users?x=1"),
        *((n.lower(), v) for n, v in request.headers
          if n.lower() not in (b"host", b"transfer-encoding")),
    ]  # fmt: skip
    has_body = any(n in (b"content-length", b"transfer-encoding") for n in names)
    expected = sent(
        h2.connection.H2Connection(h2.config.H2Configuration(client_side=True)),
        httpcore_list,
        not has_body,
    )
    block, body, usual = _pool._h2_request_headers(request)
    assert body == has_body
    assert usual == (
        method != b"CONNECT"
        and not any(n.lower() == b"te" or n[:1] == b":" or n != n.strip() for n, _ in extra)
    )
    state = _pool._H2State(_pool._H2_PREPARED if usual else _pool._H2_CHECKED)
    assert sent(state, block, not body) == expected
    if not usual:
        assert block == httpcore_list  # (left to h2 as before)


async def test_the_transport_leaves_a_mock_on_httpx_s_transport_class_in_charge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pytest-httpx (and mock.patch.object in an application's tests) patch
    # httpx.AsyncHTTPTransport.handle_async_request: the pool's transport, which makes
    # httpcore's request itself, defers to it (else the mock was skipped and the request sent).
    async def mocked(self: Any, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "me"})

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", mocked)
    async with PoolClient() as http:
        response = await http.get("https://api.zoom.test/v2/users/me")
    assert response.json() == {"id": "me"}
    with respx.mock(using="httpx") as router:  # (respx's own way: the client's transport)
        router.get("https://api.zoom.test/v2/users/me").respond(200, json={"id": "respx"})
        async with PoolClient() as http:
            response = await http.get("https://api.zoom.test/v2/users/me")
    assert response.json() == {"id": "respx"}


async def test_the_transport_maps_httpcore_s_errors_to_httpx_s() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # (closed when the block ends: nobody listens)
    async with PoolClient() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.get(f"http://127.0.0.1:{port}/")
    assert isinstance(caught.value.__cause__, httpcore.ConnectError)
    assert caught.value.request.url == f"http://127.0.0.1:{port}/"

"""The default client's transport: httpx's own, over httpcore's pool with its assignment fixed.

httpcore 1.0.9 (its last release) re-plans the whole pool on every pool event (a request
arrives, an answer is read) in ``AsyncConnectionPool._assign_requests_to_connections``, and
three faults there make a burst's cost grow with the square of its size:

* it counts *every* connection, not the idle ones, against ``max_keepalive_connections``
  (building that list once per idle connection), so while a burst has more connections open
  than the keep-alive cap each one is closed as soon as it is idle and the next wave reconnects
  (encode/httpcore#1000, #1035, unmerged);
* an idle HTTP/1.1 connection handed to a waiting request stays ``IDLE`` until that request's
  task runs, so every request arriving meanwhile is handed the same connection; all but one
  fail with ``ConnectionNotAvailable`` and re-plan the pool again (7-8 passes per request in
  an 800-request burst here; fixed in pydantic's maintained fork httpcore2, httpx2#1075);
* it probes every idle connection's socket (``has_expired()``: anyio rebuilds its attribute
  map with a ``getpeername()``, then a ``poll()``) on every pass, although only a connection
  about to carry a request needs to be known alive.

:class:`_FixedPool` replaces that one method, keeping everything else of httpcore: its
connections, HTTP/1.1 and HTTP/2, proxies, timeouts, errors, and respx's default mock (which
patches ``AsyncConnectionPool.handle_async_request``, inherited here). Its assignment follows
httpcore2's (one pass; an idle HTTP/1.1 connection handed to a waiting request is reserved for
it; idle connections above the cap are closed), and it probes an idle connection when it is
about to hand it out, sweeping all idle ones for expiry at most every ``_SWEEP_EVERY`` seconds.
When no connection can be surplus, a request that arrives takes the first idle connection of
the list, which keeps them least recently handed out first, and one that arrives while the last
pass left no connection free opens its own without a look: a wave costs one look per request,
not one per connection, whether its connections are idle or to be opened (under callgrind,
bursts of 80 with all 80 in flight: 3.05M -> 2.51M instructions per request, where httpx's stack
alone over this pool, without the SDK, takes 2.39M; ``benchmarks/bench_pool.py --latency 8``).

Below the pool, :class:`_Connection`, :class:`_FastLock` and :class:`_Stream` remove work httpcore
does per request that a request does not need (loop turns on free locks and around socket I/O,
anyio cancel scopes around each read and write, a ``getpeername()`` per probe): 2.44M -> 2.00M
instructions per request with the short way past ``AsyncClient.send``
(:mod:`zoom_async._httpx_send`); ``docs/benchmarks.md``, "Per-request work cut from httpx's and
httpcore's path".
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import copy
import functools
import ipaddress
import logging
import ssl
import time
import types
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterable,
)
from typing import Any, SupportsIndex, cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack.huffman
import httpcore
import httpx
import hyperframe.frame
import sniffio
from h2.connection import ConnectionState
from h2.utilities import CONNECTION_HEADERS
from hpack import NeverIndexedHeaderTuple
from httpcore import AsyncConnectionInterface, AsyncHTTP2Connection, AsyncHTTP11Connection
from httpcore._async.connection_pool import AsyncPoolRequest, PoolByteStream
from httpcore._async.http2 import HTTP2ConnectionByteStream, HTTPConnectionState
from httpcore._backends.auto import AutoBackend
from httpcore._backends.base import SOCKET_OPTION, AsyncNetworkStream
from httpcore._exceptions import (
    ConnectError,
    ConnectionNotAvailable,
    ConnectTimeout,
    LocalProtocolError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    WriteError,
    WriteTimeout,
    map_exceptions,
)
from httpcore._synchronization import (
    AsyncLock,
    AsyncSemaphore,
    AsyncShieldCancellation,
    current_async_library,
)
from httpcore._utils import is_socket_readable
from httpx._transports.default import AsyncResponseStream, map_httpcore_exceptions

from . import _hpack
from .clock import loop_time
from .limits import ANSWER_AT, LAST_READ_AT

_HTTP2_LOGGER = logging.getLogger("httpcore.http2")
"""httpcore's HTTP/2 logger, whose DEBUG level traces each step of a request."""

_SWEEP_EVERY = 5.0
"""At most this often every idle connection is checked for expiry (keep-alive time out, or
the server closed it); between sweeps only a connection about to be handed out is. A check
costs a ``getpeername()`` and a ``poll()`` (10-15 µs): every second over a wave of 80 idle
connections it was 40 µs per request of an 800-burst. Once per httpx's default keep-alive
expiry (5 s) an idle socket lives at most twice that."""


_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's


class _HandOffSemaphore:
    """An asyncio semaphore whose releaser hands a permit to the first task waiting, as anyio's
    does.

    What httpcore's connections need of a semaphore and no more: a free permit is taken in a
    few attribute checks, without a turn of the loop and without looking up the task or its
    cancel scopes (anyio's ``fast_acquire`` still does both; ``asyncio.Semaphore`` scans its
    waiters whenever one is free), and a released one passes straight to the first live
    waiter, so a task that arrives meanwhile queues behind it.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, permits: int) -> None:
        self._free = permits
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> None:
        if self._free:  # (never while any task waits: a release hands its permit over)
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over as it was cancelled: to the next in line
            else:
                waiter.cancel()  # (so that no release hands it over now)
                with contextlib.suppress(ValueError):  # (unless a release dropped it already)
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # held from now on by that task
                return
        self._free += 1


class _HandOffLock(_HandOffSemaphore):
    """A :class:`_HandOffSemaphore` of one permit: the lock httpcore's connections take."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    def locked(self) -> bool:
        return not self._free

    def release(self) -> None:
        if self._free:
            return  # (released already: as before, it stays free)
        super().release()


class _FastLock(AsyncLock):
    """httpcore's lock, on asyncio a :class:`_HandOffLock`.

    httpcore takes a connection's locks three times a request over HTTP/1.1 (the connection's
    once, its HTTP/1.1 state's when the request starts and when its answer is closed), and ten
    times over HTTP/2, on locks the connection's streams share (see :class:`_Connection`).
    httpcore's lock on asyncio is anyio's, whose uncontended ``acquire()`` is a shielded
    checkpoint: a cancel scope and a ``sleep(0)``, a turn of the event loop each time. Even with
    anyio's ``fast_acquire`` the locks took 3 % of a request's instructions over HTTP/2
    (``benchmarks/bench_pool.py --pool default-h2`` under callgrind: 2.43M -> 2.37M). A waiting
    task is cancelled as before; taking a free lock checks no cancel scope (an anyio scope
    cancelled meanwhile is delivered at the task's next suspension, its socket's). Under trio,
    httpcore's own.
    """

    def setup(self) -> None:
        if current_async_library() == "asyncio":
            self._backend = "asyncio"
            self._loop_lock = _HandOffLock()
        else:
            super().setup()

    async def __aenter__(self) -> AsyncLock:
        if not self._backend:
            self.setup()
        if self._backend == "asyncio":
            await self._loop_lock.acquire()
            return self
        return await super().__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: types.TracebackType | None = None,
    ) -> None:
        if self._backend == "asyncio":
            self._loop_lock.release()
        else:
            await super().__aexit__(exc_type, exc_value, traceback)


class _FastSemaphore(AsyncSemaphore):
    """httpcore's semaphore, on asyncio a :class:`_HandOffSemaphore`: an HTTP/2 connection's
    limit on its open streams, which every request takes a permit of and gives back.

    httpcore's on asyncio is anyio's, whose free ``acquire()`` looks up the task's cancel scopes
    even with ``fast_acquire`` (3 % of a request's client CPU over HTTP/2 in a burst, sampled
    with py-spy). A waiting task is cancelled as before. Under trio, httpcore's own.
    """

    def setup(self) -> None:
        if current_async_library() == "asyncio":
            self._backend = "asyncio"
            self._loop_semaphore = _HandOffSemaphore(self._bound)
        else:
            super().setup()

    async def acquire(self) -> None:
        if not self._backend:
            self.setup()
        if self._backend == "asyncio":
            await self._loop_semaphore.acquire()
        else:
            await super().acquire()

    async def release(self) -> None:
        if self._backend == "asyncio":
            self._loop_semaphore.release()
        else:
            await super().release()


class _RememberedHuffman(hpack.huffman.HuffmanEncoder):
    """hpack's Huffman coder for one HTTP/2 connection, remembering its last long values.

    h2 never indexes ``Authorization`` (RFC 7541 §7.1.3: a secret must not enter the header
    table), so every request sends the bearer token as a literal, and hpack Huffman-codes it
    again, in pure Python, at a cost that grows with the square of its length: 147 µs for a
    700-byte token, about Zoom's, 10-15 % of a request's client CPU in a burst. The token is the
    same on every request for its hour, so its code is looked up instead. Short values (paths,
    ids) are coded as before, and at most :attr:`KEEP` values are kept: a new token pushes out
    the oldest. The codes live and die with the connection, as its copy of the token does.
    """

    KEEP = 4
    SHORTEST = 64  # below this, coding costs less than keeping

    def __init__(self, coder: hpack.huffman.HuffmanEncoder) -> None:
        super().__init__(coder.huffman_code_list, coder.huffman_code_list_lengths)
        self._codes: dict[bytes, bytes] = {}

    def __repr__(self) -> str:  # never the codes: they spell the token
        return f"<{type(self).__name__}: {len(self._codes)} values kept>"

    def encode(self, bytes_to_encode: bytes | None) -> bytes:
        if not bytes_to_encode or len(bytes_to_encode) < self.SHORTEST:
            return super().encode(bytes_to_encode)
        code = self._codes.get(bytes_to_encode)
        if code is None:
            code = super().encode(bytes_to_encode)
            if len(self._codes) >= self.KEEP:
                del self._codes[next(iter(self._codes))]
            self._codes[bytes_to_encode] = code
        return code


class _H2State(h2.connection.H2Connection):
    """h2's state of one connection, which counts its open streams only when it may be full.

    Before each new stream h2 counts the open ones against the server's limit by walking every
    stream it holds, dropping the closed ones as it goes: O(streams in flight) a request, 11 µs
    with 80 in flight, 28 µs with 180. While it holds fewer streams than the limit, the open
    ones are fewer too, and that is all the check needs to know; at the limit, or past
    :attr:`SWEEP_ABOVE` streams held, it counts (and drops) as before, so what it holds stays
    bounded. ``open_outbound_streams`` read anywhere else is h2's exact count.
    """

    SWEEP_ABOVE = 128

    _opening = False

    def send_headers(self, stream_id: int, *args: Any, **kwargs: Any) -> None:
        held = len(self.streams)
        self._opening = stream_id not in self.streams and held < min(
            self.remote_settings.max_concurrent_streams, self.SWEEP_ABOVE
        )
        try:
            super().send_headers(stream_id, *args, **kwargs)
        finally:
            self._opening = False

    @property
    def open_outbound_streams(self) -> int:
        if self._opening:
            return len(self.streams)  # at least the open ones, and fewer than the limit
        return super().open_outbound_streams

    def _receive_frame(self, frame: Any) -> list[h2.events.Event]:
        # h2's (4.x), without the repr of every frame it reads, built for a logger that logs
        # nothing unless one was configured (2 % of a request's client CPU in a burst, sampled
        # with py-spy; three frames an answer). With a logger of its own, h2's as it is.
        if type(self.config.logger) is not h2.config.DummyLogger:
            return super()._receive_frame(frame)
        events: list[h2.events.Event]
        try:
            frames, events = self._frame_dispatch_table[frame.__class__](frame)
        except h2.exceptions.StreamClosedError as e:
            # A stream closed by RST_STREAM: a stream error, answered with RST_STREAM; else
            # an error of the connection.
            if not self._stream_is_closed_by_reset(e.stream_id):
                raise
            reset = hyperframe.frame.RstStreamFrame(e.stream_id)
            reset.error_code = e.error_code
            self._prepare_for_sending([reset])
            events = e._events
        except h2.exceptions.StreamIDTooLowError as e:
            # A stream id already used: closed by RST_STREAM, a stream error; by END_STREAM
            # or implicitly (a higher id opened), an error of the connection.
            if self._stream_is_closed_by_reset(e.stream_id):
                reset = hyperframe.frame.RstStreamFrame(e.stream_id)
                reset.error_code = h2.errors.ErrorCodes.STREAM_CLOSED
                self._prepare_for_sending([reset])
                events = []
            elif self._stream_is_closed_by_end(e.stream_id):
                raise h2.exceptions.StreamClosedError(e.stream_id) from e
            else:
                raise
        else:
            self._prepare_for_sending(frames)
        return events


_WIDENED_BY = 2**24
"""How far httpcore widens an HTTP/2 connection's window, and each stream's, past the default."""

_STREAM_WINDOW = 65_535 + _WIDENED_BY
"""The window httpcore gives each HTTP/2 stream it opens: the protocol's default, then 16 MiB."""

_OPENED: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "zoom_async_http2_stream", default=None
)
"""The stream the current task's request opened on an HTTP/2 connection (``None``: none)."""

_WRITTEN: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "zoom_async_http2_written", default=False
)
"""Whether the current task's request headers were handed to the socket (HTTP/2)."""


_H2_CHECKED = AsyncHTTP2Connection.CONFIG
"""httpcore's h2 configuration: h2 normalises and checks each request's headers."""

_H2_PREPARED = copy.copy(_H2_CHECKED)
_H2_PREPARED.normalize_outbound_headers = False
_H2_PREPARED.validate_outbound_headers = False
"""The same, for headers :func:`_h2_request_headers` has normalised as h2 would and found
nothing in that h2 could refuse: h2's nine generators over them were 7 % of a request's
instructions over HTTP/2 (1.91 M -> 1.77 M, ``bench_pool.py --pool default-h2`` under callgrind)."""

_NEVER_INDEXED = frozenset((b"authorization", b"proxy-authorization"))
"""Headers h2 never lets into the HPACK table (RFC 7541 §7.1.3), with a cookie under 20 bytes."""


def _h2_request_headers(
    request: httpcore.Request,
) -> tuple[list[tuple[bytes, bytes]], bool, bool]:
    """A request's header block for h2, whether it has a body, and whether it is usual.

    Usual: not a CONNECT, and no header h2 could refuse or would rename (a pseudo-header among
    the caller's, ``TE``, a name with surrounding whitespace). Its block is then what h2's
    normalisation makes of httpcore's list (names lowercased, values stripped of surrounding
    whitespace, connection-specific headers dropped, credentials and short cookies never
    indexed: ``h2.utilities.normalize_outbound_headers``), made in one pass, and h2 is told not
    to redo it. Otherwise it is httpcore's list, which h2 normalises and checks itself (and
    refuses, as before, with a ``ProtocolError``).
    """
    authority: bytes | None = None
    has_body = False
    usual = request.method != b"CONNECT"
    headers: list[tuple[bytes, bytes]] = []
    for name, value in request.headers:
        name = name.lower()
        if name == b"host":
            if authority is None:
                authority = value
            continue
        if name in (b"content-length", b"transfer-encoding"):
            has_body = True
            if name == b"transfer-encoding":
                continue
        headers.append((name, value))
        if name[:1] == b":" or name == b"te" or name != name.strip():
            usual = False
    if authority is None:  # (httpx always sets it)
        raise LocalProtocolError("an HTTP/2 request needs a Host header for its :authority")
    pseudo = [
        (b":method", request.method),
        (b":authority", authority),
        (b":scheme", request.url.scheme),
        (b":path", request.url.target),
    ]
    if not usual:
        return pseudo + headers, has_body, False
    block: list[tuple[bytes, bytes]] = [(n, v.strip()) for n, v in pseudo]
    for name, value in headers:
        value = value.strip()
        if name in CONNECTION_HEADERS:
            continue
        if name in _NEVER_INDEXED or (name == b"cookie" and len(value) < 20):
            block.append(NeverIndexedHeaderTuple(name, value))
        else:
            block.append((name, value))
    return block, has_body, True


def _traced(request: httpcore.Request) -> bool:
    """Whether someone listens to httpcore's trace steps of ``request``: a ``trace``
    extension, or httpcore's HTTP/2 logger at DEBUG."""
    return request.extensions.get("trace") is not None or _HTTP2_LOGGER.isEnabledFor(logging.DEBUG)


class _HTTP2Body(HTTP2ConnectionByteStream):
    """httpcore's HTTP/2 answer body, without its two trace steps (reading, closing), each a
    context manager built and entered for nothing: made only for a request nobody traces
    (:meth:`_HTTP2Connection._exchange`; a traced one gets httpcore's own)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._connection._receive_response_body(
                request=self._request, stream_id=self._stream_id
            ):
                yield chunk
        except BaseException:
            # (as httpcore: the stream closed, and maybe the connection, before it is raised)
            with AsyncShieldCancellation():
                await self.aclose()
            raise

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._connection._response_closed(stream_id=self._stream_id)


class _Response(httpcore.Response):
    """httpcore's response, made of parts that need none of its type checks (1 % of a
    request's client CPU in a burst over HTTP/2, py-spy)."""

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        stream: Any,
        extensions: dict[str, Any],
    ) -> None:
        self.status = status
        self.headers = headers
        self.stream = stream
        self.extensions = extensions
        self._stream_consumed = False


class _HTTP2Connection(AsyncHTTP2Connection):
    """httpcore's HTTP/2 connection, retrying elsewhere what a closing connection never took.

    A server recycles a connection with GOAWAY (nginx after 1,000 requests, hypercorn too),
    naming the last stream it processes; the streams above it were never processed, and a
    request still waiting for a stream of its own (past the server's stream limit) never left
    (RFC 9113 §6.8). httpcore retries only the first kind, and only when the GOAWAY is seen
    before the connection closes. A request that found the connection closing when its turn
    came failed instead ("Max outbound streams is 100, 100 open", or a RemoteProtocolError):
    with a batch of more than 100 requests in flight, some failed at each recycling. Both kinds
    now raise :class:`ConnectionNotAvailable`, on which the pool sends the request on another
    connection, as it would have been sent first. A stream the server may have processed fails
    as before: only its caller can tell whether to send it again.

    It also notes when each answer's head was read off the socket (``ANSWER_AT`` in the
    response's extensions), which the limiter frees its slot from. httpcore's streams wait in
    turn for the connection's read lock, each to find its events there already, so with 180 in
    flight a task learns of its answer well after it came; dated by the connection's last read
    when the slot is released instead, a mixed Business+ batch reached 0.964-0.969 of the
    strict-safe bound, 0.978-0.982 dated by the read (``bench_limits.py --transport httpx-h2``).

    And the streams no longer queue for that lock (see ``_receive_events``): one reads for all,
    and wakes those its read brought events for at once. Bursts of 80 took 2.7-2.9 turns of
    the loop a request, 1.9-2.1 so, and 4-8 % less client CPU (10-50 ms of jittered latency;
    with answers that all come together, 3.2 turns -> 1.0 at the same CPU).
    """

    _answered_at: dict[int, float]
    """When each stream's answer head was read off the socket, until its request takes it."""

    _waits_in_loop = False
    """On asyncio: streams wait for the reader's wake (``_waiting``), not for the read lock."""

    _reading = False
    """A stream is reading for all (set and cleared around ``_receive_events``)."""

    _waiting: dict[int, asyncio.Future[None]]
    """The streams waiting while another reads: each one's wake."""

    _arrived: list[int]
    """Waiting streams the current read brought events for."""

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        opened, written = _OPENED.set(None), _WRITTEN.set(False)
        try:
            response = await self._exchange(request)
            answered_at = self._answered_at.pop(response.extensions["stream_id"], None)
            if answered_at is not None:
                response.extensions[ANSWER_AT] = answered_at
            return response
        except (RemoteProtocolError, ReadError, WriteError, LocalProtocolError) as exc:
            going_away = self._connection_terminated
            if going_away is not None:
                stream_id, last = _OPENED.get(), going_away.last_stream_id
                if stream_id is None or (last is not None and stream_id > last):
                    raise ConnectionNotAvailable() from exc
            if isinstance(exc, LocalProtocolError) and _WRITTEN.get():
                # httpcore calls every h2 ProtocolError ours, a server's head that cannot be
                # decoded included, and the client takes LocalProtocolError for "refused
                # before sending". Once its headers were written the request may have reached
                # the server: it must not be counted unsent, nor a POST called safe to repeat.
                raise RemoteProtocolError(str(exc)) from exc
            raise
        finally:
            _OPENED.reset(opened)
            _WRITTEN.reset(written)

    async def _exchange(self, request: httpcore.Request) -> httpcore.Response:
        # httpcore's handle_async_request (1.0.9, its last release) with its stream limit a
        # _FastSemaphore, and its three trace steps left out unless the request is traced (a
        # "trace" extension, or httpcore's logger at DEBUG): each built and entered a context
        # manager, for nothing (2 % of a request's client CPU in a burst, with the semaphore's
        # cancel-scope lookups 5 %). A permit is also given back when no stream id is left.
        if _traced(request):
            return await super().handle_async_request(request)
        if not self.can_handle_request(request.url.origin):  # (the pool never sends one)
            raise RuntimeError(
                f"Attempted to send request to {request.url.origin} on connection to {self._origin}"
            )
        async with self._state_lock:
            if self._state not in (HTTPConnectionState.ACTIVE, HTTPConnectionState.IDLE):
                raise ConnectionNotAvailable()
            self._request_count += 1
            self._expire_at = None
            self._state = HTTPConnectionState.ACTIVE
        if not self._sent_connection_init:
            async with self._init_lock:
                if not self._sent_connection_init:
                    await self._initiate(request)
        limit = self._max_streams_semaphore
        await limit.acquire()
        try:
            stream_id = self._h2_state.get_next_available_stream_id()
        except h2.exceptions.NoAvailableStreamIDError:  # pragma: no cover - (2**30 streams)
            await limit.release()
            self._used_all_stream_ids = True
            self._request_count -= 1
            raise ConnectionNotAvailable() from None
        self._events[stream_id] = []
        try:
            await self._send_request_headers(request=request, stream_id=stream_id)
            await self._send_request_body(request=request, stream_id=stream_id)
            status, headers = await self._receive_response(request=request, stream_id=stream_id)
            return _Response(
                status,
                headers,  # (h2's, decoded to bytes: httpcore's type checks have nothing to do)
                _HTTP2Body(self, request, stream_id=stream_id),
                {
                    "http_version": b"HTTP/2",
                    "network_stream": self._network_stream,
                    "stream_id": stream_id,
                },
            )
        except BaseException as exc:
            with AsyncShieldCancellation():
                await self._response_closed(stream_id=stream_id)
            if isinstance(exc, h2.exceptions.ProtocolError):
                # (as httpcore: h2 refuses once a GOAWAY was read, else the fault is ours)
                if self._connection_terminated:  # pragma: no cover
                    raise RemoteProtocolError(self._connection_terminated) from exc
                raise LocalProtocolError(exc) from exc
            raise

    async def _initiate(self, request: httpcore.Request) -> None:
        # httpcore's first steps on a connection: the preface and settings, then its stream
        # limit, one stream until the server's settings say how many.
        try:
            await self._send_connection_init(request)
        except BaseException:
            with AsyncShieldCancellation():
                await self.aclose()
            raise
        self._sent_connection_init = True
        self._max_streams = 1
        most = self._h2_state.local_settings.max_concurrent_streams
        self._max_streams_semaphore = _FastSemaphore(most)
        for _ in range(most - self._max_streams):
            await self._max_streams_semaphore.acquire()

    async def _read_incoming_data(self, request: httpcore.Request) -> list[h2.events.Event]:
        # The stream's last bytes came no earlier than any bytes of this read, so a head
        # among them was read by then. The task whose answer it is learns of it later: at the
        # loop's next turn once woken (see _receive_events), on a busy loop later still.
        events = await super()._read_incoming_data(request)
        stream = self._network_stream
        read_at = stream._reader.read_at if isinstance(stream, _Stream) else None
        if read_at is not None:
            for event in events:
                # (only a stream still waiting: one closed early keeps no note)
                if type(event) is h2.events.ResponseReceived and event.stream_id in self._events:
                    self._answered_at.setdefault(event.stream_id, read_at)
        if self._reading and self._waiting:
            arrived = self._arrived
            for event in events:
                stream_id = getattr(event, "stream_id", None)
                if stream_id in self._waiting:
                    arrived.append(stream_id)
        return events

    async def _receive_events(
        self, request: httpcore.Request, stream_id: int | None = None
    ) -> None:
        # One stream reads for all while the others wait, each for its own events: the reader
        # wakes those its read brought events for, and when it leaves with its own, one more
        # to read next. httpcore's streams queued for the read lock instead, each in turn to
        # find its events there or to read: one turn of the loop after another, a task learning
        # of its answer up to one whole queue of turns late.
        if stream_id is None or not self._waits_in_loop:
            await super()._receive_events(request, stream_id)  # (flow control: as httpcore)
            return
        if self._reading:
            await self._wait_for_read(stream_id)
            return
        self._reading = True
        failed = True
        try:
            await super()._receive_events(request, stream_id)
            failed = False
        finally:
            self._reading = False
            self._wake(
                everyone=self._broken(),
                next_reader=failed or bool(self._events.get(stream_id)),
            )

    def _broken(self) -> bool:
        return self._read_exception is not None or self._connection_terminated is not None

    async def _wait_for_read(self, stream_id: int) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[stream_id] = waiter
        try:
            await waiter
        except BaseException:
            if self._waiting.get(stream_id) is waiter:
                del self._waiting[stream_id]
            elif not waiter.cancelled() and not self._reading:
                self._wake(everyone=self._broken(), next_reader=True)  # (in its stead)
            raise

    def _wake(self, everyone: bool, next_reader: bool) -> None:
        waiting = self._waiting
        arrived, self._arrived = self._arrived, []
        if everyone:
            arrived = list(waiting)
        for stream_id in arrived:
            waiter = waiting.pop(stream_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        while next_reader and waiting:
            waiter = waiting.pop(next(iter(waiting)))
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _response_closed(self, stream_id: int) -> None:
        self._answered_at.pop(stream_id, None)  # (a stream that failed before its answer)
        await super()._response_closed(stream_id)

    async def _write_outgoing_data(self, request: httpcore.Request) -> None:
        # httpcore writes after every read and every piece of an answer's body, for what h2
        # may have queued (a window update, a ping's answer, a settings ack): for the answers
        # of a burst, nearly always nothing. Each was a turn at the write lock, two a request:
        # 5 % of its instructions (``bench_pool.py --pool default-h2`` under callgrind).
        if not getattr(self._h2_state, "_data_to_send", True):
            return
        await super()._write_outgoing_data(request)

    async def _send_connection_init(self, request: httpcore.Request) -> None:
        # httpcore's settings, with every stream's window as httpcore makes it from the start
        # (see _send_request_headers): the server applies SETTINGS before any stream opens.
        state = self._h2_state
        state.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: _STREAM_WINDOW,
            },
        )
        # (not in RFC 7540, and some servers refuse a setting they do not know: as httpcore)
        del state.local_settings[h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL]
        state.initiate_connection()
        state.increment_flow_control_window(_WIDENED_BY)
        await self._write_outgoing_data(request)

    async def _send_request_headers(self, request: httpcore.Request, stream_id: int) -> None:
        if (
            self._connection_terminated is not None
            or self._h2_state.state_machine.state is ConnectionState.CLOSED
        ):
            raise ConnectionNotAvailable()  # (before anything is written for this request)
        _OPENED.set(stream_id)
        # httpcore's, without the WINDOW_UPDATE it sends on every stream to widen its window
        # to _STREAM_WINDOW, which the connection's SETTINGS now give each stream at its start:
        # a frame a request less to make, write, and for the server to read.
        headers, has_body, usual = _h2_request_headers(request)
        state = self._h2_state
        # A stream takes the connection's configuration as it opens (see _H2_PREPARED).
        state.config = _H2_PREPARED if usual else _H2_CHECKED
        state.send_headers(stream_id, headers, end_stream=not has_body)
        await self._write_outgoing_data(request)
        _WRITTEN.set(True)

    async def _receive_response_body(
        self, request: httpcore.Request, stream_id: int
    ) -> AsyncIterator[bytes]:
        # httpcore's, without passing on an empty DATA frame (many servers, hypercorn among
        # them, end a stream with one): each chunk goes up through six layers of iterators.
        while True:
            event = await self._receive_stream_event(request, stream_id)
            if isinstance(event, h2.events.DataReceived):
                amount = event.flow_controlled_length
                if amount:  # (padding counts too)
                    self._h2_state.acknowledge_received_data(amount, stream_id)
                    await self._write_outgoing_data(request)
                if event.data:
                    yield event.data
            elif isinstance(event, h2.events.StreamEnded):
                break


class _Connection(httpcore.AsyncHTTPConnection):
    """httpcore's connection, with :class:`_FastLock` for its own lock and for the locks of the
    HTTP/1.1 or HTTP/2 connection it makes once connected, and for an HTTP/2 connection ours
    (:class:`_HTTP2Connection`), its state counting streams only when it may be full
    (:class:`_H2State`), and its header codec compiled (:mod:`zoom_async._hpack`), or where
    that is missing hpack's with a Huffman coder that codes its bearer token once
    (:class:`_RememberedHuffman`).

    An HTTP/2 connection's streams do contend for its locks (one reads for all, one writes at
    a time): a released lock passes to its first waiter, as anyio's did. A free one no longer
    costs a turn of the loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_lock = _FastLock()

    @property
    def _connection(self) -> AsyncConnectionInterface | None:
        return self._made

    @_connection.setter
    def _connection(self, made: AsyncConnectionInterface | None) -> None:
        # httpcore makes the HTTP/1.1 or HTTP/2 connection inside handle_async_request, once
        # the socket is open, and sends on it at once: this is where its lock can be swapped.
        if isinstance(made, AsyncHTTP11Connection) and type(made._state_lock) is AsyncLock:
            made._state_lock = _FastLock()
        elif isinstance(made, AsyncHTTP2Connection):
            if type(made) is AsyncHTTP2Connection:
                # httpcore makes it inside handle_async_request, by its class name: the only
                # moment to make it ours (the same state and one dict more).
                made.__class__ = _HTTP2Connection
                made._answered_at = {}  # type: ignore[attr-defined]
                made._waiting = {}  # type: ignore[attr-defined]
                made._arrived = []  # type: ignore[attr-defined]
                made._waits_in_loop = _on_asyncio()  # type: ignore[attr-defined]
            for name in ("_state_lock", "_init_lock", "_read_lock", "_write_lock"):
                if type(getattr(made, name)) is AsyncLock:
                    setattr(made, name, _FastLock())
            if type(made._h2_state) is h2.connection.H2Connection:
                made._h2_state.__class__ = _H2State
            if not _hpack.install(made._h2_state):
                encoder = made._h2_state.encoder
                if type(encoder.huffman_coder) is hpack.huffman.HuffmanEncoder:
                    encoder.huffman_coder = _RememberedHuffman(encoder.huffman_coder)
        self._made = made


async def _shielded(closing: Coroutine[Any, Any, None]) -> None:
    """``with AsyncShieldCancellation(): await closing``, the shield entered only once
    ``closing`` suspends.

    Nothing can cancel a coroutine between its suspensions, so one that finishes without
    suspending needs no shield; the close of an answer nearly always does (a lock taken free,
    the connection marked idle). Entering anyio's shielded cancel scope was 6 µs a request.
    """
    try:
        waiting_on = closing.send(None)
    except StopIteration:
        return
    with AsyncShieldCancellation():  # (before it suspends: as shielded as httpcore's)
        await _resumed(closing, waiting_on)


@types.coroutine
def _resumed(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """The rest of a coroutine that suspended on ``waiting_on``, as ``await`` would run it."""
    while True:
        try:
            sent = yield waiting_on
        except BaseException as exc:  # (a cancellation, or close(): passed in as await would)
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration:
                return


class _PoolByteStream(PoolByteStream):
    """httpcore's pool stream of an answer, shielding its close only where it can be cancelled
    (:func:`_shielded`)."""

    async def aclose(self) -> None:
        # httpcore's, but for the shield.
        if self._closed:
            return
        self._closed = True
        stream = self._stream
        if hasattr(stream, "aclose"):
            await _shielded(stream.aclose())
        pool = self._pool
        with pool._optional_thread_lock:
            pool._requests.remove(self._pool_request)
            closing = pool._assign_requests_to_connections()
        await pool._close_connections(closing)


def _assign(request: AsyncPoolRequest, connection: AsyncConnectionInterface) -> None:
    """``request.assign_to_connection(connection)``, without waking a wait that never began.

    httpcore sets the request's event whether or not anyone waits for it, and most requests
    are handed a connection in the very pass their arrival runs, before they would wait (a
    request looks at its connection first): making an anyio ``Event`` only to set it was 3 %
    of a request's client CPU over HTTP/2. An event is made once something waits on it.
    """
    if getattr(request._connection_acquired, "_backend", None) == "":
        request.connection = connection  # (its wait, if it comes, finds the connection first)
    else:
        request.assign_to_connection(connection)


class _FixedPool(httpcore.AsyncConnectionPool):
    _swept_at = float("-inf")
    # What the last pass left, so that the next can often skip its look at every request and
    # connection (see _planned): how many requests the pool held, whether each had a
    # connection, and whether none of the connections could take one more.
    _planned_requests = -1
    _all_assigned = False
    _none_free = False
    # A shared (HTTP/2) connection the last full pass left with room, and how many requests
    # it held then: an arrival is handed it without a look at every request (see _planned).
    _roomy: AsyncConnectionInterface | None = None
    _roomy_load = 0

    def create_connection(self, origin: httpcore.Origin) -> AsyncConnectionInterface:
        if getattr(self, "_proxy", None) is not None:
            return super().create_connection(origin)
        return _Connection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            http1=self._http1,
            http2=self._http2,
            retries=self._retries,
            local_address=self._local_address,
            uds=self._uds,
            network_backend=self._network_backend,
            socket_options=self._socket_options,
        )

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        response = await super().handle_async_request(request)
        if type(response.stream) is PoolByteStream:
            response.stream.__class__ = _PoolByteStream  # (the same state)
        return response

    async def _close_connections(self, closing: list[AsyncConnectionInterface]) -> None:
        # httpcore enters a shielded cancel scope to close nothing twice a request (after the
        # pass when the request arrives and after the one when its answer is closed).
        if closing:
            await super()._close_connections(closing)

    def _assign_requests_to_connections(self) -> list[AsyncConnectionInterface]:
        closing = self._planned()
        self._planned_requests = len(self._requests)
        return closing

    def _planned(self) -> list[AsyncConnectionInterface]:
        # httpcore runs a pass each time one request joins the pool (appended) or leaves it,
        # and nothing else hands out or clears a connection between passes. So when the last
        # pass left every request with a connection, one more request than then means that
        # one has arrived and waits alone, and one fewer that one has left and none waits.
        closing: list[AsyncConnectionInterface] = []
        requests = self._requests
        now = time.monotonic()
        sweep = now - self._swept_at >= _SWEEP_EVERY
        joined = len(requests) - self._planned_requests
        if not (self._all_assigned and joined in (1, -1)):
            joined = 0  # not known: look
        none_free = self._none_free
        self._all_assigned = self._none_free = False
        roomy = self._roomy
        if (
            joined == 1
            and roomy is not None
            and not sweep
            and self._roomy_load < _streams(roomy)
            and requests[-1].connection is None
            and roomy.is_available()
            and roomy.can_handle_request(requests[-1].request.url.origin)
        ):
            # It arrived while a shared connection had room at the last pass: it shares it.
            # Only a request leaving has changed its load since (the count here can only be
            # high), and over HTTP/2 every request arrives so: a look at each one in the pool
            # was 30-40 µs a request with 80 in flight.
            _assign(requests[-1], roomy)
            self._roomy_load += 1
            self._all_assigned = True
            return closing
        if (
            joined == 1
            and none_free
            and not sweep
            and len(self._connections) < self._max_connections
            and requests[-1].connection is None
        ):
            # It arrived while every connection is busy, reserved or connecting over HTTP/1.1
            # (no connection has come free since: only a request leaving frees one): open
            # its own at once. A wave of N requests on no idle connection (a burst on a cold
            # client) was otherwise N passes over every connection and request: N * N looks.
            request = requests[-1]
            made = self.create_connection(request.request.url.origin)
            self._connections.append(made)
            _assign(request, made)
            self._all_assigned = True
            self._none_free = not made.is_available()  # HTTP/2 possible: later ones may share
            return closing
        if (
            not sweep
            and len(self._connections) <= self._max_keepalive_connections
            and joined != 1  # the one that arrived waits
            and (joined == -1 or all(r.connection is not None for r in requests))
        ):
            # An answer was read and nobody waits for a connection: with no more connections
            # than may idle, none is surplus (a closed one goes at the next pass).
            self._all_assigned = True
            return closing
        # Connections a request in the pool holds, or has been handed and not yet started on,
        # and how many such requests each has.
        reserved: dict[AsyncConnectionInterface, int] = {}
        for r in requests:
            if r.connection is not None:
                reserved[r.connection] = reserved.get(r.connection, 0) + 1
        connections = self._connections
        if not sweep and len(connections) <= self._max_keepalive_connections:
            # A request arrived and no connection can be surplus: hand each waiting request the
            # first idle connection of the list, which keeps those handed out least recently in
            # front (each one handed out moves to the end), so that a wave arriving on idle
            # connections costs O(1) a request, not a look at every connection. When none is
            # idle, the full pass below opens one.
            handed: list[AsyncConnectionInterface] = []
            at = 0
            for request in requests:
                if request.connection is not None:
                    continue
                origin = request.request.url.origin
                while at < len(connections):
                    connection = connections[at]
                    inner = getattr(connection, "_connection", connection)
                    at += 1
                    if (
                        inner is None
                        or isinstance(inner, AsyncHTTP2Connection)  # the full pass shares those
                        or not inner.is_idle()
                        or connection in reserved
                        or not connection.can_handle_request(origin)
                    ):
                        continue
                    if connection.has_expired():
                        # Timed out, or the server closed it while idle: never send on it.
                        at -= 1
                        del connections[at]
                        closing.append(connection)
                        continue
                    _assign(request, connection)
                    reserved[connection] = 1
                    handed.append(connection)
                    break
                else:
                    break  # none idle: the full pass below
            else:
                at = -1  # every waiting request has its connection
            for connection in handed:
                connections.remove(connection)
            connections.extend(handed)
            if at == -1:
                self._all_assigned = True
                return closing
        if sweep:
            self._swept_at = now

        # One look at each connection (this runs twice per request, over every connection):
        # its HTTP/1.1 or HTTP/2 connection once connected, asked directly.
        self._roomy = None
        kept: list[AsyncConnectionInterface] = []
        shared: list[AsyncConnectionInterface] = []  # may take requests beside their own
        idle: list[AsyncConnectionInterface] = []  # idle and not handed to any request
        for connection in self._connections:
            inner = getattr(connection, "_connection", connection)
            if inner is None:  # still connecting, or its connect failed
                if connection.is_closed() or connection not in reserved:
                    continue  # failed, or its request has gone: no socket to close
                kept.append(connection)
                if connection.is_available():  # HTTP/2 possible: later requests may share it
                    shared.append(connection)
                continue
            if inner.is_closed():
                continue
            multiplexes = isinstance(inner, AsyncHTTP2Connection)
            if multiplexes and not inner.is_available():
                # It takes no new stream (it sent or got GOAWAY: a protocol error, a server
                # recycling it), but may still read its streams' answers: never handed out
                # (it would refuse at once, and the request come straight back here, forever).
                if inner.is_idle() and connection not in reserved:
                    closing.append(connection)
                else:
                    kept.append(connection)
                continue
            if inner.is_idle() and connection not in reserved:
                if sweep and connection.has_expired():
                    closing.append(connection)
                    continue
                idle.append(connection)
            kept.append(connection)
            if multiplexes:  # (available: one that is not was set aside above)
                shared.append(connection)

        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            # The first created first: requests below take the first in the list.
            dropped = set(idle[:surplus])
            closing.extend(idle[:surplus])
            idle = idle[surplus:]
            kept = [c for c in kept if c not in dropped]
            shared = [c for c in shared if c not in dropped]
        self._connections = kept

        def has_room(connection: AsyncConnectionInterface) -> bool:
            # fewer requests handed to it than it carries at once (see _streams)
            return reserved.get(connection, 0) < _streams(connection)

        budget = self._max_connections - len(kept)
        for request in requests:
            if not (shared or idle or budget > 0):
                break
            if request.connection is not None:
                continue
            origin = request.request.url.origin
            chosen = next((c for c in shared if has_room(c) and c.can_handle_request(origin)), None)
            if chosen is not None and chosen in idle:
                idle.remove(chosen)  # busy from now on: neither surplus nor room to make
            elif chosen is None:
                while True:
                    found = next((c for c in idle if c.can_handle_request(origin)), None)
                    if found is None:
                        break
                    connection = found
                    idle.remove(connection)
                    if not sweep and connection.has_expired():
                        # Timed out, or the server closed it while idle: never send on it.
                        kept.remove(connection)
                        closing.append(connection)
                        budget += 1
                        continue
                    chosen = connection  # an idle HTTP/1.1 connection: this request's alone
                    break
            if chosen is None:
                if budget > 0:
                    budget -= 1
                elif idle:
                    # At the connection limit: make room by closing an idle connection (of
                    # another origin, or it would have been taken above).
                    victim = idle.pop(0)
                    kept.remove(victim)
                    if victim in shared:
                        shared.remove(victim)
                    closing.append(victim)
                else:
                    continue
                chosen = self.create_connection(origin)
                kept.append(chosen)
                if chosen.is_available():  # HTTP/2 possible: later requests may share it
                    shared.append(chosen)
            _assign(request, chosen)
            reserved[chosen] = reserved.get(chosen, 0) + 1
        self._all_assigned = all(r.connection is not None for r in requests)
        roomy = next((c for c in shared if has_room(c)), None)
        if roomy is not None:
            self._roomy, self._roomy_load = roomy, reserved.get(roomy, 0)
        self._none_free = not idle and roomy is None
        return closing


def _streams(connection: AsyncConnectionInterface) -> int:
    """How many requests at once a connection carries: over HTTP/2 the server's stream limit
    once known, at most httpcore's own (100, which it also assumes until then); one over
    HTTP/1.1.

    httpcore hands every request to an HTTP/2 connection that is open, however many streams it
    has in use; those past the limit wait there for a stream to close, while the pool could open
    another connection. A mixed Business+ batch keeps 180 requests in flight (Light, Medium and
    Heavy waves together) against Zoom's and hypercorn's 100 streams."""
    inner = getattr(connection, "_connection", None)
    if isinstance(inner, AsyncHTTP2Connection):
        state = inner._h2_state
        return min(
            state.remote_settings.max_concurrent_streams,
            state.local_settings.max_concurrent_streams,
        )
    if inner is not None:
        return 1  # connected, and not over HTTP/2
    return _STREAMS_BEFORE_SETTINGS


_STREAMS_BEFORE_SETTINGS = 100
"""What an HTTP/2 connection still connecting is taken to carry (httpcore's own stream limit:
the server's is known once its settings arrive)."""


_CONNECT_ERRORS: dict[type[Exception], type[Exception]] = {
    TimeoutError: ConnectTimeout,
    OSError: ConnectError,
}
_HAPPY_EYEBALLS_DELAY = 0.25
"""Seconds before the next address of a host is tried beside the first (RFC 8305): anyio's
default, which httpcore's own backend used."""


@functools.lru_cache(maxsize=32)
def _is_address(host: str) -> bool:
    """Whether ``host`` is an IP address, which needs no lookup and has nothing to race."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _Reader(asyncio.StreamReader):
    """asyncio's stream reader, noting when the answer to the last request began to arrive."""

    answer_at: float | None = None
    """The loop's time when the first bytes after the stream's last write were read off the
    socket (``None``: none yet)."""

    read_at: float | None = None
    """The loop's time when the last bytes were read off the socket (``None``: none yet)."""

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        self.read_at = now = loop_time(asyncio.get_running_loop())
        if self.answer_at is None:
            self.answer_at = now
        super().feed_data(data)


async def _connected(
    connect: Callable[..., Awaitable[tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]],
    *args: Any,
    **kwargs: Any,
) -> _Stream:
    # What asyncio.open_connection and open_unix_connection do, with a _Reader.
    loop = asyncio.get_running_loop()
    reader = _Reader(loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport, _ = await connect(lambda: protocol, *args, **kwargs)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)  # type: ignore[arg-type]
    return _Stream(reader, writer, protocol)


class _Stream(AsyncNetworkStream):
    """A connection's socket on asyncio's own streams (``asyncio.open_connection``).

    httpcore's default on asyncio is anyio's socket stream, which costs a request turns of the
    event loop it does not need: a ``sleep(0)`` after every write (the request's bytes are
    already out) and before every read of data already received, and reading paused between
    reads, so the answer is noticed only after the task asks again (two ``epoll_ctl`` calls a
    read). A sequential request took 3.25 turns of the loop, 2.1 here. On a loop busy with a
    wave of requests each turn is a queue of other tasks' steps to wait behind, and the turns
    lie on the limiter's critical chain (a slot's grant, the request's send, its answer read,
    its release: ``benchmarks/bench_limits.py --trace``).

    asyncio's streams read as data arrives into the reader's buffer (flow control pauses the
    socket above twice its limit), write at once, and suspend only to wait: the same socket,
    TCP_NODELAY set, the same errors httpcore maps (``ReadTimeout``, ``WriteError``...), and
    each read and write bounded by ``asyncio.timeout``. Used on asyncio only; under trio
    httpcore's own streams.
    """

    def __init__(
        self, reader: _Reader, writer: asyncio.StreamWriter, protocol: asyncio.StreamReaderProtocol
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        # An OSError (a reset, a TLS error, a lost connection) is httpcore's ReadError, a
        # timeout its ReadTimeout: httpcore's map_exceptions written out, as in write (a
        # generator-based context manager made for every read and write was 1 % of a request).
        try:
            async with asyncio.timeout(timeout):
                # Returns what the buffer holds without suspending; b"" at the end of stream.
                return await self._reader.read(max_bytes)
        except OSError as exc:  # (TimeoutError is one)
            raise (ReadTimeout if isinstance(exc, TimeoutError) else ReadError)(exc) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        writer = self._writer
        try:
            if writer.transport.is_closing():
                # asyncio drops a write to a closed transport without a word.
                raise ConnectionResetError("the connection is closed")
            self._reader.answer_at = None  # what arrives from now on answers this request
            writer.write(buffer)
            if getattr(self._protocol, "_paused", True):
                async with asyncio.timeout(timeout):
                    await writer.drain()  # suspends until the socket takes the rest
            else:
                # Nothing to wait for: drain only raises what the connection met. A timeout
                # armed and cancelled for it was 1.5 % of a request's client CPU in a burst.
                await writer.drain()
        except OSError as exc:  # (as in read)
            raise (WriteTimeout if isinstance(exc, TimeoutError) else WriteError)(exc) from exc

    async def aclose(self) -> None:
        # As httpcore's anyio stream: nothing left to flush that anyone waits for, no TLS
        # close_notify (the server does not need it; waiting for it could hang a close).
        self._writer.transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> AsyncNetworkStream:
        try:
            with map_exceptions(_CONNECT_ERRORS):
                async with asyncio.timeout(timeout):
                    # The same reader and writer from now on, over TLS.
                    await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except BaseException:
            await self.aclose()
            raise
        return self

    def get_extra_info(self, info: str) -> Any:
        writer = self._writer
        if info == "is_readable":
            # The probe of an idle connection about to be handed out (see _FixedPool). An idle
            # HTTP/1.1 connection has nothing to read: whatever came (the server's FIN or
            # close_notify, an error, stray bytes) has been read into the reader already, or
            # is waiting in the socket; either way it must not carry a request.
            reader = self._reader
            if writer.transport.is_closing() or reader.at_eof() or reader.exception():
                return True
            if getattr(reader, "_buffer", None):  # what it read and holds (no public size)
                return True
            return is_socket_readable(writer.get_extra_info("socket"))
        if info == ANSWER_AT:
            return self._reader.answer_at
        if info == LAST_READ_AT:
            return self._reader.read_at
        if info == "client_addr":
            return writer.get_extra_info("sockname")
        if info == "server_addr":
            return writer.get_extra_info("peername")
        if info in ("ssl_object", "socket"):
            return writer.get_extra_info(info)
        return None


def _on_asyncio() -> bool:
    return sniffio.current_async_library() == "asyncio"


class _Backend(AutoBackend):
    """httpcore's default network backend, with :class:`_Stream` for its sockets on asyncio."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        if not _on_asyncio():
            return await super().connect_tcp(
                host,
                port,
                timeout=timeout,
                local_address=local_address,
                socket_options=socket_options,
            )
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {}
        # Python 3.11 races even a lone address: a task, a wait and a timer per connection, a
        # fifth of a cold wave's cost of connecting. Only asyncio's own loop takes the option:
        # uvloop's create_connection (uvicorn's loop when installed) rejects it and tries a
        # name's addresses one after another.
        if isinstance(loop, asyncio.BaseEventLoop) and not _is_address(host):
            options["happy_eyeballs_delay"] = _HAPPY_EYEBALLS_DELAY
        with map_exceptions(_CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                stream = await _connected(
                    loop.create_connection,
                    host,
                    port,
                    local_addr=None if local_address is None else (local_address, 0),
                    **options,
                )
            return _with_options(stream, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        if not _on_asyncio():
            return await super().connect_unix_socket(
                path, timeout=timeout, socket_options=socket_options
            )
        with map_exceptions(_CONNECT_ERRORS):
            async with asyncio.timeout(timeout):
                stream = await _connected(asyncio.get_running_loop().create_unix_connection, path)
            return _with_options(stream, socket_options)


def _with_options(stream: _Stream, options: Iterable[SOCKET_OPTION] | None) -> _Stream:
    if options:
        sock = stream.get_extra_info("socket")
        try:
            for option in options:
                sock.setsockopt(*option)
        except BaseException:
            stream._writer.transport.abort()
            raise
    return stream


def _release(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split(".")[:3])
    except ValueError:  # a pre-release or a local build: not one we checked
        return ()


def _fits(httpcore_version: str, httpx_version: str) -> bool:
    """Whether :class:`_FixedPool` and :class:`PoolClient` fit the installed httpcore and httpx.

    Both lean on private parts: the pool on ``_assign_requests_to_connections`` and the
    attributes it reads (``_requests``, ``_connections``, ``assign_to_connection``, a
    connection's ``_connection``), which httpcore 1.0.3 to 1.0.9 (its last release) share;
    the client on httpx 0.27-0.29's ``AsyncClient._init_transport`` (0.29.0 changed only
    messages and an export from 0.28.1). Another release may move them (or fix the pool
    upstream), so it gets httpx's own client and pool, unchanged.
    """
    return (1, 0, 3) <= _release(httpcore_version) <= (1, 0, 9) and (0, 27) <= _release(
        httpx_version
    )[:2] <= (0, 29)


_FITS = _fits(httpcore.__version__, httpx.__version__)


class _Request(httpcore.Request):
    """httpcore's request made of an httpx request's parts, which httpx has made and checked:
    httpcore's type checks of each header (``typing.Mapping`` first, an ABC check) and of the
    rest were 1.5 % of a request's client CPU in a burst over HTTP/2 (py-spy)."""

    def __init__(
        self,
        method: bytes,
        url: httpcore.URL,
        headers: list[tuple[bytes, bytes]],
        stream: Any,
        extensions: dict[str, Any],
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.stream = stream
        self.extensions = extensions


_HTTPX_HANDLE = httpx.AsyncHTTPTransport.handle_async_request
"""httpx's own, which a mock may patch on the class (pytest-httpx, ``mock.patch.object``)."""


class ZoomHTTPTransport(httpx.AsyncHTTPTransport):
    """:class:`httpx.AsyncHTTPTransport` (no proxy) over :class:`_FixedPool`.

    Built as httpx builds its default transport; proxies (from the environment too) keep
    httpx's own proxy transports (see :class:`PoolClient`).
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # httpx's (0.28-0.29), its request to httpcore made as a _Request, and its mapping of
        # httpcore's errors to httpx's entered only for an error (a generator-based context
        # manager a request). Anything unusual (a mock patched on httpx's class, a "target"
        # extension, a method that is not ASCII, another httpx) goes through httpx's.
        url = request.url
        if (
            httpx.AsyncHTTPTransport.handle_async_request is not _HTTPX_HANDLE
            or not _FITS
            or "target" in request.extensions
            or not request.method.isascii()
        ):
            return await super().handle_async_request(request)
        assert isinstance(request.stream, httpx.AsyncByteStream)
        sent = _Request(
            request.method.encode("ascii"),
            httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            request.headers.raw,
            request.stream,
            request.extensions,
        )
        try:
            answer = await self._pool.handle_async_request(sent)
        except Exception:
            with map_httpcore_exceptions():
                raise
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=AsyncResponseStream(cast(AsyncIterable[bytes], answer.stream)),  # (asyncio's)
            extensions=answer.extensions,
        )

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
    ) -> None:
        # Should a later httpcore plan its pool otherwise, its own pool is used as it is.
        pool = _FixedPool if _FITS else httpcore.AsyncConnectionPool
        self._pool = pool(
            ssl_context=httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=http1,
            http2=http2,
            network_backend=_Backend() if _FITS else None,
        )


class PoolClient(httpx.AsyncClient):
    """:class:`httpx.AsyncClient` whose default transport is :class:`ZoomHTTPTransport`.

    Only the transport for URLs that no proxy takes changes: httpx mounts the proxies it finds
    in the environment (``HTTPS_PROXY``, ``NO_PROXY``...) as it always does, which it would not
    if the transport were passed in.
    """

    def _init_transport(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: Any = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> httpx.AsyncBaseTransport:
        if transport is not None:
            return transport
        return ZoomHTTPTransport(
            verify=verify, cert=cert, trust_env=trust_env, http1=http1, http2=http2, limits=limits
        )

"""FakeZoom in a process of its own, for benchmarks.

Zoom is another machine: its CPU is not ours. Serving the fake from the benchmark's own event
loop would make the client and the server share one core and measure their sum, so benchmarks
run it in a child process (uvicorn on a local port) and talk to it through a pipe for set-up and
statistics.

A child process alone does not keep the fake's CPU off the client's core: Linux wakes a process
on the core of whoever woke it, so each request the client sends could put the fake on the
client's core (while the other idles), and the client then waited for a core mid-burst. Where
the host has two cores or more, a benchmark can set :data:`OWN_CORE` (``bench_limits.py`` and
``bench_burst.py`` do, unless run with ``--fake-core shared``): the fake's process then runs on
the last core and the benchmark's event loop on the others, as a remote Zoom and its client do.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import multiprocessing as mp
import os
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from zoom_async.plans import Category

OWN_CORE = False
"""Whether a :class:`RemoteFake` runs on a core of its own (see the module's docstring)."""


def split_cores() -> tuple[set[int], set[int]] | None:
    """``(the benchmark's cores, the fake's core)``, or ``None`` when there is one core."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return set(cores[:-1]), {cores[-1]}


def placement() -> str:
    """Where the fake runs, for a benchmark's header line."""
    split = split_cores() if OWN_CORE else None
    if split is None:
        return "on the same cores as the client"
    ours, its = split
    return f"on core {min(its)} (the client on {', '.join(map(str, sorted(ours)))})"


def add_core_option(parser: Any) -> None:
    """``--fake-core own|shared`` on an :mod:`argparse` parser."""
    parser.add_argument(
        "--fake-core",
        choices=["own", "shared"],
        default="own",
        help="run the fake on a core of its own (default, where there are two or more) or "
        "let it share the client's",
    )


def http2_client(table: Any) -> Any:
    """The default client's HTTP/1.1-less twin, for a fake served over HTTP/2 (``FakeSetup(
    http2=True)``): the pool and send path ``ZoomClient`` builds for Zoom, which it reaches
    over TLS with HTTP/2 chosen by ALPN, here with prior knowledge as the fake has no TLS.
    Pass it as ``ZoomClient(http_client=...)`` and close it after the client."""
    import zoom_async._client as client_module
    import zoom_async._pool as pool_module

    http = pool_module.PoolClient(
        http1=False,
        http2=True,
        limits=client_module._pool_limits(table),
        timeout=30.0,
        cookies=client_module._NoResponseCookies(),
    )
    http._cookies = client_module._AnswersIgnored(http.cookies.jar)
    return http


@dataclass
class FakeSetup:
    """What the child's FakeZoom is built with (must pickle)."""

    fake_kwargs: dict[str, Any] = field(default_factory=dict)
    users: int = 1
    meetings_per_user: int = 0
    neighbours: Sequence[tuple[str, float]] = ()
    http2: bool = False
    """Serve with hypercorn, which speaks HTTP/2 over plain TCP to a client that opens with
    HTTP/2 (prior knowledge: ``httpx.AsyncClient(http1=False, http2=True)``), as Zoom does over
    TLS; uvicorn speaks HTTP/1.1 only. The socket-read stamps of ``exchanges`` are uvicorn's
    (``None`` here)."""
    keep_alive: float | None = None
    """Seconds uvicorn keeps an idle connection open (``None``: its 5 s)."""


def _child(setup: FakeSetup, conn: Connection, cores: set[int] | None) -> None:
    if cores is not None:
        os.sched_setaffinity(0, cores)
    from zoom_async.testing import FakeZoom
    from zoom_async.testing._app import FakeZoomApp
    from zoom_async.testing._uvicorn import FakeZoomProtocol

    # The round trip the fake applied to each API request: from the moment it has the request
    # (before the uplink delay) to its answer (after the downlink delay). The strict-safe bound
    # is computed from these, so a slower client cannot lower its own bar. Each exchange is
    # also kept as (start, end, path, trace, received, written) on the host's monotonic clock
    # (the same clock in every process): the client's X-Bench-Trace header if it sent one, when
    # the request's bytes reached the server's socket reader, and when the answer was written,
    # so a benchmark can tell its own time from the fake server's.
    round_trips: list[float] = []
    exchanges: list[tuple[float, float, str, str | None, float | None, float]] = []
    handle = FakeZoomApp.handle
    call = FakeZoomApp.__call__
    data_received = FakeZoomProtocol.data_received
    # Set where uvicorn reads the bytes; the request's task, created while parsing them, copies it.
    received: contextvars.ContextVar[float | None] = contextvars.ContextVar("rx", default=None)
    current: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("ex", default=None)

    def stamped(self: Any, data: bytes) -> None:
        received.set(time.monotonic())
        data_received(self, data)

    async def served(self: Any, scope: Any, receive: Any, send: Any) -> None:
        exchange: list[Any] = []
        current.set(exchange)
        try:
            await call(self, scope, receive, send)
        finally:
            if exchange:
                start, end, path, trace = exchange
                exchanges.append((start, end, path, trace, received.get(), time.monotonic()))

    async def timed(self: Any, method: str, path: str, query: str, headers: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            return await handle(self, method, path, query, headers, *args)
        finally:
            if not path.endswith("/oauth/token"):
                end = loop.time()
                round_trips.append(end - start)
                exchange = current.get()
                if exchange is not None:
                    exchange[:] = [start, end, path, headers.get("x-bench-trace")]

    FakeZoomApp.handle = timed  # type: ignore[method-assign]
    FakeZoomApp.__call__ = served  # type: ignore[method-assign]
    FakeZoomProtocol.data_received = stamped  # type: ignore[method-assign]
    if setup.keep_alive is not None:
        init = FakeZoomProtocol.__init__

        def keeping(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            self.timeout_keep_alive = setup.keep_alive

        FakeZoomProtocol.__init__ = keeping  # type: ignore[method-assign]

    async def main() -> None:
        fake = FakeZoom(**setup.fake_kwargs)
        users = fake.add_users(setup.users) if setup.users else []
        for user in users if setup.meetings_per_user else []:
            fake.add_meetings(user["id"], setup.meetings_per_user)
        for category, rate in setup.neighbours:
            fake.add_neighbour(Category(category), rate)
        loop = asyncio.get_running_loop()
        # The server process's CPU time since the last reset (bench_burst.py: the fake is
        # Python too and shares the machine's cores, so its share of a burst is reported).
        cpu_since = time.process_time()
        async with _served(fake, setup.http2) as origin:
            gc.freeze()
            conn.send(
                {
                    "base_url": f"{origin}/v2",
                    "token_url": f"{origin}/oauth/token",
                    "user_ids": [u["id"] for u in users],
                }
            )
            while True:
                command, arg = await loop.run_in_executor(None, conn.recv)
                if command == "stop":
                    conn.send(None)
                    return
                if command == "reset_stats":
                    # What exists now (the catalog, the specs, the fake's state, the warm-up's
                    # connections) stays: a full collection would walk all of it again in the
                    # middle of a burst (50-90 ms with the event loop stopped, measured).
                    gc.freeze()
                    cpu_since = time.process_time()
                    fake.reset_stats()
                    round_trips.clear()
                    exchanges.clear()
                    conn.send(None)
                elif command == "stats":
                    stats = fake.stats
                    conn.send(
                        {
                            "requests": stats.requests,
                            "rate_limited": stats.total_rate_limited,
                            "neighbour_accepted": sum(stats.neighbour_accepted.values()),
                            "neighbour_refused": sum(stats.neighbour_refused.values()),
                            "max_in_window": {c: fake.max_in_any_window(Category(c)) for c in arg},
                            "max_own_in_window": {
                                c: fake.max_in_any_window(Category(c), include_neighbours=False)
                                for c in arg
                            },
                            "round_trips": list(round_trips),
                            "exchanges": list(exchanges),
                            "cpu": time.process_time() - cpu_since,
                        }
                    )
                elif command == "arrivals":  # benchmarks/bench_timeline.py: the plots' data
                    conn.send(
                        [
                            (r.arrival, r.category.value if r.category else None, r.status)
                            for r in fake.requests
                            if r.category is not None
                        ]
                    )

    asyncio.run(main())


@contextlib.asynccontextmanager
async def _served(fake: Any, http2: bool) -> AsyncIterator[str]:
    """The fake on a free local port: uvicorn (HTTP/1.1), or hypercorn for HTTP/2."""
    if not http2:
        async with fake.serve() as server:
            yield server.origin
        return
    import hypercorn.asyncio
    import hypercorn.config

    with socket.socket() as probe:  # a free port (hypercorn binds it itself)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = hypercorn.config.Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = config.errorlog = None
    # hypercorn recycles a connection after 1,000 requests by default, and does it in a way Zoom
    # cannot be seen to: it hands the requests of the same read to the app (which counts them)
    # after its GOAWAY, then cannot answer them, so a client retrying them sends twice for one
    # arrival it never hears of. The rate benchmarks measure the client: one connection.
    config.keep_alive_max_requests = 10**9
    stop = asyncio.Event()
    task = asyncio.create_task(
        hypercorn.asyncio.serve(fake.app, config, shutdown_trigger=stop.wait)
    )
    for _ in range(200):  # until it accepts connections
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.01)
            continue
        writer.close()
        break
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        await task


class RemoteFake:
    """``async with RemoteFake(setup) as fake:`` → ``fake.base_url``, ``await fake.stats()``."""

    def __init__(self, setup: FakeSetup) -> None:
        self._setup = setup
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._cores = split_cores() if OWN_CORE else None
        fake_cores = self._cores[1] if self._cores is not None else None
        self._process = ctx.Process(
            target=_child, args=(setup, child_conn, fake_cores), daemon=True
        )
        self._saved_cores: set[int] | None = None
        self.base_url = ""
        self.token_url = ""
        self.user_ids: list[str] = []

    async def _call(self, command: str, arg: Any = None) -> Any:
        self._conn.send((command, arg))
        return await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)

    async def __aenter__(self) -> RemoteFake:
        self._process.start()
        if self._cores is not None:  # this thread: the event loop's
            self._saved_cores = os.sched_getaffinity(0)
            os.sched_setaffinity(0, self._cores[0])
        info = await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)
        self.base_url = info["base_url"]
        self.token_url = info["token_url"]
        self.user_ids = info["user_ids"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._call("stop")
            self._process.join(10)
        finally:
            if self._saved_cores is not None:
                os.sched_setaffinity(0, self._saved_cores)

    async def reset_stats(self) -> None:
        """Forget the counts so far (e.g. after a warm-up)."""
        await self._call("reset_stats")

    async def arrivals(self) -> list[tuple[float, str, int | None]]:
        """``(arrival, category, status)`` of every API request since the last reset."""
        result: list[tuple[float, str, int | None]] = await self._call("arrivals")
        return result

    async def stats(self, categories: Sequence[str] = ()) -> dict[str, Any]:
        """Requests, 429s, and the most arrivals in any window per category."""
        result: dict[str, Any] = await self._call("stats", list(categories))
        return result

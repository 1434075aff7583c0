"""How close zoom-async gets to the physical limit of Zoom's rate limits, and the 429s it meets.

Serves ``FakeZoom`` with uvicorn on a local port, in a process of its own (Zoom's CPU is not
ours), with 10-50 ms of jittered latency split between the way there and the way back, and
limits enforced as strictly as Zoom's page allows (requests counted on arrival, in any sliding
window). Prints one line per case, every figure measured in that one run:

* ``bound/elapsed``: the **strict-safe bound** ÷ the measured time. A client that cannot see
  arrival times must send request ``i + L`` no earlier than ``W`` after request ``i``'s
  response, so ``N`` requests need at least ``(ceil(N / L) - 1) * (W + RTT) + RTT`` seconds,
  with ``RTT`` the mean round trip **the fake applied** in this run (uplink + downlink delay, as
  the server measured them: the client's own slowness does not lower the bar). For a mixed
  batch, the largest bound of its categories. 1.0 is the physical limit;
* ``429s``: refusals the fake sent; ``max/window``: the most arrivals the fake counted in any
  window, against the limit;
* ``CPU ms/req``: the client process's CPU time ÷ requests sent;
* ``a client with no cost``: :func:`ideal_ratio`, the same batch simulated with every link but
  the fake's jittered round trips at zero: the part of the gap that is the fake's randomness.

With a neighbour app, ``rate/left`` is our rate ÷ what the neighbour leaves, and ``429s`` counts
the refusals on the whole account (ours + the neighbour's), also after the first window; the
same with two clients (two processes of one app) sharing one store, whose requests of a window
reach the fake in another order than they were granted (``--redis URL|local``: also on Redis).

Run: ``python benchmarks/bench_limits.py`` (``--only TEXT`` selects cases; ``--transport aiohttp``
sends through httpx-aiohttp instead of httpx's own pool, ``--transport httpx-h2`` over HTTP/2 as
the default client talks to Zoom, the fake on hypercorn; ``--trace`` adds, per case and lane,
where each window's time went, each lane's critical chain and the garbage collector's pauses:
see :class:`Trace`).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import gc
import itertools
import math
import os
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import _remote_fake
import httpx
from _remote_fake import FakeSetup, RemoteFake
from aiolimiter import AsyncLimiter

from zoom_async import BUSINESS_PLUS, PRO, Category, RateLimitTable, RedisStore, ZoomClient, _pool
from zoom_async.limits import DEFAULT_GC_FREEZE_ABOVE, InMemoryStore, Permit

LATENCY = ((0.005, 0.025), (0.005, 0.025))
DATE_RANGE = "from=2026-01-01&to=2026-01-31"
PATHS = {
    Category.LIGHT: "/users/{uid}",
    Category.MEDIUM: "/users/{uid}/meetings",
    Category.HEAVY: "/report/users/{uid}/meetings?" + DATE_RANGE,
    Category.RESOURCE_INTENSIVE: "/metrics/meetings?" + DATE_RANGE,
}
CREDENTIALS = {
    "account_id": "test-account",
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
}


def strict_safe_bound(n: int, limit: int, window: float, rtt: float) -> float:
    """The fastest any client that cannot see arrivals can send ``n`` requests."""
    return (math.ceil(n / limit) - 1) * (window + rtt) + rtt


def ideal_ratio(table: RateLimitTable, batches: dict[Category, int], runs: int = 100) -> float:
    """The median ``bound / elapsed`` of a client with no cost at all against this fake's
    jitter (simulated): what the fake's randomness alone leaves of the bound.

    Each lane's request ``k + L`` is granted exactly ``W`` after the lane's ``(k+1)``-th
    completion, and every round trip is drawn as the fake draws it (uplink + downlink, each
    uniform). The bound takes the mean round trip, but a wave ends with its slowest answer,
    and the slow answers of one wave free the last slots of the next: the batch's last answer
    comes later than ``waves x (W + mean RTT)`` even with nothing lost anywhere.
    """
    rng = random.Random(1)
    ratios = []
    for _ in range(runs):
        elapsed = bound = 0.0
        for category, n in batches.items():
            limit = table.limit_for("general", category)
            done: list[float] = []
            trips = []
            for k in range(n):
                granted = 0.0 if k < limit.limit else done[k - limit.limit] + limit.window
                trip = sum(rng.uniform(lo, hi) for lo, hi in LATENCY)
                trips.append(trip)
                bisect.insort(done, granted + trip)
            elapsed = max(elapsed, done[-1])
            bound = max(
                bound, strict_safe_bound(n, limit.limit, limit.window, statistics.fmean(trips))
            )
        ratios.append(bound / elapsed)
    return statistics.median(ratios)


def lane_of(path: str, uid: str, categories: Iterator[Category]) -> Category | None:
    """The category of a request the fake saw, from its path (the cases use one per lane)."""
    matches = [
        (len(pattern), category)
        for category in categories
        if path.endswith(pattern := PATHS[category].format(uid=uid).split("?")[0])
    ]
    # The longest wins: /report/users/x/meetings also ends as /users/x/meetings.
    return max(matches)[1] if matches else None


def lane_round_trips(
    stats: dict[str, Any], uid: str, batches: dict[Category, int]
) -> dict[Category, list[float]]:
    """The round trips the fake applied, per lane (each lane's bound uses its own)."""
    trips: dict[Category, list[float]] = defaultdict(list)
    for start, end, path, *_ in stats["exchanges"]:
        category = lane_of(path, uid, iter(batches))
        if category is not None:
            trips[category].append(end - start)
    return trips


@dataclass
class _Traced:
    category: Category
    granted: float
    sent: float = math.nan  # handed to the HTTP client
    wrote: float = math.nan  # its bytes written to the socket (the default transport's)
    head: float = math.nan  # the response's head read
    released: float = math.nan  # the slot given back (the limiter's completion time)
    trace: str = ""


@dataclass
class Trace:
    """``--trace``: where each lane's time goes, request by request.

    A strict-safe client's chain is: request ``k`` granted -> sent -> at the fake (``start``) ->
    answered (``end``) -> read here -> slot released -> ``W`` later request ``k + L`` may be
    granted. The fake's part (``end - start``) is the round trip the bound allows for; every
    other link is the client's. Per lane this prints the mean and 90th percentile of each link:
    ``late`` (granted after the slot was free again: the ``(k-L+1)``-th completion + ``W``),
    ``prep`` (grant -> handed to httpx), ``out`` (-> its bytes reach the fake's socket reader;
    on the default transport split into ``write``, -> its bytes written to the socket here, and
    ``wire``, -> read by the fake's server: the fake's own loop when busy),
    ``fake-in`` (-> the fake's handler starts: the fake server's parsing and queueing),
    ``fake`` (the applied round trip), ``fake-out`` (-> the answer written), ``back`` (-> its
    head read here), ``read`` (-> slot released: counted from when the answer began to arrive, so
    negative when that came before its head was read), and per
    wave of ``L`` grants when its first and last slot were free and when they were granted.
    Times share the host's monotonic clock with the fake's process.
    """

    records: list[_Traced] = field(default_factory=list)
    _open: dict[Any, _Traced] = field(default_factory=dict)

    @contextmanager
    def attach(self, zoom: ZoomClient) -> Iterator[None]:
        http = zoom._http
        original_send = http.send
        original_release = Permit.release
        ids = itertools.count()
        clock = zoom.limits.clock
        trace = self

        async def send(request: httpx.Request, **kwargs: Any) -> httpx.Response:
            record = trace._open.get(asyncio.current_task())
            if record is not None:
                record.trace = str(next(ids))
                request.headers["x-bench-trace"] = record.trace
                record.sent = clock.monotonic()
            response = await original_send(request, **kwargs)
            if record is not None:
                record.head = clock.monotonic()
            return response

        original_write = _pool._Stream.write

        async def write(
            self: _pool._Stream,
            buffer: bytes,
            timeout: float | None = None,  # noqa: ASYNC109
        ) -> None:
            record = trace._open.get(asyncio.current_task())
            if record is not None and math.isnan(record.wrote):
                record.wrote = clock.monotonic()
            await original_write(self, buffer, timeout)

        async def release(self: Permit, *args: Any, **kwargs: Any) -> None:
            record = trace._open.pop(asyncio.current_task(), None)
            if record is not None:
                # When the limiter counts it completed: its answer's arrival, if the client
                # passed it (then 'read' is negative: the slot was free before its head was read).
                record.released = min(clock.monotonic(), kwargs.get("answered_at") or math.inf)
            await original_release(self, *args, **kwargs)

        limits = zoom.limits
        original_acquire = limits.acquire
        original_wait = limits._wait_for_slot  # the client's first attempt waits through this

        async def granted(waiting: Awaitable[Permit]) -> Permit:
            permit = await waiting
            task = asyncio.current_task()
            if task in trace._open:  # _wait_for_slot may call acquire(): recorded there
                return permit
            record = _Traced(permit.category, permit.granted_at)
            trace._open[task] = record
            trace.records.append(record)
            return permit

        def acquire(*args: Any, **kwargs: Any) -> Any:
            return granted(original_acquire(*args, **kwargs))

        def wait_for_slot(*args: Any, **kwargs: Any) -> Any:
            return granted(original_wait(*args, **kwargs))

        http.send = send  # type: ignore[method-assign]
        _pool._Stream.write = write  # type: ignore[method-assign]
        Permit.release = release  # type: ignore[method-assign]
        limits.acquire = acquire  # type: ignore[method-assign]
        limits._wait_for_slot = wait_for_slot  # type: ignore[method-assign]
        try:
            yield
        finally:
            http.send = original_send  # type: ignore[method-assign]
            _pool._Stream.write = original_write  # type: ignore[method-assign]
            Permit.release = original_release  # type: ignore[method-assign]
            limits.acquire = original_acquire  # type: ignore[method-assign]
            limits._wait_for_slot = original_wait  # type: ignore[method-assign]

    @staticmethod
    def _critical_chain(
        records: list[_Traced],
        limit: int,
        window: float,
        server: dict[str, Any],
        start: float,
        end: float,
    ) -> str:
        """Where the lane's last answer lost time against its strict-safe bound.

        From the request released last, back along what each grant waited for (request ``k``
        waits for the ``(k-L+1)``-th completion + ``W``) to a grant of the first wave: that chain
        is the lane's elapsed time, link by link. Against the bound's ``links * (W + mean RTT)
        + mean RTT``: the client's links (summed over the chain), ``jitter`` (the chain's round
        trips less as many mean round trips: what the fake's randomness costs whoever the
        client is), ``start`` (the first wave's grant after the batch started) and ``end`` (the
        last release to the batch's end).
        """
        by_release = sorted(records, key=lambda r: r.released)
        order = {id(r): k for k, r in enumerate(records)}  # records sorted by grant
        trips = [server[r.trace][1] - server[r.trace][0] for r in records if r.trace in server]
        if not trips or len(trips) < len(records):
            return "critical chain: - (untraced requests)"
        mean_rtt = statistics.fmean(trips)
        sums: dict[str, float] = defaultdict(float)
        r = by_release[-1]
        links = 0
        while True:
            s, e, _, _, received, written = server[r.trace]
            sums["prep"] += r.sent - r.granted
            arrived = received if received is not None else s
            if math.isnan(r.wrote):
                sums["out"] += arrived - r.sent
            else:
                sums["write"] += r.wrote - r.sent
                sums["wire"] += arrived - r.wrote
            sums["fake-in"] += s - received if received is not None else 0.0
            sums["jitter"] += (e - s) - mean_rtt
            sums["fake-out"] += written - e
            sums["back"] += r.head - written
            sums["read"] += r.released - r.head
            k = order[id(r)]
            if k < limit:
                sums["start"] += r.granted - start
                break
            before = by_release[k - limit]
            sums["late"] += r.granted - (before.released + window)
            links += 1
            r = before
        sums["end"] = end - by_release[-1].released
        lost = sum(sums.values())
        return f"critical chain ({links} links): {lost * 1000:.0f} ms over the bound's " + (
            " ".join(f"{name} {value * 1000:.0f}" for name, value in sums.items())
        )

    def report(self, table: RateLimitTable, stats: dict[str, Any], start: float, end: float) -> str:
        server = {x[3]: x for x in stats["exchanges"] if x[3] is not None}
        lines = []
        by_lane: dict[Category, list[_Traced]] = defaultdict(list)
        for record in self.records:
            by_lane[record.category].append(record)
        for category, records in by_lane.items():
            limit = table.limit_for("general", category)
            records.sort(key=lambda r: r.granted)
            done = sorted(r.released for r in records)
            links: dict[str, list[float]] = defaultdict(list)
            waves = []
            for k, r in enumerate(records):
                free = start if k < limit.limit else done[k - limit.limit] + limit.window
                if k >= limit.limit:
                    links["late"].append(r.granted - free)
                links["prep"].append(r.sent - r.granted)
                if r.trace in server:
                    s, e, _, _, received, written = server[r.trace]
                    if received is not None:
                        if math.isnan(r.wrote):
                            links["out"].append(received - r.sent)
                        else:
                            links["write"].append(r.wrote - r.sent)
                            links["wire"].append(received - r.wrote)
                        links["fake-in"].append(s - received)
                    links["fake"].append(e - s)
                    links["fake-out"].append(written - e)
                    links["back"].append(r.head - written)
                links["read"].append(r.released - r.head)
                if k % limit.limit == 0:
                    waves.append([free, r.granted, free, r.granted])
                else:
                    waves[-1][2:] = [free, r.granted]

            def ms(values: list[float]) -> str:
                if not values:
                    return "-"
                values = sorted(values)
                p90 = values[int(0.9 * (len(values) - 1))]
                return (
                    f"{statistics.fmean(values) * 1000:.1f}/{p90 * 1000:.1f}"
                    f"/{values[-1] * 1000:.0f}"
                )

            lines.append(
                f"  {category.value} (L={limit.limit}): mean/p90/max ms "
                + " ".join(f"{name} {ms(v)}" for name, v in links.items())
            )
            if len(records) > limit.limit:  # (a lane of one wave has no chain)
                chain = self._critical_chain(records, limit.limit, limit.window, server, start, end)
                lines.append(f"    {chain}")
            lines.append(
                "    waves (s from start: first free>granted, last free>granted): "
                + "; ".join(
                    f"{f0 - start:.3f}>{g0 - start:.3f},{f1 - start:.3f}>{g1 - start:.3f}"
                    for f0, g0, f1, g1 in waves
                )
            )
        return "\n".join(lines)


@contextmanager
def gc_pauses() -> Iterator[list[tuple[int, float]]]:
    """``(generation, seconds)`` of every garbage collection in the block: each one stops the
    event loop, and with it every request in flight (``--trace`` prints them)."""
    pauses: list[tuple[int, float]] = []
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(callback)


def describe_pauses(pauses: list[tuple[int, float]]) -> str:
    parts = []
    for generation in (0, 1, 2):
        times = [t for g, t in pauses if g == generation]
        if times:
            parts.append(
                f"gen{generation} {len(times)} x, {sum(times) * 1000:.0f} ms "
                f"(max {max(times) * 1000:.0f})"
            )
    return "GC pauses: " + ("; ".join(parts) or "none")


@dataclass
class Result:
    name: str
    requests: int
    elapsed: float
    rtt: float
    bound: float
    refused: int
    max_window: str
    cpu: float
    extra: str = ""

    def line(self) -> str:
        return (
            f"| {self.name} | {self.requests} | {self.elapsed:.2f} | {self.rtt * 1000:.1f} "
            f"| {self.bound:.2f} | **{self.bound / self.elapsed:.3f}** | {self.refused} "
            f"| {self.max_window} | {self.cpu * 1000:.2f} | {self.extra} |"
        )


HEADER = (
    "| case | requests | elapsed s | mean RTT ms | bound s | bound/elapsed | 429s "
    "| max in any window / limit | CPU ms/req | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


async def run_workers(
    n: int, call: Callable[[], Awaitable[object]], concurrency: int = 500
) -> None:
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            await call()

    await asyncio.gather(*(worker() for _ in range(min(n, concurrency))))


HTTP2 = False
"""``--transport httpx-h2``: the fake served over HTTP/2 (hypercorn) and the default client
speaking it, as it does to Zoom."""


def setup(table: RateLimitTable, neighbour: float = 0.0) -> FakeSetup:
    return FakeSetup(
        fake_kwargs={"plan": table, "latency": LATENCY, "seed": 1},
        neighbours=[(Category.LIGHT.value, neighbour)] if neighbour else [],
        http2=HTTP2,
    )


GC_FREEZE_ABOVE: int | None = DEFAULT_GC_FREEZE_ABOVE
"""The clients' ``gc_freeze_above`` (``--gc-freeze-above``)."""


@contextlib.asynccontextmanager
async def client(
    fake: RemoteFake, table: RateLimitTable, transport: str, **kwargs: Any
) -> AsyncIterator[ZoomClient]:
    kwargs.setdefault("gc_freeze_above", GC_FREEZE_ABOVE)
    if transport == "aiohttp":
        kwargs["transport"] = "aiohttp"  # what users get: the client's own aiohttp session
    elif transport == "httpx-h2":
        kwargs["http_client"] = _remote_fake.http2_client(table)
    try:
        async with ZoomClient(
            **CREDENTIALS,
            base_url=fake.base_url,
            token_url=fake.token_url,
            plan=table,
            **kwargs,
        ) as zoom:
            yield zoom
    finally:
        if "http_client" in kwargs:
            await kwargs["http_client"].aclose()


def sent_requests(stats: dict[str, Any]) -> int:
    return int(stats["requests"])


async def zoom_case(
    name: str,
    table: RateLimitTable,
    batches: dict[Category, int],
    transport: str,
    *,
    warm: int | dict[Category, int] = 1,
    trace: bool = False,
) -> Result:
    tracer = Trace() if trace else None
    async with RemoteFake(setup(table)) as fake:
        uid = fake.user_ids[0]
        async with client(fake, table, transport) as zoom:
            # Warm up: the token and `warm` connections (a burst of that many Light requests,
            # or of that many requests per category, sent together).
            counts = warm if isinstance(warm, dict) else {Category.LIGHT: warm}
            await asyncio.gather(
                *(
                    zoom.get(PATHS[category].format(uid=uid))
                    for category, count in counts.items()
                    for _ in range(count)
                )
            )
            await asyncio.sleep(1.1)  # ...and let the warm-up leave the 1-second windows
            await fake.reset_stats()
            with (
                tracer.attach(zoom) if tracer else contextlib.nullcontext(),
                gc_pauses() as pauses,
            ):
                cpu = time.process_time()
                started = zoom.limits.clock.monotonic()
                start = time.perf_counter()
                await asyncio.gather(
                    *(
                        run_workers(n, lambda c=category: zoom.get(PATHS[c].format(uid=uid)))
                        for category, n in batches.items()
                    )
                )
                elapsed = time.perf_counter() - start
                ended = zoom.limits.clock.monotonic()
                cpu = time.process_time() - cpu
        stats = await fake.stats([c.value for c in batches])
    rtt = statistics.fmean(stats["round_trips"])
    # Categories have windows of their own (Heavy and Resource-intensive share only a daily
    # quota), so a mixed batch's bound is its slowest lane's, each from its own round trips.
    trips = lane_round_trips(stats, uid, batches)
    bound = max(
        strict_safe_bound(
            n,
            table.limit_for("general", c).limit,
            table.limit_for("general", c).window,
            statistics.fmean(trips[c]),
        )
        for c, n in batches.items()
    )
    windows = " ".join(
        f"{c.value}:{stats['max_in_window'][c.value]}/{table.limit_for('general', c).limit}"
        for c in batches
    )
    extra = ""
    if sum(batches.values()) <= min(table.limit_for("general", c).limit for c in batches):
        slowest = max(stats["round_trips"])
        extra = f"elapsed = {elapsed / slowest:.2f} x the slowest round trip"
    else:
        # What the fake's jitter alone leaves of the bound (see ideal_ratio).
        extra = f"a client with no cost: {ideal_ratio(table, batches):.3f}"
    if tracer:
        report = tracer.report(table, stats, started, ended)
        extra = f"{extra}\n  {describe_pauses(pauses)}\n{report}".strip()
    return Result(
        name,
        sum(batches.values()),
        elapsed,
        rtt,
        bound,
        stats["rate_limited"],
        windows,
        cpu / max(1, sent_requests(stats)),
        extra,
    )


async def neighbour_case(
    name: str,
    table: RateLimitTable,
    n: int,
    neighbour: float,
    transport: str,
    clients: int = 1,
    redis_url: str | None = None,
) -> Result:
    """``clients`` clients (processes of one app) share the account's store: one
    InMemoryStore, or with ``redis_url`` a RedisStore each on one namespace of that Redis."""
    light = table.limit_for("general", Category.LIGHT)
    left = light.rate - neighbour
    stores: list[Any]
    if redis_url is None:
        stores = [InMemoryStore()] * clients
    else:
        namespace = f"bench-{uuid.uuid4().hex}"
        stores = [RedisStore.from_url(redis_url, namespace=namespace) for _ in range(clients)]
    async with RemoteFake(setup(table, neighbour)) as fake, contextlib.AsyncExitStack() as stack:
        uid = fake.user_ids[0]
        if redis_url is not None:
            for store in stores:
                stack.push_async_callback(store.aclose)  # after the clients close
        zooms = [
            await stack.enter_async_context(client(fake, table, transport, store=store))
            for store in stores
        ]
        for zoom in zooms:
            await zoom.get(f"/users/{uid}")
        await asyncio.sleep(1.1)
        await fake.reset_stats()
        cpu = time.process_time()
        start = time.perf_counter()
        run = asyncio.gather(
            *(
                run_workers(n // clients, lambda zoom=zoom: zoom.get(f"/users/{uid}"))
                for zoom in zooms
            )
        )
        await asyncio.sleep(light.window * 1.5)  # the first window and its answers
        first = await fake.stats([Category.LIGHT.value])
        await run
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        learned = min(
            [(await zoom.limits.snapshot()).lane(Category.LIGHT).current_rate for zoom in zooms]
        )
        stats = await fake.stats([Category.LIGHT.value])
    n = n // clients * clients
    ours = stats["rate_limited"]
    theirs = stats["neighbour_refused"]
    account = ours + theirs
    later = account - (first["rate_limited"] + first["neighbour_refused"])
    rtt = statistics.fmean(stats["round_trips"])
    rate = n / elapsed
    extra = (
        f"rate/left **{rate / left:.3f}** ({rate:.1f} of {left:.0f}/s); account 429s "
        f"{account} = **{account / n:.1%}** of ours ({ours} ours, {theirs} neighbour's); "
        f"after the first window {later} = {later / n:.1%}; learned limit {learned:.0f}/s"
    )
    return Result(
        name,
        n,
        elapsed,
        rtt,
        n / left,
        account,
        f"Light:{stats['max_in_window']['Light']}/{light.limit}",
        cpu / max(1, sent_requests(stats)),
        extra,
    )


async def raw_case(name: str, table: RateLimitTable, n: int, *, use_aiolimiter: bool) -> Result:
    """The same Light batch with plain httpx (no limiter) or aiolimiter.AsyncLimiter alone."""
    limit = table.limit_for("general", Category.LIGHT)
    limiter = AsyncLimiter(limit.limit, limit.window)
    async with (
        RemoteFake(setup(table)) as fake,
        httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as http,
    ):
        token = (
            await http.post(
                fake.token_url,
                data={"grant_type": "account_credentials", "account_id": "test-account"},
                auth=("test-client-id", "test-client-secret"),
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{fake.base_url}/users/{fake.user_ids[0]}"

        failed = 0

        async def call() -> None:
            nonlocal failed
            try:
                if use_aiolimiter:
                    async with limiter:
                        await http.get(url, headers=headers)
                else:
                    await http.get(url, headers=headers)
            except httpx.TransportError:
                failed += 1  # a connection the loaded server dropped: counted, not retried

        await fake.reset_stats()
        cpu = time.process_time()
        start = time.perf_counter()
        await run_workers(n, call)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        stats = await fake.stats([Category.LIGHT.value])
    rtt = statistics.fmean(stats["round_trips"])
    return Result(
        name,
        n,
        elapsed,
        rtt,
        strict_safe_bound(n, limit.limit, limit.window, rtt),
        stats["rate_limited"],
        f"Light:{stats['max_in_window']['Light']}/{limit.limit}",
        cpu / max(1, sent_requests(stats)),
        f"no retries: 429s are answers; {failed} transport errors",
    )


async def main(
    only: str | None, transport: str, trace: bool = False, redis_url: str | None = None
) -> None:
    light, medium, heavy = Category.LIGHT, Category.MEDIUM, Category.HEAVY
    ri = Category.RESOURCE_INTENSIVE
    t = transport

    def ours(table: RateLimitTable, batches: dict[Category, int], **kwargs: Any) -> Any:
        return lambda n: zoom_case(n, table, batches, t, trace=trace, **kwargs)

    cases: list[tuple[str, Callable[[str], Awaitable[Result]]]] = [
        (
            "burst of L: 80 Light, Business+, cold connections",
            ours(BUSINESS_PLUS, {light: 80}),
        ),
        (
            "burst of L: 80 Light, Business+, warm connections",
            ours(BUSINESS_PLUS, {light: 80}, warm=80),
        ),
        ("burst of L: 30 Light, Pro, warm", ours(PRO, {light: 30}, warm=30)),
        ("800 Light, Business+", ours(BUSINESS_PLUS, {light: 800})),
        ("200 Medium, Pro", ours(PRO, {medium: 200})),
        ("400 Heavy, Business+", ours(BUSINESS_PLUS, {heavy: 400})),
        ("4000 Light, Business+", ours(BUSINESS_PLUS, {light: 4000})),
        (
            "mixed Pro: 300 L + 200 M + 100 H + 8 RI",
            ours(PRO, {light: 300, medium: 200, heavy: 100, ri: 8}),
        ),
        (
            "mixed Business+: 1600 L + 1200 M + 800 H",
            ours(BUSINESS_PLUS, {light: 1600, medium: 1200, heavy: 800}),
        ),
        (
            # The same with a wave's 180 connections open (over HTTP/1.1 each request in flight
            # needs its own): the cold batch's first wave opens them, and the one-process fake
            # accepts them one at a time (bench_limits --trace: its first link's 'out').
            "mixed Business+: 1600 L + 1200 M + 800 H, warm connections",
            ours(
                BUSINESS_PLUS,
                {light: 1600, medium: 1200, heavy: 800},
                warm={light: 80, medium: 60, heavy: 40},
            ),
        ),
        (
            "neighbour 30/s: 2500 Light, Business+",
            lambda n: neighbour_case(n, BUSINESS_PLUS, 2500, 30.0, t),
        ),
        (
            "neighbour 30/s: 2500 Light, Business+, two clients on one InMemoryStore",
            lambda n: neighbour_case(n, BUSINESS_PLUS, 2500, 30.0, t, clients=2),
        ),
        *(
            [
                (
                    "neighbour 30/s: 2500 Light, Business+, two clients on one Redis",
                    lambda n: neighbour_case(n, BUSINESS_PLUS, 2500, 30.0, t, 2, redis_url),
                )
            ]
            if redis_url
            else []
        ),
        (
            "plain asyncio.gather over httpx, 800 Light",
            lambda n: raw_case(n, BUSINESS_PLUS, 800, use_aiolimiter=False),
        ),
        (
            "aiolimiter.AsyncLimiter(80, 1) alone, 800 Light",
            lambda n: raw_case(n, BUSINESS_PLUS, 800, use_aiolimiter=True),
        ),
    ]
    load = os.getloadavg()[0]
    print(
        f"FakeZoom on 127.0.0.1 in its own process {_remote_fake.placement()}, latency "
        f"{sum(lo for lo, _ in LATENCY) * 1000:g}-{sum(hi for _, hi in LATENCY) * 1000:g} ms "
        "(jittered); "
        f"transport={transport}; "
        + (
            ""
            if GC_FREEZE_ABOVE == DEFAULT_GC_FREEZE_ABOVE
            else f"gc_freeze_above={GC_FREEZE_ABOVE}; "
        )
        + f"load average at start {load:.1f} on {os.cpu_count()} cores"
    )
    print(HEADER)
    for title, run in cases:
        if only and only.lower() not in title.lower():
            continue
        result = await run(title)
        print(result.line(), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument(
        "--transport",
        choices=["httpx", "aiohttp", "httpx-h2"],
        default="httpx",
        help="the default client over HTTP/1.1 (default), httpx-aiohttp's AiohttpTransport, or "
        "the default client over HTTP/2 as it talks to Zoom (the fake on hypercorn: pip install "
        "hypercorn, in the bench extra)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="also print, per lane, where each window's time went (see Trace)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="also run the neighbour case with two clients, each with a RedisStore on this "
        "Redis ('local': start a redis-server on a free port)",
    )
    parser.add_argument(
        "--latency",
        metavar="LO-HI",
        help="the fake's round trip in ms, drawn uniformly, half each way (default 10-50; "
        "e.g. 100-200 for a far Zoom, where a burst's round trip outweighs the client's CPU)",
    )
    parser.add_argument(
        "--gc-freeze-above",
        metavar="N",
        type=int,
        default=DEFAULT_GC_FREEZE_ABOVE,
        help="ZoomClient(gc_freeze_above=N) (default %(default)s; this benchmark's lanes queue "
        "~420 calls, so e.g. 200 keeps the heap out of full collections while a batch runs)",
    )
    _remote_fake.add_core_option(parser)
    args = parser.parse_args()
    _remote_fake.OWN_CORE = args.fake_core == "own"
    GC_FREEZE_ABOVE = args.gc_freeze_above
    HTTP2 = args.transport == "httpx-h2"
    if args.latency:
        lo, hi = (float(ms) / 2000 for ms in args.latency.split("-"))
        LATENCY = ((lo, hi), (lo, hi))
    with contextlib.ExitStack() as stack:
        url = args.redis
        if url == "local":
            from bench_redis import redis_server

            url = stack.enter_context(redis_server())[0]
        asyncio.run(main(args.only, args.transport, args.trace, url))

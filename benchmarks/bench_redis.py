"""Many processes, one account: RedisStore against one in-memory limiter per process.

Serves ``FakeZoom`` (Business+, limits enforced on arrival in any sliding window, 10-50 ms of
jittered latency) from a process of its own, starts a ``redis-server`` on a free local port
(or uses ``--redis-url``), and runs 1, 2, 4 and 8 worker processes, each with its own
``ZoomClient`` and store, sending Light GETs together. Prints one line per case:

* ``rate/allowed``: requests ÷ elapsed ÷ the plan's 80/s (the warm-up and latency phases are not
  counted);
* ``bound/elapsed``: the strict-safe bound for the batch -- ``(ceil(N/L) - 1) * (W + RTT) +
  RTT``, with RTT the median round trip the workers measured -- divided by the measured time
  from the first worker's start to the last one's end: 1.0 is every request the plan allows;
* ``429s``: refusals the fake sent (each is retried by the client after a wait);
* ``max/window``: the most arrivals the fake counted in any 1 s window (limit 80);
* ``added p50/p99``: the limiter's own time per request -- the store calls on its path (the
  grant, a Redis round trip for RedisStore unless the request takes the slot its process's last
  grant call reserved, and then a wait for a refill still on its way, if any; the refill itself
  and the release are sent by the store's tasks or with the next grant, so they are not on the
  path) -- measured after the batch, at half the plan's rate (``--pace``) so that no request
  waits for a slot (in a saturated batch the figure would mostly be the event loop busy with 200
  other requests). Every sample counts, the first of each process (after the batch's
  reservations went back unused, it pays its round trip) too. The processes' requests are spread
  evenly
  over that pace (process k starts k/N of an interval late; ``--lockstep``: all at once, as
  before, when the first N requests of the phase queue together for the 2 cores);
* ``less core waits p50/p99``: the same calls' time less the time the worker's event-loop
  thread and the Redis server's thread were ready to run but waited for a core
  (``/proc/<pid>/schedstat``, Linux, only with the benchmark's own ``redis-server``): the
  limiter's time on a machine with a core free for each. Where both waited at once it is
  subtracted twice, so a sample can read low, never high;
* ``PING p50/p99``: a bare Redis ``PING`` from the same processes between those requests (after
  an idle pause, as the grants): one round trip of this machine, the floor under ``added``;
* ``timer lag p99``: how late the processes' ``asyncio.sleep`` between those requests woke up:
  how long a ready process waits for a core here;
* ``Redis calls/request``: round trips to Redis during the batch ÷ requests (grants, releases,
  and the asks of queued requests when their computed wait ends): no polling;
* ``latency phase rate/allowed``: the rate the latency phase's requests actually went at, all
  processes together, ÷ the plan's: below ``--pace``, since each process waits its interval
  after an answer;
* ``from a reservation %``: the latency phase's requests that took a reserved slot (no round
  trip of their own; ``--no-reserve``: ``RedisStore(reserve=False)``, none).

Run: ``python benchmarks/bench_redis.py`` (``--quick``: fewer requests; ``--processes 1 4``;
``--timeout``: the stores' Redis timeout, 5 s here so that a starved machine measures throughput
rather than fail-closed errors; ``--samples FILE``: every latency sample as JSON lines --
process, start on the host's monotonic clock, the limiter's time, the worker's and Redis's core
waits during it, whether it took a reservation).
Needs ``redis-server`` on the PATH (Debian: ``apt-get install redis-server``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import math
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from _remote_fake import FakeSetup, RemoteFake

from zoom_async import Category, InMemoryStore, LimiterStore, RedisStore, ZoomClient

LATENCY = ((0.005, 0.025), (0.005, 0.025))
LIMIT, WINDOW = 80, 1.0  # Business+ Light

_SPENT: contextvars.ContextVar[list[float]] = contextvars.ContextVar("spent")
_WAITED: contextvars.ContextVar[list[float]] = contextvars.ContextVar("waited")


class CoreWaits:
    """Nanoseconds the event loop's thread and the Redis server's thread have spent ready to
    run but waiting for a core (Linux ``/proc/<pid>/schedstat``, second field)."""

    def __init__(self, redis_pid: int) -> None:
        self._files = [
            os.open(f"/proc/{pid}/schedstat", os.O_RDONLY) for pid in ("self", redis_pid)
        ]

    @staticmethod
    def available(redis_pid: int | None) -> bool:
        return redis_pid is not None and os.path.exists(f"/proc/{redis_pid}/schedstat")

    def __call__(self) -> int:
        return sum(int(os.pread(fd, 128, 0).split()[1]) for fd in self._files)

    def close(self) -> None:
        for fd in self._files:
            os.close(fd)


class TimedStore:
    """Delegates to a store and adds each call's duration (and, with ``waits``, the core waits
    during it) to the current request's account."""

    def __init__(self, inner: LimiterStore) -> None:
        self.inner = inner
        self.waits: CoreWaits | None = None

    def _add(self, started: float) -> None:
        spent = _SPENT.get(None)
        if spent is not None:
            spent.append(time.perf_counter() - started)

    async def acquire(self, *args: Any) -> float:
        waits = self.waits
        before = waits() if waits is not None else 0
        started = time.perf_counter()
        try:
            return await self.inner.acquire(*args)
        finally:
            self._add(started)
            if waits is not None:
                waited = _WAITED.get(None)
                if waited is not None:
                    waited.append((waits() - before) / 1e9)

    async def acquire_many(self, *args: Any) -> tuple[int, float]:
        started = time.perf_counter()
        try:
            return await self.inner.acquire_many(*args)  # type: ignore[attr-defined, no-any-return]
        finally:
            self._add(started)

    async def release(self, *args: Any) -> None:
        started = time.perf_counter()
        try:
            await self.inner.release(*args)
        finally:
            self._add(started)

    def allow_reservation(self, lane: str) -> None:
        # A slot reserved ahead of the next request is the store's to use (its acquire then
        # returns at once: that is the time measured).
        allow = getattr(self.inner, "allow_reservation", None)
        if allow is not None:
            allow(lane)

    async def learn(self, *args: Any) -> int | None:
        return await self.inner.learn(*args)  # type: ignore[attr-defined, no-any-return]

    async def learned(self, *args: Any) -> Any:
        return await self.inner.learned(*args)  # type: ignore[attr-defined]

    async def increment(self, key: str, limit: int, expires_at: datetime) -> bool:
        return await self.inner.increment(key, limit, expires_at)

    async def decrement(self, key: str) -> None:
        await self.inner.decrement(key)

    async def raise_to(self, key: str, value: int, expires_at: datetime) -> None:
        await self.inner.raise_to(key, value, expires_at)

    async def count(self, key: str) -> int:
        return await self.inner.count(key)


@dataclass
class Job:
    store: str  # "redis" or "memory"
    redis_url: str
    namespace: str
    base_url: str
    token_url: str
    path: str
    requests: int
    processes: int
    timeout: float
    index: int
    redis_pid: int | None
    lockstep: bool
    pace: float
    reserve: bool


def worker(job: Job, ready: Any, go: Any, done: Any, results: Any) -> None:
    async def main() -> None:
        inner: LimiterStore = (
            RedisStore.from_url(
                job.redis_url, namespace=job.namespace, timeout=job.timeout, reserve=job.reserve
            )
            if job.store == "redis"
            else InMemoryStore()
        )
        store = TimedStore(inner)
        zoom = ZoomClient(
            account_id="test-account",
            client_id="test-client-id",
            client_secret="test-client-secret",
            base_url=job.base_url,
            token_url=job.token_url,
            plan="business_plus",
            store=store,
        )
        round_trips: list[float] = []
        added: list[float] = []
        waited: list[float] = []
        starts: list[float] = []
        reserved: list[bool] = []

        async def sent(request: Any) -> None:
            request.extensions["bench_sent"] = time.perf_counter()

        async def answered(response: Any) -> None:
            round_trips.append(time.perf_counter() - response.request.extensions["bench_sent"])

        async with zoom:
            await zoom.get(job.path)  # token and connection
            zoom.http.event_hooks["request"].append(sent)
            zoom.http.event_hooks["response"].append(answered)
            ready.set()
            await asyncio.get_running_loop().run_in_executor(None, go.wait)
            started = time.monotonic()
            todo = iter(range(job.requests))

            async def measured_get() -> None:
                """One request; its time inside the limiter goes to ``added`` (and the core
                waits during it to ``waited``)."""
                spent: list[float] = []
                waits: list[float] = []
                token, waits_token = _SPENT.set(spent), _WAITED.set(waits)
                starts.append(time.monotonic())
                used = inner.reservations_used if isinstance(inner, RedisStore) else 0
                try:
                    await zoom.get(job.path)
                finally:
                    _SPENT.reset(token)
                    _WAITED.reset(waits_token)
                added.append(sum(spent))
                waited.append(sum(waits))
                if isinstance(inner, RedisStore):
                    reserved.append(inner.reservations_used > used)

            async def one() -> None:
                for _ in todo:
                    await measured_get()

            calls_before = inner.calls if isinstance(inner, RedisStore) else 0
            await asyncio.gather(*(one() for _ in range(min(200, job.requests))))
            finished = time.monotonic()
            calls = (inner.calls if isinstance(inner, RedisStore) else 0) - calls_before
            # The limiter's own cost: at half the plan's rate (--pace; all processes together), one
            # request at a time, so nothing waits for a slot.
            # Every process's batch is over (else the early finishers would measure their
            # grants against the late ones' full windows and busy cores), and its last window
            # has drained.
            await asyncio.get_running_loop().run_in_executor(None, done.wait)
            await asyncio.sleep(1.1)
            added.clear()
            waited.clear()
            starts.clear()
            reserved.clear()
            interval = job.processes / (LIMIT / WINDOW * job.pace)
            if isinstance(inner, RedisStore) and CoreWaits.available(job.redis_pid):
                assert job.redis_pid is not None
                store.waits = CoreWaits(job.redis_pid)
            if not job.lockstep:
                # Spread over the pace, as steady traffic would be: all processes' first
                # requests at once would queue together for the cores.
                await asyncio.sleep(interval * job.index / job.processes)
            pings: list[float] = []
            lags: list[float] = []
            for _ in range(max(60, 480 // job.processes)):
                await measured_get()
                before = time.perf_counter()
                await asyncio.sleep(interval / 2)
                lags.append(time.perf_counter() - before - interval / 2)
                if isinstance(inner, RedisStore):
                    # The machine's own round trip to Redis, like the grant's after an idle
                    # pause: the floor under ``added``.
                    before = time.perf_counter()
                    await inner.redis.ping()
                    pings.append(time.perf_counter() - before)
                await asyncio.sleep(interval / 2)
        if isinstance(inner, RedisStore):
            await inner.aclose()
        if store.waits is not None:
            store.waits.close()
        round_trips.sort()
        results.put(
            {
                "started": started,
                "finished": finished,
                "rtt": round_trips[len(round_trips) // 2],
                "added": added,
                "waited": waited if store.waits is not None else None,
                "starts": starts,
                "pings": pings,
                "lags": lags,
                "reserved": reserved,
                "calls": calls,
            }
        )

    asyncio.run(main())


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(p * len(values)) - 1)]


def _ms(seconds: float) -> str:
    return "" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


@contextmanager
def redis_server() -> Iterator[tuple[str, int | None]]:
    """A ``redis-server`` on a free local port: its URL and process id."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found: apt-get install redis-server (or --redis-url)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(500):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.01)
            yield f"redis://127.0.0.1:{port}/0", process.pid
        finally:
            process.terminate()
            process.wait()


async def run_workers(
    fake: RemoteFake, target: Callable[..., None], jobs: list[Any]
) -> list[dict[str, Any]]:
    """One process per job, running ``target(job, ready, go, done, results)``: once every one
    is warmed up and its warm-up requests have left the window, the fake's counts are reset
    and all start together; their reports, in the order they finish."""
    ctx = mp.get_context("forkserver")
    go, results = ctx.Event(), ctx.Queue()
    done = ctx.Barrier(len(jobs))
    workers, readies = [], []
    for job in jobs:
        ready = ctx.Event()
        process = ctx.Process(target=target, args=(job, ready, go, done, results), daemon=True)
        process.start()
        workers.append(process)
        readies.append(ready)
    loop = asyncio.get_running_loop()
    for ready in readies:
        await loop.run_in_executor(None, ready.wait, 60)
    await asyncio.sleep(1.1)  # warm-up requests leave the window
    await fake.reset_stats()
    go.set()
    reports = [await loop.run_in_executor(None, results.get, True, 600) for _ in workers]
    for process in workers:
        process.join(10)
    return reports


async def case(
    fake: RemoteFake,
    redis: tuple[str, int | None],
    store: str,
    processes: int,
    n: int,
    args: argparse.Namespace,
    samples: IO[str] | None = None,
) -> str:
    namespace = f"bench-{uuid.uuid4().hex}"
    path = f"/users/{fake.user_ids[0]}"
    redis_url, redis_pid = redis
    jobs = [
        Job(
            store,
            redis_url,
            namespace,
            fake.base_url,
            fake.token_url,
            path,
            n // processes,
            processes,
            args.timeout,
            index,
            redis_pid,
            args.lockstep,
            args.pace,
            not args.no_reserve,
        )
        for index in range(processes)
    ]
    reports = await run_workers(fake, worker, jobs)
    stats = await fake.stats([Category.LIGHT.value])  # includes the light latency phase
    total = (n // processes) * processes
    elapsed = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    rtt = max(r["rtt"] for r in reports)
    bound = (math.ceil(total / LIMIT) - 1) * (WINDOW + rtt) + rtt
    added = [a for r in reports for a in r["added"]]
    # The same calls less the core waits during them (Redis cases with a local server).
    own = [
        a - w
        for r in reports
        if r["waited"] is not None
        for a, w in zip(r["added"], r["waited"], strict=True)
    ] or [math.nan]
    if samples is not None:
        for index, r in enumerate(reports):
            for i, (start, a) in enumerate(zip(r["starts"], r["added"], strict=True)):
                waited = r["waited"][i] if r["waited"] is not None else None
                record = {"processes": processes, "store": store, "process": index, "sample": i}
                from_reservation = r["reserved"][i] if r["reserved"] else None
                record.update(start=start, added=a, core_waits=waited, reserved=from_reservation)
                samples.write(json.dumps(record) + "\n")
    pings = [a for r in reports for a in r["pings"]] or [math.nan]
    lags = [a for r in reports for a in r["lags"]]
    share = total / elapsed / (LIMIT / WINDOW)
    calls = sum(r["calls"] for r in reports) / total
    reserved = [x for r in reports for x in r["reserved"]]
    share_reserved = f"{100 * sum(reserved) / len(reserved):.1f}" if reserved else ""
    # The latency phase's own rate: each process waits its interval after a request's answer,
    # so the phase runs below --pace (CLOCK_MONOTONIC is the machine's, one for all processes).
    starts = [t for r in reports for t in r["starts"]]
    phase_rate = (len(starts) - 1) / (max(starts) - min(starts)) / (LIMIT / WINDOW)
    return (
        f"| {processes} | {store} | {total} | {elapsed:.2f} | {share:.3f} "
        f"| {rtt * 1000:.1f} | {bound / elapsed:.3f} | {stats['rate_limited']} "
        f"| {stats['max_in_window'][Category.LIGHT.value]}/{LIMIT} "
        f"| {percentile(added, 0.5) * 1000:.2f} | {percentile(added, 0.99) * 1000:.2f} "
        f"| {_ms(percentile(own, 0.5))} | {_ms(percentile(own, 0.99))} "
        f"| {_ms(percentile(pings, 0.5))} | {_ms(percentile(pings, 0.99))} "
        f"| {percentile(lags, 0.99) * 1000:.2f} | {calls:.2f} | {phase_rate:.2f} "
        f"| {share_reserved} |"
    )


async def main(args: argparse.Namespace) -> None:
    n = 320 if args.quick else 800
    mp.set_forkserver_preload(["zoom_async", "redis.asyncio"])
    setup = FakeSetup(fake_kwargs={"plan": "business_plus", "latency": LATENCY}, users=1)
    print(
        f"Business+ Light ({LIMIT}/s), {n} requests per case, FakeZoom latency 10-50 ms", flush=True
    )
    print(
        "| processes | store | requests | elapsed s | rate/allowed | RTT p50 ms | bound/elapsed "
        "| 429s | max/window | added p50 ms | added p99 ms | less core waits p50 ms "
        "| less core waits p99 ms | PING p50 ms | PING p99 ms | timer lag p99 ms "
        "| Redis calls/request | latency phase rate/allowed | from a reservation % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    samples = open(args.samples, "w") if args.samples else None  # noqa: SIM115, ASYNC230
    try:
        with redis_server() if args.redis_url is None else _given(args.redis_url) as redis:
            async with RemoteFake(setup) as fake:
                for processes in args.processes:
                    for store in ("redis", "memory"):
                        line = await case(fake, redis, store, processes, n, args, samples)
                        print(line, flush=True)
    finally:
        if samples is not None:
            samples.close()


@contextmanager
def _given(url: str) -> Iterator[tuple[str, int | None]]:
    yield url, None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--redis-url")
    # Generous: on a loaded machine 8 processes on 2 cores can leave a Redis answer unread for
    # longer than the library's 0.5 s default, which then fails closed (LimiterUnavailable).
    parser.add_argument("--timeout", type=float, default=5.0, help="RedisStore timeout, s")
    parser.add_argument(
        "--lockstep",
        action="store_true",
        help="latency phase: all processes start at once (the schedule of earlier figures)",
    )
    parser.add_argument("--samples", help="write every latency sample here (JSON lines)")
    parser.add_argument(
        "--pace",
        type=float,
        default=0.5,
        help="latency phase: all processes' requests together, as a fraction of the plan's rate",
    )
    parser.add_argument(
        "--no-reserve",
        action="store_true",
        help="RedisStore(reserve=False): every request waits for its grant call",
    )
    asyncio.run(main(parser.parse_args()))

"""What waiting and listing cost: 100,000 queued calls, and paginating 200,000 users.

**Queue.** 100,000 ``zoom.get`` calls are started against a lane that admits one request (the
first is held in flight by an in-memory transport), the way a batch job starts them: in chunks
of 1,000 tasks, yielding to the loop between chunks. Beside them, in the same run:
asyncio's own cost, as many bare tasks that each await a plain future, started the same way
(what any caller's 100,000 waiting tasks cost before any library); the same ``zoom.get`` calls
with ``ZoomClient(gc_freeze_above=None)``, the collector left alone (by default a queue past
10,000 calls is kept out of CPython's full collections: ``gc.freeze()`` as it grows, undone when
it drains); and the SDK's batch surface, ``zoom.fan_out(range(100_000), ...)``, which keeps 64
calls in progress and reads the rest of its input only as places free. Each case runs in a fresh
process. Prints, measured in one run, for each and as ratios:

* memory per queued call: RSS growth ÷ calls (the caller's task and coroutines included);
* the longest the event loop was blocked while they queued (a 5 ms heartbeat's worst lateness),
  in this process's CPU time (on a shared machine the wall clock also counts other processes'
  turns) and in wall-clock time, each with and without CPython's garbage-collector pauses (a
  full collection walks every live object, the caller's 100,000 tasks included);
* how long cancelling all of them takes (``asyncio.gather(..., return_exceptions=True)``, as a
  caller would; for the fan-out, leaving it: ``aclose()``), in wall-clock and CPU time and how
  much of it was GC, and what is left behind (queued waiters, queue entries, slots; objects
  still frozen at the drain, while the cancelled calls unwind, and a second later).

**Pagination.** ``async for user in zoom.paginate("/users", page_size=300)`` over 200,000 users
(Zoom-shaped pages built on demand by an in-memory transport), against raw httpx fetching the
same pages: RSS growth of the process (peak, sampled every 20 ms), raw httpx first.

Run: ``python benchmarks/bench_memory.py`` (``--calls``, ``--users`` to change the sizes).
``--cases thaw``: an A/B of cancelling the queue, the default (a drained queue keeps its freeze
while the cancelled calls unwind) against the freeze given back at the drain, 3 rounds each,
alternated, each in a fresh process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from typing import Any

import httpx

from zoom_async import BUSINESS_PLUS, Category, ZoomClient
from zoom_async.fan_out import DEFAULT_CONCURRENCY
from zoom_async.limits import _THAW_AFTER, DEFAULT_GC_FREEZE_ABOVE


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class StaticToken:
    async def get_token(self, http: httpx.AsyncClient) -> str:
        return "token"

    async def invalidate(self, token: str) -> None:
        pass


class LoopWatch:
    """How long the loop was blocked: a 5 ms heartbeat's worst lateness; and the same with
    CPython's garbage collector's pauses (timed with ``gc.callbacks``) taken out, which is the
    blocking the code itself causes (a full collection walks every live object, the caller's
    100,000 tasks included).

    On a shared machine the wall-clock lateness also holds the time the OS ran other processes
    (one heartbeat here was seen 1.5 s late after 21 ms of our CPU), so the same is measured in
    this process's CPU time: the CPU the loop spent between two heartbeats, less the 5 ms, is
    how late the heartbeat would be on an idle machine."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_without_gc = 0.0
        self.worst_cpu = 0.0
        self.worst_cpu_without_gc = 0.0
        self.gc_pauses: list[tuple[float, float, float]] = []
        """(wall start, wall end, CPU seconds) of each collection."""
        self._gc_start = (0.0, 0.0)
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = (time.perf_counter(), time.process_time())
        else:
            wall, cpu = self._gc_start
            self.gc_pauses.append((wall, time.perf_counter(), time.process_time() - cpu))

    def _gc_within(self, start: float, end: float) -> tuple[float, float]:
        """Wall and CPU seconds of collections within ``[start, end]``."""
        wall = cpu = 0.0
        for a, b, c in self.gc_pauses[-50:]:
            overlap = max(0.0, min(b, end) - max(a, start))
            if overlap:
                wall += overlap
                cpu += c * overlap / (b - a)
        return wall, cpu

    async def _beat(self) -> None:
        while True:
            start, cpu_start = time.perf_counter(), time.process_time()
            await asyncio.sleep(0.005)
            end, cpu = time.perf_counter(), time.process_time() - cpu_start
            late = end - start - 0.005
            gc_wall, gc_cpu = self._gc_within(start, end)
            self.worst = max(self.worst, late)
            self.worst_without_gc = max(self.worst_without_gc, late - gc_wall)
            self.worst_cpu = max(self.worst_cpu, cpu - 0.005)
            self.worst_cpu_without_gc = max(self.worst_cpu_without_gc, cpu - gc_cpu - 0.005)

    @property
    def longest_gc(self) -> float:
        """CPU seconds of the longest collection."""
        return max((c for _, _, c in self.gc_pauses), default=0.0)

    def __enter__(self) -> LoopWatch:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.ensure_future(self._beat())
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)
        assert self._task is not None
        self._task.cancel()


async def _start(calls: int, chunk: int, make: Any, queued: Any) -> tuple[list[Any], float]:
    """Start ``calls`` tasks of ``make(i)`` in chunks, yielding between chunks, and wait until
    ``queued()`` says all of them wait."""
    tasks: list[asyncio.Task[Any]] = []
    start = time.perf_counter()
    for i in range(calls):
        tasks.append(asyncio.ensure_future(make(i)))
        if i % chunk == chunk - 1:
            await asyncio.sleep(0)
    while queued() < calls:  # noqa: ASYNC110 - polling what the benchmark measures
        await asyncio.sleep(0.01)
    return tasks, time.perf_counter() - start


def _figures(
    queued_in: float,
    per_call: float,
    watch: LoopWatch,
    cancelled_in: float,
    cancel_cpu: float,
    cancel_watch: LoopWatch,
) -> dict[str, Any]:
    """One queue case's figures: the queueing as ``watch`` saw it, the cancel as
    ``cancel_watch`` did."""
    return {
        "queued_in": queued_in,
        "bytes_per_call": per_call,
        "blocked_ms": watch.worst * 1000,
        "blocked_without_gc_ms": watch.worst_without_gc * 1000,
        "busy_ms": watch.worst_cpu * 1000,
        "busy_without_gc_ms": watch.worst_cpu_without_gc * 1000,
        "longest_gc_ms": watch.longest_gc * 1000,
        "cancelled_in": cancelled_in,
        "cancel_cpu": cancel_cpu,
        "cancel_gc": sum(c for _, _, c in cancel_watch.gc_pauses),
    }


async def _measure(calls: int, chunk: int, make: Any, queued: Any) -> dict[str, Any]:
    """Memory per queued task, the loop's worst blocking while they queue, and the time to
    cancel them all (with ``asyncio.gather(..., return_exceptions=True)``, as a caller would)."""
    gc.collect()
    before = rss()
    with LoopWatch() as watch:
        tasks, queued_in = await _start(calls, chunk, make, queued)
        await asyncio.sleep(0.05)
    gc.collect()
    per_call = (rss() - before) / calls
    with LoopWatch() as cancel_watch:
        start, cpu_start = time.perf_counter(), time.process_time()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        cancelled_in = time.perf_counter() - start
        cancel_cpu = time.process_time() - cpu_start
    return _figures(queued_in, per_call, watch, cancelled_in, cancel_cpu, cancel_watch)


async def bare_queue_case(calls: int, chunk: int) -> dict[str, Any]:
    """asyncio's own cost of as many tasks that each await a plain future: what any caller's
    100,000 waiting tasks cost, before any library."""
    loop = asyncio.get_running_loop()
    waiting = 0

    async def wait(future: asyncio.Future[None]) -> None:
        nonlocal waiting
        waiting += 1
        await future

    return await _measure(calls, chunk, lambda i: wait(loop.create_future()), lambda: waiting)


async def _held_lane(
    gc_freeze_above: int | None,
) -> tuple[ZoomClient, Any, asyncio.Event, asyncio.Future[Any]]:
    """A client whose Light lane admits one request, held in flight: every later call queues."""
    held = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        await held.wait()
        return httpx.Response(200, json={})

    zoom = ZoomClient(
        auth=StaticToken(),
        plan={"Light": 1},
        transport=httpx.MockTransport(handler),
        base_url="https://api.zoom.us/v2",
        gc_freeze_above=gc_freeze_above,
    )
    lane = zoom.limits._lane("general", Category.LIGHT)
    first = asyncio.ensure_future(zoom.get("/users/first"))
    # Warm every code path once (imports, caches) before measuring.
    warm = [asyncio.ensure_future(zoom.get(f"/users/w{i}")) for i in range(1000)]
    await asyncio.sleep(0.05)
    for t in warm:
        t.cancel()
    await asyncio.gather(*warm, return_exceptions=True)
    return zoom, lane, held, first


async def _left_behind(
    zoom: ZoomClient, lane: Any, held: asyncio.Event, first: asyncio.Future[Any]
) -> dict[str, Any]:
    left = (lane.queued, sum(len(q) for q in lane._queues))
    # A drained queue keeps its freeze while the cancelled calls unwind, and gives every object
    # back to the collector _THAW_AFTER seconds later (0: nothing frozen).
    frozen_at_drain = gc.get_freeze_count()
    await asyncio.sleep(_THAW_AFTER + 0.1)
    frozen_after = gc.get_freeze_count()
    held.set()
    await first
    window = zoom.limits._store._windows["general:Light"]  # type: ignore[attr-defined]
    await zoom.aclose()
    return {
        "left": (*left, window.in_flight),
        "frozen_at_drain": frozen_at_drain,
        "frozen_after": frozen_after,
    }


async def queue_case(calls: int, chunk: int, gc_freeze_above: int | None) -> dict[str, Any]:
    zoom, lane, held, first = await _held_lane(gc_freeze_above)
    result = await _measure(calls, chunk, lambda i: zoom.get(f"/users/u{i}"), lambda: lane.queued)
    result.update(await _left_behind(zoom, lane, held, first))
    return result


async def fan_out_case(calls: int) -> dict[str, Any]:
    """The same calls through ``zoom.fan_out``: 64 in progress, the rest of the input unread."""
    zoom, lane, held, first = await _held_lane(DEFAULT_GC_FREEZE_ABOVE)
    gc.collect()
    before = rss()
    with LoopWatch() as watch:
        start = time.perf_counter()
        fan = zoom.fan_out(range(calls), lambda i: zoom.get(f"/users/u{i}"))
        consumer = asyncio.ensure_future(anext(aiter(fan)))  # waits: nothing completes
        while lane.queued < DEFAULT_CONCURRENCY:  # noqa: ASYNC110 - what is measured
            await asyncio.sleep(0.01)
        queued_in = time.perf_counter() - start
        await asyncio.sleep(0.05)
    gc.collect()
    per_call = (rss() - before) / calls
    with LoopWatch() as cancel_watch:
        start, cpu_start = time.perf_counter(), time.process_time()
        await fan.aclose()
        await asyncio.gather(consumer, return_exceptions=True)
        cancelled_in = time.perf_counter() - start
        cancel_cpu = time.process_time() - cpu_start
    result = _figures(queued_in, per_call, watch, cancelled_in, cancel_cpu, cancel_watch)
    result.update(await _left_behind(zoom, lane, held, first))
    return result


VARIANTS = {
    "bare-queue": "asyncio tasks awaiting a future",
    "queue": "zoom.get queued (default: frozen past 10,000)",
    "queue-unfrozen": "zoom.get queued, ZoomClient(gc_freeze_above=None)",
    "fan-out": "zoom.fan_out(range(calls), zoom.get), 64 at a time",
}


async def _run_variant(variant: str, calls: int, chunk: int) -> dict[str, Any]:
    """One queue case in a fresh process (memory a run freed stays in the allocator's arenas)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--variant",
        variant,
        "--calls",
        str(calls),
        "--chunk",
        str(chunk),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def thaw_cases(calls: int, chunk: int, rounds: int = 3) -> None:
    """A/B: the default, whose drained queue keeps its freeze while the cancelled calls unwind,
    against giving it back at the drain; alternated, each in a fresh process."""
    rows: dict[str, list[dict[str, Any]]] = {"queue": [], "queue-given-back-at-drain": []}
    for _ in range(rounds):
        for variant, results in rows.items():
            results.append(await _run_variant(variant, calls, chunk))
    for variant, results in rows.items():
        name = "freeze kept 1 s after the drain (default)" if variant == "queue" else variant
        print(
            f"cancel {calls} queued calls, {name}: CPU "
            + " / ".join(f"{r['cancel_cpu']:.2f}" for r in results)
            + " s, of it GC "
            + " / ".join(f"{r['cancel_gc']:.2f}" for r in results)
            + " s, wall clock "
            + " / ".join(f"{r['cancelled_in']:.2f}" for r in results)
            + " s"
        )


async def queue_cases(calls: int, chunk: int) -> None:
    """Every queue case, each in a fresh process, asyncio's bare tasks first; figures and
    ratios from this one run."""
    results = {variant: await _run_variant(variant, calls, chunk) for variant in VARIANTS}
    bare = results["bare-queue"]
    for variant, name in VARIANTS.items():
        r = results[variant]
        if variant == "fan-out":
            how = f"{calls} calls, {DEFAULT_CONCURRENCY} queued in {r['queued_in']:.2f} s"
        else:
            how = f"{calls} queued in {r['queued_in']:.2f} s (chunks of {chunk})"
        print(
            f"{name}: {how}; "
            f"**{r['bytes_per_call']:.0f} B each** (RSS); loop blocked at most "
            f"**{r['busy_ms']:.0f} ms of CPU** ({r['busy_without_gc_ms']:.0f} ms without GC "
            f"pauses; the longest collection {r['longest_gc_ms']:.0f} ms), "
            f"{r['blocked_ms']:.0f} ms of wall-clock time ({r['blocked_without_gc_ms']:.0f} ms "
            f"without GC); all cancelled in **{r['cancelled_in']:.2f} s** "
            f"({r['cancel_cpu']:.2f} s of CPU, {r['cancel_gc']:.2f} s of it GC)"
        )
    for variant, name in VARIANTS.items():
        if variant == "bare-queue":
            continue
        r = results[variant]
        left = r["left"]
        print(
            f"{name} ÷ bare tasks: memory {r['bytes_per_call'] / bare['bytes_per_call']:.2f}"
            f" (the library's part {r['bytes_per_call'] - bare['bytes_per_call']:.0f} B), "
            f"loop blocked (CPU) {r['busy_ms'] / bare['busy_ms']:.2f}, "
            f"cancel {r['cancelled_in'] / bare['cancelled_in']:.2f} "
            f"(CPU {r['cancel_cpu'] / bare['cancel_cpu']:.2f}); left behind: {left[0]} "
            f"queued, {left[1]} queue entries, {left[2]} slots in flight, "
            f"{r['frozen_after']} objects still frozen {_THAW_AFTER:.0f} s after the drain "
            f"({r['frozen_at_drain']} at the drain)"
        )


def user_pages(users: int) -> httpx.MockTransport:
    """``GET /users`` over ``users`` made-up users, each page built when asked (FakeZoom scans
    its whole account per page, seconds each at this size: the client is what is measured)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(
                200, json={"access_token": "token", "token_type": "bearer", "expires_in": 3599}
            )
        size = int(request.url.params.get("page_size", 30))
        start = int(request.url.params.get("next_page_token") or 0)
        end = min(users, start + size)
        page = [
            {
                "id": f"u{i:07d}x",
                "first_name": "User",
                "last_name": f"Number {i}",
                "display_name": f"User Number {i}",
                "email": f"user{i}@example.com",
                "type": 1,
                "pmi": 1000000000 + i,
                "timezone": "UTC",
                "verified": 1,
                "dept": "",
                "created_at": "2026-01-01T00:00:00Z",
                "last_login_time": "2026-01-02T00:00:00Z",
                "language": "en-US",
                "status": "active",
                "role_id": "2",
                "user_created_at": "2026-01-01T00:00:00Z",
            }
            for i in range(start, end)
        ]
        return httpx.Response(
            200,
            json={
                "page_size": size,
                "total_records": users,
                "next_page_token": str(end) if end < users else "",
                "users": page,
            },
        )

    return httpx.MockTransport(handler)


async def paginate_case(users: int, page_size: int, name: str) -> None:
    base = "https://api.zoom.us/v2"
    # Warm up: a first small listing imports and caches what any listing needs; not measured.
    async with ZoomClient(
        auth=StaticToken(), plan=BUSINESS_PLUS, transport=user_pages(1000), base_url=base
    ) as zoom:
        async for _user in zoom.paginate("/users", page_size=page_size):
            pass
    async with httpx.AsyncClient(transport=user_pages(1000)) as http:
        await http.get(f"{base}/users", params={"page_size": page_size})
    gc.collect()
    start_rss = peak = rss()
    done = asyncio.Event()

    async def sample(done: asyncio.Event = done) -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss())
            await asyncio.sleep(0.02)

    sampler = asyncio.ensure_future(sample())
    count = 0
    started = time.perf_counter()
    if name == "raw httpx":
        async with httpx.AsyncClient(transport=user_pages(users)) as http:
            params: dict[str, Any] = {"page_size": page_size}
            while True:
                page = (await http.get(f"{base}/users", params=params)).json()
                count += len(page["users"])
                if not page.get("next_page_token"):
                    break
                params["next_page_token"] = page["next_page_token"]
    else:
        async with ZoomClient(
            auth=StaticToken(), plan=BUSINESS_PLUS, transport=user_pages(users), base_url=base
        ) as zoom:
            async for _user in zoom.paginate("/users", page_size=page_size):
                count += 1
    done.set()
    await sampler
    elapsed = time.perf_counter() - started
    print(
        f"paginate {count} users, {name}: RSS growth **{(peak - start_rss) / 1e6:.1f} MB** "
        f"(peak), {elapsed:.1f} s"
    )


async def main(args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    print(f"load average at start {load:.1f} on {os.cpu_count()} cores")
    if args.variant in ("queue", "queue-unfrozen"):
        freeze = DEFAULT_GC_FREEZE_ABOVE if args.variant == "queue" else None
        print(json.dumps(await queue_case(args.calls, args.chunk, freeze)))
        return
    if args.variant == "queue-given-back-at-drain":
        # The A/B of thaw_cases: the freeze given back at the drain (as before _THAW_AFTER).
        from zoom_async import limits
        from zoom_async._gc_freeze import FREEZER

        limits._Lane._thaw = lambda self: FREEZER.release(self)  # type: ignore[method-assign]
        print(json.dumps(await queue_case(args.calls, args.chunk, DEFAULT_GC_FREEZE_ABOVE)))
        return
    if args.variant == "fan-out":
        print(json.dumps(await fan_out_case(args.calls)))
        return
    if args.variant == "bare-queue":
        print(json.dumps(await bare_queue_case(args.calls, args.chunk)))
        return
    if "queue" in args.cases:
        await queue_cases(args.calls, args.chunk)
    if "thaw" in args.cases:
        await thaw_cases(args.calls, args.chunk)
    if args.variant:
        await paginate_case(args.users, args.page_size, args.variant)
    elif "paginate" in args.cases:
        # Each in a fresh process: memory a run freed stays in the allocator's arenas.
        for variant in ("raw httpx", "zoom-async"):
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--variant",
                variant,
                "--users",
                str(args.users),
                "--page-size",
                str(args.page_size),
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await child.communicate()
            print(out.decode().strip().splitlines()[-1])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=300)
    parser.add_argument("--cases", default="queue,paginate")
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    asyncio.run(main(parser.parse_args()))

"""Worker processes for the Redis tests: each has its own ZoomClient and RedisStore.

Started by a ``forkserver`` (nothing -- event loop, sockets, threads -- is inherited from pytest)
that has imported zoom_async once, so each worker starts in milliseconds, not an import's second.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread
import httpx

from zoom_async import Category, InMemoryStore, RedisStore, SystemClock, ZoomClient


@dataclass
class Job:
    """What one worker does (must pickle)."""

    redis_url: str
    namespace: str
    base_url: str
    token_url: str
    path: str
    requests: int
    plan: Any = "business_plus"
    concurrency: int = 100
    pause: float = 0.0
    """Seconds each of its concurrent loops waits after each answer."""
    lease_timeout: float | None = None
    clock_offset: float = 0.0
    """Seconds added to this process's clocks (a host whose clock is wrong)."""
    start_delay: float = 0.0
    """Seconds this worker waits after ``go`` before its first request."""
    warm: int = 1
    """Requests sent at once to warm up (each opens a connection to Redis and to the fake)."""
    store_kwargs: dict[str, Any] = field(default_factory=dict)


class SkewedClock(SystemClock):
    """The system clock, off by ``offset`` seconds (both the monotonic and the wall clock)."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset = offset

    def monotonic(self) -> float:
        return super().monotonic() + self.offset

    def utcnow(self) -> datetime:
        return super().utcnow() + timedelta(seconds=self.offset)


def client(job: Job, store: RedisStore | InMemoryStore) -> ZoomClient:
    return ZoomClient(
        account_id="test-account",
        client_id="test-client-id",
        client_secret="test-client-secret",
        base_url=job.base_url,
        token_url=job.token_url,
        plan=job.plan,
        store=store,
        clock=SkewedClock(job.clock_offset),
    )


def run(job: Job, ready: Any, go: Any, results: Any) -> None:
    """Warm up (token, connection), say ready, wait for ``go``, send ``job.requests`` GETs."""

    async def main() -> None:
        store: RedisStore | InMemoryStore
        if job.redis_url == "memory":
            store = InMemoryStore()
        else:
            store = RedisStore.from_url(
                job.redis_url,
                namespace=job.namespace,
                lease_timeout=job.lease_timeout,
                **job.store_kwargs,
            )
        async with client(job, store) as zoom:
            await asyncio.gather(*(zoom.get(job.path) for _ in range(job.warm)))
            ready.set()
            await anyio.to_thread.run_sync(go.wait)
            await anyio.sleep(job.start_delay)
            started = time.monotonic()
            todo = iter(range(job.requests))
            latencies: list[float] = []
            round_trips: list[float] = []

            async def sent(request: httpx.Request) -> None:
                request.extensions["zoom_async_test_sent"] = time.perf_counter()

            async def answered(response: httpx.Response) -> None:
                round_trips.append(
                    time.perf_counter() - response.request.extensions["zoom_async_test_sent"]
                )

            zoom.http.event_hooks["request"].append(sent)
            zoom.http.event_hooks["response"].append(answered)

            async def one() -> None:
                for _ in todo:
                    t0 = time.perf_counter()
                    await zoom.get(job.path)
                    latencies.append(time.perf_counter() - t0)
                    if job.pause:
                        await anyio.sleep(job.pause)

            async with anyio.create_task_group() as tg:
                for _ in range(min(job.concurrency, job.requests)):
                    tg.start_soon(one)
            round_trips.sort()
            share = await zoom.limits.learned("general", Category.LIGHT)
            report = {
                "started": started,
                "finished": time.monotonic(),
                "done": len(latencies),
                "rtt": round_trips[len(round_trips) // 2],
                "learned": None if share is None else share.ceiling,
                "reserved": store.reservations_used if isinstance(store, RedisStore) else 0,
            }
            results.put(report)
        if isinstance(store, RedisStore):
            await store.aclose()

    asyncio.run(main())


def start(jobs: list[Job]) -> tuple[list[mp.process.BaseProcess], Any, Any]:
    """Start one process per job; return them, the ``go`` event and the result queue.
    Returns once every worker is warmed up."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.redis_workers"])
    go = ctx.Event()
    results = ctx.Queue()
    processes = []
    readies = []
    for job in jobs:
        ready = ctx.Event()
        process = ctx.Process(target=run, args=(job, ready, go, results), daemon=True)
        process.start()
        processes.append(process)
        readies.append(ready)
    for ready in readies:
        if not ready.wait(60):
            raise RuntimeError("a worker did not start")
    return processes, go, results

"""What a slow grant is made of: ``bench_redis.py``'s latency phase, with every grant and PING
broken down.

Runs the same set-up as ``bench_redis.py`` (FakeZoom in a process of its own, a local
``redis-server``, N worker processes, a batch first) and then its latency phase, where each grant
(``RedisStore.acquire`` on a request's path) and each bare PING is stamped at these points:

* ``before write``: from the call to the moment redis-py writes the command (our code, redis-py);
* ``write``: the socket write itself (on loopback it also wakes Redis);
* ``to reply``: from the write to the reply reaching the worker's event loop (``feed_data``);
* ``wake``: from there to the waiting task running again (one loop wake-up, the reply's parse);
* ``after``: from the reply's parse to the call's return;

with the worker's thread CPU during the call, the time the worker's thread and Redis's thread
were ready but waited for a core (``/proc/<pid>/schedstat``), the garbage collections inside it
(``gc.callbacks``), the connections of the pool, and for grants the Redis server's own ``TIME``
when the script ran (the grant script is patched, here only, to log it). Prints the medians of
each step, the slowest 1 % of grants step by step, and the p99 with and without the core waits.

Diagnostic only: it patches redis-py's connection class (``send_packed_command``,
``read_response``) and ``asyncio.StreamReader.feed_data`` in the workers. Linux only.

Run: ``python benchmarks/bench_redis_tail.py --processes 4 8`` (``--lockstep``: the latency
phase's old start, all processes at once).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import multiprocessing as mp
import os
import statistics
import time
import uuid
from typing import Any

from _remote_fake import FakeSetup, RemoteFake
from bench_redis import LATENCY, LIMIT, WINDOW, percentile, redis_server, run_workers

from zoom_async import Category, RedisStore, ZoomClient

_CURRENT: dict[str, Any] | None = None
"""The call being stamped (one at a time per worker in the latency phase)."""

_COLLECTIONS: list[tuple[str, int, float]] = []


def _stamp(name: str) -> None:
    sample = _CURRENT
    if sample is not None and name not in sample:
        sample[name] = time.perf_counter()


def _instrument() -> None:
    import redis.asyncio.connection as connection

    import zoom_async.redis_store as redis_store

    # The server's clock when the grant script runs, keyed by the lease member.
    redis_store._ACQUIRE = redis_store._ACQUIRE.replace(
        "local window = tonumber(ARGV[3])\n",
        "local window = tonumber(ARGV[3])\n"
        "redis.call('RPUSH', 'bench-tail:ran', ARGV[#ARGV] .. ' ' .. string.format('%.6f', now))\n",
        1,
    )
    send = connection.AbstractConnection.send_packed_command
    read = connection.AbstractConnection.read_response
    feed = asyncio.StreamReader.feed_data

    async def send_packed_command(self: Any, command: Any, check_health: bool = True) -> None:
        _stamp("write0")
        await send(self, command, check_health)
        _stamp("write1")

    async def read_response(self: Any, *args: Any, **kwargs: Any) -> Any:
        response = await read(self, *args, **kwargs)
        _stamp("parsed")
        return response

    def feed_data(self: Any, data: bytes) -> None:
        _stamp("reply")
        feed(self, data)

    connection.AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
    connection.AbstractConnection.read_response = read_response  # type: ignore[method-assign]
    asyncio.StreamReader.feed_data = feed_data  # type: ignore[method-assign]
    gc.callbacks.append(lambda phase, info: _COLLECTIONS.append((phase, info["generation"], 0.0)))


def _waited(fd: int) -> float:
    return int(os.pread(fd, 128, 0).split()[1]) / 1e9


class _Calls:
    """Stamps one call at a time: ``with calls.stamped(kind) as sample: ...``."""

    def __init__(self, redis_pid: int) -> None:
        self.fds = [os.open(f"/proc/{pid}/schedstat", os.O_RDONLY) for pid in ("self", redis_pid)]
        self.samples: list[dict[str, Any]] = []
        self.active = False

    def begin(self, kind: str) -> dict[str, Any]:
        global _CURRENT
        worker, redis = (_waited(fd) for fd in self.fds)
        sample = {"kind": kind, "worker": worker, "redis": redis, "gc": len(_COLLECTIONS)}
        sample["cpu"] = time.thread_time()
        sample["t0"] = time.perf_counter()
        _CURRENT = sample
        return sample

    def end(self, sample: dict[str, Any], pool: Any) -> None:
        global _CURRENT
        sample["t1"] = time.perf_counter()
        sample["cpu"] = time.thread_time() - sample["cpu"]
        _CURRENT = None
        worker, redis = (_waited(fd) for fd in self.fds)
        sample["worker"] = worker - sample["worker"]
        sample["redis"] = redis - sample["redis"]
        sample["gc"] = [g for phase, g, _ in _COLLECTIONS[sample["gc"] :] if phase == "start"]
        sample["connections"] = len(pool._available_connections) + len(pool._in_use_connections)
        self.samples.append(sample)


def worker(job: dict[str, Any], ready: Any, go: Any, done: Any, results: Any) -> None:
    _instrument()

    async def main() -> None:
        # Every request's grant call, stamped (a reserved slot would serve most without one).
        store = RedisStore.from_url(
            job["redis_url"], namespace=job["namespace"], timeout=5.0, reserve=False
        )
        calls = _Calls(job["redis_pid"])
        acquire = store.acquire

        async def stamped_acquire(*args: Any) -> float:
            if not calls.active:
                return await acquire(*args)
            sample = calls.begin("grant")
            sample["member"] = store._member(args[4])
            try:
                return await acquire(*args)
            finally:
                calls.end(sample, store.redis.connection_pool)

        store.acquire = stamped_acquire  # type: ignore[method-assign]
        zoom = ZoomClient(
            account_id="test-account",
            client_id="test-client-id",
            client_secret="test-client-secret",
            base_url=job["base_url"],
            token_url=job["token_url"],
            plan="business_plus",
            store=store,
        )
        async with zoom:
            await zoom.get(job["path"])
            ready.set()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, go.wait)
            todo = iter(range(job["requests"]))

            async def one() -> None:
                for _ in todo:
                    await zoom.get(job["path"])

            await asyncio.gather(*(one() for _ in range(min(200, job["requests"]))))
            await loop.run_in_executor(None, done.wait)
            await asyncio.sleep(1.1)
            processes = job["processes"]
            interval = processes / (LIMIT / WINDOW / 2)
            if not job["lockstep"]:
                await asyncio.sleep(interval * job["index"] / processes)
            calls.active = True
            for _ in range(max(60, 480 // processes)):
                await zoom.get(job["path"])
                await asyncio.sleep(interval / 2)
                sample = calls.begin("ping")
                await store.redis.ping()
                calls.end(sample, store.redis.connection_pool)
                await asyncio.sleep(interval / 2)
            calls.active = False
        await store.aclose()
        # perf_counter -> the wall clock the Redis server's TIME is on.
        results.put({"offset": time.time() - time.perf_counter(), "samples": calls.samples})

    asyncio.run(main())


async def case(
    fake: RemoteFake, redis: tuple[str, int | None], processes: int, lockstep: bool
) -> list[dict[str, Any]]:
    from redis.asyncio import Redis

    redis_url, redis_pid = redis
    client = Redis.from_url(redis_url)
    await client.delete("bench-tail:ran")
    job = {
        "redis_url": redis_url,
        "redis_pid": redis_pid,
        "namespace": f"bench-{uuid.uuid4().hex}",
        "base_url": fake.base_url,
        "token_url": fake.token_url,
        "path": f"/users/{fake.user_ids[0]}",
        "requests": 800 // processes,
        "processes": processes,
        "lockstep": lockstep,
    }
    reports = await run_workers(
        fake, worker, [{**job, "index": index} for index in range(processes)]
    )
    stats = await fake.stats([Category.LIGHT.value])
    ran = {}
    for item in await client.lrange("bench-tail:ran", 0, -1):  # type: ignore[misc]
        member, at = item.decode().rsplit(" ", 1)
        ran[member] = float(at)
    await client.aclose()
    samples = []
    for index, report in enumerate(reports):
        counts = {"grant": 0, "ping": 0}
        for sample in report["samples"]:
            at = ran.get(sample.get("member", ""))
            sample["ran"] = at - report["offset"] if at is not None else None
            sample.update(process=index, index=counts[sample["kind"]])
            counts[sample["kind"]] += 1
            samples.append(sample)
    print(f"\n{processes} processes: {stats['rate_limited']} x 429", flush=True)
    return samples


_STEPS = (
    ("before write", "t0", "write0"),
    ("write", "write0", "write1"),
    ("to reply", "write1", "reply"),
    ("wake", "reply", "parsed"),
    ("after", "parsed", "t1"),
)


def _ms(sample: dict[str, Any], start: str, end: str) -> float:
    return (sample[end] - sample[start]) * 1000 if start in sample and end in sample else math.nan


def report(samples: list[dict[str, Any]]) -> None:
    grants = [s for s in samples if s["kind"] == "grant"]
    pings = [s for s in samples if s["kind"] == "ping"]
    print("| median ms | grant | PING |\n|---|---|---|")
    for name, start, end in _STEPS:
        medians = [statistics.median(_ms(s, start, end) for s in c) for c in (grants, pings)]
        print(f"| {name} | {medians[0]:.3f} | {medians[1]:.3f} |")
    cpu = [statistics.median(s["cpu"] * 1000 for s in c) for c in (grants, pings)]
    print(f"| worker CPU | {cpu[0]:.3f} | {cpu[1]:.3f} |")
    for name, calls in (("grant", grants), ("PING", pings)):
        total = [s["t1"] - s["t0"] for s in calls]
        less = [s["t1"] - s["t0"] - s["worker"] - s["redis"] for s in calls]
        print(
            f"{name}: p50 {percentile(total, 0.5) * 1000:.2f} ms, p99 "
            f"{percentile(total, 0.99) * 1000:.2f} ms; less core waits p50 "
            f"{percentile(less, 0.5) * 1000:.2f} ms, p99 {percentile(less, 0.99) * 1000:.2f} ms"
        )
    collected = [s for s in grants if s["gc"]]
    print(
        f"grants with a garbage collection inside: {len(collected)} of {len(grants)} "
        f"(generations {sorted({g for s in collected for g in s['gc']})}); "
        f"pool connections seen: {sorted({s['connections'] for s in grants})}"
    )
    slowest = sorted(grants, key=lambda s: s["t1"] - s["t0"], reverse=True)
    print(
        "slowest 1 % of grants, ms: | total | process, grant | "
        + " | ".join(name for name, _, _ in _STEPS)
        + " | write -> script ran | worker CPU | worker waited | Redis waited |"
    )
    for s in slowest[: math.ceil(len(grants) / 100)]:
        steps = " | ".join(f"{_ms(s, start, end):.2f}" for _, start, end in _STEPS)
        ran = (
            (s["ran"] - s["write1"]) * 1000 if s["ran"] is not None and "write1" in s else math.nan
        )
        print(
            f"| {(s['t1'] - s['t0']) * 1000:.2f} | {s['process']}, {s['index']} | {steps} "
            f"| {ran:.2f} | {s['cpu'] * 1000:.2f} | {s['worker'] * 1000:.2f} "
            f"| {s['redis'] * 1000:.2f} |"
        )


async def main(args: argparse.Namespace) -> None:
    mp.set_forkserver_preload(["zoom_async", "redis.asyncio"])
    setup = FakeSetup(fake_kwargs={"plan": "business_plus", "latency": LATENCY}, users=1)
    with redis_server() as redis:
        async with RemoteFake(setup) as fake:
            for processes in args.processes:
                report(await case(fake, redis, processes, args.lockstep))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--lockstep", action="store_true")
    asyncio.run(main(parser.parse_args()))

"""User-facing calls beside a batch: how long ``priority="interactive"`` calls take while a
10,000-call batch saturates the same lane.

FakeZoom (Business+, 10-50 ms jittered latency, strict arrival windows) in a process of its own;
one ZoomClient sends 10,000 Light ``GET /users/{id}`` as batch work (500 workers) and, once the
lane is saturated, one interactive ``GET /users/me`` every 0.25 s until the batch is done. Prints,
measured in one run: the interactive calls' latency (call to answer) p50/p99/max against the
target of one window + one round trip, the batch's bound/elapsed, 429s and max-in-any-window.

Run: ``python benchmarks/bench_priorities.py`` (``--batch``, ``--transport aiohttp``).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time

from _remote_fake import FakeSetup, RemoteFake
from bench_limits import CREDENTIALS, LATENCY, strict_safe_bound

from zoom_async import BUSINESS_PLUS, Category, ZoomClient


async def main(batch: int, transport: str) -> None:
    light = BUSINESS_PLUS.limit_for("general", Category.LIGHT)
    setup = FakeSetup(fake_kwargs={"plan": BUSINESS_PLUS, "latency": LATENCY, "seed": 1})
    print(
        f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
        f"transport={transport}"
    )
    async with (
        RemoteFake(setup) as fake,
        ZoomClient(
            **CREDENTIALS,
            base_url=fake.base_url,
            token_url=fake.token_url,
            plan=BUSINESS_PLUS,
            transport="aiohttp" if transport == "aiohttp" else None,
        ) as zoom,
    ):
        uid = fake.user_ids[0]
        await zoom.get(f"/users/{uid}")
        await asyncio.sleep(1.1)
        await fake.reset_stats()
        todo = iter(range(batch))
        finished = asyncio.Event()

        async def worker() -> None:
            for _ in todo:
                await zoom.get(f"/users/{uid}")

        async def run_batch() -> None:
            await asyncio.gather(*(worker() for _ in range(500)))
            finished.set()

        latencies: list[float] = []

        async def interactive() -> None:
            start = time.perf_counter()
            await zoom.get("/users/me", priority="interactive")
            latencies.append(time.perf_counter() - start)

        start = time.perf_counter()
        batch_task = asyncio.ensure_future(run_batch())
        await asyncio.sleep(2.0)  # the lane is saturated: 500 calls queued behind each wave
        users: list[asyncio.Future[None]] = []
        while not finished.is_set():
            users.append(asyncio.ensure_future(interactive()))
            await asyncio.sleep(0.25)
        await batch_task
        elapsed = time.perf_counter() - start
        await asyncio.gather(*users)
        stats = await fake.stats([Category.LIGHT.value])
    rtt = statistics.fmean(stats["round_trips"])
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, math.ceil(0.99 * len(latencies)) - 1)]
    target = light.window + rtt
    n = batch + len(latencies)
    bound = strict_safe_bound(n, light.limit, light.window, rtt)
    print(
        f"{len(latencies)} interactive calls during a {batch}-call batch: latency "
        f"p50 **{p50 * 1000:.0f} ms**, p99 **{p99 * 1000:.0f} ms**, max {latencies[-1] * 1000:.0f} "
        f"ms; target p99 <= window + RTT = {target * 1000:.0f} ms -> "
        f"{'met' if p99 <= target else 'NOT met'}"
    )
    print(
        f"all {n} requests: {elapsed:.1f} s, bound/elapsed {bound / elapsed:.3f}, "
        f"429s {stats['rate_limited']}, max in any window "
        f"{stats['max_in_window']['Light']}/{light.limit}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--transport", choices=["httpx", "aiohttp"], default="httpx")
    args = parser.parse_args()
    asyncio.run(main(args.batch, args.transport))

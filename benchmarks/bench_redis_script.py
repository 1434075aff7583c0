"""Redis's own time per RedisStore script call (``INFO commandstats``), which the machine's load
barely moves, unlike round-trip latencies.

Run against a redis-server nobody else uses (it resets the server's statistics)::

    redis-server --port 6399 --save '' &
    python benchmarks/bench_redis_script.py redis://127.0.0.1:6399/0

Phase 1: 4 stores (one per would-be process), 12 workers, 3,600 acquire/release cycles on one
lane (limit 200 per 1 s window): grants with releases riding along, and background releases.
Phase 2: 2,000 grants alone (one slot each, nothing released, the limit never reached).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from zoom_async.redis_store import RedisStore


async def main(url: str) -> None:
    stores = [RedisStore.from_url(url, namespace="bench-script") for _ in range(4)]
    redis = stores[0].redis
    await redis.config_resetstat()
    ids = iter(range(1, 1_000_000))

    async def worker(store: RedisStore, n: int) -> None:
        for _ in range(n):
            lease_id = next(ids)
            while (  # noqa: ASYNC110 (the store gives the wait; it is the loop under test)
                delay := await store.acquire("Light", 200, 1.0, time.monotonic(), lease_id, 30.0)
            ) > 0:
                await asyncio.sleep(min(delay, 0.05))
            await asyncio.sleep(0.002)
            await store.release("Light", lease_id, time.monotonic())

    await asyncio.gather(*(worker(s, 300) for s in stores for _ in range(3)))
    for store in stores:
        await store.flush()
    stats = (await redis.info("commandstats"))["cmdstat_evalsha"]
    print(f"grant+release scripts: {stats['calls']} calls, {stats['usec_per_call']} us per call")

    await redis.config_resetstat()
    for i in range(2000):
        store = stores[i % 4]
        assert await store.acquire("Heavy", 100_000, 1.0, time.monotonic(), next(ids), 30.0) == 0
    stats = (await redis.info("commandstats"))["cmdstat_evalsha"]
    print(f"grant script alone: {stats['calls']} calls, {stats['usec_per_call']} us per call")
    for store in stores:
        await store.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="a Redis URL; its command statistics are reset")
    asyncio.run(main(parser.parse_args().url))

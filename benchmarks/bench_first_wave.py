"""The first wave of a mixed Business+ batch: on a new client, and on the same client again.

A mixed Business+ batch sends 80 Light, 60 Medium and 40 Heavy requests at once when it starts.
Over HTTP/1.1 each needs a connection of its own, so a new client opens 180 of them in that first
wave, and the client's CPU for the wave delays its last requests: the Heavy ones, queued last,
whose answers start their lane's chain of windows (``bench_limits.py --trace``: ``start``).

Each round makes a new client (its token fetched and one connection opened beforehand), sends
the wave (``cold``: 180 new connections), waits out the window, and sends it again on the
connections it kept (``warm``). Printed: the medians over the rounds of the client's CPU for the
wave and of the time until the 40 Heavy requests were all answered. ``FakeZoom`` runs in a
process of its own with 10-50 ms of jittered latency, on a core of its own (as
``bench_limits.py``).

Run: ``python benchmarks/bench_first_wave.py`` (``--rounds 8``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import _remote_fake
from _remote_fake import FakeSetup, RemoteFake
from bench_limits import CREDENTIALS, LATENCY, PATHS

from zoom_async import BUSINESS_PLUS, Category, ZoomClient

WAVE = ((Category.LIGHT, 80), (Category.MEDIUM, 60), (Category.HEAVY, 40))


async def wave(zoom: ZoomClient, uid: str) -> tuple[float, float]:
    """Send one wave: ``(the client's CPU seconds, seconds until the Heavy ones are answered)``."""

    async def timed(category: Category) -> float:
        start = time.perf_counter()
        await zoom.get(PATHS[category].format(uid=uid))
        return time.perf_counter() - start

    cpu = time.process_time()
    took = await asyncio.gather(*(timed(c) for c, n in WAVE for _ in range(n)))
    return time.process_time() - cpu, max(took[-WAVE[-1][1] :])


async def main(rounds: int) -> None:
    results: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": []}
    setup = FakeSetup(fake_kwargs={"seed": 1, "plan": BUSINESS_PLUS, "latency": LATENCY})
    async with RemoteFake(setup) as fake:
        uid = fake.user_ids[0]
        for _ in range(rounds):
            async with ZoomClient(
                **CREDENTIALS,
                base_url=fake.base_url,
                token_url=fake.token_url,
                plan=BUSINESS_PLUS,
            ) as zoom:
                await zoom.get(PATHS[Category.LIGHT].format(uid=uid))  # the token
                await asyncio.sleep(1.1)
                for name in ("cold", "warm"):
                    results[name].append(await wave(zoom, uid))
                    await asyncio.sleep(1.1)  # the wave leaves the windows
    print(
        f"FakeZoom on 127.0.0.1 in its own process {_remote_fake.placement()}, latency 10-50 ms "
        f"(jittered); 80 Light + 60 Medium + 40 Heavy at once, Business+; medians of {rounds}"
    )
    for name, runs in results.items():
        cpu = statistics.median(c for c, _ in runs)
        heavy = statistics.median(h for _, h in runs)
        print(
            f"{name}: client CPU for the wave {cpu * 1e3:.0f} ms ({cpu / 180 * 1e3:.2f} ms a "
            f"request); the 40 Heavy answered after {heavy * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    _remote_fake.add_core_option(parser)
    args = parser.parse_args()
    _remote_fake.OWN_CORE = args.fake_core == "own"
    asyncio.run(main(args.rounds))

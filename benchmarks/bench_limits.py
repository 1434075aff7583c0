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
* ``CPU ms/req``: the client process's CPU time ÷ requests sent.

With a neighbour app, ``rate/left`` is our rate ÷ what the neighbour leaves, and ``429s`` counts
the refusals on the whole account (ours + the neighbour's), also after the first window.

Run: ``python benchmarks/bench_limits.py`` (``--only TEXT`` selects cases; ``--transport aiohttp``
sends through httpx-aiohttp instead of httpx's own pool).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from _remote_fake import FakeSetup, RemoteFake
from aiolimiter import AsyncLimiter

from zoom_async import BUSINESS_PLUS, PRO, Category, RateLimitTable, ZoomClient

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


def setup(table: RateLimitTable, neighbour: float = 0.0) -> FakeSetup:
    return FakeSetup(
        fake_kwargs={"plan": table, "latency": LATENCY, "seed": 1},
        neighbours=[(Category.LIGHT.value, neighbour)] if neighbour else [],
    )


def client(fake: RemoteFake, table: RateLimitTable, transport: str, **kwargs: Any) -> ZoomClient:
    if transport == "aiohttp":
        kwargs["transport"] = "aiohttp"  # what users get: the client's own aiohttp session
    return ZoomClient(
        **CREDENTIALS,
        base_url=fake.base_url,
        token_url=fake.token_url,
        plan=table,
        **kwargs,
    )


def sent_requests(stats: dict[str, Any]) -> int:
    return int(stats["requests"])


async def zoom_case(
    name: str,
    table: RateLimitTable,
    batches: dict[Category, int],
    transport: str,
    *,
    warm: int = 1,
) -> Result:
    async with RemoteFake(setup(table)) as fake:
        uid = fake.user_ids[0]
        async with client(fake, table, transport) as zoom:
            # Warm up: the token and `warm` connections (a burst of that many requests).
            await asyncio.gather(*(zoom.get(f"/users/{uid}") for _ in range(warm)))
            await asyncio.sleep(1.1)  # ...and let the warm-up leave the Light window
            await fake.reset_stats()
            cpu = time.process_time()
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    run_workers(n, lambda c=category: zoom.get(PATHS[c].format(uid=uid)))
                    for category, n in batches.items()
                )
            )
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
        stats = await fake.stats([c.value for c in batches])
    rtt = statistics.fmean(stats["round_trips"])
    bound = max(
        strict_safe_bound(
            n,
            table.limit_for("general", c).limit,
            table.limit_for("general", c).window,
            rtt,
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
    name: str, table: RateLimitTable, n: int, neighbour: float, transport: str
) -> Result:
    light = table.limit_for("general", Category.LIGHT)
    left = light.rate - neighbour
    async with RemoteFake(setup(table, neighbour)) as fake:
        uid = fake.user_ids[0]
        async with client(fake, table, transport) as zoom:
            await zoom.get(f"/users/{uid}")
            await asyncio.sleep(1.1)
            await fake.reset_stats()
            cpu = time.process_time()
            start = time.perf_counter()
            run = asyncio.ensure_future(run_workers(n, lambda: zoom.get(f"/users/{uid}")))
            await asyncio.sleep(light.window * 1.5)  # the first window and its answers
            first = await fake.stats([Category.LIGHT.value])
            await run
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
            learned = (await zoom.limits.snapshot()).lane(Category.LIGHT).current_rate
        stats = await fake.stats([Category.LIGHT.value])
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


async def main(only: str | None, transport: str) -> None:
    light, medium, heavy = Category.LIGHT, Category.MEDIUM, Category.HEAVY
    ri = Category.RESOURCE_INTENSIVE
    t = transport
    cases: list[tuple[str, Callable[[str], Awaitable[Result]]]] = [
        (
            "burst of L: 80 Light, Business+, cold connections",
            lambda n: zoom_case(n, BUSINESS_PLUS, {light: 80}, t),
        ),
        (
            "burst of L: 80 Light, Business+, warm connections",
            lambda n: zoom_case(n, BUSINESS_PLUS, {light: 80}, t, warm=80),
        ),
        ("burst of L: 30 Light, Pro, warm", lambda n: zoom_case(n, PRO, {light: 30}, t, warm=30)),
        ("800 Light, Business+", lambda n: zoom_case(n, BUSINESS_PLUS, {light: 800}, t)),
        ("200 Medium, Pro", lambda n: zoom_case(n, PRO, {medium: 200}, t)),
        ("400 Heavy, Business+", lambda n: zoom_case(n, BUSINESS_PLUS, {heavy: 400}, t)),
        ("4000 Light, Business+", lambda n: zoom_case(n, BUSINESS_PLUS, {light: 4000}, t)),
        (
            "mixed Pro: 300 L + 200 M + 100 H + 8 RI",
            lambda n: zoom_case(n, PRO, {light: 300, medium: 200, heavy: 100, ri: 8}, t),
        ),
        (
            "mixed Business+: 1600 L + 1200 M + 800 H",
            lambda n: zoom_case(n, BUSINESS_PLUS, {light: 1600, medium: 1200, heavy: 800}, t),
        ),
        (
            "neighbour 30/s: 2500 Light, Business+",
            lambda n: neighbour_case(n, BUSINESS_PLUS, 2500, 30.0, t),
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
        f"FakeZoom on 127.0.0.1 in its own process, latency 10-50 ms (jittered); "
        f"transport={transport}; load average at start {load:.1f} on {os.cpu_count()} cores"
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
        choices=["httpx", "aiohttp"],
        default="httpx",
        help="httpx's own connection pool (default) or httpx-aiohttp's AiohttpTransport",
    )
    args = parser.parse_args()
    asyncio.run(main(args.only, args.transport))

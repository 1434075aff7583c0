"""How much of Zoom's allowed rate zoom-async uses, and how many 429s it meets.

Serves ``FakeZoom`` with uvicorn on a local port, in a process of its own (Zoom's CPU is not
ours), with 10-50 ms of jittered latency split between the way there and the way back, and
limits enforced as strictly as Zoom's page allows (requests counted on arrival, in any sliding
window). Prints one line per case:

* ``rate/allowed``: achieved rate (requests ÷ elapsed) ÷ the plan's rate (L / W), summed over
  the categories of a mixed batch (with a neighbour: what the neighbour leaves);
* ``bound/elapsed``: the stricter figure, the fastest schedule any client could keep
  (``floor((n - 1) / L) * W`` seconds for ``n`` requests, all sent at once) ÷ the measured time;
* ``429s``: refusals the fake sent;
* ``max/window``: the most arrivals the fake counted in any window, against the limit.

Run: ``python benchmarks/bench_limits.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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


@dataclass
class Result:
    name: str
    requests: int
    elapsed: float
    allowed_rate: float
    bound: float
    refused: int
    max_window: str

    def line(self) -> str:
        rate = self.requests / self.elapsed
        return (
            f"| {self.name} | {self.requests} | {self.elapsed:.2f} | {rate:.1f} "
            f"| {rate / self.allowed_rate:.3f} | {self.bound / self.elapsed:.3f} "
            f"| {self.refused} | {self.max_window} |"
        )


HEADER = (
    "| case | requests | elapsed s | req/s | rate/allowed | bound/elapsed | 429s "
    "| max in any window / limit |\n|---|---|---|---|---|---|---|---|"
)


def allowed(table: RateLimitTable, categories: list[Category], neighbour: float = 0.0) -> float:
    return sum(table.limit_for("general", c).rate for c in categories) - neighbour


def bound_for(n: int, table: RateLimitTable, category: Category, neighbour: float = 0.0) -> float:
    limit = table.limit_for("general", category)
    if neighbour:
        # What the neighbour leaves: (L - neighbour rate) per second.
        return n / (limit.rate - neighbour)
    return ((n - 1) // limit.limit) * limit.window


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


async def zoom_case(
    name: str,
    table: RateLimitTable,
    batches: dict[Category, int],
    *,
    neighbour: float = 0.0,
) -> Result:
    async with RemoteFake(setup(table, neighbour)) as fake:
        uid = fake.user_ids[0]
        async with ZoomClient(
            account_id="test-account",
            client_id="test-client-id",
            client_secret="test-client-secret",
            base_url=fake.base_url,
            token_url=fake.token_url,
            plan=table,
        ) as zoom:
            await zoom.get(f"/users/{uid}")  # warm up: token and a connection
            await asyncio.sleep(1.1)  # ...and let the warm-up leave the Light window
            await fake.reset_stats()
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    run_workers(n, lambda c=category: zoom.get(PATHS[c].format(uid=uid)))
                    for category, n in batches.items()
                )
            )
            elapsed = time.perf_counter() - start
        stats = await fake.stats([c.value for c in batches])
    bound = max(bound_for(n, table, c, neighbour) for c, n in batches.items())
    windows = " ".join(
        f"{c.value}:{stats['max_in_window'][c.value]}/{table.limit_for('general', c).limit}"
        for c in batches
    )
    return Result(
        name,
        sum(batches.values()),
        elapsed,
        allowed(table, list(batches), neighbour),
        bound,
        stats["rate_limited"],
        windows,
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

        async def call() -> None:
            if use_aiolimiter:
                async with limiter:
                    await http.get(url, headers=headers)
            else:
                await http.get(url, headers=headers)

        await fake.reset_stats()
        start = time.perf_counter()
        await run_workers(n, call)
        elapsed = time.perf_counter() - start
        stats = await fake.stats([Category.LIGHT.value])
    return Result(
        name,
        n,
        elapsed,
        allowed(table, [Category.LIGHT]),
        bound_for(n, table, Category.LIGHT),
        stats["rate_limited"],
        f"Light:{stats['max_in_window']['Light']}/{limit.limit}",
    )


async def main(quick: bool, only: str | None) -> None:
    s = 0.25 if quick else 1.0

    def n(x: int) -> int:
        return max(2, int(x * s))

    light, medium, heavy = Category.LIGHT, Category.MEDIUM, Category.HEAVY
    ri = Category.RESOURCE_INTENSIVE
    cases: list[tuple[str, Callable[[str], Awaitable[Result]]]] = [
        ("zoom-async Business+ Light", lambda t: zoom_case(t, BUSINESS_PLUS, {light: n(4000)})),
        ("zoom-async Business+ Medium", lambda t: zoom_case(t, BUSINESS_PLUS, {medium: n(1200)})),
        ("zoom-async Business+ Heavy", lambda t: zoom_case(t, BUSINESS_PLUS, {heavy: n(800)})),
        (
            "zoom-async Business+ Resource-intensive",
            lambda t: zoom_case(t, BUSINESS_PLUS, {ri: 21 if quick else 41}),
        ),
        ("zoom-async Pro Light", lambda t: zoom_case(t, PRO, {light: n(600)})),
        ("zoom-async Pro Heavy", lambda t: zoom_case(t, PRO, {heavy: n(200)})),
        (
            "zoom-async Business+ mixed L+M+H at once",
            lambda t: zoom_case(t, BUSINESS_PLUS, {light: n(1600), medium: n(1200), heavy: n(800)}),
        ),
        (
            "zoom-async Business+ Light, neighbour 30/s",
            lambda t: zoom_case(t, BUSINESS_PLUS, {light: n(1000)}, neighbour=30.0),
        ),
        (
            "plain asyncio.gather over httpx, Light",
            lambda t: raw_case(t, BUSINESS_PLUS, n(800), use_aiolimiter=False),
        ),
        (
            "aiolimiter.AsyncLimiter(80, 1) alone, Light",
            lambda t: raw_case(t, BUSINESS_PLUS, n(800), use_aiolimiter=True),
        ),
    ]
    print(f"FakeZoom on 127.0.0.1 in its own process, latency 10-50 ms (jittered); scale={s}")
    print(HEADER)
    for title, run in cases:
        if only and only.lower() not in title.lower():
            continue
        result = await run(title)
        print(result.line(), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the batch sizes")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.only))

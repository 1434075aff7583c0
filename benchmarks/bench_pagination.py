"""Every meeting of every user: ``zoom.fan_out`` against a sequential loop and ``asyncio.gather``.

Lists the account's users (``GET /users``, 2000 a page) and then fetches the meetings of each
(``GET /users/{userId}/meetings``), against ``FakeZoom`` served by uvicorn on a local port in a
process of its own (see ``_remote_fake.py``), with 10-50 ms of jittered round-trip latency and
Business+ limits enforced as strictly as Zoom's page allows. Both operations are Medium
(60 requests/s on Business+), so no client can finish faster than ``requests / 60`` seconds:
that is the bound. Prints one line per strategy:

* ``ratio``: elapsed ÷ bound (1.00 is the rate limit itself);
* ``peak``: how far the client's resident memory grew (RSS sampled every 20 ms, peak minus
  start; each run is a fresh process, so runs do not inherit each other's memory);
* ``429s``: refusals the fake sent.

Strategies:

* ``sequential``: a ``for`` loop of ``await zoom.get(...)``, one request at a time;
* ``gather``: list every user, then ``asyncio.gather`` one ``zoom.get`` per user (the client's
  limiter still paces them);
* ``fan_out``: ``async for user, meetings in zoom.fan_out(zoom.paginate("/users"), ...)``.

The users have no meetings by default (``--meetings``): FakeZoom answers
``GET /users/{userId}/meetings`` by scanning every meeting of the account, about 30 ms of its
single CPU per request at 20,000 meetings, which would make the fake, not the client, the
bottleneck. The requests, their category and the limits are the same either way.

The baselines run on ``--baseline-users`` users (their ratio does not depend on the count: a
sequential loop is bound by the round trip, gather by the limit), ``fan_out`` on those and on
all ``--users``, which shows its memory staying flat.

Run: ``python benchmarks/bench_pagination.py`` (20,000 users, about 9 minutes: 6 of them are
20,000 requests at 60/s); ``--users 5000`` for a shorter run; ``--full-gather`` adds gather on all
users (6 more minutes) to compare memory at full size.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from _remote_fake import FakeSetup, RemoteFake

from zoom_async import ZoomClient, catalog
from zoom_async.plans import BUSINESS_PLUS

LATENCY = ((0.005, 0.025), (0.005, 0.025))  # each way: 10-50 ms round trips
PAGE = 2000  # the maximum page size of GET /users
MEETINGS = "/users/{userId}/meetings"


@dataclass
class Row:
    strategy: str
    users: int
    requests: int
    elapsed: float
    bound: float
    peak: int
    refused: int

    def line(self) -> str:
        return (
            f"{self.strategy:<11} {self.users:>7,} {self.requests:>9,} {self.elapsed:>8.1f}s "
            f"{self.bound:>7.1f}s {self.elapsed / self.bound:>6.3f}x "
            f"{self.peak / 2**20:>8.1f} MiB {self.refused:>6,}"
        )


HEADER = (
    f"{'strategy':<11} {'users':>7} {'requests':>9} {'elapsed':>9} {'bound':>8} {'ratio':>7} "
    f"{'peak':>12} {'429s':>6}"
)


async def list_users(zoom: ZoomClient, limit: int) -> list[dict[str, Any]]:
    """What one writes without a paginator: follow ``next_page_token`` by hand."""
    users: list[dict[str, Any]] = []
    token = None
    while len(users) < limit:
        page = await zoom.get("/users", params={"page_size": PAGE, "next_page_token": token})
        users.extend(page["users"])
        token = page.get("next_page_token")
        if not token:
            break
    return users[:limit]


def meetings_of(zoom: ZoomClient) -> Callable[[dict[str, Any]], Awaitable[Any]]:
    def fetch(user: dict[str, Any]) -> Awaitable[Any]:
        return zoom.get(MEETINGS, path_params={"userId": user["id"]}, params={"page_size": 300})

    return fetch


async def sequential(zoom: ZoomClient, limit: int) -> int:
    found = 0
    fetch = meetings_of(zoom)
    for user in await list_users(zoom, limit):
        found += len((await fetch(user))["meetings"])
    return found


async def gather(zoom: ZoomClient, limit: int) -> int:
    fetch = meetings_of(zoom)
    results = await asyncio.gather(*(fetch(u) for u in await list_users(zoom, limit)))
    return sum(len(r["meetings"]) for r in results)


async def first(n: int, items: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for item in items:
        yield item
        n -= 1
        if n == 0:
            return


async def fan_out(zoom: ZoomClient, limit: int) -> int:
    found = 0
    users = first(limit, aiter(zoom.paginate("/users", page_size=PAGE)))
    async for _user, meetings in zoom.fan_out(users, meetings_of(zoom)):
        found += len(meetings["meetings"])
    return found


STRATEGIES: dict[str, Callable[[ZoomClient, int], Awaitable[int]]] = {
    "sequential": sequential,
    "gather": gather,
    "fan_out": fan_out,
}


def _rss() -> int:
    """Resident memory of this process now, in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


async def _measure(base_url: str, token_url: str, name: str, users: int) -> tuple[Row, int]:
    zoom = ZoomClient(
        account_id="test-account",
        client_id="test-client-id",
        client_secret="test-client-secret",
        base_url=base_url,
        token_url=token_url,
        plan="business_plus",
    )
    async with zoom:
        await zoom.auth.get_token(zoom.http)  # not rate-limited: keep it out of the timing
        start_rss = peak_rss = _rss()

        async def sample() -> None:
            nonlocal peak_rss
            while True:
                await asyncio.sleep(0.02)
                peak_rss = max(peak_rss, _rss())

        sampler = asyncio.create_task(sample())
        start = time.perf_counter()
        found = await STRATEGIES[name](zoom, users)
        elapsed = time.perf_counter() - start
        sampler.cancel()
        peak_rss = max(peak_rss, _rss())
        snapshot = await zoom.limits.snapshot()
    lanes = [lane for lane in snapshot.lanes if lane.requests]
    # Each category has its own limit: the slowest category sets the bound.
    bound = max(lane.requests / lane.configured_rate for lane in lanes)
    requests = sum(lane.requests for lane in lanes)
    peak = max(0, peak_rss - start_rss)
    return Row(name, users, requests, elapsed, bound, peak, refused=0), found


def _run(base_url: str, token_url: str, name: str, users: int) -> tuple[Row, int]:
    """One strategy in a fresh process (so its memory is its own)."""
    return asyncio.run(_measure(base_url, token_url, name, users))


async def measure(fake: RemoteFake, name: str, users: int, meetings_each: int) -> Row:
    await asyncio.sleep(1.5)  # let the fake's windows empty after the previous run
    await fake.reset_stats()
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        row, found = await asyncio.get_running_loop().run_in_executor(
            pool, _run, fake.base_url, fake.token_url, name, users
        )
    assert found >= (users - 1) * meetings_each, (name, found)  # the owner has none
    row.refused = (await fake.stats())["rate_limited"]
    return row


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20_000, help="users for fan_out")
    parser.add_argument(
        "--baseline-users", type=int, default=2_000, help="users for every strategy"
    )
    parser.add_argument(
        "--meetings",
        type=int,
        default=0,
        help="meetings per user (FakeZoom scans all meetings of the account per request: "
        "at 20,000 meetings that is ~30 ms of its CPU each, and the fake becomes the bottleneck)",
    )
    parser.add_argument("--strategies", default="sequential,gather,fan_out", help="comma-separated")
    parser.add_argument(
        "--full-gather",
        action="store_true",
        help="also run gather on all --users (to compare memory at full size)",
    )
    args = parser.parse_args()
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    for op_path in ("/users", MEETINGS):
        op = catalog.resolve("GET", op_path)
        assert op is not None
        rate = BUSINESS_PLUS.limit_for(op.family, op.category).rate
        print(f"GET {op_path}: {op.category.value}, {rate:g} requests/s on Business+")
    total_users = max(args.users, args.baseline_users)
    print(
        f"FakeZoom on a local port (own process): {total_users:,} users, {args.meetings} "
        "meeting(s) each, 10-50 ms round trips, Business+ limits enforced\n"
    )
    setup = FakeSetup(
        fake_kwargs={"plan": "business_plus", "latency": LATENCY, "seed": 1},
        users=total_users - 1,  # plus the account owner
        meetings_per_user=args.meetings,
    )
    async with RemoteFake(setup) as fake:
        print(HEADER)
        runs = [(name, args.baseline_users) for name in names]
        if args.users != args.baseline_users:
            if args.full_gather:
                runs.append(("gather", args.users))
            if "fan_out" in names:
                runs.append(("fan_out", args.users))
        for name, users in runs:
            row = await measure(fake, name, users, args.meetings)
            print(row.line(), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

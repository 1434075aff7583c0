"""Every meeting of every user: ``zoom.fan_out`` against a sequential loop and ``asyncio.gather``.

Lists the account's users (``GET /users``, 2000 a page) and then fetches the meetings of each
(``GET /users/{userId}/meetings``), against ``FakeZoom`` served by uvicorn on a local port in a
process of its own (see ``_remote_fake.py``), with 10-50 ms of jittered round-trip latency and
Business+ limits enforced as strictly as Zoom's page allows. Both operations are Medium
(60 requests/s on Business+), so no client can finish faster than ``requests / 60`` seconds:
that is the bound. Prints one line per strategy:

* ``ratio``: elapsed ÷ bound (1.00 is the rate limit itself);
* ``peak``: the most memory the client allocated meanwhile (``tracemalloc``, client only);
* ``429s``: refusals the fake sent.

Strategies:

* ``sequential``: a ``for`` loop of ``await zoom.get(...)``, one request at a time;
* ``gather``: list every user, then ``asyncio.gather`` one ``zoom.get`` per user (the client's
  limiter still paces them);
* ``fan_out``: ``async for user, meetings in zoom.fan_out(zoom.paginate("/users"), ...)``.

The baselines run on ``--baseline-users`` users (their ratio does not depend on the count: a
sequential loop is bound by the round trip, gather by the limit), ``fan_out`` on those and on
all ``--users``, which shows its memory staying flat.

Run: ``python benchmarks/bench_pagination.py`` (20,000 users, about 8 minutes: 6 of them are
20,000 requests at 60/s); ``--users 5000`` for a shorter run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
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


async def measure(fake: RemoteFake, name: str, users: int, meetings_each: int) -> Row:
    await asyncio.sleep(1.5)  # let the fake's windows empty after the previous run
    await fake.reset_stats()
    zoom = ZoomClient(
        account_id="test-account",
        client_id="test-client-id",
        client_secret="test-client-secret",
        base_url=fake.base_url,
        token_url=fake.token_url,
        plan="business_plus",
    )
    async with zoom:
        await zoom.auth.get_token(zoom.http)  # not rate-limited: keep it out of the timing
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        start = time.perf_counter()
        found = await STRATEGIES[name](zoom, users)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - base
        snapshot = await zoom.limits.snapshot()
    assert found >= (users - 1) * meetings_each, (name, found)  # the owner has none
    lanes = [lane for lane in snapshot.lanes if lane.requests]
    requests = sum(lane.requests for lane in lanes)
    # Each category has its own limit: the slowest category sets the bound.
    bound = max(lane.requests / lane.configured_rate for lane in lanes)
    stats = await fake.stats()
    return Row(name, users, requests, elapsed, bound, peak, stats["rate_limited"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20_000, help="users for fan_out")
    parser.add_argument(
        "--baseline-users", type=int, default=2_000, help="users for every strategy"
    )
    parser.add_argument("--meetings", type=int, default=1, help="meetings per user")
    parser.add_argument(
        "--strategies", default="sequential,gather,fan_out", help="comma-separated"
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
    tracemalloc.start()
    async with RemoteFake(setup) as fake:
        print(HEADER)
        runs = [(name, args.baseline_users) for name in names]
        if "fan_out" in names and args.users != args.baseline_users:
            runs.append(("fan_out", args.users))
        for name, users in runs:
            row = await measure(fake, name, users, args.meetings)
            print(row.line(), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

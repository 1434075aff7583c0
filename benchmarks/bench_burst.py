"""Client CPU per request in a burst, and how long a burst of N <= L takes, per transport.

Every transport runs the same cases in this one run: ``httpx`` (the default client: httpx's
transport over httpcore's pool with its assignment fixed, ``zoom_async._pool``, over HTTP/1.1),
``aiohttp`` (``transport="aiohttp"``, httpx-aiohttp), ``httpx-h2`` (the default client over
HTTP/2, which it speaks to Zoom: the fake served by hypercorn, prior knowledge, no TLS; needs
``pip install hypercorn``, in the ``bench`` extra) and, when asked for, ``httpx-stock``
(httpcore 1.0.9's own pool with 16 connections kept alive: the default before
``zoom_async._pool``). ``FakeZoom`` runs in a process of its own with 10-50 ms of jittered
latency (as ``bench_limits.py``):

* ``800 Light, Business+``: ten waves of 80 under the strict-safe schedule. ``client CPU`` is
  this process's CPU time ÷ requests; ``server CPU`` the fake server process's (it is Python
  too and shares the machine's cores, so it is part of what a burst waits for here, though
  not against Zoom);
* ``burst of N <= L``: N requests at once, which the limiter lets go at once. The ratio is the
  time until the last answer ÷ the slowest round trip the fake applied (with 10-50 ms of
  jitter the last of N answers waits about that long whatever the client does; ÷ the mean
  round trip in brackets). Its floor on this machine is at least 1, and at least each
  process's CPU for the burst ÷ that round trip (each runs one event loop on one core:
  neither can do its part of N requests faster), shown as ``client CPU`` and ``server`` in
  the same unit. ``cold`` opens a connection per request; ``warm`` reuses the connections of
  an earlier burst.

429s and the most arrivals in any window are printed for every case: the guarantee (0 and L)
holds whatever the transport.

Run: ``python benchmarks/bench_burst.py`` (``--keepalive 16,200`` adds a row per keep-alive cap
of the default HTTP/1.1 pool, which keeps the plan's largest burst: 80 on Business+, 30 on Pro;
``--transports httpx,aiohttp,httpx-h2,httpx-stock`` selects; ``--loop uvloop`` runs the client on
uvloop's event loop).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import _remote_fake
import httpx
from _remote_fake import FakeSetup, RemoteFake

import zoom_async._client as client_module
import zoom_async._pool as pool_module
from zoom_async import BUSINESS_PLUS, PRO, Category, RateLimitTable, ZoomClient

LATENCY = ((0.005, 0.025), (0.005, 0.025))
CREDENTIALS = {
    "account_id": "test-account",
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
}


@dataclass
class Case:
    name: str
    table: RateLimitTable
    n: int
    warm: int = 0


CASES = [
    Case("800 Light, Business+", BUSINESS_PLUS, 800),
    Case("burst of 30 Light, Pro, warm", PRO, 30, warm=30),
    Case("burst of 80 Light, Business+, cold", BUSINESS_PLUS, 80),
    Case("burst of 80 Light, Business+, warm", BUSINESS_PLUS, 80, warm=80),
]


def strict_safe_bound(n: int, limit: int, window: float, rtt: float) -> float:
    return (math.ceil(n / limit) - 1) * (window + rtt) + rtt


async def run_case(case: Case, transport: str, keepalive: int | None) -> str:
    light = case.table.limit_for("general", Category.LIGHT)
    setup = FakeSetup(
        fake_kwargs={"plan": case.table, "latency": LATENCY, "seed": 1},
        http2=transport == "httpx-h2",
    )
    kwargs: dict[str, Any] = {}
    saved = (client_module._pool_limits, pool_module.PoolClient._init_transport)
    if keepalive is not None:  # measurement only: the cap is not a public setting
        client_module._pool_limits = lambda plan: httpx.Limits(
            max_connections=client_module._POOL_LIMITS.max_connections,
            max_keepalive_connections=keepalive,
        )
    if transport == "aiohttp":
        kwargs["transport"] = "aiohttp"
    elif transport == "httpx-h2":
        # The default client as it talks to Zoom: every request of a burst on one connection.
        kwargs["http_client"] = _remote_fake.http2_client(case.table)
    elif transport == "httpx-stock":
        # Before zoom_async._pool: httpcore 1.0.9's own pool, 16 connections kept alive.
        pool_module.PoolClient._init_transport = httpx.AsyncClient._init_transport  # type: ignore[method-assign]
        if keepalive is None:
            client_module._pool_limits = lambda plan: client_module._POOL_LIMITS
    try:
        async with RemoteFake(setup) as fake:
            uid = fake.user_ids[0]
            async with ZoomClient(
                **CREDENTIALS,
                base_url=fake.base_url,
                token_url=fake.token_url,
                plan=case.table,
                **kwargs,
            ) as zoom:
                # The token (and `warm` connections), then out of the window.
                await asyncio.gather(*(zoom.get(f"/users/{uid}") for _ in range(case.warm or 1)))
                await asyncio.sleep(light.window + 0.1)
                await fake.reset_stats()
                cpu = time.process_time()
                start = time.perf_counter()
                todo = iter(range(case.n))

                async def worker() -> None:
                    for _ in todo:
                        await zoom.get(f"/users/{uid}")

                await asyncio.gather(*(worker() for _ in range(min(case.n, 500))))
                elapsed = time.perf_counter() - start
                cpu = time.process_time() - cpu
            if "http_client" in kwargs:
                await kwargs["http_client"].aclose()
            stats = await fake.stats([Category.LIGHT.value])
    finally:
        client_module._pool_limits, pool_module.PoolClient._init_transport = saved
    rtt = statistics.fmean(stats["round_trips"])
    sent = max(1, stats["requests"])
    label = transport if keepalive is None else f"{transport} (keep-alive {keepalive})"
    common = (
        f"| {case.name} | {label} | {elapsed:.3f} | {rtt * 1000:.1f} "
        f"| **{cpu / sent * 1000:.2f}** | {stats['cpu'] / sent * 1000:.2f} "
        f"| {stats['rate_limited']} | {stats['max_in_window']['Light']}/{light.limit} "
    )
    if case.n <= light.limit:
        slowest = max(stats["round_trips"])
        return common + (
            f"| elapsed/slowest RTT **{elapsed / slowest:.2f}** (÷ mean {elapsed / rtt:.2f}); "
            f"client CPU/slowest RTT {cpu / slowest:.2f}, server {stats['cpu'] / slowest:.2f} |"
        )
    bound = strict_safe_bound(case.n, light.limit, light.window, rtt)
    return common + f"| bound/elapsed **{bound / elapsed:.3f}** |"


async def main(transports: list[str], keepalives: list[int], only: str | None) -> None:
    rows: list[tuple[str, int | None]] = []
    for transport in transports:
        rows.append((transport, None))
        if transport == "httpx":
            rows.extend(("httpx", k) for k in keepalives)
    print(
        f"FakeZoom on 127.0.0.1 in its own process {_remote_fake.placement()}, latency "
        "10-50 ms (jittered); load average "
        f"at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        "| case | transport | elapsed s | mean RTT ms | client CPU ms/req | server CPU ms/req "
        "| 429s | max in any window | |\n|---|---|---|---|---|---|---|---|---|"
    )
    for case in CASES:
        if only and only.lower() not in case.name.lower():
            continue
        for transport, keepalive in rows:
            print(await run_case(case, transport, keepalive), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--transports", default="httpx,aiohttp,httpx-h2", help="comma-separated")
    parser.add_argument(
        "--keepalive", default="", help="extra rows: httpx with these keep-alive caps (e.g. 80)"
    )
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the client's event loop (uvloop: pip install uvloop; the fake keeps asyncio's)",
    )
    _remote_fake.add_core_option(parser)
    args = parser.parse_args()
    _remote_fake.OWN_CORE = args.fake_core == "own"
    loop_factory = asyncio.new_event_loop
    if args.loop == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop
    print(f"client's event loop: {args.loop}")
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(
            main(
                args.transports.split(","),
                [int(k) for k in args.keepalive.split(",") if k],
                args.only,
            )
        )

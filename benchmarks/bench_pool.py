"""Instructions per request of bursts, per pool: a measure the machine's load does not change.

The client sends ``--bursts`` bursts of ``--size`` requests at once (``--gap`` seconds apart) to
FakeZoom in a process of its own (10-50 ms of jittered latency, as ``bench_burst.py``), after a
first burst that fetches the token and opens the connections. The limit is set so high that the
limiter lets every request go at once: what differs between runs is the transport.

Run each under callgrind for two values of ``--bursts`` (only this process is counted; the
fake's process is not traced) and divide the difference of the "Collected" totals by the
difference in requests::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/bench_pool.py --pool default --bursts 1 --gap 1.1
    valgrind ... --bursts 4 --gap 1.1        # (4 - 1) x 80 = 240 more requests

``--pool default`` is the default client (httpx's transport over ``zoom_async._pool``'s
fixed httpcore pool, keeping the plan's largest burst alive: 80 here), ``stock`` httpcore
1.0.9's own pool with 16 kept alive (the default before), ``aiohttp`` ``transport="aiohttp"``.
``--keepalive N`` overrides the cap of the two httpcore pools.
"""

from __future__ import annotations

import argparse
import asyncio

import httpx
from _remote_fake import FakeSetup, RemoteFake

import zoom_async._client as client_module
import zoom_async._pool as pool_module
from zoom_async import ZoomClient

CREDENTIALS = {
    "account_id": "test-account",
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
}


async def main(pool: str, bursts: int, size: int, gap: float, keepalive: int | None) -> None:
    kwargs = {"transport": "aiohttp"} if pool == "aiohttp" else {}
    if pool == "stock":
        pool_module.PoolClient._init_transport = httpx.AsyncClient._init_transport  # type: ignore[method-assign]
    # The Light limit is raised below so that nothing waits: keep Business+'s pool all the same.
    keepalive = keepalive or (16 if pool == "stock" else 80)
    if pool != "aiohttp":
        client_module._pool_limits = lambda plan: httpx.Limits(
            max_connections=200, max_keepalive_connections=keepalive
        )
    setup = FakeSetup(fake_kwargs={"latency": ((0.005, 0.025), (0.005, 0.025)), "seed": 1})
    async with RemoteFake(setup) as fake:
        uid = fake.user_ids[0]
        plan = {"base": "business_plus", "Light": 10_000_000}
        async with ZoomClient(
            **CREDENTIALS, base_url=fake.base_url, token_url=fake.token_url, plan=plan, **kwargs
        ) as zoom:
            for i in range(bursts + 1):
                if i and gap:
                    await asyncio.sleep(gap)
                await asyncio.gather(*(zoom.get(f"/users/{uid}") for _ in range(size)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pool", choices=["default", "stock", "aiohttp"], default="default")
    parser.add_argument("--bursts", type=int, default=1)
    parser.add_argument("--size", type=int, default=80)
    parser.add_argument("--gap", type=float, default=0.0)
    parser.add_argument("--keepalive", type=int)
    args = parser.parse_args()
    asyncio.run(main(args.pool, args.bursts, args.size, args.gap, args.keepalive))

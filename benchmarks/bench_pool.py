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

Under callgrind the client runs some 50 times slower, so with the fake's 10-50 ms a burst's
requests would each be answered before the next is sent: one connection carries them all, and
what grows with the connections open (the pool's planning) is not measured. ``--latency S``
gives every exchange a fixed round trip of ``S`` seconds instead, long enough for a whole burst
to be in flight at once under callgrind as it is at full speed (``--latency 8 --gap 0``; the
number of connections opened is printed)::

    valgrind ... --bursts 1 --latency 8 --gap 0 ;  valgrind ... --bursts 4 --latency 8 --gap 0

``--pool default`` is the default client (httpx's transport over ``zoom_async._pool``'s
fixed httpcore pool, keeping the plan's largest burst alive: 80 here), ``stock`` httpcore
1.0.9's own pool with 16 kept alive (the default before), ``aiohttp`` ``transport="aiohttp"``.
``default-bare`` and ``aiohttp-bare`` send the same exchanges through the same http client
without the SDK (``http.get`` with the token, ``raise_for_status()``, ``json()``): what the
HTTP stack alone costs per request, against which the SDK's own share is the difference.
``default-h2`` is the default client over HTTP/2, which it speaks to Zoom (the fake served by
hypercorn, prior knowledge, no TLS: every request of a burst on one connection).
``--keepalive N`` overrides the cap of the two httpcore pools.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import _remote_fake
import httpcore
import httpx
from _remote_fake import FakeSetup, RemoteFake

import zoom_async._client as client_module
import zoom_async._pool as pool_module
from zoom_async import ZoomClient
from zoom_async.plans import resolve_plan

CREDENTIALS = {
    "account_id": "test-account",
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
}


async def main(
    pool: str,
    bursts: int,
    size: int,
    gap: float,
    keepalive: int | None,
    latency: float | None = None,
) -> None:
    bare = pool.endswith("-bare")
    pool = pool.removesuffix("-bare")
    http2 = pool == "default-h2"
    kwargs: dict[str, Any] = {"transport": "aiohttp"} if pool == "aiohttp" else {}
    if pool == "stock":
        pool_module.PoolClient._init_transport = httpx.AsyncClient._init_transport  # type: ignore[method-assign]
    # The Light limit is raised below so that nothing waits: keep Business+'s pool all the same.
    keepalive = keepalive or (16 if pool == "stock" else 80)
    if pool != "aiohttp":
        # (with --latency, connections idle longer under callgrind: keep them as at full speed)
        client_module._pool_limits = lambda plan: httpx.Limits(
            max_connections=200,
            max_keepalive_connections=keepalive,
            keepalive_expiry=5.0 if latency is None else 600.0,
        )
    opened = [0]
    # (counted where every pool's connections are made, _FixedPool's own class included)
    make = httpcore.AsyncHTTPConnection.__init__

    def counted(self: httpcore.AsyncHTTPConnection, *args: Any, **kwargs: Any) -> None:
        opened[0] += 1
        make(self, *args, **kwargs)

    httpcore.AsyncHTTPConnection.__init__ = counted  # type: ignore[method-assign]
    split = None if latency is None else (latency / 2, latency / 2)
    delays = ((0.005, 0.025), (0.005, 0.025)) if split is None else (split, split)
    # (uvicorn closes connections idle for 5 s: under callgrind a burst takes longer to send)
    # The fake's Light limit is raised as the client's: no request is refused (the fake's
    # default plan, Pro, refused 50 of each burst of 80, which the client then retried).
    plan = {"base": "business_plus", "Light": 10_000_000}
    setup = FakeSetup(
        fake_kwargs={"latency": delays, "seed": 1, "plan": resolve_plan(plan)},
        keep_alive=None if latency is None else 600,
        http2=http2,
    )
    if http2:
        # The default client as it talks to Zoom: every request of a burst on one connection.
        kwargs["http_client"] = _remote_fake.http2_client(resolve_plan(plan))
    async with RemoteFake(setup) as fake:
        uid = fake.user_ids[0]
        async with ZoomClient(
            **CREDENTIALS, base_url=fake.base_url, token_url=fake.token_url, plan=plan, **kwargs
        ) as zoom:
            call: Callable[[], Awaitable[Any]] = lambda: zoom.get(f"/users/{uid}")  # noqa: E731
            if bare:
                # The same exchange through the same http client, without the SDK: its token,
                # headers and body read and decoded, no limiter, routing, retries or errors.
                http, url = zoom.http, f"{fake.base_url}/users/{uid}"
                token = {"Authorization": f"Bearer {await zoom.auth.get_token(http)}"}
                headers = {**token, "Accept": "application/json"}

                async def call() -> Any:
                    response = await http.get(url, headers=headers)
                    response.raise_for_status()
                    return response.json()

            for i in range(bursts + 1):
                if i and gap:
                    await asyncio.sleep(gap)
                await asyncio.gather(*(call() for _ in range(size)))
    if http2:
        await kwargs["http_client"].aclose()
    if pool != "aiohttp":
        print(f"connections opened: {opened[0]}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--pool",
        choices=["default", "default-h2", "stock", "aiohttp", "default-bare", "aiohttp-bare"],
        default="default",
    )
    parser.add_argument("--bursts", type=int, default=1)
    parser.add_argument("--size", type=int, default=80)
    parser.add_argument("--gap", type=float, default=0.0)
    parser.add_argument("--keepalive", type=int)
    parser.add_argument("--latency", type=float, help="a fixed round trip, seconds")
    args = parser.parse_args()
    asyncio.run(main(args.pool, args.bursts, args.size, args.gap, args.keepalive, args.latency))

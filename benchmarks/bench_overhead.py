"""What zoom-async costs per request on top of raw httpx.

Both send the same GET through the same in-memory ``httpx.MockTransport`` (no network, no server
work), one after another, so the difference is the client's own work: catalog lookup, limiter,
auth header, retries bookkeeping and JSON decoding. The limits are set so high that nothing
waits. Prints microseconds per request and the ratio ours ÷ raw httpx, best of several rounds.

Run: ``python benchmarks/bench_overhead.py``. Instructions per request, independent of the
machine's load: ``valgrind --tool=callgrind python benchmarks/bench_overhead.py --client ours
--rounds 1 -n N`` for two values of N (each run's "Collected" total), then the difference ÷ the
difference of N (the same with ``--client raw``).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from zoom_async import StaticToken, ZoomClient

BODY = {"id": "KdYKjnimT4KPd8FFgQt9FQ", "email": "jchill@example.com", "type": 1}


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=BODY)


async def raw(n: int) -> float:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        start = time.perf_counter()
        for _ in range(n):
            response = await http.get(
                "https://api.zoom.us/v2/users/KdYKjnimT4KPd8FFgQt9FQ",
                headers={"Authorization": "Bearer token"},
            )
            response.json()
        return (time.perf_counter() - start) / n


async def ours(n: int) -> float:
    plan = {"base": "business_plus", "Light": 10_000_000}
    async with ZoomClient(
        auth=StaticToken("token"), transport=httpx.MockTransport(handler), plan=plan
    ) as zoom:
        start = time.perf_counter()
        for _ in range(n):
            await zoom.get("/users/KdYKjnimT4KPd8FFgQt9FQ")
        return (time.perf_counter() - start) / n


async def main(n: int, rounds: int, client: str) -> None:
    if client != "both":  # one side only, e.g. under valgrind --tool=callgrind
        best = min([await (raw if client == "raw" else ours)(n) for _ in range(rounds)])
        print(f"{client}: {best * 1e6:7.1f} µs/request")
        return
    best_raw = min([await raw(n) for _ in range(rounds)])
    best_ours = min([await ours(n) for _ in range(rounds)])
    print(f"raw httpx:  {best_raw * 1e6:7.1f} µs/request")
    print(f"zoom-async: {best_ours * 1e6:7.1f} µs/request")
    print(f"overhead ratio (zoom-async ÷ raw httpx): {best_ours / best_raw:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--client",
        choices=["both", "raw", "ours"],
        default="both",
        help="run one side only: instructions per request are then (I(n2) - I(n1)) / (n2 - n1) "
        "under valgrind --tool=callgrind, whatever the machine's load",
    )
    args = parser.parse_args()
    asyncio.run(main(args.n, args.rounds, args.client))

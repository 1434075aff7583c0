"""Requests per second over time, per category: zoom-async, plain asyncio.gather, aiolimiter.

For each of Light, Medium and Heavy on Business+ limits, the same batch is sent three ways to a
FakeZoom served on a local port in a process of its own (10-50 ms jittered round trips, limits
enforced on arrival in any sliding window): through ``ZoomClient`` (its limiter paces the
requests), as a plain ``asyncio.gather`` over httpx, and through ``aiolimiter.AsyncLimiter(L,
W)`` alone. The fake records the arrival time and status of every request.

Writes ``benchmarks/results/timeline.json`` (format below); ``benchmarks/plots.py`` turns it into
PNG plots and a markdown table. ``nox -s bench`` runs both.

JSON: ``{"command", "generated_at", "latency_ms": [lo, hi], "cases": [{"name", "client",
"plan", "category", "limits": {category: {"limit", "window"}}, "summary": {"requests" (sent),
"ok" (answered 2xx), "elapsed", "rate" (ok per second), "rate_allowed" (rate ÷ the plan's
rate), "refused" (429s), "max_in_window": {category: n}}, "arrivals":
[[seconds since the first arrival, category, status], ...]}]}``.

Run: ``python benchmarks/bench_timeline.py`` (``--scale 0.5`` for smaller batches).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _remote_fake import FakeSetup, RemoteFake
from aiolimiter import AsyncLimiter

from zoom_async import BUSINESS_PLUS, Category, ZoomClient

LATENCY = ((0.005, 0.025), (0.005, 0.025))
CREDENTIALS = {
    "account_id": "test-account",
    "client_id": "test-client-id",
    "client_secret": "test-client-secret",
}
DATES = "from=2026-01-01&to=2026-01-31"
BATCHES = {
    Category.LIGHT: ("/users/{uid}", 800),
    Category.MEDIUM: ("/users/{uid}/meetings", 600),
    Category.HEAVY: ("/report/users/{uid}/meetings?" + DATES, 400),
}
CLIENTS = ("zoom-async", "gather", "aiolimiter")
OUT = Path(__file__).parent / "results" / "timeline.json"


async def run_case(category: Category, client: str, n: int) -> dict[str, Any]:
    path, _ = BATCHES[category]
    errors: list[int] = []
    limit = BUSINESS_PLUS.limit_for("general", category)
    setup = FakeSetup(fake_kwargs={"plan": BUSINESS_PLUS, "latency": LATENCY, "seed": 1})
    async with RemoteFake(setup) as fake:
        url = path.format(uid=fake.user_ids[0])
        if client == "zoom-async":
            async with ZoomClient(
                **CREDENTIALS, base_url=fake.base_url, token_url=fake.token_url, plan=BUSINESS_PLUS
            ) as zoom:
                await zoom.get(url)  # warm up: the token and a connection
                await asyncio.sleep(limit.window + 0.1)
                await fake.reset_stats()
                start = time.perf_counter()
                await asyncio.gather(*(zoom.get(url) for _ in range(n)))
                elapsed = time.perf_counter() - start
        else:
            limiter = AsyncLimiter(limit.limit, limit.window)
            async with httpx.AsyncClient(
                base_url=fake.base_url, limits=httpx.Limits(max_connections=100)
            ) as http:
                token = (
                    await http.post(
                        fake.token_url,
                        data={"grant_type": "account_credentials", "account_id": "test-account"},
                        auth=(CREDENTIALS["client_id"], CREDENTIALS["client_secret"]),
                    )
                ).json()["access_token"]
                http.headers["Authorization"] = f"Bearer {token}"

                async def one() -> None:
                    try:
                        if client == "aiolimiter":
                            async with limiter:
                                await http.get(url)
                        else:
                            await http.get(url)
                    except httpx.HTTPError:  # counted by the fake (no answer), not retried
                        errors.append(1)

                await fake.reset_stats()
                start = time.perf_counter()
                await asyncio.gather(*(one() for _ in range(n)))
                elapsed = time.perf_counter() - start
        stats = await fake.stats([category.value])
        arrivals = await fake.arrivals()
    t0 = min(a[0] for a in arrivals)
    allowed = limit.limit / limit.window
    ok = sum(1 for a in arrivals if a[2] is not None and a[2] < 400)
    return {
        "name": f"{client} {category.value}",
        "client": client,
        "plan": BUSINESS_PLUS.name,
        "category": category.value,
        "limits": {category.value: {"limit": limit.limit, "window": limit.window}},
        "summary": {
            "requests": n,
            "ok": ok,
            "elapsed": round(elapsed, 3),
            "rate": round(ok / elapsed, 2),
            "rate_allowed": round(ok / elapsed / allowed, 3),
            "refused": stats["rate_limited"],
            "errors": len(errors),
            "max_in_window": stats["max_in_window"],
        },
        "arrivals": [[round(t - t0, 4), c, s] for t, c, s in arrivals],
    }


async def main(scale: float) -> None:
    cases = []
    for category, (_, n) in BATCHES.items():
        for client in CLIENTS:
            case = await run_case(category, client, max(10, int(n * scale)))
            s = case["summary"]
            print(
                f"{case['name']:<28} {s['requests']:>5} sent {s['ok']:>5} ok "
                f"{s['elapsed']:>7.2f} s {s['rate']:>7.1f} ok/s  "
                f"÷ allowed {s['rate_allowed']:.3f}  429s {s['refused']}",
                flush=True,
            )
            cases.append(case)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "command": "python benchmarks/bench_timeline.py " + " ".join(sys.argv[1:]),
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "latency_ms": [10, 50],
                "cases": cases,
            }
        ),
        encoding="utf-8",
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="batch sizes times this")
    asyncio.run(main(parser.parse_args().scale))

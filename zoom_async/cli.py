"""The ``zoom-async`` command.

``zoom-async demo`` runs a batch job against the embedded :class:`~zoom_async.testing.FakeZoom`
served on a local port (no Zoom account needed, nothing leaves the machine) and prints what it
did: requests per rate-limit category, 429s, and time spent waiting for the limits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from . import __version__
from ._client import ZoomClient
from .errors import MeetingQuotaExceeded
from .limits import LimitEvent

__all__ = ["main"]


async def demo(users: int, meetings_per_user: int, plan: str, latency_ms: float) -> int:
    """List users, fan out to their meetings, run reports, and spend one user's meeting quota."""
    try:
        from .testing import FakeZoom
    except ImportError:  # pragma: no cover - depends on the install
        print(
            "the demo needs the testing extra: pip install 'zoom-async[testing]'", file=sys.stderr
        )
        return 2
    half = latency_ms / 2000
    fake = FakeZoom(plan=plan, latency=((half / 2, half * 1.5), (half / 2, half * 1.5)), seed=7)
    for user in fake.add_users(users):
        fake.add_meetings(user["id"], meetings_per_user)
    events: list[LimitEvent] = []
    started = time.perf_counter()
    async with fake.serve() as server:
        print(f"FakeZoom serving {server.base_url} (plan {plan}, ~{latency_ms:g} ms round trips)")
        async with ZoomClient(
            account_id=fake.account_id,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            base_url=server.base_url,
            token_url=server.token_url,
            plan=plan,
            on_event=events.append,
        ) as zoom:
            listed = 0
            meetings = 0
            async for _user, page in zoom.fan_out(
                zoom.paginate("/users", page_size=300),
                lambda u: zoom.get("/users/{userId}/meetings", path_params={"userId": u["id"]}),
                concurrency=128,
            ):
                listed += 1
                meetings += len(page.get("meetings", []))
            print(
                f"listed {listed} users and {meetings} meetings "
                "(GET /users, then /users/{id}/meetings for each)"
            )

            reports = 0
            async for _ in zoom.fan_out(
                range(min(users, 120)),
                lambda _i: zoom.get(
                    "/report/users/me/meetings", params={"from": "2026-01-01", "to": "2026-01-31"}
                ),
            ):
                reports += 1
            print(f"ran {reports} Heavy report requests (GET /report/users/me/meetings)")

            created = 0
            try:
                while True:
                    await zoom.post("/users/me/meetings", json={"topic": "demo", "type": 2})
                    created += 1
            except MeetingQuotaExceeded as exc:
                print(
                    f"created {created} meetings for 'me'; the next one was refused locally "
                    f"(not sent): {exc.user} may make more after {exc.resets_at:%Y-%m-%d %H:%M} UTC"
                )
            snapshot = await zoom.limits.snapshot()
    elapsed = time.perf_counter() - started
    print()
    print(f"{'category':<22}{'requests':>9}{'429s':>7}{'waited s':>10}{'rate now':>10}")
    for lane in snapshot.lanes:
        if lane.requests:
            print(
                f"{lane.family + ' ' + lane.category.value:<22}{lane.requests:>9}"
                f"{lane.rate_limited:>7}{lane.waited:>10.1f}{lane.current_rate:>10.1f}"
            )
    waits = [e for e in events if e.kind == "wait"]
    print(
        f"\n{fake.stats.requests} API requests in {elapsed:.1f} s, "
        f"{fake.stats.total_rate_limited} answered 429 by the server; "
        f"{len(waits)} requests waited for a slot; "
        f"daily Heavy quota left: {snapshot.daily_quota_left['general']}"
    )
    return 0 if fake.stats.total_rate_limited == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoom-async`` console script."""
    parser = argparse.ArgumentParser(prog="zoom-async", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"zoom-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="a batch job against the embedded fake Zoom")
    run.add_argument("--users", type=int, default=600, help="users to create (default 600)")
    run.add_argument("--meetings-per-user", type=int, default=2)
    run.add_argument("--plan", choices=["pro", "business_plus"], default="business_plus")
    run.add_argument("--latency-ms", type=float, default=30.0, help="mean round trip")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return asyncio.run(demo(args.users, args.meetings_per_user, args.plan, args.latency_ms))
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""``zoom-async demo``: a batch job against the embedded FakeZoom served on a local port.

No Zoom account needed, nothing leaves the machine. It lists users, fans out to their meetings,
runs Heavy reports and spends one user's meeting quota, with live progress, then reports per
rate-limit category the achieved rate against the allowed rate and the mean wait per request.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .._client import ZoomClient
from ..errors import MeetingQuotaExceeded
from ..limits import LimitsSnapshot
from ._errors import ExitCode, fail, run

__all__ = ["demo"]


class DemoPlan(StrEnum):
    PRO = "pro"
    BUSINESS_PLUS = "business_plus"


@dataclass
class Phase:
    """One step of the demo, measured between two limiter snapshots."""

    name: str
    seconds: float
    before: LimitsSnapshot
    after: LimitsSnapshot


def demo(
    users: Annotated[int, typer.Option(min=1, max=100_000, help="users in the fake account")] = 600,
    meetings_per_user: Annotated[int, typer.Option(min=0, max=300)] = 2,
    plan: Annotated[DemoPlan, typer.Option(help="the fake account's plan")] = (
        DemoPlan.BUSINESS_PLUS
    ),
    latency_ms: Annotated[
        float, typer.Option(min=0.0, max=5_000.0, help="mean round trip to the fake")
    ] = 30.0,
) -> None:
    """Run a batch job against an embedded fake Zoom on a local port (no account needed)."""
    raise typer.Exit(run(_demo(users, meetings_per_user, plan.value, latency_ms)))


async def _demo(users: int, meetings_per_user: int, plan: str, latency_ms: float) -> int:
    try:
        from ..testing import FakeZoom
    except ImportError:  # pragma: no cover - depends on the install
        fail("the demo needs the testing extra: pip install 'zoom-async[testing,cli]'")
    console = Console()
    half = latency_ms / 2000
    fake = FakeZoom(plan=plan, latency=((half / 2, half * 1.5), (half / 2, half * 1.5)), seed=7)
    for user in fake.add_users(users):
        fake.add_meetings(user["id"], meetings_per_user)
    owner = fake.owner["email"]
    phases: list[Phase] = []
    started = time.perf_counter()
    async with fake.serve() as server:
        console.print(
            f"FakeZoom serving {server.base_url} (plan {plan}, ~{latency_ms:g} ms round trips)"
        )
        async with ZoomClient(
            account_id=fake.account_id,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            base_url=server.base_url,
            token_url=server.token_url,
            plan=plan,
        ) as zoom:
            bars = Progress(
                TextColumn("{task.description:<30}"),
                # The bar takes what the other columns leave, so 80 columns show every note.
                BarColumn(bar_width=None),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                console=console,
            )
            with bars:
                listing = bars.add_task("users, then their meetings", total=None, note="")
                reports = bars.add_task("Heavy reports", total=min(users, 120), note="")
                creating = bars.add_task(f"meetings for {owner}", total=None, note="")
                ticker = asyncio.create_task(_tick(zoom, bars, listing))

                async def phase(name: str, coro: Any) -> Any:
                    before = await zoom.limits.snapshot()
                    t0 = time.perf_counter()
                    result = await coro
                    after = await zoom.limits.snapshot()
                    phases.append(Phase(name, time.perf_counter() - t0, before, after))
                    return result

                listed, meetings = await phase(
                    "users + meetings", _list_meetings(zoom, bars, listing, users + 1)
                )
                ran = await phase("reports", _reports(zoom, bars, reports, min(users, 120)))
                created, refused = await phase(
                    "create meetings", _create_meetings(zoom, bars, creating)
                )
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            snapshot = await zoom.limits.snapshot()
    elapsed = time.perf_counter() - started

    console.print(
        f"listed {listed} users and {meetings} meetings "
        "(GET /users, then /users/{id}/meetings for each)"
    )
    console.print(f"ran {ran} Heavy report requests (GET /report/users/me/meetings)")
    if refused is not None:
        who = fake.get_user(refused.user) if refused.user else None
        name = who["email"] if who else (refused.user or owner)
        console.print(
            f"created {created} meetings for {name}; the next one was refused locally "
            f"(not sent): {name} may make more after {refused.resets_at:%Y-%m-%d %H:%M} UTC"
        )
    console.print(_phase_table(phases))
    console.print(
        f"{fake.stats.requests} API requests in {elapsed:.1f} s, "
        f"{fake.stats.total_rate_limited} answered 429 by the server; "
        f"daily Heavy quota left: {snapshot.daily_quota_left['general']}"
    )
    return int(ExitCode.OK if fake.stats.total_rate_limited == 0 else ExitCode.RATE_LIMITED)


async def _tick(zoom: ZoomClient, bars: Progress, listing: Any) -> None:
    """Refresh the request rates (over the last two seconds) every half second, so something
    moves from the first second."""
    samples: list[tuple[float, dict[tuple[str, str], int]]] = []
    while True:
        snap = await zoom.limits.snapshot()
        now = time.perf_counter()
        samples.append((now, {(ln.family, ln.category.value): ln.requests for ln in snap.lanes}))
        while len(samples) > 2 and now - samples[0][0] > 2.0:
            samples.pop(0)
        then, before = samples[0]
        if now - then >= 0.4:
            rates = [
                f"{lane.category.value} "
                f"{(lane.requests - before[(lane.family, lane.category.value)]) / (now - then):.0f}"
                f"/{lane.configured_rate:g}"
                for lane in snap.lanes
                if lane.requests > before[(lane.family, lane.category.value)]
            ]
            if rates:
                bars.update(listing, note="req/s: " + ", ".join(rates))
        await asyncio.sleep(0.5)


async def _list_meetings(
    zoom: ZoomClient, bars: Progress, task: Any, total: int
) -> tuple[int, int]:
    bars.update(task, total=total)
    listed = meetings = 0
    async for _user, page in zoom.fan_out(
        zoom.paginate("/users", page_size=300),
        lambda u: zoom.get("/users/{userId}/meetings", path_params={"userId": u["id"]}),
        concurrency=128,
    ):
        listed += 1
        meetings += len(page.get("meetings", []))
        bars.update(task, completed=listed)
    return listed, meetings


async def _reports(zoom: ZoomClient, bars: Progress, task: Any, n: int) -> int:
    done = 0
    async for _ in zoom.fan_out(
        range(n),
        lambda _i: zoom.get(
            "/report/users/me/meetings", params={"from": "2026-01-01", "to": "2026-01-31"}
        ),
    ):
        done += 1
        bars.update(task, completed=done)
    return done


async def _create_meetings(
    zoom: ZoomClient, bars: Progress, task: Any
) -> tuple[int, MeetingQuotaExceeded | None]:
    created = 0
    bars.update(task, total=100)
    try:
        while True:
            await zoom.post("/users/me/meetings", json={"topic": "demo", "type": 2})
            created += 1
            bars.update(task, completed=created)
    except MeetingQuotaExceeded as exc:
        bars.update(task, note="quota spent")
        return created, exc


def _phase_table(phases: list[Phase]) -> Table:
    # No vertical rules and collapsed padding: nine columns fit an 80-column terminal without
    # folding step names mid-word.
    table = Table(
        title="per category and step",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for column in (
        "step", "category", "requests", "s", "req/s", "plan/s", "÷ most", "wait", "429s",
    ):  # fmt: skip
        table.add_column(column, justify="left" if column in ("step", "category") else "right")
    for phase in phases:
        for after in phase.after.lanes:
            before = phase.before.lane(after.category, after.family)
            requests = after.requests - before.requests
            if not requests:
                continue
            rate = requests / phase.seconds if phase.seconds > 0 else 0.0
            wait = (after.waited - before.waited) / requests
            # The most that may arrive in a span of this length: a full window at its start
            # and one more for every whole window after it. Over a short step the rate alone
            # passes the plan's (three windows' worth in a little over two seconds).
            most = (math.floor(phase.seconds / after.window) + 1) * after.limit
            table.add_row(
                phase.name,
                # Phone has limits of its own; everything else is the general family.
                after.category.value
                if after.family == "general"
                else f"{after.family} {after.category.value}",
                str(requests),
                f"{phase.seconds:.1f}",
                f"{rate:.1f}",
                f"{after.configured_rate:g}",
                f"{requests / most:.2f}",
                f"{wait * 1000:.0f} ms",
                str(after.rate_limited - before.rate_limited),
            )
    table.caption = (
        "s = the step's seconds; plan/s = the plan's rate; ÷ most = requests over the most the "
        "plan lets arrive in those seconds (a window's limit, plus one for every whole window "
        "after the first); wait = mean time a request queued for its slot. Meetings are "
        "created one at a time (one user's quota, mutations of one resource are serialized), so "
        "Light is not the limit."
    )
    return table

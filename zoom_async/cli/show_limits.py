"""``zoom-async limits``: the plan's table as the client applies it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ..plans import Category
from ._output import print_json
from ._settings import Settings

__all__ = ["limits"]


def _window(seconds: float) -> str:
    return "second" if seconds == 1 else "minute" if seconds == 60 else f"{seconds:g} s"


def limits(
    ctx: typer.Context,
    plan: Annotated[
        str | None, typer.Option(help="show this plan instead of the one in force")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Show the rate limits and quotas the client applies (after --budget-share)."""
    settings: Settings = ctx.obj
    if plan is not None:
        settings.plan = plan
    table = settings.table()
    rows = []
    for family in ("general", "phone"):
        for category in Category:
            if family == "phone" and category not in table.phone:
                continue
            limit = table.limit_for(family, category)
            rows.append(
                {
                    "family": family,
                    "category": category.value,
                    "limit": limit.limit,
                    "window_seconds": limit.window,
                    "requests_per_second": round(limit.rate, 3),
                    "daily_quota": table.daily_quota_for(family)
                    if category.uses_daily_quota
                    else None,
                }
            )
    if as_json:
        print_json(
            {
                "plan": table.name,
                "budget_share": settings.budget_share,
                "limits": rows,
                "meeting_quota_per_user": table.meeting_quota_per_user,
            }
        )
        return
    shown = Table(title=f"plan {table.name}, budget share {settings.budget_share:g}")
    for column in ("family", "category", "limit", "per", "req/s", "daily quota (shared)"):
        shown.add_column(column, justify="left" if column in ("family", "category") else "right")
    for row in rows:
        quota = row["daily_quota"]
        shown.add_row(
            str(row["family"]),
            str(row["category"]),
            str(row["limit"]),
            _window(float(row["window_seconds"])),  # type: ignore[arg-type]
            f"{row['requests_per_second']:g}",
            "-" if quota is None else f"{quota:,}",
        )
    shown.caption = (
        f"meeting create/update/delete: {table.meeting_quota_per_user} per user per UTC day; "
        "Heavy and Resource-intensive share the daily quota"
    )
    from rich.console import Console

    Console().print(shown)

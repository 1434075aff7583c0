"""``zoom-async export``: users, meetings, recordings or participants to JSON Lines or CSV.

Streams to the file with bounded memory, shows progress (items, items/s, the request rate against
the plan's rate, ETA) and can be resumed: ``FILE.checkpoint.json`` records the position and the
size of the file at that point (saved every second and on Ctrl-C). Running the same command again
truncates the file to that size and continues, so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .._client import ZoomClient
from ..catalog import resolve
from ..errors import PageTokenExpired
from ..pagination import Checkpoint
from ..plans import Category
from ..progress import ProgressUpdate
from ._errors import ExitCode, fail, run
from ._output import err_console
from ._settings import Settings

__all__ = ["COLUMNS", "Kind", "export"]

CHECKPOINT_VERSION = 1
SAVE_EVERY = 1.0
"""Seconds between checkpoint saves (and on exit, Ctrl-C included)."""


class Kind(StrEnum):
    USERS = "users"
    MEETINGS = "meetings"
    RECORDINGS = "recordings"
    PARTICIPANTS = "participants"


class Format(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.USERS: (
        "id", "email", "first_name", "last_name", "display_name", "type", "status", "role_id",
        "dept", "timezone", "created_at", "last_login_time",
    ),
    Kind.MEETINGS: (
        "id", "uuid", "host_id", "host_email", "topic", "type", "start_time", "duration",
        "timezone", "created_at", "join_url",
    ),
    Kind.RECORDINGS: (
        "meeting_id", "meeting_uuid", "topic", "host_id", "host_email", "start_time", "id",
        "file_type", "file_extension", "file_size", "recording_type", "recording_start",
        "recording_end", "status", "download_url",
    ),
    Kind.PARTICIPANTS: (
        "meeting_id", "id", "user_id", "name", "user_email", "join_time", "leave_time",
        "duration", "status",
    ),
}  # fmt: skip
"""Default CSV columns per export (``--columns`` replaces them; JSON Lines keeps every field)."""

LIST_PATHS = {
    Kind.MEETINGS: "/users/{userId}/meetings",
    Kind.RECORDINGS: "/users/{userId}/recordings",
    Kind.PARTICIPANTS: "/past_meetings/{meetingId}/participants",
}


# -- output --------------------------------------------------------------------------------------


class Sink:
    """The output file: JSON Lines or CSV, appended after a resume, size known at any time."""

    def __init__(self, path: Path, fmt: Format, columns: tuple[str, ...], start: int) -> None:
        self.path, self.format, self.columns = path, fmt, columns
        if start:
            with path.open("r+b") as f:  # drop whatever was written after the checkpoint
                f.truncate(start)
        self._file: IO[str] = path.open("a" if start else "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file) if fmt is Format.CSV else None
        if self._csv is not None and not start:
            self._csv.writerow(columns)

    def write(self, record: Mapping[str, Any]) -> None:
        if self._csv is None:
            self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            self._csv.writerow([_cell(record.get(c)) for c in self.columns])

    def flush(self) -> int:
        """Flush to the OS and return the file's size: the resume point."""
        self._file.flush()
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- checkpoint ----------------------------------------------------------------------------------


class CheckpointFile:
    """``FILE.checkpoint.json``: the query, the file size, and the position reached."""

    def __init__(self, output: Path, query: dict[str, Any]) -> None:
        self.path = output.with_name(output.name + ".checkpoint.json")
        self.query = query
        self.output_bytes = 0
        self.items = 0
        self.pager: dict[str, Any] | None = None
        self.done: set[str] = set()
        self._saved_at = 0.0

    def load(self) -> bool:
        """Read a checkpoint of the same export; ``False`` if there is none."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return False
        except (OSError, ValueError) as exc:
            fail(f"cannot read {self.path} ({exc}); delete it or pass --restart")
        if not isinstance(data, dict) or data.get("version") != CHECKPOINT_VERSION:
            fail(f"{self.path} is not a checkpoint of this version; delete it or pass --restart")
        if data.get("query") != self.query:
            other = data.get("query")
            if not isinstance(other, dict):
                other = {}
            described = ", ".join(f"{k}={v}" for k, v in other.items() if v is not None)
            fail(
                f"{self.path} belongs to another export ({described}); "
                "run that command again to resume it, or pass --restart"
            )
        self.output_bytes = int(data["output_bytes"])
        self.items = int(data["items"])
        self.pager = data.get("pager")
        self.done = set(data.get("done", ()))
        return True

    def save(self, sink: Sink, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_EVERY:
            return
        self._saved_at = now
        self.output_bytes = sink.flush()
        data = {
            "version": CHECKPOINT_VERSION,
            "query": self.query,
            "output_bytes": self.output_bytes,
            "items": self.items,
            "pager": self.pager,
            "done": sorted(self.done),
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new checkpoint

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# -- progress ------------------------------------------------------------------------------------


class ExportProgress:
    """A rich progress bar on stderr: units done, items, items/s, request rate ÷ allowed, ETA."""

    def __init__(self, zoom: ZoomClient, category: Category, unit: str, items: int) -> None:
        self.zoom, self.category, self.unit = zoom, category, unit
        self.items = items
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[items]:,} items  {task.fields[item_rate]}"),
            TextColumn("[cyan]{task.fields[usage]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err_console(),
            transient=False,
        )
        self.task: TaskID = self.bar.add_task(
            unit, total=None, items=items, item_rate="", usage="waiting for the first answer"
        )
        self._samples: list[tuple[float, int, int]] = []
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ExportProgress:
        self.bar.start()
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        await self._refresh()
        self.bar.stop()

    def on_listing(self, update: ProgressUpdate) -> None:
        """The user listing's progress callback: gives the total as soon as it is known."""
        if update.total is not None:
            self.bar.update(self.task, total=update.total)

    def advance(self, units: int = 1, items: int = 0) -> None:
        self.items += items
        self.bar.update(self.task, advance=units, items=self.items)

    async def _tick(self) -> None:
        while True:
            await self._refresh()
            await asyncio.sleep(0.5)

    async def _refresh(self) -> None:
        lane = (await self.zoom.limits.snapshot()).lane(self.category)
        now = time.monotonic()
        self._samples.append((now, lane.requests, self.items))
        while len(self._samples) > 2 and now - self._samples[0][0] > 5:  # a 5 s moving window
            self._samples.pop(0)
        then, requests, items = self._samples[0]
        span = now - then
        if span < 1.0:  # a rate over less than a second says nothing
            return
        req_rate = (lane.requests - requests) / span
        allowed = lane.configured_rate
        self.bar.update(
            self.task,
            item_rate=f"{(self.items - items) / span:,.1f}/s",
            usage=f"{self.category.value} {req_rate:.1f}/{allowed:g} req/s "
            f"(÷ allowed {req_rate / allowed:.2f})",
        )


# -- sources -------------------------------------------------------------------------------------


def _user_params(status: str | None) -> dict[str, str] | None:
    return {"status": status} if status else None


async def _export_users(
    zoom: ZoomClient,
    sink: Sink,
    state: CheckpointFile,
    progress: ExportProgress,
    status: str | None,
) -> None:
    checkpoint = Checkpoint.from_dict(state.pager) if state.pager else None
    try:
        await _write_users(zoom, sink, state, progress, status, checkpoint)
    except PageTokenExpired as exc:  # an old checkpoint: continue by page number
        await _write_users(zoom, sink, state, progress, status, exc.checkpoint.by_page_number())


async def _write_users(
    zoom: ZoomClient,
    sink: Sink,
    state: CheckpointFile,
    progress: ExportProgress,
    status: str | None,
    checkpoint: Checkpoint | None,
) -> None:
    pager = zoom.paginate(
        "/users",
        params=_user_params(status),
        checkpoint=checkpoint,
        progress=progress.on_listing,
    )
    if checkpoint is not None:
        progress.bar.update(progress.task, completed=state.items)
    async with pager:
        async for user in pager:
            sink.write(user)
            state.items += 1
            state.pager = pager.checkpoint.to_dict()
            progress.advance(1)
            state.save(sink)


async def _per_unit(
    zoom: ZoomClient,
    kind: Kind,
    units: AsyncIterator[dict[str, Any]],
    key: Callable[[dict[str, Any]], str],
    fetch: Callable[[dict[str, Any]], Any],
    sink: Sink,
    state: CheckpointFile,
    progress: ExportProgress,
    concurrency: int,
) -> None:
    """Fetch every unit's list (users' meetings, meetings' participants), concurrently."""
    progress.bar.update(progress.task, completed=len(state.done))

    async def pending() -> AsyncIterator[dict[str, Any]]:
        async for unit in units:
            if key(unit) not in state.done:
                yield unit

    async with zoom.fan_out(pending(), fetch, concurrency=concurrency) as results:
        async for unit, records in results:
            for record in records:
                sink.write(record)
            state.items += len(records)
            state.done.add(key(unit))
            progress.advance(1, len(records))
            state.save(sink)


# -- the command ---------------------------------------------------------------------------------


def _default_from() -> str:
    return (date.today() - timedelta(days=30)).isoformat()


def export(
    ctx: typer.Context,
    kind: Annotated[Kind, typer.Argument(help="what to export")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the file to write")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="jsonl or csv")] = Format.JSONL,
    status: Annotated[
        str | None,
        typer.Option(help="only users with this status: active, inactive or pending"),
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", "-u", help="meetings/recordings of this user (id or email)"),
    ] = None,
    meeting: Annotated[
        list[str] | None,
        typer.Option("--meeting", "-m", help="participants of this past meeting (id or UUID)"),
    ] = None,
    meeting_type: Annotated[
        str, typer.Option("--type", help="meetings: scheduled, live, upcoming, previous_meetings")
    ] = "scheduled",
    from_: Annotated[
        str | None, typer.Option("--from", help="recordings from this date [30 days ago]")
    ] = None,
    to: Annotated[str | None, typer.Option(help="recordings up to this date [today]")] = None,
    columns: Annotated[
        str | None, typer.Option(help="CSV columns, comma-separated [a useful set per kind]")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="lists fetched at once")] = 32,
    restart: Annotated[
        bool, typer.Option(help="ignore a checkpoint and overwrite FILE instead of resuming")
    ] = False,
) -> None:
    """Export users, meetings, recordings or participants to JSON Lines or CSV, resumably."""
    settings: Settings = ctx.obj
    if kind is Kind.PARTICIPANTS and not meeting:
        fail("export participants needs --meeting ID (repeatable)")
    if meeting and kind is not Kind.PARTICIPANTS:
        fail("--meeting is for `export participants`")
    if user and kind not in (Kind.MEETINGS, Kind.RECORDINGS):
        fail("--user is for `export meetings` and `export recordings`")
    for name, value in (("--from", from_), ("--to", to)):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                fail(f"{name} takes a date like 2026-01-31, not {value!r}")
    cols = tuple(c.strip() for c in columns.split(",") if c.strip()) if columns else COLUMNS[kind]
    if not cols:
        fail("--columns is empty")
    query: dict[str, Any] = {
        "kind": kind.value,
        "format": fmt.value,
        "columns": list(cols) if fmt is Format.CSV else None,
        "status": status,
        "users": sorted(user) if user else None,
        "meetings": list(meeting) if meeting else None,
        "type": meeting_type if kind is Kind.MEETINGS else None,
        "from": (from_ or _default_from()) if kind is Kind.RECORDINGS else None,
        "to": (to or date.today().isoformat()) if kind is Kind.RECORDINGS else None,
    }
    state = CheckpointFile(output, query)
    if restart:
        state.remove()
    resuming = state.load()
    if not resuming and output.exists() and not restart:
        fail(f"{output} exists and has no checkpoint to resume from; pass --restart to overwrite")
    if resuming and not output.exists():
        fail(f"{output} is gone but {state.path} is not; pass --restart to start over")
    code = run(_export(settings, kind, output, fmt, cols, query, state, resuming, concurrency))
    raise typer.Exit(code)


async def _export(
    settings: Settings,
    kind: Kind,
    output: Path,
    fmt: Format,
    columns: tuple[str, ...],
    query: dict[str, Any],
    state: CheckpointFile,
    resuming: bool,
    concurrency: int,
) -> int:
    console = err_console()
    if resuming:
        console.print(
            f"resuming {output} at {state.items:,} {kind.value} "
            f"({state.output_bytes:,} bytes; checkpoint {state.path.name})"
        )
    sink = Sink(output, fmt, columns, state.output_bytes if resuming else 0)
    finished = False
    try:
        async with settings.client() as zoom:
            if kind is Kind.USERS:
                category, unit = _category("GET", "/users"), "users"
            else:
                category = _category("GET", LIST_PATHS[kind])
                unit = "meetings" if kind is Kind.PARTICIPANTS else "users"
            async with ExportProgress(zoom, category, unit, state.items) as progress:
                if kind is Kind.USERS:
                    await _export_users(zoom, sink, state, progress, query["status"])
                else:
                    await _export_lists(zoom, kind, query, sink, state, progress, concurrency)
        finished = True
    finally:
        if finished:
            sink.close()
            state.remove()
        else:  # error, Ctrl-C, cancellation: keep what is written, remember where we are
            state.save(sink, force=True)
            sink.close()
            console.print(
                f"stopped after {state.items:,} {kind.value}; run the same command again to "
                f"resume ({state.path.name})"
            )
    console.print(f"wrote {state.items:,} {kind.value} to {output}")
    return int(ExitCode.OK)


def _category(method: str, path: str) -> Category:
    op = resolve(method, path)
    return op.category if op is not None else Category.MEDIUM


async def _export_lists(
    zoom: ZoomClient,
    kind: Kind,
    query: dict[str, Any],
    sink: Sink,
    state: CheckpointFile,
    progress: ExportProgress,
    concurrency: int,
) -> None:
    if kind is Kind.PARTICIPANTS:

        async def meetings() -> AsyncIterator[dict[str, Any]]:
            for meeting_id in query["meetings"]:
                yield {"id": meeting_id}

        progress.bar.update(progress.task, total=len(query["meetings"]))

        async def participants(meeting: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {"meeting_id": meeting["id"], **p}
                async for p in zoom.paginate(
                    LIST_PATHS[kind], path_params={"meetingId": meeting["id"]}
                )
            ]

        await _per_unit(
            zoom, kind, meetings(), lambda m: str(m["id"]), participants, sink, state, progress,
            concurrency,
        )  # fmt: skip
        return

    async def users() -> AsyncIterator[dict[str, Any]]:
        if query["users"]:
            progress.bar.update(progress.task, total=len(query["users"]))
            for name in query["users"]:  # id or email: Zoom takes both in the path
                yield await zoom.get("/users/{userId}", path_params={"userId": name})
        else:
            async for u in zoom.paginate(
                "/users", params=_user_params(query["status"]), progress=progress.on_listing
            ):
                yield u

    if kind is Kind.MEETINGS:

        async def fetch(u: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {**m, "host_email": u.get("email")}
                async for m in zoom.paginate(
                    LIST_PATHS[kind],
                    path_params={"userId": u["id"]},
                    params={"type": query["type"]},
                )
            ]

    else:

        async def fetch(u: dict[str, Any]) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            async for m in zoom.paginate(
                LIST_PATHS[kind],
                path_params={"userId": u["id"]},
                params={"from": query["from"], "to": query["to"]},
            ):
                context = {
                    "meeting_id": m.get("id"),
                    "meeting_uuid": m.get("uuid"),
                    "topic": m.get("topic"),
                    "host_id": m.get("host_id", u["id"]),
                    "host_email": u.get("email"),
                    "start_time": m.get("start_time"),
                }
                rows.extend({**context, **f} for f in m.get("recording_files") or ())
            return rows

    await _per_unit(
        zoom, kind, users(), lambda u: str(u["id"]), fetch, sink, state, progress, concurrency
    )

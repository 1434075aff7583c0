"""Progress reporting for long listings, fan-outs and downloads.

Every long-running helper (:meth:`ZoomClient.paginate <zoom_async.ZoomClient.paginate>`,
:meth:`~zoom_async.ZoomClient.fan_out`, :meth:`~zoom_async.ZoomClient.download`) takes
``progress=``: any callable that accepts a :class:`ProgressUpdate`. It is called from the event
loop, so it must not block::

    def show(update: ProgressUpdate) -> None:
        print(f"{update.description}: {update.completed}/{update.total or '?'} {update.unit}")

    async for user in zoom.paginate("/users", progress=show):
        ...

For command-line tools, :class:`RichProgress` draws one `rich <https://rich.readthedocs.io>`_
progress bar per operation (``pip install 'zoom-async[rich]'``)::

    with RichProgress() as bars:
        async for user, meetings in zoom.fan_out(
            zoom.paginate("/users", progress=bars),
            lambda u: zoom.get(f"/users/{u['id']}/meetings"),
            progress=bars,
        ):
            ...
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from .errors import ConfigurationError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["ProgressCallback", "ProgressUpdate", "RichProgress", "new_task_id"]

ProgressUnit = Literal["items", "pages", "bytes"]

_task_ids = itertools.count(1)


def new_task_id() -> int:
    """A process-unique id for one operation's :attr:`ProgressUpdate.task`."""
    return next(_task_ids)


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    """Where one operation stands.

    Attributes:
        task: an id unique to the operation (one listing, one fan-out, one download), so an
            adapter can keep one bar per operation.
        description: what the operation is, e.g. ``"GET /users"`` or a file name.
        completed: how many ``unit`` are done (items handed to the caller, results yielded,
            bytes on disk).
        total: how many there will be, when known (``total_records``, ``len(items)``,
            ``Content-Length``).
        unit: ``"items"``, ``"pages"`` or ``"bytes"``.
        failed: items that failed (fan-out only).
        finished: this is the operation's last update.
    """

    task: int
    description: str
    completed: int
    total: int | None
    unit: ProgressUnit = "items"
    failed: int = 0
    finished: bool = False


ProgressCallback = Callable[[ProgressUpdate], object]
"""What ``progress=`` accepts: called with each :class:`ProgressUpdate`; must not block."""


class RichProgress:
    """Draw :class:`ProgressUpdate` values as `rich` progress bars, one per operation.

    Use it as a context manager (it starts and stops the live display) and pass it as
    ``progress=``. ``rich`` is an optional dependency: ``pip install 'zoom-async[rich]'``.

    Args:
        progress: an existing :class:`rich.progress.Progress` to add bars to (then this adapter
            neither starts nor stops it); by default one is created with suitable columns.
        console: the :class:`rich.console.Console` for the default progress display.
        remove_finished: drop an operation's bar when it finishes (useful for thousands of
            downloads in a fan-out).
        transient: clear the whole display when the context exits.

    Example::

        with RichProgress(remove_finished=True) as bars:
            await zoom.download(url, "meeting.mp4", progress=bars)
    """

    def __init__(
        self,
        progress: Progress | None = None,
        *,
        console: Console | None = None,
        remove_finished: bool = False,
        transient: bool = False,
    ) -> None:
        try:
            from rich import progress as rich_progress
        except ImportError:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "RichProgress needs the 'rich' package: pip install 'zoom-async[rich]'"
            ) from None
        self._owns = progress is None
        if progress is None:
            progress = rich_progress.Progress(
                rich_progress.TextColumn("[progress.description]{task.description}"),
                rich_progress.BarColumn(),
                _count_column(),
                rich_progress.TimeElapsedColumn(),
                rich_progress.TimeRemainingColumn(),
                console=console,
                transient=transient,
            )
        self.progress: Progress = progress
        """The underlying :class:`rich.progress.Progress`."""
        self.remove_finished = remove_finished
        self._bars: dict[int, TaskID] = {}

    def __enter__(self) -> Self:
        if self._owns:
            self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._owns:
            self.progress.stop()

    def __call__(self, update: ProgressUpdate) -> None:
        """Create or advance the bar of ``update.task``."""
        bar = self._bars.get(update.task)
        if bar is None:
            if update.finished and self.remove_finished:
                return
            bar = self._bars[update.task] = self.progress.add_task(
                update.description,
                total=update.total,
                completed=update.completed,
                unit=update.unit,
                failed=update.failed,
            )
        else:
            self.progress.update(
                bar,
                total=update.total,
                completed=update.completed,
                unit=update.unit,
                failed=update.failed,
            )
        if update.finished:
            if update.total is None:
                self.progress.update(bar, total=update.completed)
            if self.remove_finished:
                self.progress.remove_task(bar)
                del self._bars[update.task]


def _count_column() -> Any:
    """A rich column showing ``done/total unit`` (bytes as sizes), plus failures."""
    from rich.filesize import decimal
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class CountColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit", "items")
            failed = task.fields.get("failed", 0)
            done = int(task.completed)
            if unit == "bytes":
                text = decimal(done)
                if task.total is not None:
                    text += f"/{decimal(int(task.total))}"
            else:
                total = "?" if task.total is None else f"{int(task.total):,}"
                text = f"{done:,}/{total} {unit}"
            if failed:
                text += f" ({failed:,} failed)"
            return Text(text, style="progress.download")

    return CountColumn()

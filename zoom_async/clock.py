"""Time sources for the limiters, the token cache and the fake server.

Everything in zoom-async that waits or counts windows asks a :class:`Clock`, so tests can run
minute and day windows in milliseconds: under the ``looptime`` pytest plugin the event loop's time
is virtual and :class:`SystemClock` follows it; give ``start=`` to pin the wall-clock date too.

Example::

    clock = SystemClock(start=datetime(2026, 1, 1, 23, 59, 50, tzinfo=UTC))
    client = ZoomClient(..., clock=clock)
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

import anyio

__all__ = ["Clock", "SystemClock", "next_utc_midnight"]


def loop_time(loop: asyncio.AbstractEventLoop) -> float:
    """``loop``'s time, read now: what every window, stamp and wait of zoom-async counts in.

    asyncio's own loops (and ``looptime``'s virtual one) read :func:`time.monotonic` at each
    call. uvloop's (uvicorn's loop when installed) reads libuv's clock, kept in whole
    milliseconds and read once per loop turn, so a stamp taken late in a busy turn could
    precede by the whole turn the moment it records, such as an answer read off the socket after
    the request it answers reached the server: there, :func:`time.monotonic` itself. Both count
    from the same origin; only durations are handed to the loop (``call_later``).
    """
    return loop.time() if isinstance(loop, asyncio.BaseEventLoop) else time.monotonic()


@runtime_checkable
class Clock(Protocol):
    """What zoom-async needs to know about time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (the event loop's clock)."""
        ...

    def utcnow(self) -> datetime:
        """The current wall-clock time, an aware UTC datetime (daily quotas reset at 00:00 UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` on this clock."""
        ...


class SystemClock:
    """The event loop's clock (via anyio), and the system's UTC wall clock.

    With ``start`` the wall clock begins at that instant and then advances with the loop clock,
    which makes day boundaries testable under a virtual-time loop.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("start must be timezone-aware, e.g. datetime(..., tzinfo=UTC)")
        self._start = start
        self._anchor: float | None = None

    def monotonic(self) -> float:
        """The running event loop's time, or :func:`time.monotonic` outside one."""
        try:
            # The common case, asyncio, directly: anyio.current_time() first detects the
            # running library, which costs more than the rest of a limiter decision.
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return loop_time(loop)
        try:
            return anyio.current_time()
        except Exception:  # no running async library: synchronous call site
            return time.monotonic()

    def utcnow(self) -> datetime:
        """Now in UTC (anchored to ``start`` when one was given)."""
        if self._start is None:
            return datetime.now(UTC)
        now = self.monotonic()
        if self._anchor is None:
            self._anchor = now
        return (self._start + timedelta(seconds=now - self._anchor)).astimezone(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # another async library (trio): through anyio
            await anyio.sleep(max(0.0, seconds))
        else:
            # asyncio's directly, as in monotonic(): anyio.sleep() first detects the running
            # library (FakeZoom sleeps twice a request for its latency).
            await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"SystemClock(start={self._start!r})"


def next_utc_midnight(now: datetime) -> datetime:
    """The first 00:00 UTC strictly after ``now``: when Zoom's daily counters reset."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)

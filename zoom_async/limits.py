"""Client-side rate limiting that never exceeds Zoom's limits and leaves none unused.

Zoom counts an account's requests per category (Light, Medium, Heavy, Resource-intensive; Zoom
Phone has its own table) in windows of one second (a minute for Resource-intensive), shares a
daily quota between Heavy and Resource-intensive requests, and lets each user make 100 meeting
create/update/delete requests per UTC day. :class:`RateLimiter` holds all of those.

How the window is kept
----------------------
Zoom does not document its window algorithm, so the limiter is right under the strictest
reading: requests are counted on *arrival*, and no window of ``W`` seconds, wherever it starts,
may hold more than ``L`` of them. The client cannot see arrival times, but it can bound them: a
request arrives after the limiter granted it and before its response came back. So each request
occupies the interval ``[granted, completed]``, and a new request may be granted at ``s`` only if
fewer than ``L`` requests are in flight or completed after ``s - W``. That is exactly the
condition under which no placement of arrivals inside those intervals can put ``L + 1`` of them
in one window, so it is safe whatever the network does, and it costs only one round trip per
window of throughput: ``L / (W + RTT)``.

Token buckets (``aiolimiter.AsyncLimiter``) count the moment they *grant*; a request that then
waits for a pooled connection, or travels slower than the next one, lands in a later window with
others and Zoom answers 429. A full bucket also admits a burst of ``L`` and then refills, which
puts nearly ``2L`` arrivals in one second.

Waiting is FIFO per category in two queues (``"interactive"`` ahead of ``"batch"``); freed slots
are handed out at once, with no pacing; a cancelled waiter gives back its place; each waiter
costs one small object. When a 429 arrives anyway (other apps share the account's budget) the
lane learns the others' share from it and keeps to the rest (:class:`LearnedShare`).

Shared state
------------
Windows, counters and adaptive rates live behind :class:`LimiterStore`, a small async interface.
:class:`InMemoryStore` is the default and never suspends; a store backed by Redis can hold the
same state for many processes.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
from collections import deque
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, cast, runtime_checkable

import anyio
import httpx

from ._decoding import excerpt, loads
from ._gc_freeze import DEFAULT_GC_FREEZE_ABOVE, FREEZER
from ._inputs import optional_count
from .clock import Clock, SystemClock, loop_time, next_utc_midnight
from .errors import (
    ConcurrentRequestsError,
    ConfigurationError,
    DailyLimitExceeded,
    MeetingQuotaExceeded,
    RateLimitError,
)
from .plans import Category, CategoryLimit, Family, RateLimitTable
from .retries import parse_retry_after

__all__ = [
    "DEFAULT_GC_FREEZE_ABOVE",
    "InMemoryStore",
    "LaneStats",
    "LearnedShare",
    "Lesson",
    "LimitEvent",
    "LimiterStore",
    "LimitsSnapshot",
    "Permit",
    "Priority",
    "RateLimiter",
    "classify_rate_limit",
]


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


DAILY_RESET_MARGIN = timedelta(seconds=5)
"""How long after 00:00 UTC a daily-limit wait may end: clocks of Zoom and this host differ."""


@runtime_checkable
class LimiterStore(Protocol):
    """Where the limiter keeps state that other processes of the same app may share.

    Times passed in are the limiter clock's ``monotonic()`` (windows) or aware UTC datetimes
    (daily counters). A store with a clock of its own may use it instead of ``now`` and
    ``completed_at`` (:class:`~zoom_async.RedisStore` uses the Redis server's ``TIME``, so hosts
    whose clocks differ agree); what it returns are durations, never instants. Implementations
    must make each method atomic, and raise :class:`~zoom_async.LimiterUnavailable` when they
    cannot answer.
    """

    async def acquire(
        self, lane: str, limit: int, window: float, now: float, lease_id: int, lease_timeout: float
    ) -> float:
        """Take a slot in ``lane`` at ``now`` and return ``0.0``, or return how many seconds
        until one may free (``math.inf`` when only a completion can free one).

        A slot is free when fewer than ``limit`` requests are in flight or completed after
        ``now - window``. The slot taken is a *lease* named ``lease_id`` (unique among this
        limiter's leases): a shared store counts a lease still in flight after
        ``lease_timeout`` seconds as completed then, so a process that died mid-request does
        not hold its slots forever. A process-local store may ignore leases.
        """
        ...

    async def release(self, lane: str, lease_id: int, completed_at: float) -> None:
        """Lease ``lease_id`` of ``lane`` completed (its response arrived, or it failed) at
        ``completed_at``."""
        ...

    # Optional (the limiter looks for them, as ZoomClient looks for ``bind_account``):
    #
    # async def acquire_many(self, lane, limit, window, now, lease_ids, lease_timeout)
    #         -> tuple[int, float]
    #
    # takes slots for ``lease_ids`` in order, as many as are free, in one atomic step: returns
    # how many it took (the first ones) and, when it took fewer than asked, how long until the
    # next may free (as ``acquire``). A store without it is asked once per slot.
    #
    # async def learn(self, lane, lesson: Lesson) -> int | None
    # async def learned(self, lane, limit, now) -> LearnedShare | None
    #
    # keep what the limiter learns about other apps (the LearnedShare) in the store, for every
    # process that shares it: ``learn`` counts the grants of *all* its processes that can have
    # arrived in the window that counted the answered request (granted from a window and
    # ``Lesson.send_delay()`` before its grant up to its send), updates the share and returns the
    # new limit (None: unchanged); ``learned`` tells the share now, its
    # ``learned_at`` moved to the caller's clock. A store with ``learn`` applies the share in
    # ``acquire``/``acquire_many`` itself (the limiter then passes the plan's limit) and logs
    # every grant for counting. A store without them leaves learning to each process.
    #
    # def allow_reservation(self, lane) -> None
    #
    # is called once for each per-second lane without a daily quota: a store that suspends
    # (RedisStore) may grant a slot there ahead of the process's next request, which
    # ``acquire``/``acquire_many`` then hand out without a round trip. Such a slot is a lease
    # like any other, counted from its grant (never after the request it serves leaves).

    async def increment(self, key: str, limit: int, expires_at: datetime) -> bool:
        """Add one to counter ``key`` unless it has reached ``limit``; tell whether it did."""
        ...

    async def decrement(self, key: str) -> None:
        """Give back one (the request was never sent)."""
        ...

    async def raise_to(self, key: str, value: int, expires_at: datetime) -> None:
        """Set counter ``key`` to at least ``value`` (Zoom said more was used than we counted)."""
        ...

    async def count(self, key: str) -> int:
        """The current value of counter ``key`` (0 when absent or expired)."""
        ...


_COUNTER_GRACE = timedelta(days=2)
"""How long past its expiry a day's counter is kept, in case the wall clock steps back."""


@dataclass(slots=True)
class _Window:
    in_flight: int = 0
    completed: deque[float] = field(default_factory=deque)


class InMemoryStore:
    """The default :class:`LimiterStore`: one process, no suspension, O(1) per request."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._counters: dict[str, tuple[int, datetime]] = {}
        self._learning: dict[str, _Learning] = {}

    async def acquire(
        self, lane: str, limit: int, window: float, now: float, lease_id: int, lease_timeout: float
    ) -> float:
        """See :meth:`LimiterStore.acquire`. Leases never expire here: the process that holds
        them is the only one that counts them."""
        return self._take(lane, limit, window, now)

    async def acquire_many(
        self,
        lane: str,
        limit: int,
        window: float,
        now: float,
        lease_ids: Sequence[int],
        lease_timeout: float,
    ) -> tuple[int, float]:
        """Take slots for ``lease_ids`` in order, as many as are free: how many were taken,
        and (when fewer than asked) the seconds until the next may free, as :meth:`acquire`."""
        for granted in range(len(lease_ids)):
            delay = self._take(lane, limit, window, now)
            if delay != 0.0:
                return granted, delay
        return len(lease_ids), 0.0

    async def learn(self, lane: str, lesson: Lesson) -> int | None:
        """Learn from an answer what other apps use of ``lane``'s limit (see
        :class:`LearnedShare`); return the new limit, or ``None`` when it did not change."""
        learning = self._learning.get(lane)
        if learning is None:
            learning = self._learning[lane] = _Learning(lesson.window)
        return learning.learn(lesson)

    async def learned(self, lane: str, limit: int, now: float) -> LearnedShare | None:
        """What was learned about ``lane`` and still holds at ``now`` (``None``: nothing, or
        probing found the plan's ``limit`` again)."""
        learning = self._learning.get(lane)
        if learning is None:
            return None
        learning.limit_at(now, limit)
        return learning.share

    def _take(self, lane: str, limit: int, window: float, now: float) -> float:
        w = self._windows.get(lane)
        if w is None:
            w = self._windows[lane] = _Window()
        learning = self._learning.get(lane)
        if learning is None:
            learning = self._learning[lane] = _Learning(window)
        limit = learning.limit_at(now, limit)
        done = w.completed
        horizon = now - window
        # A completion at or before now - W cannot share a W-window with an arrival at or
        # after now, so it no longer counts.
        while done and done[0] <= horizon:
            done.popleft()
        used = w.in_flight + len(done)
        if used < limit:
            w.in_flight += 1
            learning.granted(now, used)
            return 0.0
        if w.in_flight >= limit:
            return math.inf
        # The (used - limit)-th oldest completion must leave the window first.
        return max(done[used - limit] + window - now, 1e-6)

    def _take_early(self, lane: str, limit: int, window: float, now: float) -> float:
        """Take, at ``now``, the slot that frees next (call it only when :meth:`_take` just
        said none is free and one frees within a lane's lead): the time it frees, before which
        its request must not be sent.

        The completions that must leave the window before it frees are dropped, and the slot
        counts as in flight from now: until it frees, the window looks as full as it is to any
        other grant (a completion *tied* with the last one dropped is kept, so at worst one
        grant fewer), and after, as :meth:`_take` would have left it at that instant.
        """
        w = self._windows[lane]
        learning = self._learning[lane]
        limit = learning.limit_at(now, limit)
        done = w.completed
        first = len(done) + w.in_flight - limit  # (the one whose leaving frees the slot)
        frees = done[first] + window
        for _ in range(first + 1):
            done.popleft()
        w.in_flight += 1
        learning.granted(frees, limit - 1)
        return frees

    async def release(self, lane: str, lease_id: int, completed_at: float) -> None:
        """See :meth:`LimiterStore.release`."""
        w = self._windows[lane]
        w.in_flight -= 1
        done = w.completed
        if done and completed_at < done[-1]:
            # Released out of the order their answers arrived in (see Permit.release): kept
            # sorted, a few places from the end.
            bisect.insort(done, completed_at)
        else:
            done.append(completed_at)

    async def increment(self, key: str, limit: int, expires_at: datetime) -> bool:
        """See :meth:`LimiterStore.increment`."""
        entry = self._counters.get(key)
        if entry is None:
            self._forget_before(expires_at)
            value = 0
        else:
            value = entry[0]
        if value >= limit:
            return False
        self._counters[key] = (value + 1, expires_at)
        return True

    def _forget_before(self, expires_at: datetime) -> None:
        # Counter keys carry their UTC day, so a new day's key never reads an old one; this
        # only frees memory. A counter is dropped only when it expired a whole day before the
        # new one starts: a wall clock that steps back (NTP, a VM resumed) into a day whose
        # quota was spent must still find that day's count.
        horizon = expires_at - _COUNTER_GRACE
        stale = [k for k, (_, exp) in self._counters.items() if exp < horizon]
        for k in stale:
            del self._counters[k]

    async def decrement(self, key: str) -> None:
        """See :meth:`LimiterStore.decrement`."""
        entry = self._counters.get(key)
        if entry is not None and entry[0] > 0:
            self._counters[key] = (entry[0] - 1, entry[1])

    async def raise_to(self, key: str, value: int, expires_at: datetime) -> None:
        """See :meth:`LimiterStore.raise_to`."""
        entry = self._counters.get(key)
        if entry is None:
            self._forget_before(expires_at)
            self._counters[key] = (value, expires_at)
        elif value > entry[0]:
            self._counters[key] = (value, entry[1])

    async def count(self, key: str) -> int:
        """See :meth:`LimiterStore.count`."""
        entry = self._counters.get(key)
        return entry[0] if entry is not None else 0

    def __repr__(self) -> str:
        return f"InMemoryStore(lanes={len(self._windows)}, counters={len(self._counters)})"


# --------------------------------------------------------------------------------------------
# Observability
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LimitEvent:
    """Passed to ``on_event``: something the limiter did or saw.

    ``kind`` is ``"wait"`` (a request waited ``seconds`` for its slot), ``"rate_limited"`` (Zoom
    answered 429; ``detail`` has the limit type), ``"slowdown"`` (the category's rate was cut to
    ``rate``), ``"daily_exhausted"`` or ``"meeting_quota"`` (``detail`` has the user).
    """

    kind: Literal["wait", "rate_limited", "slowdown", "daily_exhausted", "meeting_quota"]
    family: Family
    category: Category
    seconds: float = 0.0
    rate: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LaneStats:
    """One category's figures (see :meth:`RateLimiter.snapshot`)."""

    family: Family
    category: Category
    configured_rate: float
    """Requests per second the plan allows (a Resource-intensive limit of 20/min is 0.333)."""
    current_rate: float
    """Requests per second the limiter allows now (lower after 429s from other apps)."""
    limit: int
    window: float
    requests: int
    """Requests granted."""
    rate_limited: int
    """429s seen from Zoom."""
    waited: float
    """Seconds requests spent waiting for a slot, summed."""
    queued: int
    """Requests waiting now."""


@dataclass(frozen=True, slots=True)
class LimitsSnapshot:
    """Everything :meth:`RateLimiter.snapshot` knows."""

    lanes: tuple[LaneStats, ...]
    daily_quota_left: Mapping[str, int | None]
    """Heavy + Resource-intensive requests left today, per family (``None``: no quota)."""
    meeting_quota_used: Mapping[str, int]
    """Meeting create/update/delete requests used today, per host user."""
    resets_at: datetime
    """The next 00:00 UTC."""

    def lane(self, category: Category | str, family: Family = "general") -> LaneStats:
        """The figures of one category."""
        category = Category.parse(category) if isinstance(category, str) else category
        for lane in self.lanes:
            if lane.category is category and lane.family == family:
                return lane
        raise KeyError((family, category))


# --------------------------------------------------------------------------------------------
# The lanes
# --------------------------------------------------------------------------------------------


Priority = Literal["interactive", "batch"]
"""Which queue a request waits in: ``"interactive"`` requests (a user is waiting) take the next
free slot ahead of every queued ``"batch"`` request; each queue is FIFO."""

_PRIORITIES: tuple[Priority, ...] = ("interactive", "batch")

_Grant = tuple[float, int]
"""What a queued request receives: its grant time and its slot's lease id."""


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_cancel_future = asyncio.Future.cancel


class _Waiter(asyncio.Future[Any]):  # resolved with a _Grant; awaited, a Permit
    """A queued request: a future that the lane's pump resolves with the request's grant.

    ``await`` on it is the whole of a queued request's wait, with no coroutine of the limiter's
    (and no future iterator) on the caller's stack: it is its own iterator. It tells its lane
    when it is abandoned, in :meth:`cancel` (the caller's task cancels the future it awaits), so
    leaving the queue is O(1) and raises nothing of its own: the task's ``CancelledError``
    reaches the caller with no frame of ours in its traceback.
    """

    __slots__ = ("_early", "_lane", "_started")
    # No __init__ of its own (asyncio's runs in C): the lane sets these right after creating it.
    _lane: _Lane | None
    _started: float
    _early: bool
    """Whether its caller waits for the grant's time before it sends (the client does; see
    :data:`_EARLY_GRANT`): then it may be granted a slot that frees shortly."""

    def __await__(self) -> Generator[Any, None, Permit]:
        # Its own iterator (see __next__): awaiting it allocates nothing.
        return cast("Generator[Any, None, Permit]", self)

    def __next__(self) -> Any:
        if not self.done():
            self._asyncio_future_blocking = True
            return self  # the task waits for this future, then calls __next__ again
        granted_at, lease_id = self.result()
        lane = self._lane
        if lane is None:
            raise RuntimeError("this slot was given back: its caller was cancelled")
        self._lane = None  # taken
        raise StopIteration(lane._granted(self._started, granted_at, lease_id))

    def cancel(self, msg: Any | None = None) -> bool:
        lane = self._lane
        if lane is None:
            return _cancel_future(self, msg)
        if _cancel_future(self, msg):
            # Left the queue: counted here, its entry dropped later (see _Lane._drop_cancelled).
            self._lane = None
            lane._queued -= 1
            lane._cancelled += 1
            if lane._cancelled > lane._queued:
                lane._drop_cancelled()
            return True
        if self.exception() is None:
            # Its grant was handed over just as its task is being cancelled. The task's next
            # step, already scheduled, runs first: it throws the cancellation in (the grant goes
            # back then) unless the cancellation was withdrawn meanwhile (Task.uncancel() on
            # Python 3.13+), and then the task takes its grant.
            self.get_loop().call_soon(_give_back_unless_taken, self)
        else:
            self._lane = None
        return False

    def close(self) -> None:
        """The awaiting coroutine was closed without being cancelled (garbage collected)."""
        if not self.get_loop().is_closed():
            self.cancel()


def _give_back_unless_taken(waiter: _Waiter) -> None:
    lane = waiter._lane
    if lane is not None:
        waiter._lane = None
        lane._give_back(waiter.result()[1])


ANSWER_AT = "zoom_async.answer_at"
"""The ``get_extra_info`` key under which a connection's stream (the default transport's, see
:mod:`zoom_async._pool`) tells the event loop's time when the answer to its last request began
to arrive (``None``: not yet): what the client passes to :meth:`Permit.release` as
``answered_at`` for an answer over HTTP/1.1, which carries one request at a time. Over HTTP/2
the pool's connection puts it in each response's ``extensions`` instead: the newest bytes it had
read when it read that answer's head."""

LAST_READ_AT = "zoom_async.last_read_at"
"""The same stream's time of the last bytes it read: ``answered_at`` for an answer over an
HTTP/2 connection that did not note its own (httpcore's, behind a proxy). Its connection carries
many requests at once, so the first bytes after its last write may answer another request, and
an answer dated by them could free its slot before it arrived; bytes read last came after every
answer read so far."""

_NEVER = 1 << 62
_FREEZE_STEP = 1000
"""Waiters added past a lane's highest frozen point before it freezes again."""
_THAW_AFTER = 1.0
"""Seconds a drained queue keeps its freeze (see _Lane._thaw): long enough for calls cancelled
all at once to unwind and be dropped by their caller without a full collection walking them."""

_LEASE_IDS = itertools.count(1)
"""Lease ids, unique in the process (several limiters may share one store)."""

_EARLY_GRANT = 0.020
"""Seconds before a slot frees that the in-memory store's lane may hand it to a queued request
of the client's, granted for the instant it frees (its :attr:`Permit.granted_at`). The client
builds the request meanwhile and sends it no earlier than that instant, so the rule holds as
before. On an idle loop this changes nothing (the request waits for its instant); on a loop
busy with a wave of answers and sends, a task's turn comes some milliseconds after it is woken,
and from an early grant that wait overlaps the last milliseconds before the slot frees instead
of following them: each wave of a batch starts up to this much sooner.

Only batch work is granted early, and only while the lane serves no interactive calls (none
queued within the last two windows): an interactive call takes the next free slot ahead of
queued batch work, and a slot promised early is no longer free for it (bench_priorities.py,
interactive calls during a saturating batch: p50 293 and 326 ms, p99 914 and 895 ms with batch
calls granted early, against 248-272 ms and 854-893 ms without)."""


@dataclass(slots=True)
class LearnedShare:
    """What one lane learned about the other apps that share its limit.

    Zoom counts every app of the account against one limit, and says nothing of the others'
    traffic until one of our requests is refused. At that 429 the window that refused it was
    full; the requests of ours that can have arrived in it are known, the rest was the
    neighbours'. ``ceiling`` is what that leaves us. Above it the lane probes slowly: one more
    request per window after ``probe_interval`` seconds, then 2, 3... more per further interval
    (a neighbour that left is noticed within a minute or so), and a 429 while probing doubles
    the interval (a neighbour that stayed costs fewer and fewer refusals).

    A plain value so that a shared :class:`LimiterStore` can keep it for every process.
    """

    ceiling: int
    """Requests per window the neighbours left us at the last 429."""
    learned_at: float
    """The limiter clock's ``monotonic()`` of that 429."""
    probe_interval: float
    """Seconds between probe steps above ``ceiling``."""

    def limit_at(self, now: float, full: int) -> int:
        """The limit at ``now``: ``ceiling`` plus the probe steps taken since, at most ``full``."""
        steps = int((now - self.learned_at) / self.probe_interval)
        if steps <= 0:
            return self.ceiling
        return min(full, self.ceiling + steps * (steps + 1) // 2)


@dataclass(frozen=True, slots=True)
class Lesson:
    """An answer of Zoom's that tells something of the other apps' use of a limit: a
    per-second 429 (``used is None``) or ``X-RateLimit-Limit``/``-Remaining`` headers.

    Passed to a store's ``learn`` (see :class:`LimiterStore`).
    """

    now: float
    """The limiter clock's ``monotonic()`` when the answer came."""
    limit: int
    """The plan's limit of the lane (requests per window)."""
    window: float
    probe_interval: float
    """The limiter's first probe interval (see :class:`LearnedShare`)."""
    granted_at: float | None = None
    """When the answered request was granted, on the limiter clock (``None``: unknown)."""
    lease_id: int | None = None
    """The answered request's lease: a store with a clock of its own finds its grant by it."""
    used: int | None = None
    """``X-RateLimit-Limit`` minus ``-Remaining``: what the window held (``None``: a 429)."""
    zoom_limit: int | None = None
    """``X-RateLimit-Limit``."""
    sent_at: float | None = None
    """When the answered request left this process, on the limiter clock (``None``: unknown,
    taken to be its grant)."""

    def send_delay(self) -> float:
        """Seconds from the answered request's grant to its send: 0 when either is unknown; at
        most a window, and never past the answer."""
        if self.granted_at is None or self.sent_at is None:
            return 0.0
        late = min(self.sent_at, self.now) - self.granted_at
        return max(0.0, min(late, self.window))

    def answer_delay(self) -> float:
        """Seconds from the answered request's grant to its answer (0 when the grant is
        unknown), at most a window: it reached Zoom no later than that."""
        if self.granted_at is None:
            return 0.0
        return max(0.0, min(self.now - self.granted_at, self.window))


class _Learning:
    """One lane's lessons (see :class:`LearnedShare`), with the grants they are counted from.

    :class:`InMemoryStore` keeps one per lane; so does a lane whose store does not learn. The
    Redis store runs the same steps in Lua (``redis_store._LEARN``): change both together.
    """

    __slots__ = ("_cluster", "_cluster_cap", "_grants", "_held", "_refused", "share", "window")

    def __init__(self, window: float) -> None:
        self.window = window
        self.share: LearnedShare | None = None
        # Grant times of the last two windows, and those Zoom refused: what is counted of ours
        # when a 429 tells that the window was full.
        self._grants: deque[float] = deque()
        self._held: deque[tuple[float, int]] = deque()
        """For each instant the store granted at (last two windows): what its window held just
        before (see :meth:`_own_in_window`). Empty when the store does not tell."""
        self._refused: list[float] = []
        self._cluster: list[tuple[float, float, float]] = []
        """The refusals of the last lesson: (grant time, seconds from it to the send, to the
        answer)."""
        self._cluster_cap = 0

    def granted(self, at: float, held: int | None = None) -> None:
        """A slot was granted at ``at``; ``held``: the requests in flight or completed within
        the window just before (the store's count), when known."""
        grants = self._grants
        grants.append(at)
        horizon = at - 2 * self.window
        while grants[0] < horizon:
            grants.popleft()
        if held is not None:
            counts = self._held
            if not counts or counts[-1][0] != at:  # (the first grant of a batch tells)
                counts.append((at, held))
                while counts[0][0] < horizon:
                    counts.popleft()

    def limit_at(self, now: float, full: int) -> int:
        """The limit at ``now``: ``full``, or what other apps leave (forgotten once probing
        has found ``full`` again with no 429 for two probe intervals)."""
        share = self.share
        if share is None:
            return full
        limit = min(full, share.limit_at(now, full))
        if limit >= full and now - share.learned_at > 2 * share.probe_interval:
            self.share = None
        return limit

    def _own_in_window(
        self, granted_at: float, late: float = 0.0, upto: float | None = None
    ) -> int:
        """Our requests that Zoom did not refuse and that can have been in the window that
        counted the request granted at ``granted_at`` and sent ``late`` seconds after: up to
        its send (or, for a refusal, up to ``upto`` seconds after its grant: its answer, see
        :meth:`_refusal`).

        Requests wait to leave (for a core, for the shared store's answer on its way back, for
        a token), each its own time, so they reach Zoom in another order than they were
        granted, and the window that counted the answered request is not the one that ended at
        its grant. What bounds it is the store's own rule: a request of ours in that window
        arrived in it and was answered after it began, so when the answered request was
        granted, it was either in flight or completed less than a window before: one of those
        the store's window held then (``held``, which the store counts at each grant) -- or it
        was granted after it, up to the answered request's send, or for a refusal its answer
        (a refusal says its request arrived last, and what made it late may come after the
        send: a new connection, the HTTP pool, a core). That is a few too many (those answered
        in the window before the answered request reached Zoom, and granted after it arrived),
        which leave the limit a little high, for the next 429 to lower; too few would keep it
        low, as a refused probe goes back to it. Counted by grant times alone, the
        requests of a wave granted just over a window before a refused probe, but sent late,
        were missed: two worker processes under load learned a share of 3 where 25 were left
        (tests/test_redis_store.py).

        When the store does not tell what its window held (a store that does not learn, so
        the lane counts its own grants), ours are those granted from a window and ``late``
        before its grant up to its send or answer: the others' waits are not known, and the
        answered request's own stands in for them.
        """
        end = granted_at + (late if upto is None else max(late, upto))
        held = self._held_before(granted_at, end)
        if held is None:
            start = granted_at - self.window - late
            granted = sum(1 for t in self._grants if start < t <= end)
        else:
            at, held_then = held
            # (In flight or completed within the window then: its refused ones below too.)
            start = at - self.window
            granted = held_then + sum(1 for t in self._grants if at <= t <= end)
        refused = sum(1 for t in self._refused if start < t <= end)
        return max(0, granted - refused)

    def _held_before(self, granted_at: float, end: float) -> tuple[float, int] | None:
        """The store's grant at or right after ``granted_at`` (the caller's clock was read
        just before the store's) and what its window held just before: ``None`` when the
        store did not tell."""
        found = None
        for at, held in reversed(self._held):
            if at < granted_at:
                break
            found = (at, held)
        if found is None or found[0] > end:
            return None
        return found

    def learn(self, lesson: Lesson) -> int | None:
        if lesson.used is not None:
            return self._from_headers(lesson)
        return self._refusal(
            lesson.now,
            lesson.granted_at,
            (lesson.send_delay(), lesson.answer_delay()),
            lesson.limit,
            lesson.probe_interval,
        )

    def _refusal(
        self,
        now: float,
        granted_at: float | None,
        delays: tuple[float, float],
        full: int,
        base: float,
    ) -> int | None:
        """A per-second 429 for the request granted at ``granted_at`` and sent and answered
        ``delays`` seconds after.

        Ours are counted up to its answer, not only its send: a refusal says that its request
        arrived last, and what made it late may come after the send (a new connection, the
        HTTP pool, a core). Too many this way are the requests granted after it arrived and
        before its answer: at the first 429 of a burst none (its grants came at once, and no
        slot frees before a window); later a new lesson's limit is at least one below the
        current one, and a refused probe's at most the remembered ceiling, whatever is counted.

        A 429 for a request granted *before* the last lesson belongs to the same cluster (those
        requests were already on their way): it refines the estimate. One granted under the
        learned limit means that limit is still too high: a new lesson, one request lower at
        least, and if it came while probing, slower probing from then on.
        """
        current = self.limit_at(now, full)
        learned = self.share
        if granted_at is None:
            # Nothing to count with: one request per window less, once per window.
            if learned is not None and now - learned.learned_at < self.window:
                return None
            interval = learned.probe_interval if learned is not None else base
            self._cluster = []
            self._cluster_cap = max(1, current - 1)
            self.share = LearnedShare(self._cluster_cap, now, interval)
            return self._cluster_cap
        horizon = now - 2 * self.window
        self._refused = [t for t in self._refused if t >= horizon]
        self._refused.append(granted_at)
        late, answered = delays
        if learned is not None and granted_at <= learned.learned_at and self._cluster:
            self._cluster.append((granted_at, late, answered))
            ceiling = max(1, min(self._cluster_cap, self._cluster_estimate()))
            if ceiling == learned.ceiling:
                return None
            learned.ceiling = ceiling
            return ceiling
        interval = base
        cap = current - 1
        if learned is not None:
            interval = learned.probe_interval
            if current > learned.ceiling:
                # A probe was refused: back to the remembered ceiling, and probe more slowly.
                interval = min(2 * interval, 64 * base)
                cap = min(cap, learned.ceiling)
        self._cluster = [(granted_at, late, answered)]
        self._cluster_cap = max(1, cap)
        ceiling = max(1, min(self._cluster_cap, self._cluster_estimate()))
        self.share = LearnedShare(ceiling, now, interval)
        return ceiling

    def _cluster_estimate(self) -> int:
        # The refusal sent last saw the most of our requests ahead of it; the refusals known so
        # far are subtracted, so the estimate only falls as the rest of the cluster arrives.
        return max(self._own_in_window(*refusal) for refusal in self._cluster)

    def _from_headers(self, lesson: Lesson) -> int | None:
        """The others' share is what the window used minus what we sent in it."""
        if lesson.granted_at is None or lesson.used is None or lesson.zoom_limit is None:
            return None
        full = lesson.limit
        ours = self._own_in_window(lesson.granted_at, lesson.send_delay())
        others = max(0, lesson.used - ours) + max(0, full - min(full, lesson.zoom_limit))
        share = full - others
        if share >= self.limit_at(lesson.now, full):
            return None
        self.share = LearnedShare(max(1, share), lesson.now, lesson.probe_interval)
        return self.share.ceiling


class _Lane:
    """One (family, category) window: who waits for it, in which order, and what it learned.

    A queued request is one :class:`_Waiter` future in one of two FIFO queues (interactive
    before batch): about 200 bytes, and no coroutine of the lane's own. One *pump* per lane,
    alive while anyone waits, asks the store for slots and hands each one to the head of the line
    by resolving its future, so a wave of freed slots is handed out in one pass, with no pacing:
    a task for a store that suspends (a shared store's round trip), and for the in-memory store
    a timer's callback, which hands a slot out in the turn of the loop where it frees.
    A cancelled request's future is cancelled with it and only counted (O(1), no wakeup of the
    pump); cancelled entries are dropped when they reach the head, or all at once when they are
    the majority.
    """

    def __init__(
        self,
        family: Family,
        category: Category,
        limit: CategoryLimit,
        store: LimiterStore,
        clock: Clock,
        *,
        max_poll: float,
        probe_interval: float,
        lease_timeout: float,
        limiter: RateLimiter,
        gc_freeze_above: int | None = None,
    ) -> None:
        self.family = family
        self.category = category
        self.key = f"{family}:{category.value}"
        self.configured = limit
        self._store = store
        self._acquire_many: Callable[..., Awaitable[tuple[int, float]]] | None = getattr(
            store, "acquire_many", None
        )
        self._clock = clock
        self._loop_clock = type(clock) is SystemClock
        self._daily = category.uses_daily_quota
        self._limiter = limiter
        self._queues: tuple[deque[_Waiter], deque[_Waiter]] = (deque(), deque())
        self._queued = 0
        self._cancelled = 0
        self._pump: asyncio.Task[None] | None = None
        self._changed: asyncio.Future[None] | None = None
        """What the pump waits on between store calls."""
        self._take_now: Callable[[str, int, float, float], float] | None = (
            store._take if type(store) is InMemoryStore else None
        )
        """The store's grant as a plain call, when it answers without suspending (the
        in-memory store): then the lane's pump is not a task but its timer's callback (see
        :meth:`_hand_out_now`)."""
        self._take_early: Callable[[str, int, float, float], float] | None = (
            store._take_early if type(store) is InMemoryStore and self._loop_clock else None
        )
        """The store's early grant (see :data:`_EARLY_GRANT`), on the loop's clock only: the
        client waits for a grant's instant with the loop's timers."""
        self._timer: asyncio.TimerHandle | None = None
        """When the pump of a store that answers at once runs next (``None``: it is idle)."""
        self._interactive_at = -math.inf
        """When an interactive call last joined the queue (see :data:`_EARLY_GRANT`)."""
        self._wake_on_release = False
        """Whether a completion may free a slot sooner than the pump's timer."""
        self._max_poll = max_poll
        self._probe_interval = probe_interval
        self._lease_timeout = lease_timeout
        self._returns: set[asyncio.Task[None]] = set()
        self._gc_freeze_above = gc_freeze_above
        self._freeze_at = _NEVER if gc_freeze_above is None else gc_freeze_above
        """The queue length at which the lane next calls ``gc.freeze()`` (see _gc_freeze)."""
        self._thawing: asyncio.Task[None] | None = None
        """Gives a drained queue's freeze back in :data:`_THAW_AFTER` seconds."""
        # What was learned of other apps' use is the store's, for all its processes; a store
        # that does not learn leaves it to the lane, which then counts only its own grants.
        learn = getattr(store, "learn", None)
        learned = getattr(store, "learned", None)
        self._store_learning: tuple[Any, Any] | None = (
            (learn, learned) if learn is not None and learned is not None else None
        )
        self._learning = None if self._store_learning else _Learning(limit.window)
        allow_reservation = getattr(store, "allow_reservation", None)
        if allow_reservation is not None and not self._daily and limit.window <= 1.0:
            # A shared store may keep a slot ahead of this process's next request here (a
            # per-second lane; a daily-quota request waits for its counter's round trip anyway).
            allow_reservation(self.key)
        self.requests = 0
        self.rate_limited = 0
        self.waited = 0.0

    # -- the limit ---------------------------------------------------------------------------

    def limit_now(self, now: float) -> int:
        """The limit passed to the store at ``now``: the plan's when the store applies what
        it learned, else what other apps leave us as this lane learned it."""
        if self._learning is None:
            return self.configured.limit
        return self._learning.limit_at(now, self.configured.limit)

    async def learned(self, now: float) -> LearnedShare | None:
        """What is known of other apps' use of this lane at ``now`` (``None``: nothing)."""
        if self._store_learning is None:
            assert self._learning is not None
            self._learning.limit_at(now, self.configured.limit)
            return self._learning.share
        share: LearnedShare | None = await self._store_learning[1](
            self.key, self.configured.limit, now
        )
        return share

    async def current_limit(self, now: float) -> int:
        """Requests allowed per window at ``now``: the plan's, or what other apps leave us."""
        share = await self.learned(now)
        full = self.configured.limit
        return full if share is None else share.limit_at(now, full)

    async def _try(self, lease_id: int) -> float:
        now = self._clock.monotonic()
        return await self._store.acquire(
            self.key,
            self.limit_now(now),
            self.configured.window,
            now,
            lease_id,
            self._lease_timeout,
        )

    async def _try_many(self, lease_ids: list[int]) -> tuple[int, float]:
        """Slots for ``lease_ids``, in order: how many were granted, and the delay before the
        next may free when not all were (one store call when the store has the batch form)."""
        if self._acquire_many is not None:
            now = self._clock.monotonic()
            return await self._acquire_many(
                self.key,
                self.limit_now(now),
                self.configured.window,
                now,
                lease_ids,
                self._lease_timeout,
            )
        for granted, lease_id in enumerate(lease_ids):
            delay = await self._try(lease_id)
            if delay != 0.0:
                return granted, delay
        return len(lease_ids), 0.0

    # -- queueing ----------------------------------------------------------------------------

    async def permit(self, priority: Priority, retry: bool, early: bool = False) -> Permit:
        """Wait for a slot (see :meth:`RateLimiter.acquire`) and return its permit (``early``:
        see :attr:`_Waiter._early`)."""
        started = self._clock.monotonic()
        if not self._queued:
            lease_id = next(_LEASE_IDS)
            if await self._try(lease_id) == 0.0:
                return self._granted(started, started, lease_id)
        return await self.wait(priority, retry, started, early)

    def wait(
        self, priority: Priority, retry: bool, started: float | None, early: bool = False
    ) -> _Waiter:
        """Join the queue: ``await`` the returned future for the permit (``started``: when
        the request began waiting, ``None``: now; ``early``: see :attr:`_Waiter._early`)."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter()  # (of the running loop; a class called with keywords makes a dict)
        waiter._lane = self
        waiter._early = early
        if started is None:
            # The system clock is the loop's: its time directly, without the clock's lookup.
            started = loop_time(loop) if self._loop_clock else self._clock.monotonic()
        waiter._started = started
        if priority == "interactive":
            queue = self._queues[0]
            self._interactive_at = started
        else:
            queue = self._queues[1]
        if retry:
            queue.appendleft(waiter)
        else:
            queue.append(waiter)
        self._queued += 1
        if self._queued >= self._freeze_at:
            self._freeze()
        if self._take_now is not None:
            if self._timer is None:
                self._hand_out_now()
        elif self._pump is None:
            self._pump = loop.create_task(self._hand_out())
        return waiter

    def _granted(self, started: float, granted_at: float, lease_id: int) -> Permit:
        self.requests += 1
        if self._learning is not None:
            self._learning.granted(granted_at)
        limiter = self._limiter
        if granted_at > started:
            self.waited += granted_at - started
            limiter._emit(
                LimitEvent("wait", self.family, self.category, seconds=granted_at - started)
            )
        return Permit(limiter, self, granted_at, None, lease_id)

    def _give_back(self, lease_id: int) -> None:
        """A slot was handed over just as its caller was cancelled: it goes back."""
        task = asyncio.get_running_loop().create_task(self.release(lease_id))
        self._returns.add(task)
        task.add_done_callback(self._returns.discard)

    def _drop_cancelled(self) -> None:
        """Most queued entries are cancelled ones (counted by _Waiter.cancel): drop them."""
        if self._queued == 0:
            for queue in self._queues:
                queue.clear()
            self._cancelled = 0
            self._wake_pump()  # nobody waits: the pump ends now, not at its timer
        elif self._cancelled > self._queued:
            # Most entries are cancelled: drop them in one pass (amortised O(1) each).
            for queue in self._queues:
                live = list(itertools.filterfalse(_Waiter.done, queue))  # (no bytecode per entry)
                queue.clear()
                queue.extend(live)
            self._cancelled = 0

    def _fail_queued(self, message: str) -> None:
        """Every queued call fails with a :class:`ConfigurationError` saying ``message`` (its
        client was closed); the pump ends, and the queue's freeze is given back."""
        for queue in self._queues:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter._lane = None
                    waiter.set_exception(ConfigurationError(message))
        self._queued = self._cancelled = 0
        self._wake_pump()

    def _wake_pump(self) -> None:
        """The pump looks again now, not at its timer (if it runs)."""
        if self._changed is not None:
            _wake(self._changed)
        elif self._timer is not None:
            self._timer.cancel()
            self._hand_out_now()

    def _head(self) -> deque[_Waiter] | None:
        """The queue whose first entry is the next request to serve (dropping cancelled ones)."""
        for queue in self._queues:
            while queue:
                if not queue[0].done():
                    return queue
                queue.popleft()
                self._cancelled -= 1
        return None

    async def _hand_out(self) -> None:
        """The pump: while anyone waits, take slots from the store and hand them over."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self._head() is None:
                    return
                # As many slots as there are waiters (at most a window's worth) in one store
                # call: with a shared store a wave of freed slots costs one round trip, not one
                # per slot.
                wanted = min(self._queued, self.configured.limit)
                lease_ids = [next(_LEASE_IDS) for _ in range(wanted)]
                # The grant time handed over is the call's start, not its answer's: no later
                # than the store's grant (a shared store's clock runs in another process), so
                # that a lesson's send delay (Lesson.send_delay) includes the store's answer on
                # its way back, which Zoom's window counts like any other wait to leave.
                asked = self._clock.monotonic()
                try:
                    granted, delay = await self._try_many(lease_ids)
                except Exception as exc:
                    # The store cannot answer (a shared store's LimiterUnavailable): the request
                    # at the head fails with it, unsent; the next one tries again.
                    queue = self._head()
                    if queue is not None:
                        self._queued -= 1
                        queue.popleft().set_exception(exc)
                    continue
                if granted:
                    for i, lease_id in enumerate(lease_ids[:granted]):
                        queue = self._head()
                        if queue is None:
                            # Some left while the store answered: their slots go back.
                            for spare in lease_ids[i:granted]:
                                await self.release(spare)
                            break
                        self._queued -= 1
                        queue.popleft().set_result((asked, lease_id))
                    if granted == wanted or self._head() is None:
                        continue
                changed = self._changed = loop.create_future()
                # Only when the store said no slot frees before a completion does a completion
                # wake the pump. Otherwise the next slot frees at a known instant that no
                # completion can bring nearer (a completion frees a slot a window after it):
                # asking again at each one would hear the same answer, with a shared store at
                # the cost of a round trip each.
                self._wake_on_release = delay > self._max_poll
                timer = loop.call_later(min(delay, self._max_poll), _wake, changed)
                try:
                    await changed
                finally:
                    timer.cancel()
                    self._changed = None
        except Exception as exc:
            self._fail_waiting(exc)
        finally:
            self._pump = None
            self._drained()

    def _hand_out_now(self) -> None:
        """The pump of a store that answers without suspending (:attr:`_take_now`): run by
        its timer (or at once by :meth:`wait` and :meth:`release`), it hands every free slot to
        the head of the line and sets its timer for the next.

        As :meth:`_hand_out`, without the task: a slot that frees is handed out in the timer's
        own turn of the loop, where the task's pump took one turn more (its timer woke it, then
        it ran): on a loop busy with a wave of requests, a turn is a queue of other tasks' steps
        to wait behind, and each one lies on the lane's critical chain.
        """
        self._timer = None
        take = self._take_now
        assert take is not None
        take_early = self._take_early
        try:
            while (queue := self._head()) is not None:
                now = self._clock.monotonic()
                limit = self.limit_now(now)
                delay = take(self.key, limit, self.configured.window, now)
                if delay != 0.0:
                    early = (
                        take_early is not None
                        and queue[0]._early
                        and queue is self._queues[1]
                        and now - self._interactive_at > 2 * self.configured.window
                    )
                    # (The timer set _EARLY_GRANT before the slot frees fires no sooner, but
                    # two readings of the clock may then leave a hair more than that to wait.)
                    if early and delay < _EARLY_GRANT + 0.001:
                        assert take_early is not None
                        frees = take_early(self.key, limit, self.configured.window, now)
                        self._queued -= 1
                        queue.popleft().set_result((frees, next(_LEASE_IDS)))
                        continue
                    # As the task's pump: a completion looks again only when no slot frees
                    # before one.
                    self._wake_on_release = delay > self._max_poll
                    if early:
                        delay -= _EARLY_GRANT
                    self._timer = asyncio.get_running_loop().call_later(
                        min(delay, self._max_poll), self._hand_out_now
                    )
                    return
                self._queued -= 1
                queue.popleft().set_result((now, next(_LEASE_IDS)))
        except Exception as exc:  # (a bug)
            self._fail_waiting(exc)
        self._drained()

    def _fail_waiting(self, exc: Exception) -> None:
        """The pump failed: never leave a queue without it, whoever waits learns what went
        wrong."""
        for queue in self._queues:
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_exception(exc)
        self._queued = self._cancelled = 0

    def _drained(self) -> None:
        """Nobody waits any more (the pump ends): what the queue froze goes back."""
        if self._gc_freeze_above is not None and self._freeze_at != self._gc_freeze_above:
            self._freeze_at = self._gc_freeze_above
            self._thaw()

    # -- keeping a long queue out of full collections (see _gc_freeze) -----------------------

    def _freeze(self) -> None:
        """The queue reached its next freeze point."""
        self._freeze_at = self._queued + _FREEZE_STEP
        thawing, self._thawing = self._thawing, None
        if thawing is not None:
            thawing.cancel()  # long again before its last freeze was given back: it holds on
        if not FREEZER.freeze(self):
            # Someone else's freeze, or no collector: not asked again until the queue drains
            # (telling whose a freeze is counts every frozen object).
            self._freeze_at = _NEVER

    def _thaw(self) -> None:
        """The queue drained: give its freeze back, :data:`_THAW_AFTER` seconds later. Calls
        cancelled all at once (a timeout, Ctrl-C, a task group's failure) are still unwinding:
        their tasks, coroutines and exceptions are freed as their caller drops them, and the
        full collections run meanwhile over unfrozen objects would walk each of them (0.15-0.4 s
        more CPU to cancel 100,000, docs/benchmarks.md). At once when the pump itself was
        cancelled or closed (the loop is ending: there is no later)."""
        if not FREEZER.holds(self):
            return
        try:
            loop = asyncio.get_running_loop()
            pump = asyncio.current_task()
        except RuntimeError:  # closed by the collector, outside a running loop
            pump = None
        if pump is None or pump.cancelling() or loop.is_closed():
            FREEZER.release(self)
        else:
            self._thawing = loop.create_task(self._thaw_later())

    async def _thaw_later(self) -> None:
        try:
            await asyncio.sleep(_THAW_AFTER)
        finally:
            # (Not when a new freeze called it off; cancelled as the loop ends, it releases.)
            try:
                current = asyncio.current_task()
            except RuntimeError:  # closed by the collector after its loop
                current = self._thawing
            if self._thawing is current:
                self._thawing = None
                FREEZER.release(self)

    async def release(self, lease_id: int, answered_at: float | None = None) -> None:
        completed = self._clock.monotonic()
        if answered_at is not None and answered_at < completed and self._loop_clock:
            completed = answered_at  # (see Permit.release)
        await self._store.release(self.key, lease_id, completed)
        if self._wake_on_release or not self._queued:
            self._wake_pump()  # (with nobody left waiting, the pump ends now, not at its timer)

    # -- learning what other apps use ------------------------------------------------------

    async def _learn(self, lesson: Lesson) -> int | None:
        if self._store_learning is None:
            assert self._learning is not None
            return self._learning.learn(lesson)
        limit: int | None = await self._store_learning[0](self.key, lesson)
        return limit

    async def on_rate_limited(
        self,
        now: float,
        granted_at: float | None,
        lease_id: int | None = None,
        sent_at: float | None = None,
    ) -> int | None:
        """A per-second 429 for the request granted at ``granted_at`` (lease ``lease_id``) and
        sent at ``sent_at``: learn what the other apps of the account use and return the new
        limit (``None``: unchanged). See :class:`LearnedShare`."""
        self.rate_limited += 1
        return await self._learn(
            Lesson(
                now,
                self.configured.limit,
                self.configured.window,
                self._probe_interval,
                granted_at=granted_at,
                lease_id=lease_id,
                sent_at=sent_at,
            )
        )

    async def read_rate_headers(
        self,
        response: httpx.Response,
        granted_at: float,
        lease_id: int | None = None,
        sent_at: float | None = None,
    ) -> int | None:
        """Learn from ``X-RateLimit-Limit``/``-Remaining`` on a per-second answer, when Zoom
        sends them: the others' share is what the window used minus what we sent in it."""
        headers = response.headers
        kind = headers.get("x-ratelimit-type", "")
        if not kind.lower().startswith("qps"):
            return None
        try:
            limit = int(headers["x-ratelimit-limit"])
            remaining = int(headers["x-ratelimit-remaining"])
        except (KeyError, ValueError):
            return None
        return await self._learn(
            Lesson(
                self._clock.monotonic(),
                self.configured.limit,
                self.configured.window,
                self._probe_interval,
                granted_at=granted_at,
                lease_id=lease_id,
                used=max(0, limit - remaining),
                zoom_limit=limit,
                sent_at=sent_at,
            )
        )

    @property
    def queued(self) -> int:
        return self._queued


# --------------------------------------------------------------------------------------------
# The limiter
# --------------------------------------------------------------------------------------------


class Permit:
    """One granted request slot. Call :meth:`release` exactly once, when the request is over.

    The client does this for you; use it directly only when you send requests yourself::

        permit = await limiter.acquire("general", Category.LIGHT)
        try:
            response = await http.get(...)
        finally:
            await permit.release(response)
    """

    __slots__ = (
        "_daily_key",
        "_lane",
        "_lease_id",
        "_limiter",
        "_released",
        "granted_at",
        "sent_at",
    )

    def __init__(
        self,
        limiter: RateLimiter,
        lane: _Lane,
        granted_at: float,
        daily_key: str | None,
        lease_id: int,
    ) -> None:
        self._limiter = limiter
        self._lane = lane
        self._lease_id = lease_id
        self._daily_key = daily_key
        self._released = False
        self.granted_at = granted_at
        """When the slot was granted (a lower bound of the request's arrival at Zoom). For the
        client's own queued calls this may be a few milliseconds after the call was woken: the
        instant its slot frees, before which it does not send (see :data:`_EARLY_GRANT`)."""
        self.sent_at: float | None = None
        """When the request left, on the limiter's clock (the client sets it; if you send
        requests yourself, set it just before you send, or pass it to
        :meth:`RateLimiter.rate_limited`): what was learned from its answer is counted from
        then, not from its grant (``None``: sent when granted)."""

    @property
    def lease_id(self) -> int:
        """The slot's lease in the store (pass it to :meth:`RateLimiter.rate_limited`)."""
        return self._lease_id

    @property
    def family(self) -> Family:
        """The slot's family."""
        return self._lane.family

    @property
    def category(self) -> Category:
        """The slot's category."""
        return self._lane.category

    async def release(
        self,
        response: httpx.Response | None = None,
        *,
        sent: bool = True,
        answered_at: float | None = None,
    ) -> None:
        """The request is over. Pass its response so quota headers are read.

        ``sent=False`` means it certainly never left this process: a daily-quota unit taken for
        it is given back. ``answered_at``: when its answer began to arrive, on the limiter's
        (the event loop's) clock, if that is known and earlier than now. Zoom sent the answer
        after it took the request in, so the slot is counted from then: it frees a window
        after the answer's arrival, not after the turn of a busy event loop in which the
        caller read it. Ignored unless the limiter runs on the system clock.
        """
        if self._released:
            return
        self._released = True
        if type(self._limiter._store) is InMemoryStore:
            # It never suspends, so cancellation cannot interrupt it: skip the shield's cost.
            await self._release(response, sent, answered_at)
            return
        # Shielded: a cancelled request must still give its slot back.
        with anyio.CancelScope(shield=True):
            await self._release(response, sent, answered_at)

    async def _release(
        self, response: httpx.Response | None, sent: bool, answered_at: float | None
    ) -> None:
        await self._lane.release(self._lease_id, answered_at)
        if not sent and self._daily_key is not None:
            await self._limiter._store.decrement(self._daily_key)
        if response is not None and self._daily_key is not None:
            await self._limiter._read_daily_headers(self._lane.family, response)
        if (
            response is not None
            and self._limiter.adaptive
            and "x-ratelimit-remaining" in (response.headers)
        ):
            self._limiter._learned(
                self._lane,
                await self._lane.read_rate_headers(
                    response, self.granted_at, self._lease_id, self.sent_at
                ),
            )


EventHook = Callable[[LimitEvent], Any]


class RateLimiter:
    """Every rate limit of one Zoom account, as seen by this client.

    Args:
        table: the plan's limits (see :mod:`zoom_async.plans`).
        clock: time source; tests pass one driven by a virtual-time loop.
        store: where windows and counters live (default :class:`InMemoryStore`).
        on_daily_limit: ``"raise"`` :class:`DailyLimitExceeded` at once when the daily Heavy +
            Resource-intensive quota is spent (default), or ``"wait"`` until 00:00 UTC.
        on_event: called with a :class:`LimitEvent` on each wait and each 429.
        adaptive: learn the share of a limit that other apps of the account use, from Zoom's
            429s (and ``X-RateLimit-Limit``/``-Remaining`` when it sends them), and keep below
            it (see :class:`LearnedShare`).
        probe_interval: seconds at a learned limit before probing one request per window
            above it; doubled each time a probe draws a 429.
        lease_timeout: seconds after which a shared store (:class:`~zoom_async.RedisStore`)
            counts a slot still in flight as completed, so a process killed mid-request frees
            its slots. Set it above the longest a request can take (``ZoomClient`` derives it
            from its ``timeout``).
        gc_freeze_above: keep a long queue out of CPython's full garbage collections: when a
            lane's queue reaches this many waiting calls (default
            :data:`DEFAULT_GC_FREEZE_ABOVE`, 10,000: only a batch gets there),
            ``gc.freeze()`` (again each 1,000 more past its longest so far), and
            ``gc.unfreeze()`` when the last such queue drains. Process-wide: see
            docs/rate-limits.md for what it does to the process's other objects. Nothing is
            done when the collector is disabled or something else froze first. ``None``: the
            collector is never touched.
    """

    def __init__(
        self,
        table: RateLimitTable,
        *,
        clock: Clock | None = None,
        store: LimiterStore | None = None,
        on_daily_limit: Literal["raise", "wait"] = "raise",
        on_event: EventHook | None = None,
        adaptive: bool = True,
        probe_interval: float = 5.0,
        max_poll: float = 1.0,
        lease_timeout: float = 300.0,
        gc_freeze_above: int | None = DEFAULT_GC_FREEZE_ABOVE,
    ) -> None:
        if not lease_timeout > 0:
            raise ValueError("lease_timeout must be positive")
        self.gc_freeze_above = optional_count("gc_freeze_above", gc_freeze_above, "queued calls")
        self.table = table
        self._clock = clock or SystemClock()
        self._store: LimiterStore = store if store is not None else InMemoryStore()
        bind_clock = getattr(self._store, "bind_clock", None)
        if bind_clock is not None:
            # A shared store turns the counters' expiry instants into lifetimes on this clock.
            bind_clock(self._clock)
        self.on_daily_limit = on_daily_limit
        self.on_event = on_event
        self.adaptive = adaptive
        self._lanes: dict[tuple[Family, Category], _Lane] = {}
        self._probe_interval = probe_interval
        self._max_poll = max_poll
        self._lease_timeout = lease_timeout
        self._meeting_users: set[str] = set()

    def __repr__(self) -> str:
        return f"RateLimiter(plan={self.table.name!r}, store={self._store!r})"

    @property
    def clock(self) -> Clock:
        """The limiter's clock."""
        return self._clock

    def _lane(self, family: Family, category: Category) -> _Lane:
        lane = self._lanes.get((family, category))
        if lane is None:
            lane = self._lanes[(family, category)] = _Lane(
                family,
                category,
                self.table.limit_for(family, category),
                self._store,
                self._clock,
                max_poll=self._max_poll,
                probe_interval=self._probe_interval,
                lease_timeout=self._lease_timeout,
                limiter=self,
                gc_freeze_above=self.gc_freeze_above,
            )
        return lane

    def _fail_queued(self, message: str) -> None:
        """Fail every call still queued in any lane (its client was closed)."""
        for lane in self._lanes.values():
            lane._fail_queued(message)

    def _emit(self, event: LimitEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    # -- daily quota ---------------------------------------------------------------------

    def _daily_key(self, family: Family, now: datetime) -> str:
        return f"daily:{family}:{now.date().isoformat()}"

    async def _reserve_daily(self, family: Family, category: Category) -> str | None:
        quota = self.table.daily_quota_for(family)
        if quota is None:
            return None
        while True:
            now = self._clock.utcnow()
            key = self._daily_key(family, now)
            resets_at = next_utc_midnight(now)
            if await self._store.increment(key, quota, resets_at):
                return key
            self._emit(LimitEvent("daily_exhausted", family, category))
            if self.on_daily_limit == "wait":
                await self._clock.sleep((resets_at - now).total_seconds() + 0.001)
                continue
            raise DailyLimitExceeded(
                f"the daily quota of {quota} Heavy and Resource-intensive requests is spent "
                f"({family} APIs); it resets at {resets_at.isoformat()}. The request was not "
                "sent. Pass on_daily_limit='wait' to wait for the reset instead.",
                resets_at=resets_at,
                category=category.value,
                sent=False,
            )

    async def _read_daily_headers(self, family: Family, response: httpx.Response) -> None:
        remaining = response.headers.get("x-ratelimit-remaining")
        quota = self.table.daily_quota_for(family)
        if remaining is None or quota is None:
            return
        kind = response.headers.get("x-ratelimit-type", "")
        if kind and not kind.lower().startswith("daily"):
            return
        try:
            left = int(remaining)
        except ValueError:
            return
        now = self._clock.utcnow()
        # Zoom counts every app of the account: never believe we have more left than it says.
        await self._store.raise_to(
            self._daily_key(family, now), quota - left, next_utc_midnight(now)
        )

    async def daily_exhausted(self, family: Family, resets_at: datetime | None = None) -> None:
        """Zoom says the daily quota is spent: send no more Heavy/Resource-intensive requests
        of ``family`` until it resets."""
        quota = self.table.daily_quota_for(family)
        if quota is None:
            return
        now = self._clock.utcnow()
        await self._store.raise_to(
            self._daily_key(family, now), quota, resets_at or next_utc_midnight(now)
        )

    async def daily_quota_left(self, family: Family = "general") -> int | None:
        """Heavy + Resource-intensive requests left today (``None``: no daily quota)."""
        quota = self.table.daily_quota_for(family)
        if quota is None:
            return None
        used = await self._store.count(self._daily_key(family, self._clock.utcnow()))
        return max(0, quota - used)

    # -- meeting quota -------------------------------------------------------------------

    def _meeting_key(self, user: str, now: datetime) -> str:
        return f"meeting:{user.lower()}:{now.date().isoformat()}"

    async def reserve_meeting(self, user: str) -> None:
        """Count one meeting create/update/delete for host ``user``, or raise
        :class:`MeetingQuotaExceeded` without sending when the user's 100 are spent."""
        now = self._clock.utcnow()
        resets_at = next_utc_midnight(now)
        limit = self.table.meeting_quota_per_user
        self._meeting_users.add(user.lower())
        if await self._store.increment(self._meeting_key(user, now), limit, resets_at):
            return
        self._emit(LimitEvent("meeting_quota", "general", Category.LIGHT, detail=user))
        raise MeetingQuotaExceeded(
            f"user {user} has used the {limit} meeting create/update/delete requests Zoom allows "
            f"per UTC day; the request was not sent. The quota resets at {resets_at.isoformat()}.",
            user=user,
            resets_at=resets_at,
            category=Category.LIGHT.value,
            sent=False,
        )

    async def release_meeting(self, user: str) -> None:
        """Give back a meeting-quota unit for a request that was never sent."""
        await self._store.decrement(self._meeting_key(user, self._clock.utcnow()))

    async def meeting_exhausted(self, user: str) -> None:
        """Zoom refused ``user``'s quota first (other apps spent it): refuse locally until reset."""
        now = self._clock.utcnow()
        self._meeting_users.add(user.lower())
        await self._store.raise_to(
            self._meeting_key(user, now), self.table.meeting_quota_per_user, next_utc_midnight(now)
        )

    async def meeting_quota_used(self, user: str) -> int:
        """Meeting create/update/delete requests ``user`` has made today (as counted here)."""
        return await self._store.count(self._meeting_key(user, self._clock.utcnow()))

    # -- windows -------------------------------------------------------------------------

    def acquire(
        self,
        family: Family,
        category: Category,
        *,
        priority: Priority = "batch",
        retry: bool = False,
    ) -> Coroutine[Any, Any, Permit]:
        """Wait for a slot of ``category``: ``permit = await limiter.acquire(...)``.

        ``"interactive"`` requests take the next free slot ahead of every queued ``"batch"``
        one; each queue is FIFO, and ``retry`` puts the request at the front of its queue (a
        request Zoom refused has waited its turn already). Heavy and Resource-intensive
        requests also take one unit of the daily quota first and raise
        :class:`DailyLimitExceeded` when it is spent.
        """
        if priority not in _PRIORITIES:
            raise ConfigurationError(f"priority must be 'interactive' or 'batch', not {priority!r}")
        lane = self._lane(family, category)
        if category.uses_daily_quota:
            return self._acquire_daily(lane, priority, retry)
        # No coroutine of its own: a queued request's stack is the caller's and the lane's.
        return lane.permit(priority, retry)

    def _wait_for_slot(
        self, family: Family, category: Category, priority: Priority
    ) -> Awaitable[Permit]:
        """:meth:`acquire` for a request's first attempt, as lean as a wait can be.

        When others already wait in the lane the request joins the queue at once and awaits a
        bare :class:`_Waiter`: 100,000 queued calls hold no coroutine of the limiter's, and
        cancelling them raises through no frame of ours. The result is not a coroutine (it is
        not for ``create_task``): ``await`` it right away.
        """
        lane = self._lanes.get((family, category))
        if lane is None:
            lane = self._lane(family, category)
        if priority not in _PRIORITIES:
            return self.acquire(family, category, priority=priority)
        # The client sends no earlier than the permit's granted_at: it may be granted early.
        if lane._daily:
            return self._acquire_daily(lane, priority, False, early=True)
        if lane._queued:
            return lane.wait(priority, False, None, early=True)
        return lane.permit(priority, False, early=True)

    async def _acquire_daily(
        self, lane: _Lane, priority: Priority, retry: bool, early: bool = False
    ) -> Permit:
        daily_key = await self._reserve_daily(lane.family, lane.category)
        try:
            permit = await lane.permit(priority, retry, early)
        except BaseException:
            if daily_key is not None:
                with anyio.CancelScope(shield=True):
                    await self._store.decrement(daily_key)
            raise
        permit._daily_key = daily_key
        return permit

    async def rate_limited(
        self,
        family: Family,
        category: Category,
        detail: str = "QPS",
        *,
        granted_at: float | None = None,
        lease_id: int | None = None,
        sent_at: float | None = None,
    ) -> None:
        """Zoom answered 429 for a per-second limit: other apps use part of it. Learn how much
        from the requests of ours that can have been in the window that refused the one granted
        at ``granted_at`` with lease ``lease_id`` and sent at ``sent_at``
        (:attr:`Permit.granted_at`, :attr:`Permit.lease_id`, :attr:`Permit.sent_at`), and keep
        below what is left. With a shared store "ours" are the requests of every process on it,
        and what is learned holds for all of them."""
        lane = self._lane(family, category)
        if self.adaptive:
            now = self._clock.monotonic()
            self._learned(lane, await lane.on_rate_limited(now, granted_at, lease_id, sent_at))
        else:
            lane.rate_limited += 1
        self._emit(LimitEvent("rate_limited", family, category, detail=detail))

    async def learned(self, family: Family, category: Category | str) -> LearnedShare | None:
        """What the limiter (with a shared store: any process on it) learned of the share of
        ``category``'s limit that other apps use; ``None`` when it knows of none."""
        category = Category.parse(category) if isinstance(category, str) else category
        return await self._lane(family, category).learned(self._clock.monotonic())

    def _learned(self, lane: _Lane, limit: int | None) -> None:
        if limit is not None:
            rate = limit / lane.configured.window
            self._emit(LimitEvent("slowdown", lane.family, lane.category, rate=rate))

    def note_rate_limited(self, family: Family, category: Category, detail: str) -> None:
        """Count a 429 that is not a per-second limit (no slowdown)."""
        self._lane(family, category).rate_limited += 1
        self._emit(LimitEvent("rate_limited", family, category, detail=detail))

    # -- observability -------------------------------------------------------------------

    def _all_lanes(self) -> Iterator[_Lane]:
        for family in ("general", "phone"):
            table = self.table.general if family == "general" else self.table.phone
            for category in table:
                yield self._lane(family, category)

    async def snapshot(self) -> LimitsSnapshot:
        """Per category: configured and current rate, requests, 429s, waiting; quotas left."""
        now = self._clock.monotonic()
        lanes = tuple(
            [
                LaneStats(
                    family=lane.family,
                    category=lane.category,
                    configured_rate=lane.configured.rate,
                    current_rate=await lane.current_limit(now) / lane.configured.window,
                    limit=lane.configured.limit,
                    window=lane.configured.window,
                    requests=lane.requests,
                    rate_limited=lane.rate_limited,
                    waited=lane.waited,
                    queued=lane.queued,
                )
                for lane in self._all_lanes()
            ]
        )
        daily = {fam: await self.daily_quota_left(fam) for fam in ("general", "phone")}
        meetings = {
            user: await self.meeting_quota_used(user) for user in sorted(self._meeting_users)
        }
        return LimitsSnapshot(
            lanes=lanes,
            daily_quota_left=daily,
            meeting_quota_used=meetings,
            resets_at=next_utc_midnight(self._clock.utcnow()),
        )


# --------------------------------------------------------------------------------------------
# Reading Zoom's 429s
# --------------------------------------------------------------------------------------------


def _message(response: httpx.Response) -> str:
    try:
        data = loads(response.content)
    except ValueError:
        return excerpt(response.content)
    if isinstance(data, dict):
        message = data.get("message", "")
        return excerpt(message if isinstance(message, str) else str(message), 500)
    return ""


def _capped(retry_after: float | None, resets_at: datetime, now: datetime) -> float | None:
    if retry_after is None:
        return None
    return min(retry_after, max(0.0, (resets_at - now).total_seconds()))


def classify_rate_limit(
    response: httpx.Response,
    *,
    category: Category | None,
    meeting_user: str | None,
    now: datetime,
    method: str | None = None,
    url: str | None = None,
) -> RateLimitError:
    """Turn a 429 into the right :class:`RateLimitError` subclass.

    Zoom's ``X-RateLimit-Type`` says ``QPS`` or ``Daily-limit``, but not always: the per-user
    meeting quota has been seen with only ``X-RateLimit-Category``, no type and no
    ``Retry-After``, so the body's message decides then. Daily limits send ``Retry-After`` as an
    ISO date. ``meeting_user`` is the host when the request was a meeting create/update/delete.
    """
    headers = response.headers
    message = _message(response)
    lowered = message.lower()
    limit_type = headers.get("x-ratelimit-type")
    header_category = headers.get("x-ratelimit-category")
    category_name = header_category or (category.value if category else None)
    retry_after, instant = parse_retry_after(headers.get("retry-after"), now)
    common: dict[str, Any] = {
        "status_code": 429,
        "method": method,
        "url": url,
        "headers": dict(headers),
        "body": message,
        "category": category_name,
    }
    if "concurrent" in lowered:
        return ConcurrentRequestsError(
            message or "Too many concurrent requests", retry_after=retry_after, **common
        )
    kind = (limit_type or "").lower()
    is_daily_message = "daily" in lowered or "per day" in lowered
    # Daily quotas reset at 00:00 UTC: a Retry-After further out than that (plus a margin for
    # clocks that differ) is not believed, so "wait" never sleeps past the reset.
    latest_reset = next_utc_midnight(now) + DAILY_RESET_MARGIN
    if (
        meeting_user is not None
        and not kind.startswith("qps")
        and (not kind or "meeting" in lowered or "user" in lowered)
        and (is_daily_message or not kind)
    ):
        resets_at = min(instant or next_utc_midnight(now), latest_reset)
        return MeetingQuotaExceeded(
            message or "meeting create/update/delete quota exceeded",
            user=meeting_user,
            resets_at=resets_at,
            retry_after=_capped(retry_after, resets_at, now),
            **common,
        )
    if kind.startswith("daily") or (not kind and is_daily_message):
        resets_at = min(instant or next_utc_midnight(now), latest_reset)
        return DailyLimitExceeded(
            message or "daily rate limit reached",
            resets_at=resets_at,
            retry_after=_capped(retry_after, resets_at, now),
            **common,
        )
    return RateLimitError(
        message or "per-second rate limit reached",
        limit_type="QPS",
        retry_after=retry_after,
        resets_at=instant,
        **common,
    )

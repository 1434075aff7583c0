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

Waiting is FIFO per category; a cancelled waiter gives back its place; each waiter costs one
small object. When a 429 arrives anyway (other apps share the account's budget) the category's
limit is cut multiplicatively and then grows back linearly to the plan's limit (AIMD).

Shared state
------------
Windows, counters and adaptive rates live behind :class:`LimiterStore`, a small async interface.
:class:`InMemoryStore` is the default and never suspends; a store backed by Redis can hold the
same state for many processes.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

import anyio
import httpx

from .clock import Clock, SystemClock, next_utc_midnight
from .errors import (
    ConcurrentRequestsError,
    DailyLimitExceeded,
    MeetingQuotaExceeded,
    RateLimitError,
)
from .plans import Category, CategoryLimit, Family, RateLimitTable
from .retries import parse_retry_after

__all__ = [
    "InMemoryStore",
    "LaneStats",
    "LimitEvent",
    "LimiterStore",
    "LimitsSnapshot",
    "Permit",
    "RateLimiter",
    "classify_rate_limit",
]


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


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

    async def acquire(
        self, lane: str, limit: int, window: float, now: float, lease_id: int, lease_timeout: float
    ) -> float:
        """See :meth:`LimiterStore.acquire`. Leases never expire here: the process that holds
        them is the only one that counts them."""
        w = self._windows.get(lane)
        if w is None:
            w = self._windows[lane] = _Window()
        done = w.completed
        horizon = now - window
        # A completion at or before now - W cannot share a W-window with an arrival at or
        # after now, so it no longer counts.
        while done and done[0] <= horizon:
            done.popleft()
        used = w.in_flight + len(done)
        if used < limit:
            w.in_flight += 1
            return 0.0
        if w.in_flight >= limit:
            return math.inf
        # The (used - limit)-th oldest completion must leave the window first.
        return max(done[used - limit] + window - now, 1e-6)

    async def release(self, lane: str, lease_id: int, completed_at: float) -> None:
        """See :meth:`LimiterStore.release`."""
        w = self._windows[lane]
        w.in_flight -= 1
        done = w.completed
        if done and completed_at < done[-1]:
            # Completion times arrive in clock order in one process; keep the deque sorted
            # even if a caller passes an earlier time.
            completed_at = done[-1]
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


class _Waiter:
    __slots__ = ("turn",)

    def __init__(self) -> None:
        self.turn = anyio.Event()


class _Lane:
    """FIFO access to one (family, category) window, with AIMD on 429s."""

    def __init__(
        self,
        family: Family,
        category: Category,
        limit: CategoryLimit,
        store: LimiterStore,
        clock: Clock,
        *,
        decrease: float,
        recovery: float,
        max_poll: float,
        pace: float,
        lease_timeout: float,
    ) -> None:
        self.family = family
        self.category = category
        self.key = f"{family}:{category.value}"
        self.configured = limit
        self._store = store
        self._clock = clock
        self._waiters: deque[_Waiter] = deque()
        self._changed = anyio.Event()
        self._decrease = decrease
        self._recovery = recovery
        self._max_poll = max_poll
        self._pace = pace
        self._lease_timeout = lease_timeout
        self._lease_ids = itertools.count(1)
        self._last_grant = -math.inf
        # AIMD state: after a cut at _cut_at the limit grows back linearly from _cut_to.
        self._cut_to = float(limit.limit)
        self._cut_at = -math.inf
        self.requests = 0
        self.rate_limited = 0
        self.waited = 0.0

    def limit_now(self, now: float) -> float:
        """The adaptive limit at ``now``: the plan's, or less after a recent 429."""
        full = float(self.configured.limit)
        if self._cut_to >= full:
            return full
        grown = self._cut_to + full * self._recovery * (now - self._cut_at) / self.configured.window
        if grown >= full:
            self._cut_to = full
            return full
        return grown

    async def _try(self, lease_id: int) -> float:
        now = self._clock.monotonic()
        limit = max(1, int(self.limit_now(now)))
        return await self._store.acquire(
            self.key, limit, self.configured.window, now, lease_id, self._lease_timeout
        )

    async def acquire(self, *, priority: bool = False) -> tuple[float, float, int]:
        """Wait for a slot in FIFO order; return the grant time, the seconds waited and the
        slot's lease id."""
        started = self._clock.monotonic()
        lease_id = next(self._lease_ids)
        if not self._waiters and await self._try(lease_id) == 0.0:
            self.requests += 1
            self._last_grant = started
            return started, 0.0, lease_id
        waiter = _Waiter()
        if priority:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        try:
            while True:
                if self._waiters[0] is not waiter:
                    await waiter.turn.wait()
                    waiter.turn = anyio.Event()
                    continue
                if self._pace:
                    now = self._clock.monotonic()
                    gap = self._last_grant + self._spacing(now) - now
                    # Pacing is a smoothing aid, not a limit: a millisecond early is harmless, and
                    # clocks with a coarse tick would otherwise spin on sub-tick gaps.
                    if gap > 0.001:
                        await anyio.sleep(gap)
                        continue
                delay = await self._try(lease_id)
                if delay == 0.0:
                    self._waiters.popleft()
                    if self._waiters:
                        self._waiters[0].turn.set()
                    granted = self._clock.monotonic()
                    self._last_grant = granted
                    self.requests += 1
                    self.waited += granted - started
                    return granted, granted - started, lease_id
                changed = self._changed
                with anyio.move_on_after(min(delay, self._max_poll)):
                    await changed.wait()
                if changed.is_set():
                    self._changed = anyio.Event()
        except BaseException:
            # Cancelled (or failed) while queued: give the place back and pass the turn on.
            was_head = bool(self._waiters) and self._waiters[0] is waiter
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            if was_head and self._waiters:
                self._waiters[0].turn.set()
            raise

    def _spacing(self, now: float) -> float:
        return self.configured.window / (self.limit_now(now) * self._pace)

    async def release(self, lease_id: int) -> None:
        await self._store.release(self.key, lease_id, self._clock.monotonic())
        self._changed.set()

    def on_rate_limited(self, now: float) -> float | None:
        """Cut the limit (at most once per window, since 429s come in clusters)."""
        self.rate_limited += 1
        if now - self._cut_at < self.configured.window:
            return None
        current = self.limit_now(now)
        self._cut_to = max(1.0, current * self._decrease)
        self._cut_at = now
        return self._cut_to / self.configured.window

    @property
    def queued(self) -> int:
        return len(self._waiters)


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

    __slots__ = ("_daily_key", "_lane", "_lease_id", "_limiter", "_released", "granted_at")

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
        """When the slot was granted (a lower bound of the request's arrival at Zoom)."""

    @property
    def family(self) -> Family:
        """The slot's family."""
        return self._lane.family

    @property
    def category(self) -> Category:
        """The slot's category."""
        return self._lane.category

    async def release(self, response: httpx.Response | None = None, *, sent: bool = True) -> None:
        """The request is over. Pass its response so quota headers are read.

        ``sent=False`` means it certainly never left this process: a daily-quota unit taken for
        it is given back.
        """
        if self._released:
            return
        self._released = True
        if type(self._limiter._store) is InMemoryStore:
            # It never suspends, so cancellation cannot interrupt it: skip the shield's cost.
            await self._release(response, sent)
            return
        # Shielded: a cancelled request must still give its slot back.
        with anyio.CancelScope(shield=True):
            await self._release(response, sent)

    async def _release(self, response: httpx.Response | None, sent: bool) -> None:
        await self._lane.release(self._lease_id)
        if not sent and self._daily_key is not None:
            await self._limiter._store.decrement(self._daily_key)
        if response is not None and self._daily_key is not None:
            await self._limiter._read_daily_headers(self._lane.family, response)


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
        adaptive: cut a category's rate when Zoom answers 429 anyway, then recover.
        decrease: factor applied to the rate on a 429 (AIMD's multiplicative decrease).
        recovery: fraction of the plan's limit regained per window after a cut.
        pace: once requests queue, grant them at most ``pace x L / W`` per second. Slots come
            free in clusters (one window after the responses of a burst), and sending a whole
            cluster at once makes every request in it wait behind the others, in this process
            and at the server, which lengthens round trips and so lowers the rate the window
            rule allows. A request that finds no queue is still sent at once. ``0`` disables.
        lease_timeout: seconds after which a shared store (:class:`~zoom_async.RedisStore`)
            counts a slot still in flight as completed, so a process killed mid-request frees
            its slots. Set it above the longest a request can take (``ZoomClient`` derives it
            from its ``timeout``).
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
        decrease: float = 0.8,
        recovery: float = 0.02,
        max_poll: float = 1.0,
        pace: float = 1.25,
        lease_timeout: float = 300.0,
    ) -> None:
        if not lease_timeout > 0:
            raise ValueError("lease_timeout must be positive")
        self.table = table
        self._clock = clock or SystemClock()
        self._store: LimiterStore = store if store is not None else InMemoryStore()
        self.on_daily_limit = on_daily_limit
        self.on_event = on_event
        self.adaptive = adaptive
        self._lanes: dict[tuple[Family, Category], _Lane] = {}
        self._decrease = decrease
        self._recovery = recovery
        self._max_poll = max_poll
        self._pace = pace
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
                decrease=self._decrease,
                recovery=self._recovery,
                max_poll=self._max_poll,
                pace=self._pace,
                lease_timeout=self._lease_timeout,
            )
        return lane

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

    async def acquire(
        self, family: Family, category: Category, *, priority: bool = False
    ) -> Permit:
        """Wait for a slot of ``category`` (FIFO) and return its :class:`Permit`.

        Heavy and Resource-intensive requests also take one unit of the daily quota first and
        raise :class:`DailyLimitExceeded` when it is spent. ``priority`` puts the request at
        the head of the queue (used for retrying a request Zoom refused).
        """
        daily_key = (
            await self._reserve_daily(family, category) if category.uses_daily_quota else None
        )
        lane = self._lane(family, category)
        try:
            granted_at, waited, lease_id = await lane.acquire(priority=priority)
        except BaseException:
            if daily_key is not None:
                with anyio.CancelScope(shield=True):
                    await self._store.decrement(daily_key)
            raise
        if waited > 0:
            self._emit(LimitEvent("wait", family, category, seconds=waited))
        return Permit(self, lane, granted_at, daily_key, lease_id)

    def rate_limited(self, family: Family, category: Category, detail: str = "QPS") -> None:
        """Zoom answered 429 for a per-second limit: slow this category down (AIMD)."""
        lane = self._lane(family, category)
        new_rate = lane.on_rate_limited(self._clock.monotonic()) if self.adaptive else None
        self._emit(LimitEvent("rate_limited", family, category, detail=detail))
        if new_rate is not None:
            self._emit(LimitEvent("slowdown", family, category, rate=new_rate))

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
            LaneStats(
                family=lane.family,
                category=lane.category,
                configured_rate=lane.configured.rate,
                current_rate=lane.limit_now(now) / lane.configured.window,
                limit=lane.configured.limit,
                window=lane.configured.window,
                requests=lane.requests,
                rate_limited=lane.rate_limited,
                waited=lane.waited,
                queued=lane.queued,
            )
            for lane in self._all_lanes()
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
        data = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(data, dict):
        return str(data.get("message", ""))
    return ""


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
    if (
        meeting_user is not None
        and not kind.startswith("qps")
        and (not kind or "meeting" in lowered or "user" in lowered)
        and (is_daily_message or not kind)
    ):
        resets_at = instant or next_utc_midnight(now)
        return MeetingQuotaExceeded(
            message or "meeting create/update/delete quota exceeded",
            user=meeting_user,
            resets_at=resets_at,
            retry_after=retry_after,
            **common,
        )
    if kind.startswith("daily") or (not kind and is_daily_message):
        resets_at = instant or next_utc_midnight(now)
        return DailyLimitExceeded(
            message or "daily rate limit reached",
            resets_at=resets_at,
            retry_after=retry_after,
            **common,
        )
    return RateLimitError(
        message or "per-second rate limit reached",
        limit_type="QPS",
        retry_after=retry_after,
        resets_at=instant,
        **common,
    )

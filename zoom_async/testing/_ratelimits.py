"""The fake's rate limiter: Zoom's limits enforced strictly, plus neighbour apps.

Every (family, category) has a sliding window: a request arriving at ``t`` is refused when
``limit`` arrivals already occupy ``(t - window, t]``, so no half-open interval of length
``window`` ever holds more than ``limit`` accepted arrivals. (Arrivals exactly ``window`` apart
never share a window, even when float rounding puts them a nanosecond closer.) Heavy and
Resource-intensive requests of a family also draw from the family's daily quota, and meeting
create/update/delete requests from the host user's daily meeting quota; both reset at 00:00 UTC.

Neighbour apps are virtual arrivals at ``start + k / rate`` that go through the same windows and
quotas. They are generated lazily: before the limiter decides anything at time ``t`` it replays
every neighbour arrival up to ``t``, in time order.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from ..clock import next_utc_midnight
from ..plans import Category, Family, RateLimitTable
from ._stats import FakeZoomStats

__all__ = ["Admission", "Neighbour", "RateLimiter", "Refusal", "RefusalKind"]

RefusalKind = Literal["QPS", "Daily-limit", "Meeting-quota", "Concurrent"]

_DAY = 86_400.0
_EPS = 1e-9
"""Arrivals ``window`` apart up to float rounding do not share a window."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was refused with 429."""

    kind: RefusalKind
    family: Family
    category: Category
    daily_limit: int | None = None
    resets_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """An accepted request; the daily quota numbers for Heavy/Resource-intensive headers."""

    family: Family
    category: Category
    daily_limit: int | None = None
    daily_remaining: int | None = None


@dataclass(eq=False)
class Neighbour:
    """Another app on the account, spending one category's budget at a steady rate.

    Returned by :meth:`FakeZoom.add_neighbour`; pass it to :meth:`FakeZoom.remove_neighbour`.
    ``accepted`` and ``refused`` count its virtual arrivals so far (as of the last request or
    query the fake handled).
    """

    category: Category
    rate: float
    family: Family
    start: float
    accepted: int = 0
    refused: int = 0
    active: bool = True
    _index: int = field(default=0, init=False, repr=False)

    def _next_arrival(self) -> float:
        return self.start + self._index / self.rate


class _Bucket:
    """One (family, category): the enforcing window and the maxima seen."""

    __slots__ = ("all_max", "all_recent", "limit", "occupants", "own_max", "own_recent", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.occupants: deque[float] = deque()
        self.own_recent: deque[float] = deque()
        self.all_recent: deque[float] = deque()
        self.own_max = 0
        self.all_max = 0

    def occupancy(self, now: float) -> int:
        cutoff = now - self.window + _EPS
        occ = self.occupants
        while occ and occ[0] <= cutoff:
            occ.popleft()
        return len(occ)

    def _track(self, recent: deque[float], t: float) -> int:
        recent.append(t)
        cutoff = t - self.window + _EPS
        while recent[0] <= cutoff:
            recent.popleft()
        return len(recent)

    def record(self, t: float, *, own: bool) -> None:
        self.occupants.append(t)
        if own:
            self.own_max = max(self.own_max, self._track(self.own_recent, t))
        self.all_max = max(self.all_max, self._track(self.all_recent, t))

    def reset_maxima(self) -> None:
        self.own_recent.clear()
        self.all_recent.clear()
        self.own_max = 0
        self.all_max = 0


class RateLimiter:
    """Windows, daily quotas and meeting quotas of one account.

    All times are ``clock.monotonic()`` seconds; ``now_utc`` is the matching wall-clock time,
    from which the UTC day of any monotonic instant is derived.
    """

    def __init__(
        self,
        table: RateLimitTable,
        stats: FakeZoomStats,
        *,
        count_refused: bool,
        enforce: bool,
    ) -> None:
        self.table = table
        self.stats = stats
        self.count_refused = count_refused
        self.enforce = enforce
        self._buckets: dict[tuple[Family, Category], _Bucket] = {}
        self._daily: dict[Family, tuple[date, int]] = {}
        self._meeting: dict[str, tuple[date, int]] = {}
        self._neighbours: list[tuple[float, int, Neighbour]] = []
        self._seq = itertools.count()

    # -- buckets and days -------------------------------------------------------------------

    def bucket(self, family: Family, category: Category) -> _Bucket:
        key = (family, category)
        b = self._buckets.get(key)
        if b is None:
            lim = self.table.limit_for(family, category)
            b = self._buckets[key] = _Bucket(lim.limit, lim.window)
        return b

    @staticmethod
    def _today_start(now: float, now_utc: datetime) -> tuple[date, float]:
        """Today's UTC date and the monotonic instant of today's 00:00 UTC."""
        midnight = next_utc_midnight(now_utc)
        today_start = now + (midnight - now_utc).total_seconds() - _DAY
        return (midnight - timedelta(days=1)).date(), today_start

    @staticmethod
    def _day_of(t: float, today: date, today_start: float) -> date:
        if t >= today_start:
            return today
        return today - timedelta(days=math.ceil((today_start - t) / _DAY))

    def daily_used(self, family: Family, day: date) -> int:
        """Heavy + Resource-intensive requests of ``family`` accepted on ``day``."""
        got = self._daily.get(family)
        return got[1] if got is not None and got[0] == day else 0

    def meeting_used(self, user_id: str, day: date) -> int:
        """Meeting create/update/delete requests of ``user_id`` accepted on ``day``."""
        got = self._meeting.get(user_id)
        return got[1] if got is not None and got[0] == day else 0

    def spend_daily(self, family: Family, n: int, day: date) -> None:
        """Count ``n`` requests of another app against the family's daily quota."""
        self._daily[family] = (day, self.daily_used(family, day) + n)

    def spend_meeting(self, user_id: str, n: int, day: date) -> None:
        """Count ``n`` meeting create/update/delete requests of another app for ``user_id``."""
        self._meeting[user_id] = (day, self.meeting_used(user_id, day) + n)

    # -- neighbours -------------------------------------------------------------------------

    def add_neighbour(
        self, category: Category, rate: float, family: Family, start: float
    ) -> Neighbour:
        """Start a neighbour whose first arrival is at ``start``."""
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive number of requests per second, not {rate!r}")
        nb = Neighbour(category=category, rate=float(rate), family=family, start=start)
        heapq.heappush(self._neighbours, (nb._next_arrival(), next(self._seq), nb))
        return nb

    def remove_neighbours(self, match: Neighbour | tuple[Family, Category] | None) -> int:
        """Stop one neighbour, all of one (family, category), or all (``None``)."""
        removed = 0
        for _, _, nb in self._neighbours:
            if not nb.active:
                continue
            if (
                match is None
                or nb is match
                or (isinstance(match, tuple) and (nb.family, nb.category) == match)
            ):
                nb.active = False
                removed += 1
        self._neighbours = [e for e in self._neighbours if e[2].active]
        heapq.heapify(self._neighbours)
        return removed

    @property
    def neighbours(self) -> list[Neighbour]:
        """The active neighbours."""
        return [e[2] for e in self._neighbours if e[2].active]

    def advance(self, now: float, now_utc: datetime) -> None:
        """Replay every neighbour arrival at or before ``now``."""
        heap = self._neighbours
        if not heap or heap[0][0] > now:
            return
        today, today_start = self._today_start(now, now_utc)
        while heap and heap[0][0] <= now:
            t, seq, nb = heap[0]
            window = self.bucket(nb.family, nb.category).window
            if now - t > 4 * window and (now - t) * nb.rate > 2_000 and self._skippable(nb):
                self._fast_forward(nb, now, today, today_start)
            else:
                self._neighbour_arrival(nb, t, self._day_of(t, today, today_start))
                nb._index += 1
            heapq.heapreplace(heap, (nb._next_arrival(), seq, nb))

    # A neighbour alone in its window (and, for Heavy/Resource-intensive, alone on its family's
    # daily quota) whose rate cannot fill the window behaves the same whatever else happens, so
    # long stretches of its arrivals are counted in bulk, per UTC day, instead of one by one.

    def _skippable(self, nb: Neighbour) -> bool:
        b = self.bucket(nb.family, nb.category)
        if self.enforce and math.ceil(nb.rate * b.window - 1e-6) > b.limit:
            return False
        for other in self.neighbours:
            if other is nb or other.family != nb.family:
                continue
            if other.category is nb.category or (
                nb.category.uses_daily_quota and other.category.uses_daily_quota
            ):
                return False
        return True

    @staticmethod
    def _first_index(nb: Neighbour, t: float, *, inclusive: bool) -> int:
        """The first arrival index at ``t`` or later (``inclusive``), or strictly after ``t``."""
        k = max(0, math.floor((t - nb.start) * nb.rate))

        def before(i: int) -> bool:
            at = nb.start + i / nb.rate
            return at < t if inclusive else at <= t

        while k > 0 and not before(k - 1):
            k -= 1
        while before(k):
            k += 1
        return k

    def _fast_forward(self, nb: Neighbour, now: float, today: date, today_start: float) -> None:
        """Process the arrivals of ``nb`` up to ``now``: exactly near both ends, in bulk between."""
        window = self.bucket(nb.family, nb.category).window
        for until in (nb._next_arrival() + 2 * window, None, now):
            if until is None:
                self._bulk(nb, now - 2 * window, today, today_start)
                continue
            while (t := nb._next_arrival()) <= until:
                self._neighbour_arrival(nb, t, self._day_of(t, today, today_start))
                nb._index += 1

    def _bulk(self, nb: Neighbour, until: float, today: date, today_start: float) -> None:
        key = (nb.family, nb.category)
        b = self.bucket(nb.family, nb.category)
        k0, k1 = nb._index, self._first_index(nb, until, inclusive=False)
        if k1 <= k0:
            return
        quota = self.table.daily_quota_for(nb.family) if nb.category.uses_daily_quota else None
        days: list[tuple[int, int, int]] = []  # per UTC day: first, end, first refused index
        accepted = 0
        k = k0
        while k < k1:
            day = self._day_of(nb.start + k / nb.rate, today, today_start)
            day_end = today_start + ((day - today).days + 1) * _DAY
            end = min(k1, self._first_index(nb, day_end, inclusive=True))
            room = end - k
            if quota is not None:
                if self.enforce:
                    room = min(room, max(0, quota - self.daily_used(nb.family, day)))
                self.spend_daily(nb.family, room, day)
            days.append((k, end, k + room))
            accepted += room
            k = end
        refused = (k1 - k0) - accepted
        nb.accepted += accepted
        nb.refused += refused
        self.stats.neighbour_accepted[key] += accepted
        if refused:
            self.stats.neighbour_refused[key] += refused
        steady = math.ceil(nb.rate * b.window - 1e-6)
        if any(cut - first >= steady for first, _, cut in days):
            b.all_max = max(b.all_max, steady)
        # Older entries are all out of every window from here on; keep the last window's.
        b.occupants.clear()
        b.all_recent.clear()
        for i in range(self._first_index(nb, until - b.window + _EPS, inclusive=False), k1):
            t = nb.start + i / nb.rate
            ok = next(i < cut for _, end, cut in days if i < end)
            if ok:
                b.occupants.append(t)
                b.all_recent.append(t)
            elif self.count_refused:
                b.occupants.append(t)
        nb._index = k1

    def _neighbour_arrival(self, nb: Neighbour, t: float, day: date) -> None:
        key = (nb.family, nb.category)
        b = self.bucket(nb.family, nb.category)
        refused = self.enforce and b.occupancy(t) >= b.limit
        quota = self.table.daily_quota_for(nb.family) if nb.category.uses_daily_quota else None
        if not refused and quota is not None and self.enforce:
            refused = self.daily_used(nb.family, day) >= quota
        if refused:
            nb.refused += 1
            self.stats.neighbour_refused[key] += 1
            if self.count_refused:
                b.occupants.append(t)
            return
        b.record(t, own=False)
        if nb.category.uses_daily_quota:
            self.spend_daily(nb.family, 1, day)
        nb.accepted += 1
        self.stats.neighbour_accepted[key] += 1

    # -- own requests -----------------------------------------------------------------------

    def admit(
        self,
        family: Family,
        category: Category,
        now: float,
        now_utc: datetime,
        *,
        meeting_host: str | None = None,
        conflict: bool = False,
    ) -> Admission | Refusal:
        """Decide on a request arriving at ``now``; count it when accepted.

        Checks in order: the per-second (or per-minute) window, the daily quota, the host's
        meeting quota (when ``meeting_host`` is given), and a concurrent mutation of the same
        resource (``conflict``, decided by the caller).
        """
        self.advance(now, now_utc)
        key = (family, category)
        b = self.bucket(family, category)
        day = now_utc.date()
        quota = self.table.daily_quota_for(family) if category.uses_daily_quota else None
        refusal: Refusal | None = None
        if self.enforce and b.occupancy(now) >= b.limit:
            refusal = Refusal("QPS", family, category)
        elif self.enforce and quota is not None and self.daily_used(family, day) >= quota:
            refusal = Refusal("Daily-limit", family, category, quota, next_utc_midnight(now_utc))
        elif (
            self.enforce
            and meeting_host is not None
            and self.meeting_used(meeting_host, day) >= self.table.meeting_quota_per_user
        ):
            refusal = Refusal("Meeting-quota", family, category)
        elif conflict:
            refusal = Refusal("Concurrent", family, category)
        if refusal is not None:
            if self.count_refused:
                b.occupants.append(now)
            self.stats.rate_limited[refusal.kind] += 1
            self.stats.rate_limited_by[(family, category, refusal.kind)] += 1
            return refusal
        b.record(now, own=True)
        self.stats.accepted[key] += 1
        if meeting_host is not None:
            self.spend_meeting(meeting_host, 1, day)
        if quota is not None:
            self.spend_daily(family, 1, day)
            return Admission(family, category, quota, max(0, quota - self.daily_used(family, day)))
        return Admission(family, category)

    # -- observability ----------------------------------------------------------------------

    def max_in_any_window(
        self, family: Family, category: Category, *, include_neighbours: bool = True
    ) -> int:
        """Most accepted arrivals seen in any window of the category's length."""
        b = self._buckets.get((family, category))
        if b is None:
            return 0
        return b.all_max if include_neighbours else b.own_max

    def occupancy(self, family: Family, category: Category, now: float) -> int:
        """Arrivals occupying the window ``(now - window, now]``."""
        return self.bucket(family, category).occupancy(now)

    def reset_maxima(self) -> None:
        """Forget the maxima (windows and quotas stay)."""
        for b in self._buckets.values():
            b.reset_maxima()

    def reset(self) -> None:
        """Empty every window and quota (neighbours keep running from now on)."""
        self._buckets.clear()
        self._daily.clear()
        self._meeting.clear()

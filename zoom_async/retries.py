"""When to retry a failed request, and how long to wait first.

The decision (:meth:`RetryPolicy.should_retry`) is kept apart from the interval
(:class:`ExponentialBackoff`), so either can be replaced::

    policy = RetryPolicy(max_attempts=3, backoff=ExponentialBackoff(initial=1.0, maximum=10.0))
    zoom = ZoomClient(..., retry=policy)

The rules that make retries safe:

* a 429 for a per-second limit, or Zoom's "Too many concurrent requests", means Zoom refused the
  request, so any method may be re-sent;
* a request that never left this process (connection refused, no pooled connection in time) may
  be re-sent whatever its method;
* 5xx answers, timeouts and broken connections may come after Zoom acted, so only idempotent
  methods (GET, HEAD, PUT, DELETE, OPTIONS) are retried; a POST or PATCH that may have reached
  Zoom is never re-sent: the error says so instead.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal, Protocol

__all__ = [
    "IDEMPOTENT_METHODS",
    "MAX_RETRY_AFTER",
    "Backoff",
    "ExponentialBackoff",
    "RetryContext",
    "RetryPolicy",
    "parse_retry_after",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

FailureKind = Literal["rate_limit", "concurrent", "server_error", "timeout", "connection"]


@dataclass(frozen=True, slots=True)
class RetryContext:
    """What happened to one attempt.

    Attributes:
        method: the HTTP method.
        attempt: how many attempts have been made so far (1 after the first failure).
        kind: what went wrong.
        status_code: the HTTP status, when Zoom answered.
        may_have_reached_zoom: ``False`` only when the request certainly never left.
        retry_after: seconds Zoom asked us to wait (``Retry-After``), if any.
    """

    method: str
    attempt: int
    kind: FailureKind
    status_code: int | None = None
    may_have_reached_zoom: bool = True
    retry_after: float | None = None


class Backoff(Protocol):
    """Seconds to wait before attempt ``attempt + 1``."""

    def __call__(self, attempt: int) -> float:
        """The delay after ``attempt`` failed attempts."""
        ...


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Capped exponential backoff with full jitter: uniform in ``[0, min(maximum, initial·2ⁿ)]``.

    Full jitter spreads the retries of many coroutines that failed together.
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: bool = True
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __call__(self, attempt: int) -> float:
        """The delay after ``attempt`` (≥ 1) failed attempts."""
        ceiling = min(self.maximum, self.initial * self.multiplier ** max(0, attempt - 1))
        return self.rng.uniform(0.0, ceiling) if self.jitter else ceiling


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Which failures to retry, how many times, and how long to wait.

    Attributes:
        max_attempts: attempts in all for server errors, timeouts and connection errors.
        max_rate_limit_attempts: attempts in all when Zoom refuses with a per-second or
            concurrency 429 (the limiter slows down meanwhile, so these are cheap).
        backoff: the interval between attempts when Zoom gives no ``Retry-After``.
        max_retry_after: the longest ``Retry-After`` honoured; longer ones raise instead.
        retry_methods: methods retried after a failure that may have reached Zoom.
    """

    max_attempts: int = 4
    max_rate_limit_attempts: int = 12
    backoff: Backoff = field(default_factory=ExponentialBackoff)
    max_retry_after: float = 60.0
    retry_methods: frozenset[str] = IDEMPOTENT_METHODS

    def should_retry(self, ctx: RetryContext) -> bool:
        """Whether to send the request again after the failure described by ``ctx``."""
        if ctx.kind in ("rate_limit", "concurrent"):
            if ctx.retry_after is not None and not ctx.retry_after <= self.max_retry_after:
                return False  # too long, or not a number
            return ctx.attempt < self.max_rate_limit_attempts
        if ctx.attempt >= self.max_attempts:
            return False
        if not ctx.may_have_reached_zoom:
            return True
        return ctx.method.upper() in self.retry_methods

    def wait_time(self, ctx: RetryContext) -> float:
        """Seconds to wait before the next attempt."""
        if ctx.retry_after is not None and math.isfinite(ctx.retry_after):
            return min(max(ctx.retry_after, 0.0), self.max_retry_after)
        if ctx.kind == "rate_limit":
            # The limiter already paces the retry; a short jittered pause is all that is needed.
            return min(self.backoff(ctx.attempt), 1.0)
        return self.backoff(ctx.attempt)


MAX_RETRY_AFTER = 2 * 86_400.0
"""The longest wait :func:`parse_retry_after` returns (two days): Zoom's limits reset at least
daily, so a longer ``Retry-After`` is clamped to it."""


def parse_retry_after(value: str | None, now: datetime) -> tuple[float | None, datetime | None]:
    """Parse ``Retry-After`` as seconds, an HTTP date, or the ISO date Zoom sends for daily limits.

    Returns ``(seconds_from_now, instant)``; both ``None`` when absent or unreadable. Whatever
    the server sends, the wait is a finite number between 0 and :data:`MAX_RETRY_AFTER`:
    ``nan``, ``inf``, negative numbers and unreadable dates are ignored, huge ones clamped.

    >>> parse_retry_after("2", datetime(2025, 8, 22, tzinfo=UTC))[0]
    2.0
    >>> parse_retry_after("2025-08-23T00:00:00Z", datetime(2025, 8, 22, 23, tzinfo=UTC))[0]
    3600.0
    >>> parse_retry_after("1e300", datetime(2025, 8, 22, tzinfo=UTC))[0]
    172800.0
    >>> parse_retry_after("nan", datetime(2025, 8, 22, tzinfo=UTC))
    (None, None)
    """
    if not value or not isinstance(value, str) or len(value) > 200:
        return None, None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds) or seconds < 0:
            return None, None
        seconds = min(seconds, MAX_RETRY_AFTER)
        return seconds, now + timedelta(seconds=seconds)
    instant: datetime | None = None
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            instant = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None, None
    if instant is None:
        return None, None
    try:
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        instant = instant.astimezone(UTC)
        seconds = (instant - now).total_seconds()
    except (OverflowError, ValueError):
        return None, None
    if seconds > MAX_RETRY_AFTER:
        return MAX_RETRY_AFTER, now + timedelta(seconds=MAX_RETRY_AFTER)
    return max(seconds, 0.0), instant

"""RetryPolicy decisions, backoff intervals and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from zoom_async import ExponentialBackoff, RetryPolicy
from zoom_async.retries import RetryContext, parse_retry_after

NOW = datetime(2025, 8, 22, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD"])
def test_idempotent_methods_are_retried_after_server_errors(method: str) -> None:
    policy = RetryPolicy()
    assert policy.should_retry(RetryContext(method, 1, "server_error", status_code=503))
    assert policy.should_retry(RetryContext(method, 1, "timeout"))


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_mutations_that_may_have_reached_zoom_are_not_retried(method: str) -> None:
    policy = RetryPolicy()
    assert not policy.should_retry(RetryContext(method, 1, "server_error", status_code=502))
    assert not policy.should_retry(RetryContext(method, 1, "timeout"))
    # ...but one that certainly never left, or that Zoom refused with a 429, is.
    assert policy.should_retry(RetryContext(method, 1, "connection", may_have_reached_zoom=False))
    assert policy.should_retry(RetryContext(method, 1, "rate_limit", may_have_reached_zoom=False))


def test_attempt_limits() -> None:
    policy = RetryPolicy(max_attempts=3, max_rate_limit_attempts=5)
    assert policy.should_retry(RetryContext("GET", 2, "server_error"))
    assert not policy.should_retry(RetryContext("GET", 3, "server_error"))
    assert policy.should_retry(RetryContext("GET", 4, "rate_limit"))
    assert not policy.should_retry(RetryContext("GET", 5, "rate_limit"))


def test_retry_after_longer_than_the_maximum_is_not_waited() -> None:
    policy = RetryPolicy(max_retry_after=30)
    assert not policy.should_retry(RetryContext("GET", 1, "rate_limit", retry_after=3600))
    ctx = RetryContext("GET", 1, "rate_limit", retry_after=12)
    assert policy.should_retry(ctx) and policy.wait_time(ctx) == 12


def test_full_jitter_backoff_is_capped() -> None:
    backoff = ExponentialBackoff(initial=0.5, maximum=4.0, rng=random.Random(1))
    for attempt in range(1, 12):
        ceiling = min(4.0, 0.5 * 2 ** (attempt - 1))
        samples = [backoff(attempt) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # full jitter spans the interval
    assert ExponentialBackoff(initial=1, maximum=8, jitter=False)(3) == 4


def test_policy_is_replaceable_by_a_subclass() -> None:
    class NeverRetry(RetryPolicy):
        def should_retry(self, ctx: RetryContext) -> bool:
            return False

    assert not NeverRetry().should_retry(RetryContext("GET", 1, "server_error"))


@pytest.mark.parametrize(
    ("value", "seconds", "instant"),
    [
        ("2", 2.0, datetime(2025, 8, 22, 23, 0, 2, tzinfo=UTC)),
        ("2025-08-23T00:00:00Z", 3600.0, datetime(2025, 8, 23, tzinfo=UTC)),
        ("Sat, 23 Aug 2025 00:00:00 GMT", 3600.0, datetime(2025, 8, 23, tzinfo=UTC)),
        ("2025-08-22T00:00:00Z", 0.0, datetime(2025, 8, 22, tzinfo=UTC)),
        ("garbage", None, None),
        (None, None, None),
    ],
)
def test_parse_retry_after(value, seconds, instant) -> None:
    assert parse_retry_after(value, NOW) == (seconds, instant)

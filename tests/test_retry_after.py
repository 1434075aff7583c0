"""Retry-After: any value a server sends is a bounded wait or ignored; daily waits end at the
next 00:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import httpx
import pytest

from tests.conftest import API
from zoom_async import (
    DailyLimitExceeded,
    RateLimitError,
    RetryPolicy,
    SystemClock,
    ZoomClient,
)
from zoom_async.limits import classify_rate_limit
from zoom_async.plans import Category
from zoom_async.retries import MAX_RETRY_AFTER, RetryContext, parse_retry_after

pytestmark = pytest.mark.looptime

NOW = datetime(2026, 5, 5, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "-1",
        "1e12",
        "1e300",
        "9" * 400,
        "x" * 5000,
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "0001-01-01T00:00:00",
        "9999-12-31T23:59:59+14:00",
        "Mon, 99 Foo 2026 99:99:99 GMT",
        "\x00",
        "2026-13-45",
        " 5 ",
        "",
        "   ",
    ],
)
def test_every_retry_after_is_a_bounded_wait_or_ignored(value: str) -> None:
    seconds, instant = parse_retry_after(value, NOW)
    if seconds is None:
        assert instant is None
    else:
        assert 0.0 <= seconds <= MAX_RETRY_AFTER
        assert instant is not None
        assert instant <= NOW + timedelta(seconds=MAX_RETRY_AFTER)
        if seconds > 0:
            assert instant == NOW + timedelta(seconds=seconds)


def test_huge_values_are_clamped_not_dropped() -> None:
    assert parse_retry_after("1e300", NOW)[0] == MAX_RETRY_AFTER
    assert parse_retry_after("nan", NOW) == (None, None)
    assert parse_retry_after(" 5 ", NOW)[0] == 5.0


def test_the_policy_never_waits_a_non_number() -> None:
    policy = RetryPolicy()
    ctx = RetryContext("GET", 1, "rate_limit", 429, False, float("nan"))
    assert not policy.should_retry(ctx)
    assert 0.0 <= policy.wait_time(ctx) <= 1.0


@pytest.mark.parametrize("value", ["nan", "inf", "1e12", "1e300", "-5"])
async def test_a_429_with_a_hostile_retry_after_is_a_typed_error_or_a_short_wait(
    zoom_api, credentials, fast_retry, value
) -> None:
    busy = httpx.Response(
        429, headers={"Retry-After": value, "X-RateLimit-Type": "QPS"}, json={"message": "x"}
    )
    zoom_api.get(f"{API}/users/me").mock(side_effect=[busy, httpx.Response(200, json={})])
    async with ZoomClient(**credentials, retry=fast_retry) as zoom:
        start = anyio.current_time()
        try:
            await zoom.get("/users/me")
        except RateLimitError as exc:
            assert exc.retry_after is None or exc.retry_after <= MAX_RETRY_AFTER
        assert anyio.current_time() - start <= fast_retry.max_retry_after + 1


def daily_429(retry_after: str) -> httpx.Response:
    return httpx.Response(
        429,
        headers={"Retry-After": retry_after, "X-RateLimit-Type": "Daily-limit"},
        json={"code": 429, "message": "You have reached the daily rate limit for this API."},
    )


async def test_a_daily_wait_ends_at_the_next_midnight_not_ten_days_later(
    zoom_api, credentials
) -> None:
    ten_days = (NOW + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    route = zoom_api.get(f"{API}/report/daily").mock(
        side_effect=[daily_429(ten_days), httpx.Response(200, json={})]
    )
    clock = SystemClock(start=NOW)
    async with ZoomClient(**credentials, clock=clock, on_daily_limit="wait") as zoom:
        start = anyio.current_time()
        await zoom.get("/report/daily")
        waited = anyio.current_time() - start
    assert route.call_count == 2
    assert 3600 <= waited <= 3600 + 10


def test_classified_daily_resets_are_capped_at_the_next_midnight() -> None:
    for value in ("1e9", (NOW + timedelta(days=10)).isoformat()):
        response = daily_429(value)
        response.request = httpx.Request("GET", f"{API}/report/daily")
        error = classify_rate_limit(response, category=Category.HEAVY, meeting_user=None, now=NOW)
        assert isinstance(error, DailyLimitExceeded)
        assert error.resets_at <= datetime(2026, 5, 6, 0, 0, 5, tzinfo=UTC)
        assert error.retry_after is not None and error.retry_after <= 3605

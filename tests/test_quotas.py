"""Meeting quota and day counters: charged once per call, kept while a day can come back;
mutations serialised per resource; one host look-up per meeting."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import httpx
import pytest

from tests.conftest import API
from zoom_async import (
    PRO,
    AuthError,
    MeetingQuotaExceeded,
    RateLimiter,
    RateLimitError,
    ZoomClient,
)
from zoom_async.clock import Clock
from zoom_async.limits import InMemoryStore

pytestmark = pytest.mark.looptime

QPS_429 = httpx.Response(
    429,
    headers={"X-RateLimit-Type": "QPS", "X-RateLimit-Category": "Light"},
    json={"code": 429, "message": "You have reached the maximum per-second rate limit."},
)


class SteppingClock:
    """A wall clock the test can set back and forth (the loop clock stays monotonic)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def monotonic(self) -> float:
        return anyio.current_time()

    def utcnow(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


async def test_a_spent_day_stays_spent_when_the_wall_clock_steps_back() -> None:
    clock = SteppingClock(datetime(2026, 5, 5, 23, 59, 59, tzinfo=UTC))
    assert isinstance(clock, Clock)
    limiter = RateLimiter(PRO, clock=clock)
    for _ in range(100):
        await limiter.reserve_meeting("host-a")
    clock.now = datetime(2026, 5, 6, 0, 0, 1, tzinfo=UTC)
    await limiter.reserve_meeting("host-a")  # a new day: allowed, and creates its counter
    clock.now = datetime(2026, 5, 5, 23, 59, 59, 500_000, tzinfo=UTC)  # NTP steps back
    with pytest.raises(MeetingQuotaExceeded):
        await limiter.reserve_meeting("host-a")


async def test_counters_long_past_are_forgotten() -> None:
    store = InMemoryStore()
    for day in range(1, 11):
        await store.increment(f"k:{day}", 5, datetime(2026, 1, day + 1, tzinfo=UTC))
    assert len(store._counters) <= 3


def quota_client(credentials, **kwargs) -> ZoomClient:
    kwargs.setdefault("plan", "business_plus")
    return ZoomClient(**credentials, **kwargs)


async def test_401_refused_posts_do_not_spend_the_meeting_quota(
    zoom_api, credentials, fast_retry
) -> None:
    zoom_api.post(f"{API}/users/host-1/meetings").mock(
        return_value=httpx.Response(401, json={"code": 124, "message": "Invalid access token."})
    )
    async with quota_client(credentials, retry=fast_retry) as zoom:
        for _ in range(2):
            with pytest.raises(AuthError):
                await zoom.post("/users/host-1/meetings", json={"topic": "x"})
        assert await zoom.limits.meeting_quota_used("host-1") == 0


async def test_a_retried_patch_counts_once(zoom_api, credentials, fast_retry) -> None:
    zoom_api.get(f"{API}/meetings/77").mock(
        return_value=httpx.Response(200, json={"id": 77, "host_id": "host-1"})
    )
    route = zoom_api.patch(f"{API}/meetings/77").mock(
        side_effect=[QPS_429, QPS_429, httpx.Response(204)]
    )
    async with quota_client(credentials, retry=fast_retry) as zoom:
        await zoom.patch("/meetings/77", json={"topic": "y"})
        assert route.call_count == 3
        assert await zoom.limits.meeting_quota_used("host-1") == 1


async def test_a_call_refused_by_429_to_the_end_gives_its_unit_back(
    zoom_api, credentials, fast_retry
) -> None:
    zoom_api.post(f"{API}/users/host-1/meetings").mock(return_value=QPS_429)
    async with quota_client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(RateLimitError):
            await zoom.post("/users/host-1/meetings", json={})
        assert await zoom.limits.meeting_quota_used("host-1") == 0


async def test_a_post_that_may_have_reached_zoom_keeps_its_unit(
    zoom_api, credentials, fast_retry
) -> None:
    zoom_api.post(f"{API}/users/host-1/meetings").mock(return_value=httpx.Response(502))
    async with quota_client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(Exception, match="not re-sent"):
            await zoom.post("/users/host-1/meetings", json={})
        assert await zoom.limits.meeting_quota_used("host-1") == 1


async def test_zoom_refusing_the_quota_leaves_it_spent(zoom_api, credentials) -> None:
    zoom_api.post(f"{API}/users/host-1/meetings").mock(
        return_value=httpx.Response(
            429,
            headers={"X-RateLimit-Category": "Light"},
            json={
                "code": 429,
                "message": "You have exceeded the daily rate limit of (100) meeting "
                "create/update/delete API requests permitted for this particular user.",
            },
        )
    )
    async with quota_client(credentials) as zoom:
        with pytest.raises(MeetingQuotaExceeded):
            await zoom.post("/users/host-1/meetings", json={})
        assert await zoom.limits.meeting_quota_used("host-1") == 100


async def test_concurrent_updates_of_one_meeting_make_one_host_lookup(
    zoom_api, credentials
) -> None:
    async def slow_get(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.05)
        return httpx.Response(200, json={"id": 5, "host_id": "host-9"})

    lookup = zoom_api.get(f"{API}/meetings/5").mock(side_effect=slow_get)
    zoom_api.patch(f"{API}/meetings/5").mock(return_value=httpx.Response(204))
    async with quota_client(credentials) as zoom:
        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(lambda: zoom.patch("/meetings/5", json={}))
        assert lookup.call_count == 1
        assert await zoom.limits.meeting_quota_used("host-9") == 50


async def test_a_failed_lookup_is_shared_then_retried_by_later_calls(
    zoom_api, credentials, fast_retry
) -> None:
    async def gone(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.05)
        return httpx.Response(403, json={"code": 200, "message": "No permission."})

    lookup = zoom_api.get(f"{API}/meetings/6").mock(side_effect=gone)
    zoom_api.patch(f"{API}/meetings/6").mock(return_value=httpx.Response(204))
    errors: list[BaseException] = []

    async def update() -> None:
        try:
            await zoom.patch("/meetings/6", json={})
        except Exception as exc:
            errors.append(exc)

    async with quota_client(credentials, retry=fast_retry) as zoom:
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(update)
        assert lookup.call_count == 1 and len(errors) == 10
        await update()
        assert lookup.call_count == 2


@pytest.mark.parametrize(
    "spellings",
    [
        ("/users/u1/settings", "/users/u1/settings/", "/v2/users/u1/settings"),
        ("/meetings/123", "meetings/123/", f"{API}/meetings/123"),
    ],
)
async def test_mutation_lock_is_per_resource_however_the_path_is_spelled(
    zoom_api, credentials, spellings
) -> None:
    active = 0
    peak = 0

    async def update(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await anyio.sleep(0.05)
        active -= 1
        return httpx.Response(204)

    zoom_api.patch(url__regex=r".*/(users/u1/settings|meetings/123)/?$").mock(side_effect=update)
    async with (
        quota_client(credentials, lookup_meeting_hosts=False) as zoom,
        anyio.create_task_group() as tg,
    ):
        for path in spellings * 2:
            tg.start_soon(lambda p=path: zoom.patch(p, json={}))
    assert peak == 1

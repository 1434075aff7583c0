"""The client's limits end to end against FakeZoom (strict arrival windows, virtual time)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import anyio
import pytest

from tests.conftest import JITTER, client_for
from zoom_async import (
    BUSINESS_PLUS,
    PRO,
    Category,
    DailyLimitExceeded,
    MeetingQuotaExceeded,
    RateLimitError,
    ServerError,
    SystemClock,
    ZoomClient,
)
from zoom_async.limits import InMemoryStore, LimiterStore
from zoom_async.redis_store import RedisStore
from zoom_async.testing import FakeZoom

pytestmark = pytest.mark.looptime


PATHS = {
    Category.LIGHT: "/users/{id}",
    Category.MEDIUM: "/users/{id}/meetings",
    Category.HEAVY: "/report/users/{id}/meetings?from=2026-01-01&to=2026-01-31",
    Category.RESOURCE_INTENSIVE: "/metrics/meetings?from=2026-01-01&to=2026-01-31",
}


async def burst(zoom: ZoomClient, path: str, n: int, concurrency: int = 500) -> None:
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            await zoom.get(path)

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, n)):
            tg.start_soon(worker)


@pytest.mark.parametrize(
    ("plan", "category", "n"),
    [
        (BUSINESS_PLUS, Category.LIGHT, 800),
        (BUSINESS_PLUS, Category.MEDIUM, 600),
        (BUSINESS_PLUS, Category.HEAVY, 400),
        (BUSINESS_PLUS, Category.RESOURCE_INTENSIVE, 50),
        (PRO, Category.LIGHT, 300),
        (PRO, Category.RESOURCE_INTENSIVE, 25),
    ],
)
async def test_bursts_never_get_a_429(plan, category, n) -> None:
    fake = FakeZoom(plan=plan, latency=JITTER, clock=SystemClock())
    user = fake.add_users(1)[0]
    path = PATHS[category].format(id=user["id"])
    async with client_for(fake) as zoom:
        start = anyio.current_time()
        await burst(zoom, path, n)
        elapsed = anyio.current_time() - start
    limit = plan.limit_for("general", category)
    assert fake.stats.total_rate_limited == 0
    assert fake.stats.accepted_for(category) == n
    assert fake.max_in_any_window(category) <= limit.limit
    # And no rate left unused: at least 95 % of the plan's rate (virtual time: no CPU cost).
    assert n / elapsed >= 0.95 * limit.rate


async def test_mixed_categories_at_once_stay_within_each_limit() -> None:
    fake = FakeZoom(plan="business_plus", latency=JITTER, clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    async with client_for(fake) as zoom, anyio.create_task_group() as tg:
        tg.start_soon(burst, zoom, f"/users/{uid}", 400)
        tg.start_soon(burst, zoom, f"/users/{uid}/meetings", 300)
        tg.start_soon(
            burst, zoom, f"/report/users/{uid}/meetings?from=2026-01-01&to=2026-01-31", 200
        )
        tg.start_soon(burst, zoom, "/phone/users", 120)
    assert fake.stats.total_rate_limited == 0
    for category in (Category.LIGHT, Category.MEDIUM, Category.HEAVY):
        assert (
            fake.max_in_any_window(category) <= BUSINESS_PLUS.limit_for("general", category).limit
        )
    assert fake.max_in_any_window(Category.MEDIUM, "phone") <= 20


async def test_a_neighbour_app_costs_few_refusals_and_no_exception() -> None:
    fake = FakeZoom(plan="business_plus", latency=JITTER, clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    fake.add_neighbour(Category.LIGHT, 30)
    async with client_for(fake) as zoom:
        start = anyio.current_time()
        await burst(zoom, f"/users/{uid}", 1200)
        elapsed = anyio.current_time() - start
        snap = await zoom.limits.snapshot()
    refused = fake.stats.rate_limited_by[("general", Category.LIGHT, "QPS")]
    assert fake.stats.accepted_for(Category.LIGHT) == 1200
    assert refused <= 0.05 * 1200
    assert fake.max_in_any_window(Category.LIGHT) <= 80
    # It used most of what the neighbour left (50 req/s).
    assert 1200 / elapsed >= 50 * 0.8
    assert snap.lane("Light").rate_limited == refused


@pytest.fixture(params=["memory", "redis"])
async def two_processes(request: pytest.FixtureRequest) -> AsyncIterator[list[LimiterStore]]:
    """The stores of two processes that share one account's state: one InMemoryStore given to
    both clients, or two RedisStores on one Redis (on the loop's virtual clock)."""
    if request.param == "memory":
        shared = InMemoryStore()
        yield [shared, shared]
        return
    server = request.getfixturevalue("redis_server")
    namespace = f"test-{uuid.uuid4().hex}"
    stores = [
        RedisStore.from_url(server.url, namespace=namespace, timeout=None, time_source="client")
        for _ in range(2)
    ]
    try:
        yield list(stores)
    finally:
        for store in stores:
            await store.aclose()


async def test_processes_sharing_a_store_learn_what_a_neighbour_leaves_the_account(
    two_processes: list[LimiterStore],
) -> None:
    """A neighbour app takes 30 of Business+'s 80 Light/s; two processes of ours share the
    rest through their store. Each must learn the account-wide 50, not the ~25 it sees of its
    own traffic (which would leave the pair at half of what the neighbour leaves)."""
    fake = FakeZoom(plan="business_plus", latency=JITTER, clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    fake.add_neighbour(Category.LIGHT, 30)
    await anyio.sleep(2.0)  # the neighbour fills its 30 of every window
    a, b = (client_for(fake, store=store) for store in two_processes)
    for zoom in (a, b):
        # Each its own token: a Redis token lock's timeout (virtual time) fires whenever the
        # clock runs on while Redis answers in real time, slowly on a loaded machine, and that
        # TimeoutError leaves the store unavailable for a while: LimiterUnavailable.
        zoom.auth.shared = None  # type: ignore[attr-defined]
    async with a, b:
        start = anyio.current_time()
        async with anyio.create_task_group() as tg:
            tg.start_soon(burst, a, f"/users/{uid}", 600)
            tg.start_soon(burst, b, f"/users/{uid}", 600)
        elapsed = anyio.current_time() - start
        shares = [await zoom.limits.learned("general", Category.LIGHT) for zoom in (a, b)]
    assert fake.stats.accepted_for(Category.LIGHT) == 1200
    for share in shares:
        assert share is not None and 45 <= share.ceiling <= 50, shares
    if isinstance(two_processes[0], RedisStore):
        # Virtual time runs on while the loop waits for Redis's answers (more so on a loaded
        # machine), so rates measured on it are not the limiter's.
        return
    assert 1200 / elapsed >= 50 * 0.8
    refused = fake.stats.total_rate_limited + sum(fake.stats.neighbour_refused.values())
    assert refused <= 0.05 * 1200


async def test_a_process_that_sends_late_learns_the_same_share(
    two_processes: list[LimiterStore],
) -> None:
    """As above, but one process waits 40 ms between each grant and its send (for a core, its
    token, Redis's answer on its way back): its requests of a window reach Zoom after those the
    other process was granted just after them, so Zoom refuses its requests, not the other's.
    Counted up to the refused requests' grants, ours in that window were only its own 40 less
    the 30 refused (a share of 10, then probed up slowly from there: 60 s instead of 24 for
    the batch); counted up to their sends, both processes' 80 less those 30."""
    fake = FakeZoom(plan="business_plus", latency=JITTER, clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    fake.add_neighbour(Category.LIGHT, 30)
    await anyio.sleep(2.0)
    late, prompt = (client_for(fake, store=store) for store in two_processes)
    for zoom in (late, prompt):
        # Each its own token: a Redis token lock's timeout would fire at once whenever virtual
        # time jumps while Redis answers (in real time) with nothing else to wait for.
        zoom.auth.shared = None  # type: ignore[attr-defined]
    get_token = late.auth.get_token

    async def after_a_while(http: object) -> str:
        await anyio.sleep(0.04)
        return await get_token(http)  # type: ignore[arg-type]

    late.auth.get_token = after_a_while  # type: ignore[method-assign]
    async with late, prompt:
        await late.get(f"/users/{uid}")
        await prompt.get(f"/users/{uid}")
        await anyio.sleep(1.1)
        fake.reset_stats()

        async def after(delay: float, zoom: ZoomClient, n: int, concurrency: int) -> None:
            await anyio.sleep(delay)
            await burst(zoom, f"/users/{uid}", n, concurrency)

        async with anyio.create_task_group() as tg:
            # The late one is granted the first 40 of the first window, the other the next 40
            # a millisecond later.
            tg.start_soon(after, 0.0, late, 600, 40)
            tg.start_soon(after, 0.001, prompt, 600, 500)
        shares = [await zoom.limits.learned("general", Category.LIGHT) for zoom in (late, prompt)]
    assert fake.stats.accepted_for(Category.LIGHT) == 1200
    for share in shares:
        assert share is not None and 45 <= share.ceiling <= 50, shares
    assert fake.max_in_any_window(Category.LIGHT) <= 80
    if isinstance(two_processes[0], InMemoryStore):
        # The first window's refusals and a probe or two, not a refusal a window.
        assert fake.stats.total_rate_limited <= 40


async def test_rate_recovers_once_the_neighbour_leaves() -> None:
    fake = FakeZoom(plan="business_plus", latency=JITTER, clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    neighbour = fake.add_neighbour(Category.LIGHT, 60)
    async with client_for(fake) as zoom:
        await burst(zoom, f"/users/{uid}", 300)
        assert (await zoom.limits.snapshot()).lane("Light").current_rate < 80
        fake.remove_neighbour(neighbour)
        await anyio.sleep(60)
        await burst(zoom, f"/users/{uid}", 10)
        assert (await zoom.limits.snapshot()).lane("Light").current_rate == 80


async def test_101st_meeting_mutation_is_refused_without_a_request() -> None:
    clock = SystemClock(start=datetime(2026, 6, 1, 12, tzinfo=UTC))
    fake = FakeZoom(plan="business_plus", clock=clock)
    async with client_for(fake) as zoom:
        me = await zoom.get("/users/me")
        created = [
            await zoom.post("/users/me/meetings", json={"topic": f"m{i}", "type": 2})
            for i in range(50)
        ]
        for meeting in created[:30]:
            await zoom.patch(f"/meetings/{meeting['id']}", json={"topic": "renamed"})
        for meeting in created[:20]:
            await zoom.delete(f"/meetings/{meeting['id']}")
        before = fake.stats.requests
        with pytest.raises(MeetingQuotaExceeded) as info:
            await zoom.delete(f"/meetings/{created[20]['id']}")
        assert fake.stats.requests == before  # never sent
        err = info.value
        assert err.user == me["id"] and err.sent is False
        assert err.resets_at == datetime(2026, 6, 2, tzinfo=UTC)
        assert isinstance(err, RateLimitError)
        # The email alias shares the same counter.
        with pytest.raises(MeetingQuotaExceeded):
            await zoom.post(f"/users/{me['email']}/meetings", json={"topic": "x"})
        assert fake.stats.rate_limited["Meeting-quota"] == 0
        # Another host is not affected, and the quota resets at 00:00 UTC.
        other = fake.add_users(1)[0]
        await zoom.post(f"/users/{other['id']}/meetings", json={"topic": "ok"})
        await anyio.sleep(12 * 3600)
        await zoom.post("/users/me/meetings", json={"topic": "tomorrow"})


async def test_meeting_quota_spent_by_other_apps_is_then_refused_locally() -> None:
    fake = FakeZoom(plan="pro", clock=SystemClock())
    host = fake.add_users(1)[0]
    fake.spend_meeting_quota(host["id"], 100)
    async with client_for(fake) as zoom:
        with pytest.raises(MeetingQuotaExceeded):
            await zoom.post(f"/users/{host['id']}/meetings", json={"topic": "x"})
        sent = fake.stats.requests
        with pytest.raises(MeetingQuotaExceeded) as info:
            await zoom.post(f"/users/{host['id']}/meetings", json={"topic": "y"})
        assert info.value.sent is False and fake.stats.requests == sent


async def test_daily_quota_spent_elsewhere_raises_and_blocks_heavy_requests() -> None:
    fake = FakeZoom(plan="pro", clock=SystemClock(start=datetime(2026, 6, 1, 20, tzinfo=UTC)))
    uid = fake.add_users(1)[0]["id"]
    fake.spend_daily_quota("general", 30_000 - 3)
    async with client_for(fake) as zoom:
        for _ in range(3):
            await zoom.get(f"/report/users/{uid}/meetings?from=2026-01-01&to=2026-01-31")
        assert await zoom.limits.daily_quota_left() == 0  # learned from X-RateLimit-Remaining
        sent = fake.stats.requests
        with pytest.raises(DailyLimitExceeded) as info:
            await zoom.get("/metrics/meetings?from=2026-01-01&to=2026-01-31")
        assert info.value.sent is False and fake.stats.requests == sent
        assert info.value.resets_at == datetime(2026, 6, 2, tzinfo=UTC)
        await zoom.get(f"/users/{uid}")  # Light requests are not affected


async def test_daily_429_from_zoom_is_typed_and_stops_further_heavy_requests() -> None:
    fake = FakeZoom(plan="pro", clock=SystemClock(start=datetime(2026, 6, 1, 20, tzinfo=UTC)))
    uid = fake.add_users(1)[0]["id"]
    async with client_for(fake, plan="business_plus") as zoom:  # the client thinks it has 60,000
        fake.spend_daily_quota("general", 30_000)
        with pytest.raises(DailyLimitExceeded) as info:
            await zoom.get(f"/report/users/{uid}/meetings?from=2026-01-01&to=2026-01-31")
        assert info.value.sent is True and info.value.resets_at == datetime(2026, 6, 2, tzinfo=UTC)
        sent = fake.stats.requests
        with pytest.raises(DailyLimitExceeded):
            await zoom.get(f"/report/users/{uid}/meetings?from=2026-01-01&to=2026-01-31")
        assert fake.stats.requests == sent


async def test_post_502_after_reaching_zoom_is_not_resent_and_get_503_is() -> None:
    fake = FakeZoom(plan="pro", clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    fake.inject("POST", "/users/{userId}/meetings", status=502, after_apply=True)
    fake.inject("GET", "/users/{userId}", status=503, count=2)
    async with client_for(fake) as zoom:
        with pytest.raises(ServerError, match="may have reached Zoom"):
            await zoom.post(f"/users/{uid}/meetings", json={"topic": "once"})
        assert len([m for m in fake.meetings if m["topic"] == "once"]) == 1
        assert (await zoom.get(f"/users/{uid}"))["id"] == uid

"""The limiter: strict windows, FIFO and priorities, cancellation, quotas, what other apps use,
and 429 classification."""

from __future__ import annotations

import asyncio
import gc
import random
import uuid
from bisect import bisect_left
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial

import anyio
import anyio.lowlevel
import httpx
import pytest

from zoom_async import (
    BUSINESS_PLUS,
    PRO,
    Category,
    ConcurrentRequestsError,
    ConfigurationError,
    DailyLimitExceeded,
    LimiterUnavailable,
    MeetingQuotaExceeded,
    RateLimiter,
    RateLimitError,
    SystemClock,
)
from zoom_async import limits as limits_module
from zoom_async.limits import (
    InMemoryStore,
    LimiterStore,
    LimitEvent,
    Permit,
    Priority,
    classify_rate_limit,
)
from zoom_async.plans import CategoryLimit, resolve_plan
from zoom_async.redis_store import RedisStore

pytestmark = pytest.mark.looptime


SERVERS = {
    "redis": "redis_server",
    "valkey": "valkey_server",
    "cluster": "redis_cluster",
    "valkey-cluster": "valkey_cluster",
    "redis-reserving": "redis_server",
}
"""RedisStore's servers (fixture names in tests/conftest.py): Redis, Valkey, a Redis Cluster, a
Valkey cluster (only in the cases that name it: the same scripts and client as "cluster")."""


@pytest.fixture(params=["memory", "redis", "valkey", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimiterStore]:
    """Each behaviour test runs against the in-memory store, a real Redis, a real Valkey and
    a three-master Redis Cluster.

    The loop's time is virtual here, so RedisStore takes the limiter's clock instead of the
    server's (``time_source="client"``) and does not time out calls. Nor does it reserve slots
    ahead of requests (``reserve``), except as "redis-reserving": the timer that gives back an
    unused one is where the virtual clock jumps while a real Redis answer is on its way, which
    throws timings off (reserving is tested in real time in tests/test_redis_store.py).
    """
    if request.param == "memory":
        yield InMemoryStore()
        return
    server = request.getfixturevalue(SERVERS[request.param])
    redis_store = RedisStore.from_url(
        server.url,
        namespace=f"test-{uuid.uuid4().hex}",
        timeout=None,
        time_source="client",
        cluster=server.cluster,
        reserve=request.param == "redis-reserving",
    )
    try:
        yield redis_store
    finally:
        await redis_store.aclose()


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of instants within any half-open window [t, t + window)."""
    times = sorted(times)
    best = 0
    for i, t in enumerate(times):
        j = bisect_left(times, t + window - 1e-9)
        best = max(best, j - i)
    return best


async def drive(
    limiter: RateLimiter,
    category: Category,
    n: int,
    *,
    latency: tuple[float, float] = (0.01, 0.05),
    concurrency: int = 200,
    family: str = "general",
    seed: int = 7,
) -> list[float]:
    """Send ``n`` simulated requests; each arrives at a random point between grant and reply."""
    rng = random.Random(seed)
    arrivals: list[float] = []
    todo = iter(range(n))

    async def worker() -> None:
        for _ in todo:
            permit = await limiter.acquire(family, category)  # type: ignore[arg-type]
            up = rng.uniform(*latency) / 2
            down = rng.uniform(*latency) / 2
            await anyio.sleep(up)
            arrivals.append(anyio.current_time())
            await anyio.sleep(down)
            await permit.release()

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return arrivals


WINDOW_CASES = [
    (BUSINESS_PLUS, Category.LIGHT),
    (BUSINESS_PLUS, Category.MEDIUM),
    (BUSINESS_PLUS, Category.HEAVY),
    (PRO, Category.LIGHT),
    (PRO, Category.HEAVY),
]


@pytest.mark.parametrize(
    ("store", "plan", "category"),
    [(store, plan, category) for store in ("memory", "redis") for plan, category in WINDOW_CASES]
    # One case each for Valkey and the clusters: the same scripts, and these runs are the
    # suite's slowest.
    + [
        ("valkey", PRO, Category.HEAVY),
        ("cluster", PRO, Category.LIGHT),
        ("valkey-cluster", PRO, Category.LIGHT),
        # With slots reserved ahead of requests (Light lanes: per-second, no daily quota).
        ("redis-reserving", BUSINESS_PLUS, Category.LIGHT),
        ("redis-reserving", PRO, Category.LIGHT),
    ],
    indirect=["store"],
)
async def test_no_window_ever_holds_more_than_the_limit(plan, category, store) -> None:
    limiter = RateLimiter(plan, store=store)
    limit = plan.limit_for("general", category)
    n = limit.limit * 12
    start = anyio.current_time()
    arrivals = await drive(limiter, category, n)
    elapsed = anyio.current_time() - start
    assert len(arrivals) == n
    assert max_in_window(arrivals, limit.window) <= limit.limit
    # And it leaves no rate unused: one round trip (<= 50 ms) per window is the only cost.
    achieved = n / elapsed
    assert achieved >= limit.rate / (1 + 0.05) * 0.97


async def test_resource_intensive_uses_a_minute_window(store) -> None:
    limiter = RateLimiter(BUSINESS_PLUS, store=store)
    arrivals = await drive(limiter, Category.RESOURCE_INTENSIVE, 60, concurrency=60)
    assert max_in_window(arrivals, 60.0) <= 20
    assert max(arrivals) - min(arrivals) >= 120  # three minutes' worth, not one burst


async def test_phone_lanes_are_separate_from_general(store) -> None:
    limiter = RateLimiter(BUSINESS_PLUS, store=store)
    arrivals = await drive(limiter, Category.LIGHT, 160, family="phone")
    assert max_in_window(arrivals, 1.0) <= 40
    snap = await limiter.snapshot()
    assert snap.lane("Light", "phone").requests == 160
    assert snap.lane("Light").requests == 0


async def test_waiters_are_served_in_fifo_order(store) -> None:
    limiter = RateLimiter(resolve_plan({"Light": 2}), store=store)
    order: list[int] = []

    async def one(i: int) -> None:
        permit = await limiter.acquire("general", Category.LIGHT)
        order.append(i)
        await permit.release()

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(one, i)
            await anyio.lowlevel.checkpoint()  # make the queueing order explicit
    assert order == list(range(20))


async def test_cancelled_waiter_gives_back_its_place(store) -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store)
    granted: list[str] = []
    first = await limiter.acquire("general", Category.LIGHT)

    async def wait_for(name: str) -> None:
        permit = await limiter.acquire("general", Category.LIGHT)
        granted.append(name)
        await permit.release()

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait_for, "a")
        await anyio.lowlevel.checkpoint()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await wait_for("cancelled")  # cancelled while queued
        tg.start_soon(wait_for, "c")
        await anyio.lowlevel.checkpoint()
        await first.release()
    assert granted == ["a", "c"]
    snap = await limiter.snapshot()
    assert snap.lane("Light").queued == 0
    # No slot leaked: after the window passes, a full burst is available again.
    await anyio.sleep(1.0)
    permits = [await limiter.acquire("general", Category.LIGHT) for _ in range(1)]
    for p in permits:
        await p.release()


async def test_cancelling_the_head_waiter_passes_the_turn_on(store) -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store)
    held = await limiter.acquire("general", Category.LIGHT)
    got: list[str] = []

    async def waiter(name: str) -> None:
        permit = await limiter.acquire("general", Category.LIGHT)
        got.append(name)
        await permit.release()

    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as head_scope:
            tg.start_soon(waiter, "second")  # queued behind the head below
            await anyio.lowlevel.checkpoint()

        async def head() -> None:
            with head_scope:
                await waiter("head")

        head_scope = anyio.CancelScope()
        tg.start_soon(head)
        await anyio.sleep(0.1)
        head_scope.cancel()
        await held.release()
    assert got == ["second"]


async def test_priority_requests_jump_the_queue(store) -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store)
    held = await limiter.acquire("general", Category.LIGHT)
    order: list[str] = []

    async def one(name: str, retry: bool) -> None:
        permit = await limiter.acquire("general", Category.LIGHT, retry=retry)
        order.append(name)
        await permit.release()

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "normal", False)
        await anyio.lowlevel.checkpoint()
        tg.start_soon(one, "retry", True)
        await anyio.lowlevel.checkpoint()
        await held.release()
    assert order == ["retry", "normal"]


async def _memory_per_queued_waiter(n: int) -> tuple[float, float]:
    """Bytes per queued waiter: in all (its task included), and allocated by the limiter."""
    import gc
    import tracemalloc

    limiter = RateLimiter(resolve_plan({"Light": 1}))
    lane = limiter._lane("general", Category.LIGHT)
    held = await limiter.acquire("general", Category.LIGHT)
    done = 0

    async def one() -> None:
        nonlocal done
        permit = await limiter.acquire("general", Category.LIGHT)
        await permit.release()
        done += 1

    # Deterministic: the only slot is held, so exactly n wait when measured, whatever the
    # machine's load; and with the collector paused (and run before) a collection that runs in
    # one measurement and not the other cannot skew the ratio.
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(one)
            while lane.queued < n:
                await anyio.lowlevel.checkpoint()
            after = tracemalloc.take_snapshot()
            tracemalloc.stop()  # the queue drains untraced
            assert lane.queued == n
            await held.release()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert done == n
    by_file = {d.traceback[0].filename: d.size_diff for d in after.compare_to(before, "filename")}
    return sum(by_file.values()) / n, by_file.get(limits_module.__file__, 0) / n


async def test_queued_waiters_cost_memory_proportional_to_their_number() -> None:
    small, small_own = await _memory_per_queued_waiter(1_000)
    large, large_own = await _memory_per_queued_waiter(4_000)
    # Linear, not more: the cost per waiter (mostly the caller's own task) does not grow.
    assert large < small * 1.25
    assert large < 8192
    # The limiter's own part (its coroutine and the queued future) is constant and small.
    assert large_own < small_own * 1.1
    assert large_own < 1024


async def test_daily_quota_raises_without_sending_and_resets_at_midnight(store) -> None:
    table = BUSINESS_PLUS.with_overrides(daily_quota={"general": 5})
    clock = SystemClock(start=datetime(2026, 3, 1, 23, 59, 0, tzinfo=UTC))
    events: list[LimitEvent] = []
    limiter = RateLimiter(table, clock=clock, on_event=events.append, store=store)
    for _ in range(5):
        permit = await limiter.acquire("general", Category.HEAVY)
        await permit.release()
    assert await limiter.daily_quota_left() == 0
    with pytest.raises(DailyLimitExceeded) as info:
        await limiter.acquire("general", Category.RESOURCE_INTENSIVE)
    assert info.value.resets_at == datetime(2026, 3, 2, tzinfo=UTC)
    assert info.value.sent is False
    assert isinstance(info.value, RateLimitError)
    assert any(e.kind == "daily_exhausted" for e in events)
    # Light requests do not touch the daily quota.
    permit = await limiter.acquire("general", Category.LIGHT)
    await permit.release()
    await anyio.sleep(61)
    permit = await limiter.acquire("general", Category.HEAVY)
    await permit.release()
    assert await limiter.daily_quota_left() == 4


async def test_daily_quota_can_wait_for_the_reset(store) -> None:
    table = PRO.with_overrides(daily_quota={"general": 1})
    clock = SystemClock(start=datetime(2026, 3, 1, 23, 0, 0, tzinfo=UTC))
    limiter = RateLimiter(table, clock=clock, on_daily_limit="wait", store=store)
    permit = await limiter.acquire("general", Category.HEAVY)
    await permit.release()
    before = clock.utcnow()
    permit = await limiter.acquire("general", Category.HEAVY)
    await permit.release()
    assert clock.utcnow() >= datetime(2026, 3, 2, tzinfo=UTC) > before


async def test_daily_quota_follows_zoom_remaining_header(store) -> None:
    limiter = RateLimiter(PRO, store=store)
    permit = await limiter.acquire("general", Category.HEAVY)
    response = httpx.Response(
        200,
        headers={
            "X-RateLimit-Category": "Heavy",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": "30000",
            "X-RateLimit-Remaining": "12",
        },
    )
    await permit.release(response)
    assert await limiter.daily_quota_left() == 12


async def test_unsent_request_gives_its_daily_unit_back(store) -> None:
    limiter = RateLimiter(PRO, store=store)
    permit = await limiter.acquire("general", Category.HEAVY)
    await permit.release(sent=False)
    assert await limiter.daily_quota_left() == 30_000


async def test_meeting_quota_is_per_user_and_per_utc_day(store) -> None:
    clock = SystemClock(start=datetime(2026, 5, 5, 23, 59, 59, tzinfo=UTC))
    limiter = RateLimiter(PRO, clock=clock, store=store)
    for _ in range(100):
        await limiter.reserve_meeting("host-a")
    with pytest.raises(MeetingQuotaExceeded) as info:
        await limiter.reserve_meeting("HOST-A")
    assert info.value.user == "HOST-A"
    assert info.value.resets_at == datetime(2026, 5, 6, tzinfo=UTC)
    await limiter.reserve_meeting("host-b")
    await anyio.sleep(2)
    await limiter.reserve_meeting("host-a")
    assert await limiter.meeting_quota_used("host-a") == 1


async def test_meeting_exhausted_by_zoom_refuses_locally_until_reset(store) -> None:
    limiter = RateLimiter(PRO, store=store)
    await limiter.meeting_exhausted("u1")
    with pytest.raises(MeetingQuotaExceeded):
        await limiter.reserve_meeting("u1")


async def _full_window_refused(limiter: RateLimiter, sent: int, refused: int) -> list[Permit]:
    """``sent`` Light requests at once; Zoom refuses the last ``refused`` (a neighbour app had
    the rest of the window)."""
    permits = [await limiter.acquire("general", Category.LIGHT) for _ in range(sent)]
    await anyio.sleep(0.03)
    for p in permits:
        await p.release()
    for p in reversed(permits[sent - refused :]):  # answers come back in any order
        await limiter.rate_limited(
            "general", Category.LIGHT, granted_at=p.granted_at, lease_id=p.lease_id
        )
    return permits


async def test_first_429_learns_the_neighbours_share(store) -> None:
    events: list[LimitEvent] = []
    limiter = RateLimiter(BUSINESS_PLUS, on_event=events.append, store=store)
    await _full_window_refused(limiter, 80, 30)
    lane = (await limiter.snapshot()).lane(Category.LIGHT)
    # 50 of ours were accepted in the window that refused the others: the neighbour used 30.
    assert lane.current_rate == 50.0
    assert lane.rate_limited == 30
    assert events[-1].kind == "rate_limited"
    assert [e.rate for e in events if e.kind == "slowdown"][-1] == 50.0
    # The next window admits 50 of ours at once, not one more.
    await anyio.sleep(1.0)
    permits = [await limiter.acquire("general", Category.LIGHT) for _ in range(50)]
    with anyio.move_on_after(0.5) as scope:
        await limiter.acquire("general", Category.LIGHT)
    assert scope.cancelled_caught
    for p in permits:
        await p.release()


def _twin(store: LimiterStore) -> LimiterStore:
    """Another process's store on the same shared state (the same InMemoryStore stands in for
    one shared by two limiters)."""
    if isinstance(store, RedisStore):
        return RedisStore(
            store.redis,
            namespace=store.namespace,
            timeout=None,
            time_source="client",
            reserve=store.reserve,
        )
    return store


async def test_processes_sharing_a_store_learn_the_account_wide_share(store) -> None:
    """Two processes on one store, their requests interleaved; a neighbour app had 30 of the
    window, so Zoom refused the last 30 of our 80. Each process alone saw 25 of its 40
    accepted; the account saw 50 of ours: the share left is 50 for both together."""
    limiters = [
        RateLimiter(BUSINESS_PLUS, store=store),
        RateLimiter(BUSINESS_PLUS, store=_twin(store)),
    ]
    permits = [await limiters[i % 2].acquire("general", Category.LIGHT) for i in range(80)]
    await anyio.sleep(0.03)
    for p in permits:
        await p.release()
    for i in reversed(range(50, 80)):  # each process hears of its own refusals
        await limiters[i % 2].rate_limited(
            "general",
            Category.LIGHT,
            granted_at=permits[i].granted_at,
            lease_id=permits[i].lease_id,
        )
    for limiter in limiters:
        assert (await limiter.snapshot()).lane(Category.LIGHT).current_rate == 50.0
        share = await limiter.learned("general", Category.LIGHT)
        assert share is not None and share.ceiling == 50
    # The next window admits 50 of ours across both processes, and not one more.
    await anyio.sleep(1.0)
    permits = [await limiters[i % 2].acquire("general", Category.LIGHT) for i in range(50)]
    for limiter in limiters:
        with anyio.move_on_after(0.5) as scope:
            await limiter.acquire("general", Category.LIGHT)
        assert scope.cancelled_caught
    for p in permits:
        await p.release()


async def test_learned_share_is_probed_slowly_and_a_refused_probe_slows_probing(store) -> None:
    limiter = RateLimiter(BUSINESS_PLUS, probe_interval=5.0, store=store)
    await _full_window_refused(limiter, 80, 30)

    async def rate() -> float:
        return (await limiter.snapshot()).lane("Light").current_rate

    await anyio.sleep(4.9)
    assert await rate() == 50.0  # the remembered ceiling holds for one probe interval
    await anyio.sleep(0.2)
    assert await rate() == 51.0  # then one more request per window
    await anyio.sleep(5.0)
    assert await rate() == 53.0  # then 2 more per interval, 3 more...
    # A probe draws a 429: back to the remembered ceiling, and probing twice as slowly.
    permits = [await limiter.acquire("general", Category.LIGHT) for _ in range(53)]
    for p in permits:
        await p.release()
    await limiter.rate_limited(
        "general", Category.LIGHT, granted_at=permits[-1].granted_at, lease_id=permits[-1].lease_id
    )
    assert await rate() == 50.0
    await anyio.sleep(9.9)
    assert await rate() == 50.0
    await anyio.sleep(0.2)
    assert await rate() == 51.0


async def test_rate_returns_to_the_plan_once_probes_meet_no_429(store) -> None:
    limiter = RateLimiter(BUSINESS_PLUS, probe_interval=5.0, store=store)
    await _full_window_refused(limiter, 80, 30)
    await anyio.sleep(60)
    assert (await limiter.snapshot()).lane("Light").current_rate == 80.0
    assert await limiter.learned("general", Category.LIGHT) is None


async def test_429_without_a_grant_time_steps_down_once_per_window(store) -> None:
    limiter = RateLimiter(BUSINESS_PLUS, store=store)
    await limiter.rate_limited("general", Category.LIGHT)
    await limiter.rate_limited("general", Category.LIGHT)  # same window: one step only
    lane = (await limiter.snapshot()).lane(Category.LIGHT)
    assert lane.current_rate == 79.0
    assert lane.rate_limited == 2


async def test_not_adaptive_counts_429s_and_keeps_the_plan(store) -> None:
    limiter = RateLimiter(BUSINESS_PLUS, adaptive=False, store=store)
    await _full_window_refused(limiter, 80, 30)
    lane = (await limiter.snapshot()).lane(Category.LIGHT)
    assert lane.current_rate == 80.0 and lane.rate_limited == 30


async def test_a_429_counts_ours_that_were_granted_over_a_window_before_but_sent_late(
    store,
) -> None:
    """A wave of 25 is granted at once and waits 130 ms to leave (its process waits for a
    core: tests/test_redis_store.py's worker test under load); a window after the wave's grants
    the next request goes at once, and reaches Zoom while the wave is still in Zoom's window,
    with the neighbour's 15 of the 40: refused. Counted by grant times from a window before its
    grant, none of ours were in that window: a share of 1 (the worker test learned 3). The
    store's window held the wave when it granted that request (it was answered after it
    arrived): 25 of ours, 25 left."""
    limiter = RateLimiter(resolve_plan({"Light": 40}), store=store)
    wave = [await limiter.acquire("general", Category.LIGHT) for _ in range(25)]
    await anyio.sleep(0.13)  # sent at 0.13, answered at 0.15
    for p in wave:
        p.sent_at = limiter._clock.monotonic()
    await anyio.sleep(0.02)
    for p in wave:
        await p.release()
    await anyio.sleep(0.87)  # 1.02: the store's window still holds the wave
    late = await limiter.acquire("general", Category.LIGHT)
    late.sent_at = limiter._clock.monotonic()
    await anyio.sleep(0.02)  # arrived at 1.03 (the wave too, at 0.13): refused
    await late.release()
    await limiter.rate_limited(
        "general",
        Category.LIGHT,
        granted_at=late.granted_at,
        lease_id=late.lease_id,
        sent_at=late.sent_at,
    )
    share = await limiter.learned("general", Category.LIGHT)
    assert share is not None and share.ceiling == 25


async def test_x_ratelimit_headers_teach_the_share_before_any_429(store) -> None:
    limiter = RateLimiter(BUSINESS_PLUS, store=store)
    permits = [await limiter.acquire("general", Category.LIGHT) for _ in range(10)]
    for p in permits[:-1]:
        await p.release()
    # The window held 60 requests when the last of our 10 arrived: 50 were another app's.
    await permits[-1].release(
        httpx.Response(
            200,
            headers={
                "X-RateLimit-Category": "Light",
                "X-RateLimit-Type": "QPS",
                "X-RateLimit-Limit": "80",
                "X-RateLimit-Remaining": "20",
            },
        )
    )
    assert (await limiter.snapshot()).lane("Light").current_rate == 30.0


async def test_interactive_requests_take_the_next_slot_ahead_of_batch_work(store) -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store)
    held = await limiter.acquire("general", Category.LIGHT)
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        permit = await limiter.acquire("general", Category.LIGHT, priority=priority)
        order.append(name)
        await permit.release()

    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(one, f"batch{i}", "batch")
            await anyio.lowlevel.checkpoint()
        await anyio.sleep(0.5)  # batch0 heads the line, waiting for the held slot
        for i in range(2):
            tg.start_soon(one, f"user{i}", "interactive")
            await anyio.lowlevel.checkpoint()
        await held.release()
    assert order == ["user0", "user1", "batch0", "batch1", "batch2"]


async def test_interactive_requests_keep_the_window_guarantee(store) -> None:
    limiter = RateLimiter(resolve_plan({"Light": 20}), store=store)
    grants: list[float] = []
    waits: list[float] = []

    async def one(priority: Priority) -> None:
        start = anyio.current_time()
        permit = await limiter.acquire("general", Category.LIGHT, priority=priority)
        grants.append(permit.granted_at)
        if priority == "interactive":
            waits.append(permit.granted_at - start)
        await anyio.sleep(0.03)
        await permit.release()

    async with anyio.create_task_group() as tg:
        for _ in range(400):
            tg.start_soon(one, "batch")
        for _ in range(20):
            await anyio.sleep(0.7)
            tg.start_soon(one, "interactive")
    assert max_in_window(grants, 1.0) <= 20
    if isinstance(store, RedisStore):
        # Virtual time runs on while the loop waits for Redis's answers, so waits measured on
        # it are not a store's; tests/test_redis_store.py measures them in real time.
        return
    # Each user-facing call waited at most one window and a round trip, not for the batch.
    assert max(waits) <= 1.0 + 0.03 + 1e-6


async def test_bad_priority_is_a_configuration_error(store) -> None:
    limiter = RateLimiter(PRO, store=store)
    with pytest.raises(ConfigurationError, match="interactive"):
        await limiter.acquire("general", Category.LIGHT, priority="urgent")  # type: ignore[arg-type]


async def test_cancelling_a_large_queue_leaves_nothing_behind() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}))
    held = await limiter.acquire("general", Category.LIGHT)
    lane = limiter._lane("general", Category.LIGHT)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            for i in range(20_000):
                tg.start_soon(
                    partial(limiter.acquire, priority="interactive" if i % 7 else "batch"),
                    "general",
                    Category.LIGHT,
                )
            await anyio.sleep(0.01)
            assert lane.queued == 20_000
            scope.cancel()
    assert lane.queued == 0
    assert all(not q for q in lane._queues)
    await held.release()
    # The lane works as before: a request finds no queue and is granted at once.
    await anyio.sleep(1.0)
    # 20,000 queued calls were frozen out of full collections (the default threshold is
    # 10,000); the drain gave them back.
    assert gc.get_freeze_count() == 0
    permit = await limiter.acquire("general", Category.LIGHT)
    assert permit.granted_at == anyio.current_time()
    await permit.release()


async def test_cancelled_entries_are_dropped_once_they_are_the_majority() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}))
    held = await limiter.acquire("general", Category.LIGHT)
    lane = limiter._lane("general", Category.LIGHT)
    served: list[int] = []

    async def call(i: int) -> None:
        permit = await limiter.acquire("general", Category.LIGHT)
        served.append(i)
        await permit.release()

    tasks = [asyncio.ensure_future(call(i)) for i in range(12)]
    await asyncio.sleep(0)
    assert lane.queued == 12
    # Cancel 7 scattered ones: the first 6 are only counted; the 7th makes them the majority
    # and every cancelled entry leaves the queue at once, the live ones keeping their order.
    gone = [1, 2, 4, 6, 7, 9, 10]
    for i in gone[:6]:
        tasks[i].cancel()
    assert lane.queued == 6 and sum(len(q) for q in lane._queues) == 12
    tasks[gone[6]].cancel()
    assert lane.queued == 5 and sum(len(q) for q in lane._queues) == 5
    await held.release()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert served == [0, 3, 5, 8, 11]
    assert lane.queued == 0 and not any(lane._queues)


async def test_wait_events_and_stats(store) -> None:
    events: list[LimitEvent] = []
    limiter = RateLimiter(resolve_plan({"Light": 2}), on_event=events.append, store=store)
    for _ in range(4):
        permit = await limiter.acquire("general", Category.LIGHT)
        await permit.release()
    waits = [e for e in events if e.kind == "wait"]
    assert waits and all(e.seconds > 0 for e in waits)
    lane = (await limiter.snapshot()).lane("Light")
    assert lane.requests == 4
    assert lane.waited == pytest.approx(sum(e.seconds for e in waits))


async def test_store_interface_is_what_the_limiter_uses() -> None:
    calls: list[str] = []

    class Recording(InMemoryStore):
        async def acquire(self, lane, limit, window, now, lease_id, lease_timeout):  # type: ignore[override]
            calls.append(f"acquire {lane} {limit} {lease_timeout}")
            return await super().acquire(lane, limit, window, now, lease_id, lease_timeout)

    limiter = RateLimiter(PRO, store=Recording(), lease_timeout=65.0)
    permit = await limiter.acquire("general", Category.MEDIUM)
    await permit.release()
    assert calls == ["acquire general:Medium 20 65.0"]


def _resp(headers: dict[str, str], message: str) -> httpx.Response:
    return httpx.Response(429, headers=headers, json={"code": 429, "message": message})


NOW = datetime(2025, 8, 22, 12, tzinfo=UTC)


def test_classify_qps() -> None:
    err = classify_rate_limit(
        _resp(
            {"X-RateLimit-Category": "Light", "X-RateLimit-Type": "QPS"},
            "You have reached the maximum per-second rate limit for this API. Try again later.",
        ),
        category=Category.LIGHT,
        meeting_user=None,
        now=NOW,
    )
    assert type(err) is RateLimitError
    assert err.limit_type == "QPS" and err.category == "Light"


def test_classify_daily_with_iso_retry_after() -> None:
    err = classify_rate_limit(
        _resp(
            {
                "X-RateLimit-Category": "Heavy",
                "X-RateLimit-Type": "Daily-limit",
                "X-RateLimit-Limit": "30000",
                "X-RateLimit-Remaining": "0",
                "Retry-After": "2025-08-23T00:00:00Z",
            },
            "You have reached the maximum daily rate limit for this API.",
        ),
        category=Category.HEAVY,
        meeting_user=None,
        now=NOW,
    )
    assert isinstance(err, DailyLimitExceeded)
    assert err.resets_at == datetime(2025, 8, 23, tzinfo=UTC)
    assert err.retry_after == 12 * 3600


def test_classify_meeting_quota_with_only_a_category_header() -> None:
    err = classify_rate_limit(
        _resp(
            {"X-RateLimit-Category": "Light"},
            "You have exceeded the daily rate limit of (100) meeting create/update/delete API "
            "requests permitted for this particular user.",
        ),
        category=Category.LIGHT,
        meeting_user="host-1",
        now=NOW,
    )
    assert isinstance(err, MeetingQuotaExceeded)
    assert err.user == "host-1"
    assert err.resets_at == datetime(2025, 8, 23, tzinfo=UTC)


def test_classify_qps_on_a_meeting_mutation_stays_qps() -> None:
    err = classify_rate_limit(
        _resp({"X-RateLimit-Category": "Light", "X-RateLimit-Type": "QPS"}, "per-second"),
        category=Category.LIGHT,
        meeting_user="host-1",
        now=NOW,
    )
    assert type(err) is RateLimitError


def test_classify_concurrent() -> None:
    err = classify_rate_limit(
        _resp({}, "Too many concurrent requests. A request to disassociate this user has already"),
        category=None,
        meeting_user=None,
        now=NOW,
    )
    assert isinstance(err, ConcurrentRequestsError)
    assert err.limit_type == "Concurrent"


def test_custom_plan_and_budget_share() -> None:
    table = resolve_plan({"base": "business_plus", "Light": 50}, budget_share=0.5)
    assert table.limit_for("general", Category.LIGHT) == CategoryLimit(25)
    assert table.limit_for("general", Category.MEDIUM) == CategoryLimit(30)
    assert table.daily_quota_for("general") == 30_000


async def test_a_slot_handed_to_a_caller_cancelled_at_that_moment_goes_back() -> None:
    waiter: asyncio.Future[Permit] | None = None

    class CancelOnGrant(InMemoryStore):
        armed = False

        async def acquire_many(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
            granted, delay = await super().acquire_many(*args, **kwargs)
            if granted and self.armed and waiter is not None:
                self.armed = False
                # Runs before the caller resumes: it is cancelled with its slot in hand.
                asyncio.get_running_loop().call_soon(waiter.cancel)
            return granted, delay

    store = CancelOnGrant()
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store)
    held = await limiter.acquire("general", Category.LIGHT)
    waiter = asyncio.ensure_future(limiter.acquire("general", Category.LIGHT))
    await asyncio.sleep(0.01)
    store.armed = True
    await held.release()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0.01)
    assert store._windows["general:Light"].in_flight == 0  # the slot came back
    assert limiter._lane("general", Category.LIGHT).queued == 0
    await asyncio.sleep(1.0)
    permit = await limiter.acquire("general", Category.LIGHT)
    await permit.release()


async def test_a_granted_waiter_cancelled_but_resumed_keeps_its_slot_once() -> None:
    """The lane's future is told of a cancellation (``cancel()``) that its task then does not
    act on (on Python 3.13+ ``Task.uncancel()`` withdraws one before the task runs): the task
    takes its grant, and the slot is not given back a second time behind its back."""
    lanes_waiter: list[limits_module._Waiter] = []

    class CancelTheFutureOnGrant(InMemoryStore):
        async def acquire_many(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
            granted, delay = await super().acquire_many(*args, **kwargs)
            if granted and lanes_waiter:
                # Runs after the grant is set and before the task resumes, as Task.cancel()
                # would; the task itself is not cancelled.
                asyncio.get_running_loop().call_soon(lanes_waiter.pop().cancel)
            return granted, delay

    store = CancelTheFutureOnGrant()
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store)
    held = await limiter.acquire("general", Category.LIGHT)
    first = asyncio.ensure_future(limiter.acquire("general", Category.LIGHT))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(limiter._wait_for_slot("general", Category.LIGHT, "batch"))
    await asyncio.sleep(0.01)
    waiter = first.get_coro().cr_await  # type: ignore[union-attr]
    assert type(waiter) is limits_module._Waiter
    lanes_waiter.append(waiter)
    await held.release()
    permit = await first  # the grant was taken, not given back
    await asyncio.sleep(0.01)
    window = store._windows["general:Light"]
    assert window.in_flight == 1 and not second.done()
    await permit.release()
    await asyncio.sleep(1.01)
    assert window.in_flight == 1 and second.done()  # the next one has it: counted once
    await (await second).release()
    assert window.in_flight == 0


async def test_a_store_that_cannot_answer_fails_the_queued_request_unsent() -> None:
    class Flaky(InMemoryStore):
        fail = False

        async def acquire_many(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
            if self.fail:
                self.fail = False
                raise LimiterUnavailable("the shared store did not answer")
            return await super().acquire_many(*args, **kwargs)

    store = Flaky()
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store)
    held = await limiter.acquire("general", Category.LIGHT)
    first = asyncio.ensure_future(limiter.acquire("general", Category.LIGHT))
    second = asyncio.ensure_future(limiter.acquire("general", Category.LIGHT))
    await asyncio.sleep(0.01)
    store.fail = True
    await held.release()
    with pytest.raises(LimiterUnavailable):
        await first
    permit = await second  # the next one goes on
    await permit.release()
    assert limiter._lane("general", Category.LIGHT).queued == 0


async def test_a_pump_that_fails_leaves_no_request_waiting_forever() -> None:
    class Broken(InMemoryStore):
        broken = False

        async def acquire_many(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
            if self.broken:
                await asyncio.sleep(0.01)  # a shared store's round trip
            return await super().acquire_many(*args, **kwargs)

        async def release(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
            if self.broken:
                raise RuntimeError("store lost")
            await super().release(*args, **kwargs)

    store = Broken()
    limiter = RateLimiter(resolve_plan({"Light": 2}), store=store)
    lane = limiter._lane("general", Category.LIGHT)
    held = [await limiter.acquire("general", Category.LIGHT) for _ in range(2)]
    gone = asyncio.ensure_future(limiter.acquire("general", Category.LIGHT))
    await asyncio.sleep(0.001)
    await held[0].release()
    store.broken = True
    await asyncio.sleep(1.005)  # the pump is asking the store for the freed slot...
    gone.cancel()  # ...when the only waiter leaves, and giving the slot back fails
    await asyncio.gather(gone, return_exceptions=True)
    await asyncio.sleep(0.05)
    assert lane._pump is None and lane.queued == 0
    store.broken = False
    await held[1].release()
    permit = await limiter.acquire("general", Category.LIGHT)  # a new pump, or none needed
    await permit.release()


async def test_a_slot_counts_from_when_its_answer_began_to_arrive() -> None:
    # The client passes the time its connection read the answer's first bytes: Zoom sent them
    # after it took the request in, so the slot frees a window after then, not a window after
    # the turn of a busy loop in which the caller read the answer.
    limiter = RateLimiter(resolve_plan({"Light": 2}))
    loop = asyncio.get_running_loop()
    first, second = [await limiter.acquire("general", Category.LIGHT) for _ in range(2)]
    await asyncio.sleep(0.5)
    arrived = loop.time() - 0.3
    await first.release(answered_at=arrived)
    await second.release(answered_at=loop.time() + 5)  # not before now: now
    released = loop.time()
    third, fourth = [await limiter.acquire("general", Category.LIGHT) for _ in range(2)]
    assert third.granted_at == pytest.approx(arrived + 1.0, abs=1e-3)
    assert fourth.granted_at == pytest.approx(released + 1.0, abs=1e-3)


async def test_answers_released_out_of_their_order_free_slots_in_their_order() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 2}))
    loop = asyncio.get_running_loop()
    first, second = [await limiter.acquire("general", Category.LIGHT) for _ in range(2)]
    await asyncio.sleep(0.5)
    now = loop.time()
    await first.release(answered_at=now - 0.1)
    await second.release(answered_at=now - 0.4)  # read later, answered earlier
    third, fourth = [await limiter.acquire("general", Category.LIGHT) for _ in range(2)]
    assert third.granted_at == pytest.approx(now - 0.4 + 1.0, abs=1e-3)
    assert fourth.granted_at == pytest.approx(now - 0.1 + 1.0, abs=1e-3)


async def test_an_answer_time_on_another_clock_than_the_loop_s_is_not_used() -> None:
    class Later(SystemClock):  # another clock: its epoch is 100 s after the loop's
        def monotonic(self) -> float:
            return super().monotonic() + 100.0

    limiter = RateLimiter(resolve_plan({"Light": 1}), clock=Later())
    loop = asyncio.get_running_loop()
    permit = await limiter.acquire("general", Category.LIGHT)
    await permit.release(answered_at=loop.time())  # the loop's time: 100 s "before" now
    released = limiter.clock.monotonic()
    again = await limiter.acquire("general", Category.LIGHT)
    assert again.granted_at == pytest.approx(released + 1.0, abs=1e-3)


async def test_a_queue_on_the_in_memory_store_runs_no_task_of_the_limiter_s() -> None:
    """Its pump is its timer's callback: a freed slot is handed out in the timer's own turn of
    the loop, where a pump task would take one more (woken by its timer, then run), and on a
    loop busy with a wave each turn waits behind other tasks' steps."""
    limiter = RateLimiter(resolve_plan({"Light": 2}))
    lane = limiter._lane("general", Category.LIGHT)
    held = [await limiter.acquire("general", Category.LIGHT) for _ in range(2)]
    tasks = len(asyncio.all_tasks())
    waiting = [asyncio.ensure_future(limiter.acquire("general", Category.LIGHT)) for _ in range(3)]
    await asyncio.sleep(0)
    assert lane.queued == 3
    assert len(asyncio.all_tasks()) == tasks + 3  # the callers' own, no pump
    assert lane._pump is None and lane._timer is not None
    started = limiter.clock.monotonic()
    for permit in held:
        await permit.release()
    first = await asyncio.gather(*waiting[:2])
    assert all(p.granted_at >= started + 1.0 for p in first)  # a window after the releases
    for permit in first:
        await permit.release()
    last = await waiting[2]
    await last.release()
    assert lane.queued == 0 and lane._timer is None  # drained: idle, no timer left


async def test_a_wave_of_freed_slots_is_one_store_call(store) -> None:
    """The pump asks for as many slots as there are waiters at once: with a shared store a
    window boundary costs one round trip, not one per queued request."""
    calls: list[tuple[int, int]] = []
    inner = store
    if type(store) is InMemoryStore:
        # The in-memory store's lane takes its slots with plain calls, not acquire_many (see
        # the next test); as any other store's, a subclass's lane asks in batches.
        inner = type("CountedStore", (InMemoryStore,), {})()
    many = inner.acquire_many  # type: ignore[attr-defined]

    async def counted(lane, limit, window, now, lease_ids, lease_timeout):  # type: ignore[no-untyped-def]
        granted, delay = await many(lane, limit, window, now, lease_ids, lease_timeout)
        calls.append((len(lease_ids), granted))
        return granted, delay

    inner.acquire_many = counted  # type: ignore[attr-defined]
    limiter = RateLimiter(resolve_plan({"Light": 20}), store=inner)
    held = [await limiter.acquire("general", Category.LIGHT) for _ in range(20)]
    waiters = [asyncio.ensure_future(limiter.acquire("general", Category.LIGHT)) for _ in range(30)]
    await asyncio.sleep(0.01)
    # The window's requests complete together (a shared store records them in one call).
    await asyncio.gather(*(p.release() for p in held))
    permits = await asyncio.gather(*waiters[:20])
    # One call handed the whole window to the first 20 (the rest wait for the next window).
    assert (20, 20) in calls, str(calls)
    assert max_in_window([p.granted_at for p in permits], 1.0) == 20
    for p in permits:
        await p.release()
    for p in await asyncio.gather(*waiters[20:]):
        await p.release()


async def test_completions_do_not_ask_the_store_again_for_a_known_instant(store) -> None:
    """Once the store has said when the next slot frees, further completions cannot bring it
    nearer (each frees a slot a window after it): the pump is not woken to ask again, which
    with a shared store would be a round trip per completion."""
    asks: list[float] = []
    many = store.acquire_many  # type: ignore[attr-defined]

    async def counted(lane, limit, window, now, lease_ids, lease_timeout):  # type: ignore[no-untyped-def]
        asks.append(now)
        return await many(lane, limit, window, now, lease_ids, lease_timeout)

    store.acquire_many = counted  # type: ignore[attr-defined]
    limiter = RateLimiter(resolve_plan({"Light": 10}), store=store)
    held = [await limiter.acquire("general", Category.LIGHT) for _ in range(10)]
    waiters = [asyncio.ensure_future(limiter.acquire("general", Category.LIGHT)) for _ in range(10)]
    await asyncio.sleep(0.01)
    asks.clear()  # (a RedisStore's acquire() is acquire_many() with one lease)
    for permit in held:  # ten completions, 10 ms apart
        await permit.release()
        await asyncio.sleep(0.01)
    asks_during_completions = len(asks)
    permits = await asyncio.gather(*waiters)
    # At most once, at the first completion, when the store had said only a completion could
    # free a slot (a RedisStore says "a window from now", itself a known instant); the later
    # completions asked nothing.
    assert asks_during_completions <= 1, asks
    # ...and no waiter had its slot before a window after the first completion.
    released = sorted(p.granted_at for p in permits)
    assert released[0] >= 1.01 and max_in_window(released, 1.0) == 10
    for permit in permits:
        await permit.release()


async def test_a_store_without_the_batch_form_is_asked_once_per_slot() -> None:
    """A LimiterStore written to the first protocol (no acquire_many) still works."""

    class Minimal:
        def __init__(self) -> None:
            self.inner = InMemoryStore()
            self.acquired = 0

        async def acquire(self, *args):  # type: ignore[no-untyped-def]
            self.acquired += 1
            return await self.inner.acquire(*args)

        async def release(self, *args):  # type: ignore[no-untyped-def]
            await self.inner.release(*args)

        async def increment(self, *args):  # type: ignore[no-untyped-def]
            return await self.inner.increment(*args)

        async def decrement(self, *args):  # type: ignore[no-untyped-def]
            await self.inner.decrement(*args)

        async def raise_to(self, *args):  # type: ignore[no-untyped-def]
            await self.inner.raise_to(*args)

        async def count(self, *args):  # type: ignore[no-untyped-def]
            return await self.inner.count(*args)

    store = Minimal()
    assert isinstance(store, LimiterStore)
    limiter = RateLimiter(resolve_plan({"Light": 5}), store=store)
    arrivals = await drive(limiter, Category.LIGHT, 40, concurrency=20)
    assert max_in_window(arrivals, 1.0) <= 5
    assert store.acquired >= 40


async def test_the_client_s_queued_request_is_granted_its_slot_early_for_the_instant_it_frees() -> (
    None
):
    # On the in-memory store a queued request of the client's (RateLimiter._wait_for_slot) may be
    # handed the next slot a little before it frees, granted for that instant: the client builds
    # the request meanwhile and sends no earlier (ZoomClient._attempts). acquire() callers, who
    # send whenever they like, only ever get a slot that is free.
    limiter = RateLimiter(resolve_plan({"Light": 2}))
    loop = asyncio.get_running_loop()
    held = [await limiter.acquire("general", Category.LIGHT) for _ in range(2)]
    client_s = asyncio.ensure_future(limiter._wait_for_slot("general", Category.LIGHT, "batch"))
    public = asyncio.ensure_future(limiter.acquire("general", Category.LIGHT))
    await asyncio.sleep(0.25)
    first_done = loop.time()
    await held[0].release()
    await asyncio.sleep(0.25)
    await held[1].release()
    frees = first_done + 1.0
    permit = await client_s
    woken = loop.time()
    assert permit.granted_at == pytest.approx(frees, abs=1e-6)
    assert frees - limits_module._EARLY_GRANT - 1e-3 <= woken < frees  # before it frees
    other = await public
    assert other.granted_at >= first_done + 1.25 - 1e-6  # the second slot, once it is free
    assert loop.time() >= other.granted_at


async def test_a_queued_heavy_request_is_granted_early_and_takes_its_daily_unit() -> None:
    # Heavy requests also take a unit of the daily quota first; their slot may be granted early
    # as any other category's. A cancelled one gives its unit back.
    limiter = RateLimiter(resolve_plan({"Heavy": 1, "daily_quota": 10}))
    loop = asyncio.get_running_loop()
    held = await limiter.acquire("general", Category.HEAVY)
    queued = asyncio.ensure_future(limiter._wait_for_slot("general", Category.HEAVY, "batch"))
    abandoned = asyncio.ensure_future(limiter._wait_for_slot("general", Category.HEAVY, "batch"))
    await asyncio.sleep(0.1)
    assert await limiter.daily_quota_left() == 7
    abandoned.cancel()
    await asyncio.gather(abandoned, return_exceptions=True)
    assert await limiter.daily_quota_left() == 8
    await held.release()
    frees = loop.time() + 1.0
    permit = await queued
    assert permit.granted_at == pytest.approx(frees, abs=1e-3)
    assert loop.time() < frees  # handed over before its slot frees
    await asyncio.sleep(permit.granted_at - loop.time())
    await permit.release()
    assert await limiter.daily_quota_left() == 8


async def test_an_early_grant_keeps_the_window_full_until_its_slot_frees() -> None:
    for first, second in ((10.0, 10.0), (10.0, 10.3)):  # two completions tied, or not
        store = InMemoryStore()
        assert store._take("l", 2, 1.0, 9.0) == 0.0
        assert store._take("l", 2, 1.0, 9.0) == 0.0
        await store.release("l", 1, first)
        await store.release("l", 2, second)
        now = first + 1.0 - 0.005
        assert store._take("l", 2, 1.0, now) == pytest.approx(0.005)  # none free yet
        assert store._take_early("l", 2, 1.0, now) == first + 1.0
        # Until first + W the window holds both completions (or the early grant's request in
        # place of the first): no other grant, even with the second tied with the first.
        assert store._take("l", 2, 1.0, now) > 0.0
        assert store._take("l", 2, 1.0, first + 1.0 - 1e-9) > 0.0
        if second == first:
            assert store._take("l", 2, 1.0, first + 1.0) == 0.0  # both left: one more slot
        else:
            assert store._take("l", 2, 1.0, first + 1.0) == pytest.approx(0.3)
            assert store._take("l", 2, 1.0, second + 1.0) == 0.0


async def test_no_early_grant_while_the_lane_serves_interactive_calls() -> None:
    # A slot promised early to a batch call would no longer be free for an interactive call
    # arriving just after: interactive calls are granted free slots only, and while they queue
    # in the lane (within two windows) so are batch calls.
    limiter = RateLimiter(resolve_plan({"Light": 1}))
    loop = asyncio.get_running_loop()
    held = await limiter.acquire("general", Category.LIGHT)
    interactive = asyncio.ensure_future(
        limiter._wait_for_slot("general", Category.LIGHT, "interactive")
    )
    await asyncio.sleep(0.1)
    await held.release()
    first = await interactive
    assert loop.time() >= first.granted_at
    batch = asyncio.ensure_future(limiter._wait_for_slot("general", Category.LIGHT, "batch"))
    await asyncio.sleep(first.granted_at - loop.time() + 0.1)
    await first.release()
    frees = loop.time() + 1.0
    second = await batch
    assert second.granted_at == pytest.approx(frees, abs=1e-3)
    assert loop.time() >= second.granted_at  # woken once its slot was free
    await second.release()

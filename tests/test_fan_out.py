"""fan_out(): bounded concurrency, order, errors, laziness, cleanup; progress adapters."""

from __future__ import annotations

import asyncio
import io
import itertools
import random

import anyio
import pytest

from tests.conftest import JITTER, client_for
from zoom_async import SystemClock, ZoomClient
from zoom_async.fan_out import FanOutError, Result, fan_out
from zoom_async.pagination import PaginationError
from zoom_async.progress import ProgressUpdate, RichProgress
from zoom_async.testing import FakeZoom

pytestmark = pytest.mark.looptime


async def no_tasks_left() -> None:
    me = asyncio.current_task()
    for _ in range(100):
        if not [t for t in asyncio.all_tasks() if t is not me]:
            return
        await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not me] == []


async def assert_clean(zoom: ZoomClient) -> None:
    await no_tasks_left()
    snapshot = await zoom.limits.snapshot()
    assert all(lane.queued == 0 for lane in snapshot.lanes)
    windows = zoom.limits._store._windows  # type: ignore[attr-defined]
    assert all(w.in_flight == 0 for w in windows.values())


class Tracker:
    """A job function that records concurrency, starts and cancellations."""

    def __init__(self, delays: dict[int, float] | None = None, fail: set[int] | None = None):
        self.running = 0
        self.peak = 0
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.delays = delays or {}
        self.fail = fail or set()

    async def __call__(self, item: int) -> int:
        self.started.append(item)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await anyio.sleep(self.delays.get(item, 1.0))
            if item in self.fail:
                raise ValueError(f"bad item {item}")
            return item * 10
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(item)
            raise
        finally:
            self.running -= 1


async def test_unordered_yields_every_result_with_bounded_concurrency() -> None:
    rng = random.Random(1)
    job = Tracker({i: rng.uniform(0.1, 2.0) for i in range(200)})
    out = [pair async for pair in fan_out(range(200), job, concurrency=16)]
    assert sorted(out) == [(i, i * 10) for i in range(200)]
    assert out != sorted(out)  # completion order, not input order
    assert job.peak == 16
    await no_tasks_left()


async def test_ordered_yields_in_input_order() -> None:
    rng = random.Random(2)
    job = Tracker({i: rng.uniform(0.1, 2.0) for i in range(100)})
    out = [item async for item, _ in fan_out(range(100), job, concurrency=8, ordered=True)]
    assert out == list(range(100))
    assert job.peak == 8


async def test_a_slow_item_holds_back_at_most_concurrency_items_in_ordered_mode() -> None:
    job = Tracker({0: 100.0})
    fo = fan_out(itertools.count(), job, concurrency=5, ordered=True)
    iterator = aiter(fo)
    first = await anext(iterator)
    assert first == (0, 0)
    assert max(job.started) < 5 + 1  # nothing started beyond the window while item 0 ran
    await fo.aclose()
    await no_tasks_left()


async def test_input_is_read_lazily_so_memory_stays_flat() -> None:
    pulled = 0

    def million():
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield i

    async def job(i: int) -> int:
        await anyio.sleep(0.01)
        return i

    done = 0
    async for _ in fan_out(million(), job, concurrency=32):
        done += 1
        assert pulled <= done + 32
        if done == 5000:
            break
    await no_tasks_left()
    assert pulled <= 5000 + 32


async def test_errors_raise_with_the_item_and_cancel_the_rest() -> None:
    job = Tracker({i: 1.0 for i in range(50)} | {7: 0.5}, fail={7})
    got = []
    with pytest.raises(FanOutError, match="item #7") as info:
        async for item, _value in fan_out(range(50), job, concurrency=10):
            got.append(item)
    err = info.value
    assert err.item == 7 and err.index == 7
    assert isinstance(err.__cause__, ValueError) and err.error is err.__cause__
    assert got == []  # item 7 failed before any other item finished
    assert sorted(job.cancelled) == [i for i in range(10) if i != 7]
    assert max(job.started) == 9  # nothing new was started after the failure
    await no_tasks_left()


async def test_ordered_mode_raises_at_the_failed_items_position() -> None:
    job = Tracker({3: 0.1}, fail={3})
    got = []
    with pytest.raises(FanOutError) as info:
        async for item, _ in fan_out(range(10), job, concurrency=4, ordered=True):
            got.append(item)
    assert got == [0, 1, 2] and info.value.index == 3
    await no_tasks_left()


async def test_collect_yields_a_result_per_item() -> None:
    job = Tracker(fail={2, 5})
    results = [r async for r in fan_out(range(8), job, ordered=True, errors="collect")]
    assert [r.index for r in results] == list(range(8))
    assert all(isinstance(r, Result) for r in results)
    assert [r.ok for r in results] == [i not in (2, 5) for i in range(8)]
    assert results[4].unwrap() == 40 and results[4].value == 40
    assert isinstance(results[2].error, ValueError) and results[2].value is None
    with pytest.raises(FanOutError) as info:
        results[5].unwrap()
    assert info.value.item == 5 and isinstance(info.value.__cause__, ValueError)


async def test_async_input_errors_propagate_after_earlier_items() -> None:
    async def items():
        for i in range(5):
            yield i
        raise PaginationError("page 2 failed", path="/users", page_number=2)

    got = []
    with pytest.raises(PaginationError, match="page 2"):
        async for item, _ in fan_out(items(), Tracker(), ordered=True):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]
    await no_tasks_left()


async def test_break_cancels_the_running_items() -> None:
    job = Tracker({0: 0.1})
    async for _ in fan_out(range(1000), job, concurrency=20):
        break
    await no_tasks_left()
    assert len(job.cancelled) == 19 and job.running == 0
    assert len(job.started) == 20


async def test_a_timeout_around_the_loop_cancels_everything() -> None:
    job = Tracker()
    got = 0
    with anyio.move_on_after(3.5):
        async for _ in fan_out(range(1000), job, concurrency=10):
            got += 1
    await no_tasks_left()
    assert got == 30 and job.running == 0 and len(job.cancelled) == 10


async def test_async_with_stops_work_even_when_the_fan_out_is_kept() -> None:
    job = Tracker()
    async with fan_out(range(100), job, concurrency=10) as fo:
        async for _ in fo:
            break
        assert fo.completed == 1
    await no_tasks_left()
    assert job.running == 0
    with pytest.raises(RuntimeError, match="once"):
        aiter(fo)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        fan_out([1], Tracker(), concurrency=0)
    with pytest.raises(ValueError, match="errors"):
        fan_out([1], Tracker(), errors="ignore")  # type: ignore[call-overload]


async def test_progress_counts_completed_and_failed() -> None:
    updates: list[ProgressUpdate] = []
    job = Tracker(fail={1})
    async for _ in fan_out(range(4), job, errors="collect", progress=updates.append):
        pass
    assert [u.completed for u in updates] == [1, 2, 3, 4, 4]
    assert updates[-1].finished and updates[-1].failed == 1
    assert all(u.total == 4 for u in updates)


# -- end to end -----------------------------------------------------------------------------------


async def test_every_meeting_of_every_user_at_the_rate_limit_without_429s() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), latency=JITTER)
    users = fake.add_users(299)
    for i, user in enumerate(users):
        fake.add_meetings(user["id"], i % 3)
    async with client_for(fake) as zoom:
        start = anyio.current_time()
        found = {}
        async for user, meetings in zoom.fan_out(
            zoom.paginate("/users", page_size=200),
            lambda u: zoom.get(f"/users/{u['id']}/meetings"),
        ):
            found[user["id"]] = len(meetings["meetings"])
        elapsed = anyio.current_time() - start
        await assert_clean(zoom)
    assert len(found) == 300 and sum(found.values()) == sum(i % 3 for i in range(299))
    assert fake.stats.total_rate_limited == 0
    requests = fake.stats.requests
    assert requests == 302  # 2 listing pages + 300 users
    # Medium is 60/s on Business+: the bound is requests / 60 s; allow the RTT per window.
    assert elapsed < requests / 60 * 1.15


async def test_breaking_out_of_a_fan_out_over_a_listing_releases_every_slot() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), latency=JITTER)
    fake.add_users(299)
    async with client_for(fake) as zoom:
        n = 0
        async for _user, _meetings in zoom.fan_out(
            zoom.paginate("/users", page_size=100),
            lambda u: zoom.get(f"/users/{u['id']}/meetings"),
            concurrency=64,
        ):
            n += 1
            if n == 70:
                break
        await assert_clean(zoom)
        requested = fake.stats.requests
        await anyio.sleep(5)
        assert fake.stats.requests == requested


async def test_collected_api_errors_keep_the_failed_users() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock())
    fake.add_users(9)
    ids = [u["id"] for u in fake.users] + ["nobody"]
    async with client_for(fake) as zoom:
        results = [
            r
            async for r in zoom.fan_out(
                ids, lambda uid: zoom.get(f"/users/{uid}"), errors="collect", ordered=True
            )
        ]
    assert [r.item for r in results] == ids
    assert [r.ok for r in results] == [True] * 10 + [False]
    assert type(results[-1].error).__name__ == "NotFoundError"


async def test_total_comes_from_the_paginator() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock())
    fake.add_users(49)
    updates: list[ProgressUpdate] = []

    async def noop(user: dict) -> None:
        return None

    async with client_for(fake) as zoom:
        async for _ in zoom.fan_out(zoom.paginate("/users"), noop, progress=updates.append):
            pass
    assert updates[-1].total == 50 and updates[-1].completed == 50


async def test_rich_progress_adapter_draws_bars() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with RichProgress(console=console, transient=False) as bars:
        async for _ in fan_out(range(5), Tracker(), progress=bars, description="jobs"):
            pass
        bars(
            ProgressUpdate(
                task=-1, description="file.mp4", completed=2048, total=4096, unit="bytes"
            )
        )
        tasks = {t.description: t for t in bars.progress.tasks}
        assert tasks["jobs"].completed == 5 and tasks["jobs"].finished
        assert tasks["file.mp4"].fields["unit"] == "bytes"
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "jobs" in output and "5/5 items" in output
    with RichProgress(console=console, remove_finished=True) as bars:
        bars(ProgressUpdate(task=1, description="a", completed=1, total=2))
        bars(ProgressUpdate(task=1, description="a", completed=2, total=2, finished=True))
        assert bars.progress.tasks == []

"""``gc_freeze_above``: a long queue kept out of CPython's full collections, and given back.

The collector is process-wide: every test here leaves it as it found it (``collector`` fixture).
"""

from __future__ import annotations

import asyncio
import gc
import os
import weakref
from collections.abc import Iterator

import httpx
import pytest

from zoom_async import Category, ConfigurationError, RateLimiter, ZoomClient, _gc_freeze
from zoom_async._gc_freeze import FREEZER
from zoom_async.limits import _NEVER, _THAW_AFTER, DEFAULT_GC_FREEZE_ABOVE, InMemoryStore
from zoom_async.plans import resolve_plan

pytestmark = pytest.mark.looptime


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Start with nothing frozen; fail (and clean up) if a test leaves anything frozen."""
    gc.unfreeze()
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        yield
        assert FREEZER.holders == 0
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        FREEZER._holders.clear()
        if not was_enabled:
            gc.disable()


class _Cycle:
    """Garbage only the cycle collector frees (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


def _light(limiter: RateLimiter):  # type: ignore[no-untyped-def]
    return limiter._lane("general", Category.LIGHT)


async def _queue(limiter: RateLimiter, n: int) -> list[asyncio.Task[object]]:
    tasks = [asyncio.ensure_future(limiter.acquire("general", Category.LIGHT)) for _ in range(n)]
    await asyncio.sleep(0)
    return tasks


async def _thawed() -> None:
    """Wait until a drained queue has given its freeze back (virtual time; a little longer
    than its timer, which may have started in this very instant: timers due together run in
    no set order)."""
    await asyncio.sleep(_THAW_AFTER + 0.001)


async def _cancel(tasks: list[asyncio.Task[object]]) -> None:
    """Cancel ``tasks`` and wait until each has ended, as a caller would."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_queue_past_the_threshold_is_frozen_and_given_back_when_served() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=50)
    held = await limiter.acquire("general", Category.LIGHT)
    freezes = FREEZER.freezes
    tasks = await _queue(limiter, 49)
    assert gc.get_freeze_count() == 0  # below the threshold: the collector is left alone
    garbage = _Cycle()
    dead = weakref.ref(garbage)
    tasks += await _queue(limiter, 1)
    assert FREEZER.freezes == freezes + 1
    assert gc.get_freeze_count() > 0
    del garbage
    gc.collect()
    assert dead() is not None  # frozen with the queue: not collected while it waits
    await held.release()
    for task in tasks:
        permit = await task
        await permit.release()  # type: ignore[attr-defined]
    await _thawed()
    # Drained: every object is the collector's again, and the garbage is collected.
    assert gc.get_freeze_count() == 0
    assert FREEZER.holders == 0
    gc.collect()
    assert dead() is None


async def test_freezing_follows_the_queues_high_water_mark() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=10)
    held = await limiter.acquire("general", Category.LIGHT)
    freezes = FREEZER.freezes
    tasks = await _queue(limiter, 2_010)
    # At 10 waiters, then each 1,000 more past the highest point frozen: 10, 1,010, 2,010.
    assert FREEZER.freezes == freezes + 3
    await _cancel(tasks[:500])
    # Shrinking and growing back below the highest point frozen does not freeze again.
    tasks += await _queue(limiter, 900)
    assert FREEZER.freezes == freezes + 3
    await _cancel(tasks)
    await _thawed()
    assert gc.get_freeze_count() == 0
    assert _light(limiter).queued == 0
    await held.release()


async def test_the_last_lane_to_drain_unfreezes() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1, "Medium": 1}), gc_freeze_above=5)
    light = await limiter.acquire("general", Category.LIGHT)
    medium = await limiter.acquire("general", Category.MEDIUM)
    lights = await _queue(limiter, 5)
    mediums = [asyncio.ensure_future(limiter.acquire("general", Category.MEDIUM)) for _ in range(5)]
    await asyncio.sleep(0)
    assert FREEZER.holders == 2
    await _cancel(lights)
    await _thawed()
    assert FREEZER.holders == 1
    assert gc.get_freeze_count() > 0  # the Medium queue still waits
    await _cancel(mediums)
    await _thawed()
    assert FREEZER.holders == 0
    assert gc.get_freeze_count() == 0
    await light.release()
    await medium.release()


async def test_a_queue_whose_store_fails_gives_the_collector_back() -> None:
    class Failing(InMemoryStore):
        failing = False

        async def acquire_many(self, *args: object, **kwargs: object) -> tuple[int, float]:
            if self.failing:
                raise RuntimeError("store gone")
            return await super().acquire_many(*args, **kwargs)  # type: ignore[arg-type]

    store = Failing()
    limiter = RateLimiter(resolve_plan({"Light": 1}), store=store, gc_freeze_above=3)
    held = await limiter.acquire("general", Category.LIGHT)
    tasks = await _queue(limiter, 3)
    assert gc.get_freeze_count() > 0
    store.failing = True
    await held.release()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    await _thawed()
    assert gc.get_freeze_count() == 0
    assert FREEZER.holders == 0


async def test_someone_elses_freeze_is_left_alone() -> None:
    """A pre-fork server froze its objects: the limiter neither freezes nor unfreezes them."""
    gc.freeze()
    theirs = gc.get_freeze_count()
    try:
        limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=2)
        held = await limiter.acquire("general", Category.LIGHT)
        freezes = FREEZER.freezes
        tasks = await _queue(limiter, 5)
        assert FREEZER.freezes == freezes
        await _cancel(tasks)
        await _thawed()
        assert gc.get_freeze_count() >= theirs * 0.9  # still theirs (a few may have died)
        await held.release()
    finally:
        gc.unfreeze()


async def test_a_disabled_collector_is_left_alone() -> None:
    gc.disable()
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=2)
    held = await limiter.acquire("general", Category.LIGHT)
    tasks = await _queue(limiter, 5)
    assert gc.get_freeze_count() == 0
    await _cancel(tasks)
    await held.release()
    gc.enable()


async def test_on_by_default_from_10_000_queued_calls() -> None:
    """Only a batch reaches the default threshold: 9,999 queued calls leave the collector
    alone, the 10,000th freezes, and the drain gives everything back."""
    limiter = RateLimiter(resolve_plan({"Light": 1}))
    assert limiter.gc_freeze_above == DEFAULT_GC_FREEZE_ABOVE == 10_000
    held = await limiter.acquire("general", Category.LIGHT)
    tasks = await _queue(limiter, 9_999)
    assert gc.get_freeze_count() == 0
    tasks += await _queue(limiter, 1)
    assert FREEZER.holders == 1
    assert gc.get_freeze_count() > 0
    await _cancel(tasks)
    await _thawed()
    assert gc.get_freeze_count() == 0
    await held.release()


async def test_none_turns_it_off_and_bad_thresholds_are_refused() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=None)
    held = await limiter.acquire("general", Category.LIGHT)
    tasks = await _queue(limiter, DEFAULT_GC_FREEZE_ABOVE + 1)
    assert gc.get_freeze_count() == 0
    assert FREEZER.holders == 0
    await _cancel(tasks)
    await held.release()
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(ConfigurationError, match="gc_freeze_above"):
            RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=bad)  # type: ignore[arg-type]


async def test_the_client_passes_its_threshold_to_its_limiter() -> None:
    for given, expected in (
        ({}, 10_000),
        ({"gc_freeze_above": None}, None),
        ({"gc_freeze_above": 7}, 7),
    ):
        zoom = ZoomClient(account_id="a", client_id="b", client_secret="c", **given)  # type: ignore[arg-type]
        assert zoom.limits.gc_freeze_above == expected
        assert zoom.limits._lane("general", Category.LIGHT)._freeze_at == (
            expected if expected is not None else _NEVER
        )
        await zoom.aclose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_a_child_forked_while_a_queue_is_frozen_leaves_the_inherited_freeze_alone() -> None:
    """The parent's queue never drains in a forked child: there, what it froze is someone
    else's freeze (as after a pre-fork server's), and the child's own lanes do nothing."""
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=5)
    held = await limiter.acquire("general", Category.LIGHT)
    tasks = await _queue(limiter, 5)
    assert FREEZER.holders == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave at once (no test machinery of its own)
        try:
            ok = FREEZER.holders == 0 and gc.get_freeze_count() > 0
            ok = ok and not FREEZER.freeze(object()) and gc.get_freeze_count() > 0
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    try:
        answer = os.read(read, 2)
    finally:
        os.close(read)
        os.waitpid(pid, 0)  # noqa: ASYNC222 - the child wrote its answer and exits at once
    assert answer == b"ok"
    assert FREEZER.holders == 1  # the parent's queue still holds its freeze
    await _cancel(tasks)
    await _thawed()
    assert gc.get_freeze_count() == 0
    await held.release()


async def test_zoom_client_calls_queue_frozen_and_keep_their_guarantees() -> None:
    """Through the client: the queued calls are served in order, cancelling gives every slot
    back, and nothing is left frozen or queued."""
    async with ZoomClient(
        account_id="a",
        client_id="b",
        client_secret="c",
        plan={"Light": 2},
        transport=httpx.MockTransport(
            lambda r: (
                httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
                if r.url.path.endswith("/token")
                else httpx.Response(200, json={})
            )
        ),
        gc_freeze_above=20,
    ) as zoom:
        calls = [asyncio.ensure_future(zoom.get(f"/users/u{i}")) for i in range(60)]
        await asyncio.sleep(0)
        lane = zoom.limits._lane("general", Category.LIGHT)
        assert lane.queued > 20
        assert gc.get_freeze_count() > 0
        for call in calls[30:]:
            call.cancel()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert results[:30] == [{}] * 30
        assert all(isinstance(r, asyncio.CancelledError) for r in results[30:])
        await _thawed()
        assert lane.queued == 0
        assert gc.get_freeze_count() == 0
        window = zoom.limits._store._windows["general:Light"]  # type: ignore[attr-defined]
        assert window.in_flight == 0


async def test_a_cancelled_queue_keeps_its_freeze_while_its_calls_unwind() -> None:
    """Calls cancelled all at once are freed as their caller drops them, with no full
    collection walking them meanwhile: the freeze is given back a moment after the drain."""
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=10)
    held = await limiter.acquire("general", Category.LIGHT)
    garbage = _Cycle()
    dead = weakref.ref(garbage)
    tasks = await _queue(limiter, 20)
    del garbage  # frozen with the queue, then garbage
    await _cancel(tasks)
    del tasks
    assert _light(limiter).queued == 0
    assert FREEZER.holders == 1  # drained, still frozen while the cancellation unwinds
    gc.collect()
    assert dead() is not None
    await asyncio.sleep(_THAW_AFTER / 2)
    assert gc.get_freeze_count() > 0
    await asyncio.sleep(_THAW_AFTER / 2)
    assert FREEZER.holders == 0
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert dead() is None  # given back: the cycle formed while frozen is collected
    await held.release()


async def test_a_queue_long_again_before_its_freeze_is_given_back_keeps_it() -> None:
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=10)
    held = await limiter.acquire("general", Category.LIGHT)
    await _cancel(await _queue(limiter, 10))
    freezes = FREEZER.freezes
    tasks = await _queue(limiter, 10)  # long again while the first freeze is still held
    assert FREEZER.freezes == freezes + 1
    await asyncio.sleep(_THAW_AFTER * 2)
    assert FREEZER.holders == 1  # the earlier drain's give-back was called off
    assert gc.get_freeze_count() > 0
    await _cancel(tasks)
    await _thawed()
    assert gc.get_freeze_count() == 0
    await held.release()


@pytest.mark.parametrize("drained", [False, True], ids=["queued", "drained"])
def test_nothing_stays_frozen_when_the_loop_ends(drained: bool) -> None:
    """``asyncio.run`` ends with calls still queued (their tasks and the lane's pump are
    cancelled), or just after a drain (the give-back is cancelled): nothing stays frozen."""

    async def main() -> None:
        limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=10)
        await limiter.acquire("general", Category.LIGHT)
        tasks = await _queue(limiter, 20)
        assert gc.get_freeze_count() > 0
        if drained:
            await _cancel(tasks)
            assert FREEZER.holders == 1

    asyncio.run(main())
    assert FREEZER.holders == 0
    assert gc.get_freeze_count() == 0


async def test_closing_the_client_fails_its_queued_calls_and_gives_the_freeze_back() -> None:
    held = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        await held.wait()
        return httpx.Response(200, json={})

    zoom = ZoomClient(
        account_id="a",
        client_id="b",
        client_secret="c",
        plan={"Light": 1},
        transport=httpx.MockTransport(handler),
        gc_freeze_above=20,
    )
    first = asyncio.ensure_future(zoom.get("/users/first"))
    await asyncio.sleep(0.01)
    queued = [asyncio.ensure_future(zoom.get(f"/users/u{i}")) for i in range(30)]
    await asyncio.sleep(0)
    lane = zoom.limits._lane("general", Category.LIGHT)
    assert lane.queued == 30
    assert gc.get_freeze_count() > 0
    await zoom.aclose()
    async with asyncio.timeout(0.5):  # at once, not as slots free (one a second, none now)
        results = await asyncio.gather(*queued, return_exceptions=True)
    # Each with an error that says why.
    assert all(
        isinstance(r, ConfigurationError) and "closed while the call waited" in str(r)
        for r in results
    )
    assert lane.queued == 0 and not any(lane._queues)
    await _thawed()
    assert FREEZER.holders == 0
    assert gc.get_freeze_count() == 0
    held.set()
    await asyncio.gather(first, return_exceptions=True)


async def test_someone_elses_freeze_is_checked_once_per_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Telling whose a freeze is counts every frozen object (a pre-fork server's whole heap):
    a queue asks once, not at each of its freeze points."""
    gc.freeze()
    asked = 0
    count = gc.get_freeze_count

    def counting() -> int:
        nonlocal asked
        asked += 1
        return count()

    try:
        monkeypatch.setattr(gc, "get_freeze_count", counting)
        limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=10)
        held = await limiter.acquire("general", Category.LIGHT)
        tasks = await _queue(limiter, 2_010)  # freeze points at 10, 1,010 and 2,010
        assert asked == 1
        await _cancel(tasks)
        await _thawed()
        tasks = await _queue(limiter, 10)  # drained and long again: asked again
        assert asked == 2
        await _cancel(tasks)
        await held.release()
    finally:
        monkeypatch.undo()
        gc.unfreeze()


async def test_a_free_threaded_interpreter_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the GIL, gc.freeze() marks every object of the heap at each call: not used."""
    monkeypatch.setattr(_gc_freeze, "_CAN_FREEZE", False)
    limiter = RateLimiter(resolve_plan({"Light": 1}), gc_freeze_above=2)
    held = await limiter.acquire("general", Category.LIGHT)
    tasks = await _queue(limiter, 5)
    assert gc.get_freeze_count() == 0
    assert FREEZER.holders == 0
    await _cancel(tasks)
    await held.release()

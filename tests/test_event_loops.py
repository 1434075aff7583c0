"""The client on each asyncio event loop its users run: asyncio's own, and uvloop's (uvicorn's
loop when it is installed, as ``uvicorn[standard]`` and ``fastapi[standard]`` install it)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import JITTER, served_client
from zoom_async import PRO, Category, CategoryLimit, SystemClock
from zoom_async.clock import loop_time
from zoom_async.testing import FakeZoom

pytestmark = pytest.mark.both_loops

TRANSPORTS = [pytest.param(None, id="httpx"), pytest.param("aiohttp", id="aiohttp")]


async def test_the_clock_reads_the_time_at_each_call() -> None:
    # uvloop's loop.time() is read once per loop turn, in whole milliseconds: a stamp taken
    # after blocking work in the same turn would still say the turn's start.
    clock = SystemClock()
    loop = asyncio.get_running_loop()
    before, at = clock.monotonic(), loop_time(loop)
    time.sleep(0.005)  # noqa: ASYNC251 (on purpose: work that holds the loop)
    assert clock.monotonic() - before >= 0.005
    assert loop_time(loop) - at >= 0.005
    if isinstance(loop, asyncio.BaseEventLoop):  # asyncio's own: its time, unchanged
        assert loop_time(loop) <= loop.time() <= loop_time(loop)
    else:  # the same origin as time.monotonic()
        assert time.monotonic() - 0.001 <= loop_time(loop) <= time.monotonic()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_burst_to_a_host_name_gets_no_429_and_no_window_over_its_limit(
    transport: Any,
) -> None:
    # A host name, as Zoom's: the connection is made as asyncio's loop or uvloop's takes it.
    # Three windows of a small limit; the fake counts arrivals in any sliding window.
    if transport == "aiohttp":
        pytest.importorskip("httpx_aiohttp")
    light = CategoryLimit(10, window=0.25)
    plan = PRO.with_overrides(name="small", general={Category.LIGHT: light})
    fake = FakeZoom(plan=plan, latency=JITTER, clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    async with fake.serve() as server:
        base_url = f"http://localhost:{server.port}/v2"
        async with served_client(fake, server, transport, base_url=base_url, plan=plan) as zoom:
            got = await asyncio.gather(*(zoom.get(f"/users/{uid}") for _ in range(30)))
    assert {user["id"] for user in got} == {uid}
    assert fake.stats.total_rate_limited == 0
    assert fake.stats.accepted_for(Category.LIGHT) == 30
    assert fake.max_in_any_window(Category.LIGHT) == light.limit

"""zoom.paginate(): both paging styles, prefetch, concurrency, checkpoints, errors, cleanup."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import parse_qs

import anyio
import httpx
import pytest

from tests.conftest import JITTER, client_for
from zoom_async import PageTokenExpired, StaticToken, SystemClock, ZoomClient
from zoom_async.pagination import (
    Checkpoint,
    Page,
    PaginationError,
    PaginationLoopError,
)
from zoom_async.progress import ProgressUpdate
from zoom_async.testing import FakeZoom

pytestmark = pytest.mark.looptime

API = "https://api.zoom.us/v2"


def scripted(handler: Callable[[httpx.Request], Awaitable[httpx.Response]], **kwargs) -> ZoomClient:
    """A client whose every API request is answered by ``handler``."""
    return ZoomClient(auth=StaticToken("token"), transport=httpx.MockTransport(handler), **kwargs)


def query(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}


async def assert_clean(zoom: ZoomClient) -> None:
    """No task besides the test's, no request waiting for or holding a rate-limit slot."""
    me = asyncio.current_task()
    for _ in range(100):
        if not [t for t in asyncio.all_tasks() if t is not me]:
            break
        await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not me] == []
    snapshot = await zoom.limits.snapshot()
    assert all(lane.queued == 0 for lane in snapshot.lanes)
    windows = zoom.limits._store._windows  # type: ignore[attr-defined]
    assert all(w.in_flight == 0 for w in windows.values())


def participants_fake(n: int, **kwargs) -> tuple[FakeZoom, str, list[dict]]:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), **kwargs)
    host = fake.add_users(1)[0]
    meeting = fake.add_meetings(host["id"], 1)[0]
    people = fake.add_participants(meeting["id"], n)
    return fake, f"/past_meetings/{meeting['id']}/participants", people


# -- the two styles ---------------------------------------------------------------------------


async def test_next_page_token_listing_yields_every_item_once_in_order() -> None:
    fake, path, people = participants_fake(1234, latency=JITTER)
    async with client_for(fake) as zoom:
        got = [p async for p in zoom.paginate(path, page_size=100)]
        await assert_clean(zoom)
    assert [p["id"] for p in got] == [p["id"] for p in people]
    listing = [r for r in fake.requests if r.path.endswith("/participants")]
    assert len(listing) == 13
    assert "next_page_token" not in listing[0].query
    assert all("next_page_token=" in r.query for r in listing[1:])
    assert fake.stats.total_rate_limited == 0


async def test_page_number_listing_fetches_remaining_pages_concurrently_in_order() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), latency=JITTER)
    fake.add_users(499)  # with the owner: 500 users, 25 pages of 20
    in_flight = peak = 0
    inner = fake.transport()

    class Counting(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await inner.handle_async_request(request)
            finally:
                in_flight -= 1

    async with client_for(fake, transport=Counting()) as zoom:
        pager = zoom.paginate("/users", page_size=20, concurrency=6)
        pages = [page async for page in pager.pages()]
        await assert_clean(zoom)
    assert [p.page_number for p in pages] == list(range(1, 26))
    assert [u["id"] for p in pages for u in p] == [u["id"] for u in fake.users]
    assert pages[0].page_count == 25 and pages[0].total_records == 500
    assert pager.total_records == 500 and pager.page_count == 25
    numbers = [query_of(r.query).get("page_number") for r in fake.requests if r.path == "/v2/users"]
    assert sorted(int(n) for n in numbers[1:]) == list(range(2, 26))
    assert 1 < peak <= 6
    assert pages[-1].checkpoint.done and not pages[-1].has_next


async def test_a_slow_consumer_keeps_only_prefetch_pages_ahead() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), latency=JITTER)
    fake.add_users(199)
    async with client_for(fake) as zoom:
        pages = zoom.paginate("/users", page_size=10, concurrency=4, prefetch=2).pages()
        numbers = []
        async for page in pages:
            numbers.append(page.page_number)
            await anyio.sleep(10)  # slower than the network: never waits for a page
            assert fake.stats.requests <= page.page_number + 2
        await assert_clean(zoom)
    assert numbers == list(range(1, 21))


async def test_a_fast_consumer_widens_the_window_to_concurrency() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), latency=0.5)
    fake.add_users(199)
    async with client_for(fake) as zoom:
        start = anyio.current_time()
        numbers = [p.page_number async for p in zoom.paginate("/users", page_size=10).pages()]
        elapsed = anyio.current_time() - start
        await assert_clean(zoom)
    assert numbers == list(range(1, 21))
    # Virtual time. Token and page 1 take a round trip (1 s) each; one page at a time the other
    # 19 would take 19 s, four at a time (after the window has grown 1, 2, 4) about 6 s.
    assert elapsed < 9


def query_of(raw: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw).items()}


async def test_mode_token_follows_tokens_on_an_endpoint_that_takes_both() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock())
    fake.add_users(349)
    async with client_for(fake) as zoom:
        got = [u async for u in zoom.paginate("/users", page_size=100, mode="token")]
    assert len(got) == 350
    queries = [query_of(r.query) for r in fake.requests if r.path == "/v2/users"]
    assert len(queries) == 4
    assert all("page_number" not in q for q in queries)
    assert all("next_page_token" in q for q in queries[1:])


async def test_legacy_page_number_without_counts_stops_at_a_short_page() -> None:
    things = [{"n": i} for i in range(25)]
    seen: list[dict[str, str]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        q = query(request)
        seen.append(q)
        size, number = int(q["page_size"]), int(q.get("page_number", "1"))
        chunk = things[(number - 1) * size : number * size]
        return httpx.Response(200, json={"page_number": number, "things": chunk})

    async with scripted(handler) as zoom:
        pager = zoom.paginate("/legacy/things", page_size=10)
        got = [t async for t in pager]
    assert got == things
    assert [q.get("page_number") for q in seen] == [None, "2", "3"]
    assert pager.list_key == "things"


async def test_page_size_is_clamped_to_the_endpoint_maximum() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock())
    async with client_for(fake) as zoom:
        pager = zoom.paginate("/users", page_size=10_000)
        assert pager.page_size == 2000
        page = await pager
    assert query_of(fake.requests[-1].query)["page_size"] == "2000"
    assert isinstance(page, Page) and page.items[0]["email"] == "owner@example.com"


async def test_awaiting_the_paginator_fetches_only_the_first_page() -> None:
    fake, path, people = participants_fake(250)
    async with client_for(fake) as zoom:
        page = await zoom.paginate(path, page_size=100)
    assert [p["id"] for p in page] == [p["id"] for p in people[:100]]
    assert page.next_page_token and page.has_next and page.total_records == 250
    assert sum(r.path.endswith("/participants") for r in fake.requests) == 1


async def test_an_empty_first_page_yields_nothing_and_one_page() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock())
    fake.add_users(3)
    async with client_for(fake) as zoom:
        assert [u async for u in zoom.paginate("/users", params={"status": "inactive"})] == []
        pages = [p async for p in zoom.paginate("/users", params={"status": "pending"}).pages()]
        await assert_clean(zoom)
    assert len(pages) == 1 and pages[0].items == [] and pages[0].total_records == 0
    assert pages[0].checkpoint.done


async def test_missing_list_key_and_missing_token_end_the_listing() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"page_size": 300, "total_records": 0})

    async with scripted(handler) as zoom:
        assert [p async for p in zoom.paginate("/past_meetings/1/participants")] == []


# -- prefetch -----------------------------------------------------------------------------------


async def test_the_next_page_is_fetched_while_the_caller_handles_this_one() -> None:
    fake, path, _ = participants_fake(1000, latency=0.05)
    async with client_for(fake) as zoom:
        listing = lambda: [r for r in fake.requests if r.path.endswith("/participants")]  # noqa: E731
        pages = zoom.paginate(path, page_size=100).pages()
        first = await anext(pages)
        assert first.page_number == 1
        await anyio.sleep(1)  # the caller works on page 1 ...
        assert len(listing()) == 2  # ... page 2 was fetched meanwhile, and nothing beyond
        started = anyio.current_time()
        second = await anext(pages)
        assert second.page_number == 2
        assert anyio.current_time() - started < 0.01  # no round trip left to wait for
        await anyio.sleep(1)
        assert len(listing()) == 3
        await pages.aclose()  # type: ignore[attr-defined]
        await assert_clean(zoom)


# -- loops, errors --------------------------------------------------------------------------------


async def test_a_repeating_token_raises_instead_of_looping() -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        token = {"": "A", "A": "B", "B": "A"}[query(request).get("next_page_token", "")]
        return httpx.Response(200, json={"next_page_token": token, "participants": [{"id": calls}]})

    got: list[dict] = []
    async with scripted(handler) as zoom:
        with pytest.raises(PaginationLoopError, match="already used") as info:
            async for item in zoom.paginate("/past_meetings/1/participants"):
                got.append(item)
        await assert_clean(zoom)
    assert got == [{"id": 1}, {"id": 2}]  # the pages before the loop are all delivered
    assert calls == 3
    assert info.value.page_number == 3 and info.value.checkpoint is not None
    assert isinstance(info.value, PaginationError)


async def test_a_server_that_ignores_page_number_is_detected() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        users = [{"id": f"u{i}"} for i in range(10)]
        body = {"page_number": 1, "page_count": 3, "total_records": 30, "users": users}
        return httpx.Response(200, json={**body, "page_size": 10})

    async with scripted(handler) as zoom:
        with pytest.raises(PaginationLoopError, match="ignores page_number"):
            async for _ in zoom.paginate("/users", page_size=10):
                pass
        await assert_clean(zoom)


async def test_an_error_mid_stream_carries_the_page_and_where_to_resume(fast_retry) -> None:
    pages_served = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal pages_served
        token = query(request).get("next_page_token")
        number = int(token) if token else 1
        if number == 3:
            return httpx.Response(404, json={"code": 3001, "message": "Meeting does not exist."})
        pages_served += 1
        items = [{"id": f"{number}-{i}"} for i in range(10)]
        return httpx.Response(200, json={"next_page_token": str(number + 1), "participants": items})

    got: list[dict] = []
    async with scripted(handler, retry=fast_retry) as zoom:
        pager = zoom.paginate("/past_meetings/{id}/participants", path_params={"id": 7})
        with pytest.raises(PaginationError, match="page 3") as info:
            async for item in pager:
                got.append(item)
        await assert_clean(zoom)
    assert len(got) == 20 and pages_served == 2
    err = info.value
    assert err.page_number == 3 and err.path == "/past_meetings/7/participants"
    assert err.__cause__ is not None and getattr(err.__cause__, "code", None) == 3001
    assert err.checkpoint is not None and err.checkpoint.token_issued_at is not None
    assert replace(err.checkpoint, token_issued_at=None) == Checkpoint(
        path="/past_meetings/7/participants",
        page_size=300,
        next_page_token="3",
        page_number=3,
        items_seen=20,
    )
    assert pager.checkpoint == err.checkpoint


async def test_errors_on_concurrent_pages_are_raised_in_page_order(fast_retry) -> None:
    requested: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        number = int(query(request).get("page_number", "1"))
        requested.append(number)
        await anyio.sleep(0.1 if number == 4 else 0.01)
        if number == 4:
            return httpx.Response(503, text="<html>unavailable</html>")
        users = [{"id": f"{number}-{i}"} for i in range(10)]
        body = {"page_number": number, "page_count": 9, "page_size": 10, "users": users}
        return httpx.Response(200, json={**body, "total_records": 90})

    got: list[int] = []
    async with scripted(handler, retry=fast_retry) as zoom:
        with pytest.raises(PaginationError) as info:
            async for page in zoom.paginate("/users", page_size=10, concurrency=4).pages():
                got.append(page.page_number)
        await assert_clean(zoom)
    assert got == [1, 2, 3]  # the pages before the failed one, in order; none after it
    assert info.value.page_number == 4
    assert type(info.value.__cause__).__name__ == "ServerError"
    assert info.value.checkpoint is not None
    assert (info.value.checkpoint.page_number, info.value.checkpoint.items_seen) == (4, 30)
    assert max(requested) <= 4 + 4  # the window never ran further ahead than allowed


# -- checkpoints and expiring tokens --------------------------------------------------------------


async def test_resume_from_a_saved_checkpoint_mid_page() -> None:
    fake, path, people = participants_fake(450)
    ids = [p["id"] for p in people]
    async with client_for(fake) as zoom:
        pager = zoom.paginate(path, page_size=100)
        first: list[str] = []
        async for person in pager:
            first.append(person["id"])
            if len(first) == 250:
                break
        saved = json.loads(json.dumps(pager.checkpoint.to_dict()))
        await assert_clean(zoom)
        checkpoint = Checkpoint.from_dict(saved)
        assert (checkpoint.page_number, checkpoint.offset, checkpoint.items_seen) == (3, 50, 250)
        assert checkpoint.next_page_token and checkpoint.token_issued_at is not None
        rest = [p["id"] async for p in zoom.paginate(path, checkpoint=checkpoint)]
    assert first + rest == ids


async def test_resume_by_page_number_with_concurrent_pages() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock())
    fake.add_users(999)
    ids = [u["id"] for u in fake.users]
    async with client_for(fake) as zoom:
        pager = zoom.paginate("/users", page_size=100)
        head = []
        async for user in pager:
            head.append(user["id"])
            if len(head) == 555:
                break
        checkpoint = pager.checkpoint
        assert checkpoint.next_page_token is None  # numbered listings resume by number
        assert (checkpoint.page_number, checkpoint.offset) == (6, 55)
        tail = [u["id"] async for u in zoom.paginate("/users", checkpoint=checkpoint)]
    assert head + tail == ids


async def test_a_slow_consumer_does_not_let_the_token_expire() -> None:
    fake, path, people = participants_fake(300)  # tokens live 900 s
    async with client_for(fake) as zoom:
        got = []
        async for person in zoom.paginate(path, page_size=100):
            got.append(person["id"])
            if len(got) == 1:
                await anyio.sleep(1800)  # half an hour on the first item
        await assert_clean(zoom)
    assert got == [p["id"] for p in people]


async def test_an_expired_token_raises_page_token_expired_with_the_checkpoint() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock())
    fake.add_users(499)
    ids = [u["id"] for u in fake.users]
    async with client_for(fake) as zoom:
        pager = zoom.paginate("/users", page_size=100, mode="token", token_max_age=None)
        got = []
        with pytest.raises(PageTokenExpired) as info:
            async for user in pager:
                got.append(user["id"])
                if len(got) == 150:
                    await anyio.sleep(1800)  # page 3 is fetched; page 4's token waits 30 min
        await assert_clean(zoom)
        err = info.value
        assert err.status_code == 400 and err.code == 300
        assert "15 minutes" in str(err)
        checkpoint = err.checkpoint
        assert isinstance(checkpoint, Checkpoint)
        assert (checkpoint.page_number, checkpoint.offset, checkpoint.items_seen) == (4, 0, 300)
        assert checkpoint.next_page_token and checkpoint.token_issued_at is not None
        assert len(got) == 300
        with pytest.raises(PageTokenExpired):
            await zoom.paginate("/users", checkpoint=checkpoint)
        resumed = zoom.paginate("/users", checkpoint=checkpoint.by_page_number())
        rest = [u["id"] async for u in resumed]
    assert got + rest == ids


def test_checkpoint_round_trips_through_json() -> None:
    checkpoint = Checkpoint(
        path="/users", params={"status": "active"}, next_page_token="x", offset=3
    )
    assert Checkpoint.from_dict(json.loads(json.dumps(checkpoint.to_dict()))) == checkpoint


async def test_bad_arguments_are_refused() -> None:
    async with ZoomClient(auth=StaticToken("t")) as zoom:
        with pytest.raises(ValueError, match="checkpoint"):
            zoom.paginate("/users", checkpoint=Checkpoint(path="/groups"))
        with pytest.raises(ValueError, match="two page sizes"):
            zoom.paginate("/users", params={"page_size": 10}, page_size=20)
        with pytest.raises(ValueError, match="page_number"):
            zoom.paginate("/users", params={"page_number": 3, "next_page_token": "x"})
        with pytest.raises(ValueError, match="mode"):
            zoom.paginate("/users", mode="cursor")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="path_params"):
            zoom.paginate("/users/{userId}/meetings")


# -- leaving early ---------------------------------------------------------------------------


async def test_break_stops_the_background_fetches() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), latency=JITTER)
    fake.add_users(999)
    async with client_for(fake) as zoom:
        async for _user in zoom.paginate("/users", page_size=50, concurrency=8):
            break
        await assert_clean(zoom)
        requested = fake.stats.requests
        await anyio.sleep(10)
        assert fake.stats.requests == requested  # nothing more was fetched
        assert requested <= 1 + 8


async def test_break_out_of_pages_of_a_token_listing() -> None:
    fake, path, _ = participants_fake(1000, latency=JITTER)
    async with client_for(fake) as zoom:
        async for page in zoom.paginate(path, page_size=100).pages():
            if page.page_number == 3:
                break
        await assert_clean(zoom)
        assert fake.stats.requests <= 4


async def test_cancelling_the_consumer_cancels_outstanding_fetches() -> None:
    fake = FakeZoom(plan="business_plus", clock=SystemClock(), latency=1.0)
    fake.add_users(999)
    got = 0
    async with client_for(fake) as zoom:
        with anyio.move_on_after(5) as scope:  # token: 2 s, page 1: 2 s, pages 2-9 ...
            async for _user in zoom.paginate("/users", page_size=100):
                got += 1
        assert scope.cancelled_caught
        await assert_clean(zoom)
        assert 0 < got < 1000
        requested = fake.stats.requests
        await anyio.sleep(30)
        assert fake.stats.requests == requested


async def test_cancelling_the_task_leaves_nothing_behind() -> None:
    fake, path, _ = participants_fake(1000, latency=0.5)
    async with client_for(fake) as zoom:

        async def consume() -> None:
            async for _ in zoom.paginate(path, page_size=10):
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.sleep(3)
            tg.cancel_scope.cancel()
        await assert_clean(zoom)


async def test_async_with_closes_an_iterator_kept_in_a_variable() -> None:
    fake, path, _ = participants_fake(1000, latency=0.05)
    async with client_for(fake) as zoom:
        async with zoom.paginate(path, page_size=100) as pager:
            iterator = aiter(pager)
            await anext(iterator)
        await assert_clean(zoom)
        assert iterator is not None
        with pytest.raises(StopAsyncIteration):
            await anext(iterator)


# -- progress -------------------------------------------------------------------------------------


async def test_progress_reports_items_and_the_total() -> None:
    fake, path, _ = participants_fake(250)
    updates: list[ProgressUpdate] = []
    async with client_for(fake) as zoom:
        async for _ in zoom.paginate(path, page_size=100, progress=updates.append):
            pass
    assert [u.completed for u in updates] == [100, 200, 250, 250]
    assert all(u.total == 250 and u.unit == "items" for u in updates)
    assert updates[-1].finished and not updates[0].finished
    assert updates[0].description == f"GET {path}"

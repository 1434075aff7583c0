"""The client's hot path: what a queued call holds, priorities, cancellation, transports."""

from __future__ import annotations

import asyncio
import gc
import traceback
from typing import Any

import httpx
import pytest

from tests.conftest import JITTER, client_for, served_client
from zoom_async import Category, ConfigurationError, SystemClock, ZoomClient, _client, limits
from zoom_async.limits import InMemoryStore
from zoom_async.testing import FakeZoom

API = "https://api.zoom.us/v2"


class CountingToken:
    """A token source that counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    async def get_token(self, http: httpx.AsyncClient) -> str:
        self.asked += 1
        return "token"

    async def invalidate(self, token: str) -> None:
        pass


class HeldTransport:
    """Answers 200 {"path": ...}, holding every request until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.seen: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.path)
        await self.release.wait()
        return httpx.Response(200, json={"path": request.url.path})


def held_client(**kwargs: Any) -> tuple[ZoomClient, HeldTransport, CountingToken]:
    handler = HeldTransport()
    token = CountingToken()
    zoom = ZoomClient(
        auth=token,
        plan={"Light": 1},
        transport=httpx.MockTransport(handler),
        base_url=API,
        **kwargs,
    )
    return zoom, handler, token


@pytest.mark.looptime
async def test_a_queued_call_builds_no_request_and_asks_no_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zoom, handler, token = held_client()
    built = 0
    build = _client._Call.build

    def counting_build(call: _client._Call) -> httpx.Request:
        nonlocal built
        built += 1
        return build(call)

    monkeypatch.setattr(_client._Call, "build", counting_build)
    async with zoom:
        calls = [asyncio.ensure_future(zoom.get(f"/users/u{i}")) for i in range(50)]
        await asyncio.sleep(0.01)
        # One call has the slot and is in flight; 49 wait, holding only their arguments.
        assert handler.seen == ["/v2/users/u0"]
        assert built == 1 and token.asked == 1
        assert zoom.limits._lane("general", Category.LIGHT).queued == 49
        handler.release.set()
        results = await asyncio.gather(*calls)
    assert [r["path"] for r in results] == [f"/v2/users/u{i}" for i in range(50)]
    assert built == 50 and token.asked == 50


@pytest.mark.looptime
async def test_cancelled_queued_calls_leave_nothing_behind() -> None:
    zoom, handler, _ = held_client()
    async with zoom:
        first = asyncio.ensure_future(zoom.get("/users/first"))
        queued = [asyncio.ensure_future(zoom.get(f"/users/u{i}")) for i in range(1000)]
        await asyncio.sleep(0.01)
        for call in queued:
            call.cancel()
        await asyncio.gather(*queued, return_exceptions=True)
        lane = zoom.limits._lane("general", Category.LIGHT)
        assert lane.queued == 0 and not any(lane._queues)
        handler.release.set()
        assert (await first)["path"] == "/v2/users/first"
        # Only the first call ever reached the transport; its slot was given back.
        assert handler.seen == ["/v2/users/first"]
        window = zoom.limits._store._windows["general:Light"]  # type: ignore[attr-defined]
        assert window.in_flight == 0


@pytest.mark.looptime
async def test_a_queued_call_is_its_coroutine_awaiting_the_lanes_future() -> None:
    zoom, handler, _ = held_client()
    async with zoom:
        first = asyncio.ensure_future(zoom.get("/users/first"))
        await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(zoom.get(f"/users/u{i}")) for i in range(3)]
        await asyncio.sleep(0.01)
        # request()'s coroutine awaits the lane's future directly: no coroutine of the
        # limiter's, no future iterator (what 100,000 queued calls would each hold).
        coro = queued[1].get_coro()
        assert coro.cr_code is ZoomClient._request.__code__  # type: ignore[union-attr]
        assert type(coro.cr_await) is limits._Waiter  # type: ignore[union-attr]
        queued[1].cancel()
        (error,) = await asyncio.gather(queued[1], return_exceptions=True)
        assert isinstance(error, asyncio.CancelledError)
        # The task's own CancelledError reached it through one frame of the SDK's (the small
        # coroutine's, which a caller's traceback shows, and each collection walks while the
        # caller holds it), none of the limiter's, and nothing caught or replaced it.
        with pytest.raises(asyncio.CancelledError) as cancelled:
            queued[1].result()
        assert type(cancelled.value) is asyncio.CancelledError
        ours = [
            frame.f_code.co_name
            for frame, _ in traceback.walk_tb(cancelled.value.__traceback__)
            if "zoom_async" in frame.f_code.co_filename
        ]
        assert ours == ["_request"]
        handler.release.set()
        await first
        assert [r["path"] for r in await asyncio.gather(queued[0], queued[2])] == [
            "/v2/users/u0",
            "/v2/users/u2",
        ]
        assert "/v2/users/u1" not in handler.seen


async def _tracked_per_task(start: Any, n: int = 2_000) -> float:
    """Objects the garbage collector tracks per task that ``start(i)`` leaves waiting."""
    gc.collect()
    before = len(gc.get_objects())
    tasks = [asyncio.ensure_future(start(i)) for i in range(n)]
    await asyncio.sleep(0.01)
    gc.collect()
    per_task = (len(gc.get_objects()) - before) / n
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    del tasks
    await asyncio.sleep(0.01)  # (the lane's pump ends, seeing the queue empty)
    gc.collect()
    return per_task


@pytest.mark.looptime
async def test_a_queued_call_is_no_more_work_for_the_collector_than_a_bare_task() -> None:
    """Each full collection walks every tracked object: a queued call is no more of them than
    a task awaiting a plain future, and a cancelled one leaves none behind."""
    zoom, handler, _ = held_client()
    loop = asyncio.get_running_loop()

    async def bare(future: asyncio.Future[None]) -> None:
        await future

    async with zoom:
        first = asyncio.ensure_future(zoom.get("/users/first"))
        await asyncio.sleep(0.01)
        ours = await _tracked_per_task(lambda i: zoom.get(f"/users/u{i}"))
        theirs = await _tracked_per_task(lambda i: bare(loop.create_future()))
        # The task awaiting a future holds asyncio's future iterator too; the lane's future is
        # its own iterator, and the queued call holds its _Call instead (in place of the 27
        # locals request()'s frame held: the coroutine that waits is small).
        assert ours <= theirs + 0.01
        calls = [o for o in gc.get_objects() if type(o) is _client._Call]
        handler.release.set()
        await first
    assert len(calls) <= 1  # the call in flight


@pytest.mark.looptime
async def test_timeouts_and_task_groups_take_queued_calls_out_of_the_queue() -> None:
    zoom, handler, _ = held_client()
    async with zoom:
        lane = zoom.limits._lane("general", Category.LIGHT)
        first = asyncio.ensure_future(zoom.get("/users/first"))
        queued = [asyncio.ensure_future(zoom.get(f"/users/u{i}")) for i in range(2)]
        await asyncio.sleep(0.01)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await zoom.get("/users/timeout")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(zoom.get("/users/wait_for"), 0.05)
        async with asyncio.TaskGroup() as tg:
            in_group = tg.create_task(zoom.get("/users/group"))
            await asyncio.sleep(0.01)
            in_group.cancel()
        assert in_group.cancelled() and lane.queued == 2
        handler.release.set()
        await asyncio.gather(first, *queued)
        assert handler.seen == ["/v2/users/first", "/v2/users/u0", "/v2/users/u1"]
        assert lane.queued == 0 and not any(lane._queues)


@pytest.mark.looptime
async def test_a_queued_call_cancelled_as_its_slot_arrives_gives_the_slot_back() -> None:
    victim: asyncio.Task[Any] | None = None

    class CancelOnGrant(InMemoryStore):
        def _arm(self) -> None:
            if victim is not None and not victim.done():
                # Runs before the call resumes: it is cancelled with its slot in hand.
                asyncio.get_running_loop().call_soon(victim.cancel)

        async def acquire(self, *args: Any, **kwargs: Any) -> float:
            delay = await super().acquire(*args, **kwargs)
            if delay == 0.0:
                self._arm()
            return delay

        async def acquire_many(self, *args: Any, **kwargs: Any) -> tuple[int, float]:
            granted, delay = await super().acquire_many(*args, **kwargs)
            if granted:
                self._arm()
            return granted, delay

    store = CancelOnGrant()
    zoom, handler, token = held_client(store=store)
    async with zoom:
        first = asyncio.ensure_future(zoom.get("/users/first"))
        await asyncio.sleep(0.01)
        queued = [asyncio.ensure_future(zoom.get(f"/users/u{i}")) for i in range(2)]
        await asyncio.sleep(0.01)
        assert type(queued[1].get_coro().cr_await) is limits._Waiter  # type: ignore[union-attr]
        queued[0].cancel()
        await asyncio.gather(queued[0], return_exceptions=True)
        victim = queued[1]
        handler.release.set()
        await first
        (error,) = await asyncio.gather(victim, return_exceptions=True)
        assert isinstance(error, asyncio.CancelledError)
        await asyncio.sleep(0.01)
        assert store._windows["general:Light"].in_flight == 0  # the slot came back
        assert handler.seen == ["/v2/users/first"] and token.asked == 1  # and nothing was sent
        assert zoom.limits._lane("general", Category.LIGHT).queued == 0
        await asyncio.sleep(1.0)
        assert (await zoom.get("/users/next"))["path"] == "/v2/users/next"


@pytest.mark.looptime
async def test_interactive_calls_go_ahead_of_queued_batch_calls() -> None:
    zoom, handler, _ = held_client()
    async with zoom:
        first = asyncio.ensure_future(zoom.get("/users/first"))
        await asyncio.sleep(0.01)
        batch = [asyncio.ensure_future(zoom.get(f"/users/batch{i}")) for i in range(5)]
        await asyncio.sleep(0.01)
        user = asyncio.ensure_future(zoom.get("/users/me", priority="interactive"))
        await asyncio.sleep(0.01)
        handler.release.set()
        await asyncio.gather(first, user, *batch)
    assert handler.seen[:3] == ["/v2/users/first", "/v2/users/me", "/v2/users/batch0"]


@pytest.mark.looptime
async def test_client_default_priority_and_per_call_override() -> None:
    zoom, handler, _ = held_client(priority="interactive")
    assert zoom.priority == "interactive"
    async with zoom:
        first = asyncio.ensure_future(zoom.get("/users/first"))
        await asyncio.sleep(0.01)
        export = asyncio.ensure_future(zoom.get("/users/export", priority="batch"))
        await asyncio.sleep(0.01)
        user = asyncio.ensure_future(zoom.get("/users/me"))  # the client's default
        await asyncio.sleep(0.01)
        handler.release.set()
        await asyncio.gather(first, export, user)
    assert handler.seen == ["/v2/users/first", "/v2/users/me", "/v2/users/export"]


async def test_bad_priority_and_transport_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="priority"):
        ZoomClient(auth=CountingToken(), priority="urgent")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="transport"):
        ZoomClient(auth=CountingToken(), transport="curl")  # type: ignore[arg-type]
    async with ZoomClient(
        auth=CountingToken(), transport=httpx.MockTransport(lambda r: httpx.Response(200))
    ) as zoom:
        with pytest.raises(ConfigurationError, match="priority"):
            await zoom.get("/users/me", priority="now")  # type: ignore[arg-type]


async def test_aiohttp_transport_against_a_served_fake() -> None:
    pytest.importorskip("httpx_aiohttp")
    fake = FakeZoom()
    user = fake.add_users(1)[0]
    async with fake.serve() as server, served_client(fake, server, "aiohttp") as zoom:
        got = await asyncio.gather(*(zoom.get(f"/users/{user['id']}") for _ in range(20)))
        assert {g["id"] for g in got} == {user["id"]}
        assert "aiohttp" in type(zoom.http._transport).__module__


@pytest.mark.parametrize("transport", [None, "aiohttp"], ids=["httpx", "aiohttp"])
async def test_an_answer_read_whole_leaves_nothing_for_the_collector(transport: Any) -> None:
    # httpx's response and the stream it reads from refer to each other. An answer the client
    # has read and closed must not keep that cycle, or each request leaves its response,
    # request and the transport's streams (some 40 objects) to the garbage collector, and a
    # burst of requests runs collection after collection.
    if transport == "aiohttp":
        pytest.importorskip("httpx_aiohttp")
    fake = FakeZoom()
    user = fake.add_users(1)[0]
    async with fake.serve() as server, served_client(fake, server, transport) as zoom:
        await zoom.get(f"/users/{user['id']}")  # the token and a connection
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds stays in gc.garbage
        try:
            got = await asyncio.gather(*(zoom.get(f"/users/{user['id']}") for _ in range(5)))
            gc.collect()
            left = [o for o in gc.garbage if isinstance(o, (httpx.Request, httpx.Response))]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert [g["id"] for g in got] == [user["id"]] * 5
    assert left == []


@pytest.mark.looptime
async def test_a_refused_request_teaches_the_neighbours_share_end_to_end() -> None:
    # 429s carry the grant time of the refused request to the limiter (see test_limits.py).
    fake = FakeZoom(plan="business_plus", latency=JITTER, clock=SystemClock())
    uid = fake.add_users(1)[0]["id"]
    fake.add_neighbour(Category.LIGHT, 30)
    await asyncio.sleep(2.0)  # the neighbour fills its 30 of every window
    async with client_for(fake) as zoom:
        await asyncio.gather(*(zoom.get(f"/users/{uid}") for _ in range(400)))
        learned = await zoom.limits.learned("general", Category.LIGHT)
    assert learned is not None and 47 <= learned.ceiling <= 50
    # The first window lost about the neighbour's 30; later windows almost nothing.
    refused = fake.stats.total_rate_limited + sum(fake.stats.neighbour_refused.values())
    assert refused <= 30 + 10


async def test_cookies_zoom_sets_are_neither_kept_nor_sent_back() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(
            200,
            json={"id": "u1"},
            headers=[
                ("Set-Cookie", "cred=ABCDEF; Path=/; Secure; HttpOnly"),
                ("Set-Cookie", "_zm_lb=1; Domain=.zoom.us; Path=/"),
            ],
        )

    async with ZoomClient(auth=CountingToken(), transport=httpx.MockTransport(handler)) as zoom:
        await zoom.get("/users/u1")
        await zoom.get("/users/u1")
        assert len(zoom.http.cookies.jar) == 0
        assert seen == [None, None]
        # A cookie the caller sets on purpose is still sent.
        zoom.http.cookies.set("mine", "1", domain="api.zoom.us")
        await zoom.get("/users/u1")
        assert seen[-1] == "mine=1"


async def test_aiohttp_transport_keeps_no_cookies_either() -> None:
    pytest.importorskip("httpx_aiohttp")
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    seen: list[str | None] = []

    async def user(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"id": "u1"})
        response.set_cookie("cred", "ABCDEF", path="/")
        return response

    app = web.Application()
    app.router.add_get("/v2/users/u1", user)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        ZoomClient(
            auth=CountingToken(), base_url=str(server.make_url("/v2")), transport="aiohttp"
        ) as zoom,
    ):
        await zoom.get("/users/u1")
        await zoom.get("/users/u1")
    assert seen == [None, None]


def _reference_build(call: _client._Call) -> httpx.Request:
    """What httpx's own build_request makes of a call's arguments."""
    return call.http.build_request(
        call.method,
        call.base + call.rel,
        params=call.params,
        headers=call.headers,
        timeout=httpx.USE_CLIENT_DEFAULT if call.timeout is None else call.timeout,
        **call.body.arguments,
    )


def _same_request(ours: httpx.Request, theirs: httpx.Request) -> None:
    assert ours.method == theirs.method
    assert str(ours.url) == str(theirs.url)
    assert ours.url.raw_path == theirs.url.raw_path
    assert ours.extensions == theirs.extensions
    if ours.headers.get("content-type", "").startswith("multipart/form-data"):
        # A random boundary each: the same fields, framed alike.
        assert [k for k, _ in ours.headers.raw] == [k for k, _ in theirs.headers.raw]
        assert ours.headers["content-type"].split(";")[0] == "multipart/form-data"
        return
    assert ours.headers.raw == theirs.headers.raw
    assert ours.read() == theirs.read()


@pytest.mark.parametrize("cookie", [False, True], ids=["no-cookie", "cookie"])
@pytest.mark.parametrize("own_http", [False, True])
async def test_a_call_builds_the_request_httpx_build_request_would(
    monkeypatch: pytest.MonkeyPatch, own_http: bool, cookie: bool
) -> None:
    built: list[httpx.Request] = []
    build = _client._Call.build

    def compared_build(call: _client._Call) -> httpx.Request:
        request = build(call)
        _same_request(request, _reference_build(call))  # before the token is added
        built.append(request)
        return request

    monkeypatch.setattr(_client._Call, "build", compared_build)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    if own_http:
        # A caller's client with default params and headers of its own, and a base_url (which
        # the client's absolute URLs ignore).
        http = httpx.AsyncClient(
            transport=transport,
            params={"from": "client"},
            headers={"X-App": "mine"},
            base_url="https://elsewhere.example/v9",
            timeout=7.0,
        )
        zoom = ZoomClient(auth=CountingToken(), base_url=API, http_client=http)
    else:
        zoom = ZoomClient(auth=CountingToken(), base_url=API, transport=transport)
    if cookie:
        zoom.http.cookies.set("session", "by-hand", domain="api.zoom.us")
    async with zoom:
        await zoom.get("/users/me")
        await zoom.get("/users", params={"page_size": 30, "status": ["active", "pending"]})
        await zoom.get("/users?status=active&page_size=10", params={"next_page_token": "a b"})
        await zoom.get("/users/{userId}", path_params={"userId": "a+b@example.com"})
        await zoom.get("/users/me", headers={"X-Trace": "1", "accept": "text/plain"}, timeout=3)
        await zoom.get("/users/me", timeout=httpx.Timeout(2.0, connect=1.0))
        await zoom.post("/users", json={"action": "create", "user_info": {"email": "é@x.io"}})
        await zoom.patch("/users/me", data={"first_name": "Ann"}, max_retries=0)
        await zoom.put("/users/me/status", content=b"raw", headers={"Content-Type": "x/y"})
        await zoom.post("/users/me/picture", files={"pic_file": ("p.png", b"\x89PNG", "image/png")})
        await zoom.get("https://api.zoom.us/v2/users/me")
        await zoom.delete("/meetings/{meetingId}", path_params={"meetingId": 85746065432})
        await zoom.post("/users/me/token")  # (no body: httpx's Content-Length: 0)
        await zoom.request("HEAD", "/users/me", headers={"Host": "api.zoom.us"})
    assert len(built) == 15  # (the DELETE looks its meeting's host up first: a GET)
    if cookie:
        assert built[0].headers["cookie"] == "session=by-hand"
    else:
        assert "cookie" not in built[0].headers

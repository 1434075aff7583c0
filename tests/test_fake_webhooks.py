"""Webhooks FakeZoom sends: URL validation first, signed deliveries that parse as the generated
event models, Zoom's retries, in-process and over a port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.conftest import client_for
from zoom_async.events import MeetingCreatedEvent
from zoom_async.testing import FakeZoom, WebhookValidationFailed
from zoom_async.webhooks import Webhooks, parse_event, url_validation, verify

SECRET = "whsec-test-secret-token"


async def test_fastapi_router_receives_signed_meeting_created() -> None:
    fake = FakeZoom()
    hooks = Webhooks(SECRET, clock=fake.clock)
    received: list[MeetingCreatedEvent] = []

    @hooks.on("meeting.created")
    async def created(event: MeetingCreatedEvent) -> None:
        received.append(event)

    api = FastAPI()
    api.include_router(hooks.fastapi_router("/zoom/webhook"))
    sub = await fake.subscribe(
        "http://app.test/zoom/webhook", SECRET, events=["meeting.created"], app=api
    )
    async with client_for(fake) as zoom:
        meeting = await zoom.post("/users/me/meetings", json={"topic": "Sync", "type": 2})
        await zoom.patch(f"/meetings/{meeting['id']}", json={"topic": "Not subscribed"})
    await fake.drain_webhooks()
    await hooks.drain()
    assert [d.attempts for d in sub.deliveries] == [[200]]
    assert len(received) == 1
    event = received[0]
    assert isinstance(event, MeetingCreatedEvent)
    assert event.payload.object.id == meeting["id"]
    assert event.payload.object.topic == "Sync"
    assert event.payload.account_id == fake.account_id
    await fake.unsubscribe()


class Recorder:
    """An ASGI endpoint that answers URL validation and records (or refuses) deliveries."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.bodies: list[bytes] = []
        self.statuses = list(statuses or [])
        self.delay = delay
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        verify(SECRET, request.headers, body, tolerance=None)
        data = json.loads(body)
        if data["event"] == "endpoint.url_validation":
            token = data["payload"]["plainToken"]
            response: Response = JSONResponse(url_validation(SECRET, token))
        else:
            self.times.append(asyncio.get_running_loop().time())
            self.bodies.append(body)
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self.statuses.pop(0) if self.statuses else 200
            response = Response(status_code=status)
        await response(scope, receive, send)


async def test_every_state_change_is_delivered_and_parses_as_its_model() -> None:
    fake = FakeZoom()
    recorder = Recorder()
    await fake.subscribe("http://hooks.test/", SECRET, app=recorder)
    jo = fake.add_user("jo@example.com")
    async with client_for(fake) as zoom:
        meeting = await zoom.post("/users/me/meetings", json={"topic": "A"})
        await zoom.patch(f"/meetings/{meeting['id']}", json={"topic": "B", "duration": 45})
        await zoom.patch(f"/users/{jo['id']}", json={"first_name": "Joanna"})
        webinar = await zoom.post("/users/me/webinars", json={"topic": "W"})
        await zoom.post("/groups", json={"name": "G"})
        fake.add_recording(meeting["id"])
        await zoom.delete(f"/meetings/{meeting['id']}")
        await zoom.delete(f"/webinars/{webinar['id']}")
    await fake.drain_webhooks()
    events = [parse_event(body) for body in recorder.bodies]
    assert [e.event for e in events] == [
        "meeting.created",
        "meeting.updated",
        "user.updated",
        "webinar.created",
        "group.created",
        "recording.completed",
        "meeting.deleted",
        "webinar.deleted",
    ]
    assert all(type(e).__name__ != "ZoomEvent" for e in events)  # each has its own model
    updated = events[1].model_dump()["payload"]
    assert updated["object"]["topic"] == "B" and updated["old_object"]["topic"] == "A"
    user = events[2].model_dump()["payload"]
    assert user["object"]["first_name"] == "Joanna" and user["object"]["id"] == jo["id"]
    recording = events[5].model_dump()["payload"]["object"]
    assert recording["uuid"] == meeting["uuid"] and len(recording["recording_files"]) == 2


@pytest.mark.looptime
async def test_failed_deliveries_are_retried_on_zooms_schedule() -> None:
    fake = FakeZoom()
    recorder = Recorder(statuses=[500, 503, 204])
    sub = await fake.subscribe("http://hooks.test/", SECRET, app=recorder)
    start = asyncio.get_running_loop().time()
    fake.add_user("a@example.com")
    async with client_for(fake) as zoom:
        await zoom.patch("/users/a@example.com", json={"dept": "R&D"})
    await fake.drain_webhooks()
    (delivery,) = sub.deliveries
    assert delivery.attempts == [500, 503, 204] and delivery.delivered
    offsets = [round(t - start) for t in recorder.times]
    assert offsets == [0, 300, 2100]
    assert len(set(recorder.bodies)) == 1  # the same body every time


@pytest.mark.looptime
async def test_a_slow_endpoint_counts_as_a_failure_and_retries_can_be_tuned() -> None:
    fake = FakeZoom()
    recorder = Recorder(delay=5.0)  # answers, but after Zoom's 3 s
    sub = await fake.subscribe("http://hooks.test/", SECRET, app=recorder, retry_delays=(1, 1))
    fake.add_user("a@example.com")
    async with client_for(fake) as zoom:
        await zoom.patch("/users/a@example.com", json={"dept": "R&D"})
    await fake.drain_webhooks()
    assert sub.deliveries[0].attempts == [None, None, None]
    assert not sub.deliveries[0].delivered


async def test_an_endpoint_that_fails_url_validation_is_refused() -> None:
    fake = FakeZoom()

    async def wrong(scope: Any, receive: Any, send: Any) -> None:
        await JSONResponse({"plainToken": "x", "encryptedToken": "y"})(scope, receive, send)

    with pytest.raises(WebhookValidationFailed):
        await fake.subscribe("http://hooks.test/", SECRET, app=wrong)
    assert fake.subscriptions == []


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    import uvicorn

    from zoom_async.testing._uvicorn import EmbeddedServer, bind

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = EmbeddedServer(uvicorn.Config(app, lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no startup event
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_webhooks_over_a_real_port() -> None:
    fake = FakeZoom()
    hooks = Webhooks(SECRET, clock=fake.clock)
    got: list[str] = []

    @hooks.on("meeting.created")
    async def created(event: MeetingCreatedEvent) -> None:
        got.append(str(event.payload.object.topic))

    async with served(hooks.asgi_app("/zoom/webhook")) as origin:
        await fake.subscribe(f"{origin}/zoom/webhook", SECRET, events=["meeting.created"])
        async with client_for(fake) as zoom:
            await zoom.post("/users/me/meetings", json={"topic": "Over TCP"})
        await fake.drain_webhooks()
        await hooks.drain()
        await fake.unsubscribe()
    assert got == ["Over TCP"]

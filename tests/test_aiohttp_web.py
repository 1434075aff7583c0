"""The aiohttp integration: the webhook endpoint, the client's lifecycle, the example app."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from zoom_async import ZoomClient
from zoom_async.aiohttp_web import ZOOM, add_webhook_route, zoom_client_context
from zoom_async.testing import FakeZoom
from zoom_async.webhooks import Webhooks, sign

SECRET = "aiohttp-webhook-secret"
ROOT = Path(__file__).resolve().parent.parent


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time())
    return {"x-zm-request-timestamp": str(ts), "x-zm-signature": sign(secret, ts, body)}


def event(name: str, ts: int = 1, **obj: Any) -> bytes:
    return json.dumps({"event": name, "event_ts": ts, "payload": {"object": obj}}).encode()


async def test_webhook_endpoint_behaves_like_the_asgi_app() -> None:
    hooks = Webhooks(secret_token=SECRET, max_body_size=10_000)
    seen: list[Any] = []
    hooks.add_handler("meeting.started", lambda e: seen.append(e.payload.object.id))
    app = web.Application()
    add_webhook_route(app, hooks)
    async with TestClient(TestServer(app)) as client:
        challenge = json.dumps(
            {
                "event": "endpoint.url_validation",
                "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"},
            }
        ).encode()
        r = await client.post("/zoom/webhook", data=challenge, headers=signed(challenge))
        answer = await r.json()
        assert r.status == 200 and answer["plainToken"] == "qgg8vlvZRS6UYooatFL8Aw"
        assert len(answer["encryptedToken"]) == 64

        body = event("meeting.started", id=42)
        r = await client.post("/zoom/webhook", data=body, headers=signed(body))
        assert (r.status, await r.json()) == (200, {"status": "accepted"})
        r = await client.post("/zoom/webhook", data=body, headers=signed(body))
        assert (await r.json()) == {"status": "duplicate"}
        await hooks.drain()
        assert seen == ["42"]  # the handler ran once, in the background

        r = await client.post("/zoom/webhook", data=body, headers=signed(body, "wrong"))
        assert r.status == 401
        r = await client.post("/zoom/webhook", data=b"[]", headers=signed(b"[]"))
        assert r.status == 400
        big = b"x" * 20_000
        r = await client.post("/zoom/webhook", data=big, headers=signed(big))
        assert r.status == 413
        r = await client.get("/zoom/webhook")
        assert r.status == 405
    assert hooks.closed  # closed by the app's shutdown


async def test_client_lives_as_long_as_the_app() -> None:
    fake = FakeZoom()
    app = web.Application()
    app.cleanup_ctx.append(
        zoom_client_context(
            account_id=fake.account_id,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            base_url=fake.base_url,
            token_url=fake.token_url,
            transport=fake.transport(),
        )
    )

    async def me(request: web.Request) -> web.Response:
        return web.json_response(await request.app[ZOOM].get("/users/me"))

    app.router.add_get("/me", me)
    async with TestClient(TestServer(app)) as client:
        zoom = app[ZOOM]
        assert isinstance(zoom, ZoomClient)
        r = await client.get("/me")
        assert (await r.json())["email"] == "owner@example.com"
    with pytest.raises(Exception, match="closed"):
        await zoom.get("/users/me")


def load_example() -> ModuleType:
    path = ROOT / "docs" / "examples" / "aiohttp_app.py"
    spec = importlib.util.spec_from_file_location("aiohttp_app_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_example_app_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented app: Zoom (FakeZoom) validates its endpoint and sends it meeting.created
    after the app created a meeting through its own route."""
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET)
    example = load_example()
    fake = FakeZoom(plan="business_plus")
    fake.add_meetings("me", 2, topic="Planning {i}")
    app = example.create_app(
        account_id=fake.account_id,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        base_url=fake.base_url,
        token_url=fake.token_url,
        transport=fake.transport(),
        plan="business_plus",
    )
    async with TestClient(TestServer(app)) as client:
        url = str(client.make_url("/zoom/webhook"))
        subscription = await fake.subscribe(url, SECRET, events=["meeting.created"])
        r = await client.post("/meetings", json={"topic": "Retro"})
        assert r.status == 201 and (await r.json())["join_url"]
        await fake.drain_webhooks()
        for _ in range(100):  # the handler runs after the 200
            if app[example.CREATED]:
                break
            await asyncio.sleep(0.01)
        assert app[example.CREATED] == ["Retro"]
        assert [(d.event, d.delivered, d.attempts) for d in subscription.deliveries] == [
            ("meeting.created", True, [200])
        ]
        r = await client.get("/meetings")
        assert (await r.json())["meetings"] == ["Planning 1", "Planning 2", "Retro"]

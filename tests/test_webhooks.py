"""Webhook verification, URL validation, parsing, dedup and the ASGI/FastAPI endpoint."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from zoom_async.errors import ConfigurationError, WebhookVerificationError, ZoomError
from zoom_async.events import MeetingStartedEvent, ZoomEvent
from zoom_async.webhooks import (
    InMemorySeenStore,
    SeenStore,
    WebhookPayloadError,
    Webhooks,
    parse_event,
    sign,
    url_validation,
    verify,
)

SECRET = "zoom-test-secret-token"
# Known vector, computed with `openssl dgst -sha256 -hmac` from the documented algorithm:
# HMAC-SHA256(secret, "v0:{timestamp}:{raw body}"). The topic is non-ASCII (UTF-8 on the wire).
VECTOR_TS = 1700000000
VECTOR_BODY = (
    '{"event":"meeting.started","event_ts":1700000000000,"payload":{"account_id":"AAAAAABBBB",'
    '"object":{"id":"1234567890","topic":"Réunion 会议 🎉"}}}'
).encode()
VECTOR_SIG = "v0=f898787000d3d60f6eae166ee0d2bb79c78c0845206f1513da555a07c685b294"
# HMAC-SHA256(secret, plainToken), also from openssl.
PLAIN_TOKEN = "qgg8vlvZRS6UYooatFL8Aw"
ENCRYPTED_TOKEN = "189bad60d71b25fc9705f43e5883e837f2d813ec93ba913b641fbe02d931744f"

ROOT = Path(__file__).resolve().parent.parent


def vector_headers(**override: str) -> dict[str, str]:
    headers = {"x-zm-signature": VECTOR_SIG, "x-zm-request-timestamp": str(VECTOR_TS)}
    headers.update(override)
    return headers


def signed(body: bytes, *, secret: str = SECRET, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {
        "content-type": "application/json",
        "x-zm-request-timestamp": str(ts),
        "x-zm-signature": sign(secret, ts, body),
    }


def event_body(name: str = "meeting.started", **payload: Any) -> bytes:
    data = {
        "event": name,
        "event_ts": 1700000000123,
        "payload": {"account_id": "AAAAAABBBB", "object": {"id": "99", "topic": "Standup"}}
        | payload,
    }
    return json.dumps(data).encode()


# ------------------------------------------------------------------------------------------
# verify / sign / url_validation


def test_sign_matches_known_vector() -> None:
    assert sign(SECRET, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG
    assert sign(SECRET, str(VECTOR_TS), VECTOR_BODY.decode()) == VECTOR_SIG


def test_verify_accepts_known_vector_with_utf8_topic() -> None:
    verify(SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS + 10)


def test_verify_accepts_str_body_and_any_header_case() -> None:
    headers = {"X-Zm-Signature": VECTOR_SIG, "X-ZM-Request-Timestamp": str(VECTOR_TS)}
    verify(SECRET, headers, VECTOR_BODY.decode("utf-8"), now=VECTOR_TS)
    verify(SECRET, httpx.Headers(headers), bytearray(VECTOR_BODY), now=VECTOR_TS)


def test_verify_rejects_reserialised_json() -> None:
    reserialised = json.dumps(json.loads(VECTOR_BODY)).encode()  # ensure_ascii escapes, spaces
    with pytest.raises(WebhookVerificationError, match="signature mismatch"):
        verify(SECRET, vector_headers(), reserialised, now=VECTOR_TS)


def test_verify_rejects_parsed_body() -> None:
    with pytest.raises(TypeError, match="raw request body"):
        verify(SECRET, vector_headers(), json.loads(VECTOR_BODY), now=VECTOR_TS)


@pytest.mark.parametrize(
    "body",
    [
        VECTOR_BODY.replace(b"1234567890", b"1234567891"),
        VECTOR_BODY + b" ",
        VECTOR_BODY.replace("Réunion".encode(), b"Reunion"),
        b"",
    ],
    ids=["changed-id", "trailing-space", "changed-topic", "empty"],
)
def test_verify_rejects_tampered_body(body: bytes) -> None:
    with pytest.raises(WebhookVerificationError) as info:
        verify(SECRET, vector_headers(), body, now=VECTOR_TS)
    assert info.value.reason.startswith("signature mismatch")


def test_verify_rejects_wrong_secret_without_echoing_secrets() -> None:
    with pytest.raises(WebhookVerificationError) as info:
        verify("another-secret", vector_headers(), VECTOR_BODY, now=VECTOR_TS)
    text = str(info.value) + repr(info.value)
    assert "another-secret" not in text
    assert SECRET not in text
    assert VECTOR_SIG[3:] not in text
    assert isinstance(info.value, ZoomError)


def test_verify_rejects_signature_for_other_timestamp() -> None:
    headers = vector_headers(**{"x-zm-request-timestamp": str(VECTOR_TS + 1)})
    with pytest.raises(WebhookVerificationError, match="signature mismatch"):
        verify(SECRET, headers, VECTOR_BODY, now=VECTOR_TS)


@pytest.mark.parametrize("offset", [301, -301, 86400])
def test_verify_rejects_stale_or_future_timestamp(offset: int) -> None:
    with pytest.raises(WebhookVerificationError, match="away from now"):
        verify(SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS + offset)


def test_verify_tolerance_is_configurable() -> None:
    verify(SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS + 299)
    verify(SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS + 3600, tolerance=7200)
    verify(SECRET, vector_headers(), VECTOR_BODY, now=0, tolerance=None)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, vector_headers(), VECTOR_BODY, now=VECTOR_TS + 11, tolerance=10)


def test_verify_uses_current_time_by_default() -> None:
    with pytest.raises(WebhookVerificationError, match="away from now"):
        verify(SECRET, vector_headers(), VECTOR_BODY)  # the vector is from 2023
    body = b'{"event":"x"}'
    verify(SECRET, signed(body), body)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-zm-request-timestamp": str(VECTOR_TS)}, "missing x-zm-signature"),
        ({"x-zm-signature": VECTOR_SIG}, "missing x-zm-request-timestamp"),
        ({}, "missing x-zm-signature"),
        (vector_headers(**{"x-zm-signature": ""}), "missing x-zm-signature"),
        (vector_headers(**{"x-zm-request-timestamp": "soon"}), "malformed x-zm-request-timestamp"),
        (vector_headers(**{"x-zm-request-timestamp": "-5"}), "malformed x-zm-request-timestamp"),
        (vector_headers(**{"x-zm-signature": VECTOR_SIG[3:]}), "malformed x-zm-signature"),
        (vector_headers(**{"x-zm-signature": "v1=" + VECTOR_SIG[3:]}), "malformed"),
        (vector_headers(**{"x-zm-signature": "v0=zz"}), "signature mismatch"),
        (vector_headers(**{"x-zm-signature": "v0=é"}), "signature mismatch"),
    ],
)
def test_verify_rejects_missing_or_malformed_headers(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(WebhookVerificationError) as info:
        verify(SECRET, headers, VECTOR_BODY, now=VECTOR_TS)
    assert reason in info.value.reason


def test_empty_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        verify("", vector_headers(), VECTOR_BODY, now=VECTOR_TS)
    with pytest.raises(ConfigurationError):
        Webhooks("")


def test_url_validation_known_vector() -> None:
    assert url_validation(SECRET, PLAIN_TOKEN) == {
        "plainToken": PLAIN_TOKEN,
        "encryptedToken": ENCRYPTED_TOKEN,
    }


@pytest.mark.parametrize("token", ["", "v0:1700000000:{}", None])
def test_url_validation_refuses_unusable_tokens(token: Any) -> None:
    with pytest.raises(WebhookPayloadError):
        url_validation(SECRET, token)


# ------------------------------------------------------------------------------------------
# parse_event


def test_parse_event_returns_typed_model() -> None:
    event = parse_event(VECTOR_BODY)
    assert isinstance(event, MeetingStartedEvent)
    assert event.payload.object is not None
    assert event.payload.object.topic == "Réunion 会议 🎉"
    assert event.event_ts == 1700000000000


def test_parse_event_keeps_unknown_fields() -> None:
    body = event_body(extra_payload_field=1)
    data = json.loads(body)
    data["new_top_level"] = {"a": 1}
    data["payload"]["object"]["brand_new"] = [1, 2]
    event = parse_event(json.dumps(data))
    assert isinstance(event, MeetingStartedEvent)
    dumped = event.model_dump(by_alias=True, exclude_none=True)
    assert dumped["new_top_level"] == {"a": 1}
    assert dumped["payload"]["extra_payload_field"] == 1
    assert dumped["payload"]["object"]["brand_new"] == [1, 2]


def test_parse_event_unknown_event_is_generic_and_keeps_everything() -> None:
    data = {"event": "brand.new_event", "event_ts": 5, "payload": {"account_id": "A", "x": 1}}
    event = parse_event(json.dumps(data).encode())
    assert type(event) is ZoomEvent
    assert event.event == "brand.new_event"
    assert event.payload.account_id == "A"
    assert event.model_dump(exclude_none=True) == data


def test_parse_event_accepts_a_mapping() -> None:
    assert isinstance(parse_event(json.loads(VECTOR_BODY)), MeetingStartedEvent)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"payload": {}}', "no event name"),
        (b'{"event": 5}', "no event name"),
        (b'{"event": "x", "payload": 5}', "not a Zoom event"),
    ],
)
def test_parse_event_rejects_malformed_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookPayloadError, match=reason) as info:
        parse_event(body)
    assert isinstance(info.value, WebhookVerificationError)


def test_parse_event_falls_back_to_generic_on_schema_drift(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = {"event": "meeting.started", "payload": {"object": {"duration": "an hour"}}}
    with caplog.at_level(logging.WARNING, "zoom_async.webhooks"):
        event = parse_event(json.dumps(data))
    assert type(event) is ZoomEvent
    assert event.payload.object == {"duration": "an hour"}
    assert "payload.object.duration" in caplog.text
    assert "an hour" not in caplog.text  # values (maybe personal data) are not logged
    with pytest.raises(WebhookPayloadError, match="does not match its model"):
        parse_event(json.dumps(data), strict=True)


# ------------------------------------------------------------------------------------------
# Seen store


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def utcnow(self) -> Any:  # pragma: no cover - unused
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - unused
        self.now += seconds


async def test_in_memory_seen_store_ttl_and_capacity() -> None:
    clock = FakeClock()
    store = InMemorySeenStore(ttl=10, max_entries=3, clock=clock)
    assert isinstance(store, SeenStore)
    assert not await store.seen("a")
    await store.mark("a")
    assert await store.seen("a")
    clock.now += 9.9
    assert await store.seen("a")
    clock.now += 0.2
    assert not await store.seen("a")
    for key in "bcde":
        await store.mark(key)
    assert len(store) == 3
    assert not await store.seen("b")  # the oldest went first
    assert await store.seen("e")


# ------------------------------------------------------------------------------------------
# The endpoint


@pytest.fixture
def hooks() -> Webhooks:
    return Webhooks(SECRET)


@pytest.fixture
async def client(hooks: Webhooks) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hooks.asgi_app(path="/zoom/webhook"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await hooks.aclose(grace_period=1)


async def post(http: httpx.AsyncClient, body: bytes, **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", None) or signed(body)
    return await http.post("/zoom/webhook", content=body, headers=headers, **kw)


async def test_end_to_end_signed_event_runs_handlers(
    hooks: Webhooks, client: httpx.AsyncClient
) -> None:
    seen: list[tuple[str, Any]] = []

    @hooks.on("meeting.started")
    async def started(event: MeetingStartedEvent) -> None:
        assert event.payload.object is not None
        seen.append(("started", event.payload.object.topic))

    @hooks.on("meeting.*")
    async def any_meeting(event: ZoomEvent) -> None:
        seen.append(("meeting.*", event.event))

    @hooks.on("*")
    def everything(event: ZoomEvent) -> None:  # sync: runs in a worker thread
        seen.append(("*", threading.current_thread() is not threading.main_thread()))

    response = await post(client, VECTOR_BODY.replace(b"1700000000000", b"1700000000001"))
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    await hooks.drain()
    assert seen == [("started", "Réunion 会议 🎉"), ("meeting.*", "meeting.started"), ("*", True)]

    seen.clear()
    response = await post(client, event_body("user.created"))
    assert response.status_code == 200
    await hooks.drain()
    assert seen == [("*", True)]


async def test_endpoint_acknowledges_before_slow_handlers(
    hooks: Webhooks, client: httpx.AsyncClient
) -> None:
    release = asyncio.Event()
    finished: list[str] = []

    @hooks.on("meeting.started")
    async def slow(event: ZoomEvent) -> None:
        await release.wait()
        finished.append(event.event)

    async with asyncio.timeout(2):  # would hang if the answer waited for the handler
        response = await post(client, event_body())
    assert response.status_code == 200
    assert finished == []
    assert hooks.pending == 1
    release.set()
    await hooks.drain()
    assert finished == ["meeting.started"]
    assert hooks.pending == 0


async def test_url_validation_through_the_endpoint(client: httpx.AsyncClient) -> None:
    body = json.dumps(
        {"event": "endpoint.url_validation", "payload": {"plainToken": PLAIN_TOKEN}}
    ).encode()
    response = await post(client, body)
    assert response.status_code == 200
    assert response.json() == {"plainToken": PLAIN_TOKEN, "encryptedToken": ENCRYPTED_TOKEN}


async def test_url_validation_requires_a_signature(client: httpx.AsyncClient) -> None:
    body = json.dumps(
        {"event": "endpoint.url_validation", "payload": {"plainToken": "v0:1:{}"}}
    ).encode()
    response = await post(client, body, headers={"content-type": "application/json"})
    assert response.status_code == 401
    assert "encryptedToken" not in response.text
    response = await post(client, body)  # signed, but the token is shaped like a message
    assert response.status_code == 400


async def test_unsigned_tampered_and_stale_requests_are_refused(
    hooks: Webhooks, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[ZoomEvent] = []
    hooks.add_handler("*", ran.append)
    body = event_body()
    old = int(time.time()) - 600
    cases = [
        {"content-type": "application/json"},
        signed(body, secret="wrong-secret"),
        signed(body, ts=old),
        {**signed(body), "x-zm-request-timestamp": str(int(time.time()) - 1)},
    ]
    with caplog.at_level(logging.DEBUG):
        for headers in cases:
            response = await post(client, body, headers=headers)
            assert response.status_code == 401
            assert response.json() == {"error": "webhook verification failed"}
        response = await post(client, body + b" ", headers=signed(body))
        assert response.status_code == 401
    await hooks.drain()
    assert ran == []
    assert "rejected webhook" in caplog.text
    for headers in cases:
        if "x-zm-signature" in headers:
            assert headers["x-zm-signature"][3:] not in caplog.text
    assert SECRET not in caplog.text


async def test_signed_malformed_json_is_a_400(hooks: Webhooks, client: httpx.AsyncClient) -> None:
    for body in (b"{oops", b"[]", b'{"payload": {}}'):
        response = await post(client, body)
        assert response.status_code == 400, body
        assert "error" in response.json()
    assert hooks.pending == 0


async def test_duplicate_deliveries_are_detected(
    hooks: Webhooks, client: httpx.AsyncClient
) -> None:
    ran: list[str] = []
    hooks.add_handler("meeting.started", lambda event: ran.append(event.event))
    body = event_body()
    first = await post(client, body)
    # Zoom's retry: same body, new timestamp and signature.
    second = await post(client, body, headers=signed(body, ts=int(time.time()) + 1))
    third = await post(client, event_body(other=1))  # a different event
    assert first.json() == {"status": "accepted"}
    assert second.json() == {"status": "duplicate"}
    assert third.json() == {"status": "accepted"}
    await hooks.drain()
    assert ran == ["meeting.started", "meeting.started"]


async def test_concurrent_duplicates_run_once() -> None:
    hooks = Webhooks(SECRET)
    ran: list[str] = []
    hooks.add_handler("*", lambda event: ran.append(event.event))
    body = event_body()
    results = await asyncio.gather(*(hooks.handle_request(signed(body), body) for _ in range(5)))
    assert sorted(r.body["status"] for r in results) == ["accepted"] + ["duplicate"] * 4
    await hooks.drain()
    assert ran == ["meeting.started"]


async def test_custom_seen_store_and_disabled_dedupe() -> None:
    class Store:
        def __init__(self) -> None:
            self.keys: set[str] = set()

        async def seen(self, key: str) -> bool:
            return key in self.keys

        async def mark(self, key: str) -> None:
            self.keys.add(key)

    store = Store()
    hooks = Webhooks(SECRET, seen_store=store, dedup_key=lambda event, body: str(event.event_ts))
    body = event_body()
    assert (await hooks.handle_request(signed(body), body)).body["status"] == "accepted"
    assert store.keys == {"1700000000123"}
    assert (await hooks.handle_request(signed(body), body)).body["status"] == "duplicate"

    hooks = Webhooks(SECRET, dedupe=False)
    assert hooks.seen_store is None
    for _ in range(2):
        assert (await hooks.handle_request(signed(body), body)).body["status"] == "accepted"


async def test_broken_seen_store_does_not_drop_events(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        async def seen(self, key: str) -> bool:
            raise ConnectionError("redis down")

        async def mark(self, key: str) -> None:  # pragma: no cover - never reached
            pass

    hooks = Webhooks(SECRET, seen_store=Broken())
    body = event_body()
    response = await hooks.handle_request(signed(body), body)
    assert response.body == {"status": "accepted"}
    assert "seen-store failed" in caplog.text


async def test_handler_errors_are_logged_and_reported(
    hooks: Webhooks, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[tuple[str, str]] = []
    after: list[str] = []
    hooks.on_error = lambda event, exc: errors.append((event.event, str(exc)))

    @hooks.on("meeting.started")
    async def broken(event: ZoomEvent) -> None:
        raise RuntimeError("boom")

    @hooks.on("meeting.started")
    async def still_runs(event: ZoomEvent) -> None:
        after.append(event.event)

    with caplog.at_level(logging.ERROR, "zoom_async.webhooks"):
        response = await post(client, event_body())
        assert response.status_code == 200
        await hooks.drain()
    assert errors == [("meeting.started", "boom")]
    assert after == ["meeting.started"]
    record = next(r for r in caplog.records if "failed for event" in r.getMessage())
    assert "broken" in record.getMessage()
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])


async def test_on_error_failures_are_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    async def on_error(event: ZoomEvent, exc: BaseException) -> None:
        raise ValueError("reporter broken")

    hooks = Webhooks(SECRET, on_error=on_error)
    hooks.add_handler("*", lambda event: 1 / 0)
    await hooks.dispatch(parse_event(event_body()))
    assert "on_error callback failed" in caplog.text


async def test_max_concurrency_limits_running_handlers() -> None:
    hooks = Webhooks(SECRET, max_concurrency=2, dedupe=False)
    running = 0
    peak = 0

    @hooks.on("*")
    async def handler(event: ZoomEvent) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    body = event_body()
    for _ in range(6):
        assert (await hooks.handle_request(signed(body), body)).status == 200
    await hooks.drain()
    assert peak == 2


async def test_aclose_waits_then_cancels_and_refuses_new_requests(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = Webhooks(SECRET)
    cancelled = asyncio.Event()

    @hooks.on("*")
    async def stuck(event: ZoomEvent) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    body = event_body()
    await hooks.handle_request(signed(body), body)
    await hooks.aclose(grace_period=0.05)
    assert cancelled.is_set()
    assert hooks.pending == 0
    assert hooks.closed
    assert "cancelling 1 webhook handler task" in caplog.text
    response = await hooks.handle_request(signed(body), body)
    assert response.status == 503


async def test_http_errors(hooks: Webhooks, client: httpx.AsyncClient) -> None:
    assert (await client.get("/zoom/webhook")).status_code == 405
    assert (await client.post("/elsewhere", content=b"{}")).status_code == 404
    hooks.max_body_size = 100
    big = event_body(padding="x" * 200)
    assert (await post(client, big)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: streamed
        for _ in range(3):
            yield b"x" * 60

    response = await client.post("/zoom/webhook", content=chunks(), headers=signed(b""))
    assert response.status_code == 413


async def test_object_itself_is_an_asgi_app_and_handles_lifespan() -> None:
    hooks = Webhooks(SECRET)
    ran: list[str] = []
    hooks.add_handler("*", lambda event: ran.append(event.event))
    transport = httpx.ASGITransport(app=hooks)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        body = event_body()
        response = await http.post("/any/path", content=body, headers=signed(body))
        assert response.status_code == 200

    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await hooks({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert ran == ["meeting.started"]  # shutdown drained the handler
    assert hooks.closed


async def test_fastapi_router() -> None:
    from fastapi import FastAPI

    hooks = Webhooks(SECRET)
    ran: list[str] = []
    hooks.add_handler("meeting.started", lambda event: ran.append(event.event))
    app = FastAPI()
    app.include_router(hooks.fastapi_router(path="/hooks/zoom", prefix="/v1"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        body = event_body()
        response = await http.post("/v1/hooks/zoom", content=body, headers=signed(body))
        assert response.status_code == 200
        assert response.json() == {"status": "accepted"}
        response = await http.post("/v1/hooks/zoom", content=body, headers={})
        assert response.status_code == 401
        hooks.max_body_size = 10
        response = await http.post("/v1/hooks/zoom", content=body, headers=signed(body))
        assert response.status_code == 413
        validation = json.dumps(
            {"event": "endpoint.url_validation", "payload": {"plainToken": PLAIN_TOKEN}}
        ).encode()
        hooks.max_body_size = 1 << 20
        response = await http.post("/v1/hooks/zoom", content=validation, headers=signed(validation))
        assert response.json()["encryptedToken"] == ENCRYPTED_TOKEN
        assert "/v1/hooks/zoom" not in app.openapi()["paths"]
    await hooks.drain()
    assert ran == ["meeting.started"]


def test_on_requires_an_event_and_repr_hides_the_secret() -> None:
    hooks = Webhooks(SECRET)
    with pytest.raises(ConfigurationError):
        hooks.on()
    with pytest.raises(ConfigurationError):
        hooks.add_handler("", print)

    @hooks.on("a.b", "c.d")
    def handler(event: ZoomEvent) -> None:
        pass

    assert hooks.handlers_for("a.b") == [handler]
    assert hooks.handlers_for("c.d") == [handler]
    assert hooks.handlers_for("e.f") == []
    assert SECRET not in repr(hooks)


# ------------------------------------------------------------------------------------------
# docs/examples/fastapi_webhooks.py runs


@pytest.fixture
def example_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET)
    path = ROOT / "docs" / "examples" / "fastapi_webhooks.py"
    spec = importlib.util.spec_from_file_location("fastapi_webhooks_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


async def test_docs_fastapi_example_runs(
    example_app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    app = example_app.app
    hooks: Webhooks = example_app.hooks
    examples = json.loads((ROOT / "tests" / "data" / "webhook_examples.json").read_text())
    joined = json.dumps(examples["meeting.participant_joined"][0], ensure_ascii=False).encode()
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.INFO, "fastapi_webhooks"):
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            validation = json.dumps(
                {"event": "endpoint.url_validation", "payload": {"plainToken": PLAIN_TOKEN}}
            ).encode()
            response = await http.post(
                "/zoom/webhook", content=validation, headers=signed(validation)
            )
            assert response.json()["encryptedToken"] == ENCRYPTED_TOKEN
            for body in (VECTOR_BODY, joined):
                response = await http.post("/zoom/webhook", content=body, headers=signed(body))
                assert response.status_code == 200
            response = await http.post("/zoom/webhook", content=VECTOR_BODY, headers={})
            assert response.status_code == 401
        await hooks.drain()
    assert "meeting 1234567890 started: Réunion 会议 🎉" in caplog.text
    assert "joined meeting" in caplog.text
    assert "received meeting.participant_joined" in caplog.text
    await hooks.aclose()


def test_docs_show_the_example_verbatim() -> None:
    doc = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    marker = "<!-- example: docs/examples/fastapi_webhooks.py -->\n```python\n"
    assert marker in doc
    shown = doc.split(marker, 1)[1].split("```\n", 1)[0]
    example = (ROOT / "docs" / "examples" / "fastapi_webhooks.py").read_text(encoding="utf-8")
    assert shown == example


def test_public_members_are_documented() -> None:
    import inspect

    from zoom_async import event_stream, events, webhooks

    for module in (webhooks, event_stream, events):
        for name in module.__all__:
            member = getattr(module, name)
            if inspect.isclass(member) or inspect.isfunction(member):
                assert member.__doc__, f"{module.__name__}.{name} has no docstring"
                for attr, value in vars(member).items():
                    if inspect.isfunction(value) and not attr.startswith("_"):
                        assert value.__doc__, f"{module.__name__}.{name}.{attr}"

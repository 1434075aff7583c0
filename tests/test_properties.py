"""Property-based tests: whatever a server or a webhook sender sends, only typed ``ZoomError``s
come out of the client, the 429 classifier, the token endpoint and the EventStream, and the
webhook ASGI app answers 2xx or 4xx, never 500.

Each test runs its examples on a fresh event loop with an in-memory transport and retries that
do not wait, so the whole file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoom_async import (
    ExponentialBackoff,
    RateLimitError,
    RetryPolicy,
    StaticToken,
    ZoomClient,
    ZoomError,
)
from zoom_async import auth as auth_module
from zoom_async.auth import ServerToServerAuth
from zoom_async.event_stream import EventStream
from zoom_async.limits import classify_rate_limit
from zoom_async.plans import Category
from zoom_async.retries import MAX_RETRY_AFTER, parse_retry_after
from zoom_async.webhooks import Webhooks, sign

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# One retry of a 5xx (the retry path runs); no 429 retry, whose slot would wait for the
# limiter's slowed-down window in real time.
NO_WAIT = RetryPolicy(
    max_attempts=2,
    max_rate_limit_attempts=1,
    max_retry_after=0.0,
    backoff=ExponentialBackoff(initial=0.0, maximum=0.0),
)
API = "https://api.zoom.us/v2"
NOW = datetime(2026, 5, 5, 12, tzinfo=UTC)

# -- what a hostile server sends ------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
zoomish_keys = st.sampled_from(
    ["code", "message", "reason", "users", "meetings", "next_page_token", "page_count",
     "total_records", "page_number", "id", "host_id", "email", "access_token", "expires_in"]
)  # fmt: skip
zoomish_objects = st.dictionaries(zoomish_keys, json_values, max_size=6)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(_dumps),
    zoomish_objects.map(_dumps),
    st.integers(1, 5000).map(lambda n: b"[" * n),
    st.integers(1, 5000).map(lambda n: b'{"a":' * n),
    st.just(b"<html><body><h1>502 Bad Gateway</h1>\r\n</body></html>" * 20),
)
header_text = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    st.sampled_from(
        ["nan", "inf", "-inf", "1e12", "1e300", "-1", "0", "5", "QPS", "Daily-limit",
         "Light", "Heavy", "Resource-intensive", "2026-05-06T00:00:00Z",
         "Wed, 21 Oct 2015 07:28:00 GMT", "9999-12-31T23:59:59Z", "application/json"]
    ),
)  # fmt: skip
answer_headers = st.dictionaries(
    st.sampled_from(
        ["Retry-After", "X-RateLimit-Type", "X-RateLimit-Category", "X-RateLimit-Remaining",
         "X-RateLimit-Limit", "Content-Type", "Content-Encoding", "Content-Length"]
    ),
    header_text,
    max_size=5,
)  # fmt: skip
statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503])


def answer(status: int, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.Response(status, headers=headers, content=body)


async def _call(response: httpx.Response, method: str, path: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and path.startswith("/meetings/") and method != "GET":
            return httpx.Response(200, json={"id": 1, "host_id": "h"})
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    body = response.content
    async with ZoomClient(
        auth=StaticToken("t"),
        transport=httpx.MockTransport(handler),
        base_url=API,
        retry=NO_WAIT,
        max_response_size=100_000,
    ) as zoom:
        with contextlib.suppress(ZoomError):  # typed errors are fine; anything else fails
            await zoom.request(method, path, json={} if method != "GET" else None)


@SETTINGS
@given(
    status=statuses,
    headers=answer_headers,
    body=bodies,
    target=st.sampled_from(
        [("GET", "/users/me"), ("POST", "/users/me/meetings"), ("PATCH", "/meetings/1"),
         ("GET", "/report/daily"), ("DELETE", "/phone/users/u1")]
    ),
)  # fmt: skip
def test_the_client_raises_only_zoom_errors(status, headers, body, target) -> None:
    asyncio.run(_call(answer(status, headers, body), *target))


@SETTINGS
@given(headers=answer_headers, body=bodies, meeting_user=st.sampled_from([None, "host-1"]))
def test_the_classifier_always_gives_a_rate_limit_error(headers, body, meeting_user) -> None:
    response = answer(429, headers, body)
    error = classify_rate_limit(
        response, category=Category.HEAVY, meeting_user=meeting_user, now=NOW
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None or 0.0 <= error.retry_after <= MAX_RETRY_AFTER
    assert "\n" not in str(error) and len(str(error)) < 1000


@SETTINGS
@given(st.text(max_size=60) | header_text)
def test_retry_after_is_bounded_or_ignored(value: str) -> None:
    seconds, _ = parse_retry_after(value, NOW)
    assert seconds is None or (math.isfinite(seconds) and 0.0 <= seconds <= MAX_RETRY_AFTER)


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


async def _token(response: httpx.Response) -> None:
    with patch.object(auth_module.anyio, "sleep", _no_sleep):  # its 5xx retries, at once
        await _token_answer(response)


async def _token_answer(response: httpx.Response) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: response)) as http:
        auth = ServerToServerAuth("acct", "id", "secret", token_url="https://zoom.us/oauth/token")
        try:
            token = await auth.get_token(http)
        except ZoomError:
            return
        httpx.Headers({"Authorization": f"Bearer {token}"})  # a token is always a header value
        assert token and token.isascii() and " " not in token


@SETTINGS
@given(
    status=st.sampled_from([200, 400, 401, 500]),
    body=st.one_of(bodies, zoomish_objects.map(_dumps)),
)
def test_the_token_endpoint_gives_a_usable_token_or_a_zoom_error(status, body) -> None:
    asyncio.run(_token(httpx.Response(status, content=body)))


# -- what a webhook sender sends ------------------------------------------------------------

SECRET = "property-secret"
webhook_bodies = st.one_of(
    bodies,
    zoomish_objects.map(_dumps),
    st.fixed_dictionaries(
        {"event": st.sampled_from(["meeting.started", "endpoint.url_validation", "x.y", ""]),
         "payload": json_values, "event_ts": json_values}
    ).map(_dumps),
)  # fmt: skip


async def _deliver(body: bytes, signed: bool, extra: dict[str, str]) -> int:
    hooks = Webhooks(SECRET)
    headers = dict(extra)
    if signed:
        ts = int(time.time())
        headers["x-zm-request-timestamp"] = str(ts)
        headers["x-zm-signature"] = sign(SECRET, ts, body)
    transport = httpx.ASGITransport(app=hooks.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/", content=body, headers=headers)
    await hooks.aclose(grace_period=0)
    return response.status_code


@SETTINGS
@given(
    body=webhook_bodies,
    signed=st.booleans(),
    extra=st.dictionaries(
        st.sampled_from(["x-zm-signature", "x-zm-request-timestamp", "content-type"]),
        header_text,
        max_size=2,
    ),
)
def test_the_webhook_app_answers_2xx_or_4xx(body, signed, extra) -> None:
    status = asyncio.run(_deliver(body, signed, extra))
    assert 200 <= status < 500


@SETTINGS
@given(frame=st.one_of(bodies, bodies.map(lambda b: b.decode("utf-8", "replace"))))
def test_the_event_stream_never_fails_on_a_frame(frame) -> None:
    async def provider() -> str:
        return "t"

    stream = EventStream("sub", provider)
    stream._handle_frame(frame)
    message = json.dumps({"module": "message", "content": frame if isinstance(frame, str) else ""})
    stream._handle_frame(message)


async def _listing(pages: list[bytes]) -> None:
    served = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(served, b'{"users": []}'))

    async with ZoomClient(
        auth=StaticToken("t"),
        transport=httpx.MockTransport(handler),
        base_url=API,
        retry=NO_WAIT,
    ) as zoom:
        with contextlib.suppress(ZoomError):
            await zoom.paginate("/users", page_size=2).collect(limit=50)


@SETTINGS
@given(
    pages=st.lists(
        st.one_of(
            bodies,
            st.fixed_dictionaries(
                {"users": st.lists(zoomish_objects, max_size=3), "next_page_token": json_values},
                optional={"page_count": json_values, "page_number": json_values,
                          "total_records": json_values, "page_size": json_values},
            ).map(_dumps),
        ),
        max_size=6,
    )
)  # fmt: skip
def test_a_listing_ends_in_items_or_a_zoom_error(pages) -> None:
    asyncio.run(_listing(pages))

"""Hostile answers end in typed errors, in bounded time and memory: nested JSON, huge and
dripping bodies, HTML error pages, broken token answers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from tests.conftest import API, TOKEN_URL, dripping
from zoom_async import (
    AuthError,
    BadRequestError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLarge,
    ServerError,
    StaticToken,
    ZoomClient,
    ZoomTimeoutError,
)
from zoom_async.auth import OAuthToken
from zoom_async.event_stream import EventStream
from zoom_async.webhooks import Webhooks, sign

pytestmark = pytest.mark.looptime

DEEP = b"[" * 200_000
HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    + b"<center><h1>502 Bad Gateway</h1></center>\r\n" * 200
    + b"</body>\r\n</html>\r\n"
)


def client(credentials, **kwargs) -> ZoomClient:
    return ZoomClient(**credentials, **kwargs)


# -- nested JSON ---------------------------------------------------------------------------


async def test_deeply_nested_success_body_is_a_decode_error(zoom_api, credentials) -> None:
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, content=DEEP))
    async with client(credentials) as zoom:
        with pytest.raises(ResponseDecodeError, match="nested too deeply"):
            await zoom.get("/users/me")
        response = await zoom.send("GET", "/users/me")  # send() returns it undecoded
        assert response.content == DEEP


@pytest.mark.parametrize(("status", "cls"), [(400, BadRequestError), (429, RateLimitError)])
async def test_deeply_nested_error_body_keeps_the_typed_error(
    zoom_api, credentials, fast_retry, status, cls
) -> None:
    zoom_api.post(f"{API}/users").mock(return_value=httpx.Response(status, content=DEEP))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(cls) as info:
            await zoom.post("/users", json={})
    assert len(str(info.value)) < 400


async def test_webhook_app_answers_400_to_a_signed_nested_delivery() -> None:
    hooks = Webhooks("secret")
    body = b'{"event": "meeting.started", "payload": ' + DEEP + b"}"
    ts = int(time.time())
    headers = {"x-zm-request-timestamp": str(ts), "x-zm-signature": sign("secret", ts, body)}
    transport = httpx.ASGITransport(app=hooks.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/", content=body, headers=headers)
    await hooks.aclose(grace_period=1)
    assert response.status_code == 400


def test_event_stream_skips_a_nested_frame() -> None:
    async def provider() -> str:
        return "t"

    stream = EventStream("sub", provider)
    assert stream._handle_frame(DEEP) is None
    assert stream._handle_frame('{"module": "message", "content": "' + "[" * 5000 + '"}') is None


# -- size ----------------------------------------------------------------------------------


async def test_a_body_past_max_response_size_is_refused_while_streaming(
    zoom_api, credentials
) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"users": ['
        while True:
            sent += 65536
            yield b" " * 65536

    zoom_api.get(f"{API}/users").mock(
        side_effect=lambda request: httpx.Response(200, content=endless())
    )
    async with client(credentials, max_response_size=1_000_000) as zoom:
        with pytest.raises(ResponseTooLarge) as info:
            await zoom.get("/users")
    assert info.value.limit == 1_000_000
    assert sent < 1_200_000  # stopped reading at the limit, not at the end


async def test_a_declared_length_past_the_limit_is_refused_before_reading(
    zoom_api, credentials
) -> None:
    zoom_api.get(f"{API}/users").mock(return_value=httpx.Response(200, content=b"1" * 5000))
    async with client(credentials, max_response_size=4096) as zoom:
        with pytest.raises(ResponseTooLarge, match="5,000 bytes"):
            await zoom.get("/users")
        assert isinstance(ResponseTooLarge("x", limit=1), ResponseDecodeError)


async def test_max_response_size_is_validated(credentials) -> None:
    from zoom_async import ConfigurationError

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigurationError, match="max_response_size"):
            client(credentials, max_response_size=bad)


async def test_a_huge_error_page_is_read_in_part_and_still_a_server_error(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.get(f"{API}/users").mock(
        return_value=httpx.Response(502, content=b"<p>x</p>" * 2_000_000)
    )
    async with client(credentials, retry=fast_retry, max_response_size=1_000_000) as zoom:
        with pytest.raises(ServerError):
            await zoom.get("/users")
    assert route.call_count == 4  # still retried as a 5xx


# -- excerpts ------------------------------------------------------------------------------


async def test_error_messages_quote_a_short_single_line_excerpt(
    zoom_api, credentials, fast_retry
) -> None:
    zoom_api.post(f"{API}/users").mock(return_value=httpx.Response(502, content=HTML_502))
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, content=HTML_502))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(ServerError) as server:
            await zoom.post("/users", json={})
        with pytest.raises(ResponseDecodeError) as decode:
            await zoom.get("/users/me")
    for error in (server.value, decode.value):
        text = str(error)
        assert "\n" not in text and "\r" not in text
        assert len(text) < 500
        assert "502 Bad Gateway" in text and "<" not in text


# -- time ----------------------------------------------------------------------------------


async def test_each_attempt_ends_within_its_timeout_as_a_whole(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.post(f"{API}/users").mock(side_effect=lambda r: dripping(0.5, 100))
    async with client(credentials, retry=fast_retry, timeout=1.0) as zoom:
        start = anyio.current_time()
        with pytest.raises(ZoomTimeoutError, match="no complete answer within 1 s") as info:
            await zoom.post("/users", json={})
        assert anyio.current_time() - start < 1.5
    assert info.value.may_have_reached_zoom
    assert route.call_count == 1  # a POST that may have reached Zoom is not re-sent


async def test_an_idempotent_call_retries_each_attempt_within_the_timeout(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.get(f"{API}/users").mock(side_effect=lambda r: dripping(0.5, 100))
    async with client(credentials, retry=fast_retry, timeout=httpx.Timeout(2.0, read=1.0)) as zoom:
        start = anyio.current_time()
        with pytest.raises(ZoomTimeoutError):
            await zoom.get("/users")
        assert anyio.current_time() - start < 4 * 2.0 + 1
    assert route.call_count == 4


async def test_a_slow_but_timely_body_is_read(zoom_api, credentials) -> None:
    zoom_api.get(f"{API}/users").mock(side_effect=lambda r: dripping(0.01, 50))
    async with client(credentials, timeout=1.0) as zoom:
        assert await zoom.get("/users") == {"a": "x" * 50}


# -- token answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {"access_token": None, "expires_in": 3599},
        {"access_token": "", "expires_in": 3599},
        {"access_token": {"a": 1}, "expires_in": 3599},
        {"access_token": "has space", "expires_in": 3599},
        {"access_token": "line\r\nbreak", "expires_in": 3599},
        {"access_token": "tok", "expires_in": "abc"},
        {"access_token": "tok", "expires_in": None},
        {"access_token": "tok", "expires_in": -5},
        b'{"access_token": "tok", "expires_in": NaN}',
        b'{"access_token": "tok", "expires_in": -Infinity}',
        {"access_token": "tok", "expires_in": True},
        {"access_token": "tok", "refresh_token": 5},
    ],
)
async def test_a_broken_token_answer_is_an_auth_error_not_retried(
    zoom_api, credentials, fast_retry, answer
) -> None:
    token_route = zoom_api.routes["token"]
    token_route.mock(
        return_value=httpx.Response(200, content=answer)
        if isinstance(answer, bytes)
        else httpx.Response(200, json=answer)
    )
    api = zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={}))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(AuthError, match="unusable token") as info:
            await zoom.get("/users/me")
    assert token_route.call_count == 1
    assert api.call_count == 0
    assert info.value.step == "token"
    assert "line" not in str(info.value) and "has space" not in str(info.value)


async def test_a_huge_lifetime_is_clamped(zoom_api, credentials) -> None:
    zoom_api.routes["token"].mock(
        return_value=httpx.Response(200, json={"access_token": "tok", "expires_in": 1e308})
    )
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={}))
    async with client(credentials) as zoom:
        await zoom.get("/users/me")
        token = zoom.auth._token  # type: ignore[attr-defined]
        assert (token.expires_at - zoom.clock.utcnow()).total_seconds() <= 86_400


def test_from_response_validates_too() -> None:
    from datetime import UTC, datetime

    with pytest.raises(AuthError):
        OAuthToken.from_response({"access_token": None}, datetime.now(UTC))
    assert TOKEN_URL


def test_a_static_token_with_a_line_break_is_refused() -> None:
    from zoom_async import ConfigurationError

    with pytest.raises(ConfigurationError, match="token"):
        StaticToken("abc\r\nX-Evil: 1")


async def test_a_dripping_token_endpoint_ends_within_its_timeout(zoom_api, credentials) -> None:
    async def drip() -> AsyncIterator[bytes]:
        for _ in range(100):
            await anyio.sleep(0.5)
            yield b" "

    zoom_api.routes["token"].mock(side_effect=lambda r: httpx.Response(200, content=drip()))
    async with client(credentials, timeout=1.0) as zoom:
        start = anyio.current_time()
        with pytest.raises(ZoomTimeoutError, match="token endpoint"):
            await zoom.get("/users/me")
        assert anyio.current_time() - start < 3 * 1.0 + 1.0  # three tries, short pauses


async def test_a_huge_token_answer_is_not_read_whole(zoom_api, credentials) -> None:
    zoom_api.routes["token"].mock(
        return_value=httpx.Response(200, content=b'{"access_token": "' + b"a" * 500_000)
    )
    async with client(credentials) as zoom:
        with pytest.raises(AuthError, match="more than 64 KiB"):
            await zoom.get("/users/me")


async def test_a_download_error_quotes_a_short_single_line_excerpt(tmp_path) -> None:
    from zoom_async.downloads import DownloadError

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, content=HTML_502 * 50)

    async with ZoomClient(
        auth=StaticToken("t"), base_url=API, transport=httpx.MockTransport(answer)
    ) as zoom:
        with pytest.raises(DownloadError) as info:
            await zoom.download(f"{API}/rec/download/x", tmp_path / "x.mp4")
    text = str(info.value)
    assert "\n" not in text and "\r" not in text and len(text) < 500

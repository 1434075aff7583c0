"""zoom_async._httpx_send: httpx's ``send(stream=True)`` without its empty layers, same results."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from unittest.mock import patch

import httpx
import pytest
import respx

from zoom_async import StaticToken, ZoomClient, _httpx_send
from zoom_async._httpx_send import send_streaming, takes_the_short_way


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/moved":
        return httpx.Response(302, headers={"Location": "/elsewhere"})
    if request.url.path == "/down":
        raise httpx.ConnectError("refused")  # no request attached, as httpcore raises them

    async def body() -> AsyncIterator[bytes]:  # a stream, as a network transport answers
        yield b'{"path": "%s"}' % request.url.path.encode()

    return httpx.Response(
        200, content=body(), headers={"X-Seen": "1", "Content-Type": "application/json"}
    )


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        yield client


@pytest.fixture(params=["short way", "send()"])
def sender(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Callable[[httpx.AsyncClient, httpx.Request], Any]:
    if request.param == "send()":
        monkeypatch.setattr(_httpx_send, "_FITS", False)
    return send_streaming


def test_a_plain_client_takes_the_short_way(http: httpx.AsyncClient) -> None:
    assert _httpx_send._FITS  # httpx 0.28-0.29 here: the short way is what this suite tests
    assert takes_the_short_way(http, http.build_request("GET", "https://zoom.test/a"))


async def test_the_same_answer_either_way(
    http: httpx.AsyncClient, sender: Callable[..., Any]
) -> None:
    request = http.build_request("GET", "https://zoom.test/users")
    response = await sender(http, request)
    assert not response.is_stream_consumed  # streamed, as send(stream=True)
    await response.aread()
    await response.aclose()
    assert response.status_code == 200
    assert response.json() == {"path": "/users"}
    assert response.headers["X-Seen"] == "1"
    assert response.request is request
    assert response.elapsed.total_seconds() >= 0  # set when the stream closes
    assert response.history == []
    assert response.next_request is None
    assert response.encoding == "utf-8"


async def test_a_redirect_is_not_followed_and_names_the_next_request(
    http: httpx.AsyncClient, sender: Callable[..., Any]
) -> None:
    response = await sender(http, http.build_request("POST", "https://zoom.test/moved"))
    assert response.status_code == 302
    assert response.next_request is not None
    assert response.next_request.url == "https://zoom.test/elsewhere"
    assert response.next_request.method == "GET"  # 302: httpx turns a POST into a GET
    await response.aclose()


async def test_a_transport_error_carries_the_request(
    http: httpx.AsyncClient, sender: Callable[..., Any]
) -> None:
    request = http.build_request("GET", "https://zoom.test/down")
    with pytest.raises(httpx.ConnectError) as caught:
        await sender(http, request)
    assert caught.value.request is request


async def test_httpx_logs_the_request_either_way(
    http: httpx.AsyncClient, sender: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="httpx"):
        await (await sender(http, http.build_request("GET", "https://zoom.test/a"))).aclose()
    assert [r.getMessage() for r in caplog.records] == [
        'HTTP Request: GET https://zoom.test/a "HTTP/1.1 200 OK"'
    ]


async def test_a_closed_client_refuses_either_way(sender: Callable[..., Any]) -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    await http.aclose()
    with pytest.raises(RuntimeError, match="client has been closed"):
        await sender(http, http.build_request("GET", "https://zoom.test/a"))


async def test_a_send_opens_the_client_either_way(
    http: httpx.AsyncClient, sender: Callable[..., Any]
) -> None:
    await (await sender(http, http.build_request("GET", "https://zoom.test/a"))).aclose()
    with pytest.raises(RuntimeError, match="more than once"):
        await http.__aenter__()


async def noop(_: Any) -> None:
    return None


@pytest.mark.parametrize(
    "client_kwargs",
    [
        {"event_hooks": {"request": [noop]}},
        {"event_hooks": {"response": [noop]}},
        {"auth": ("user", "secret")},
        {"follow_redirects": True},
    ],
)
async def test_anything_send_would_do_more_goes_through_send(client_kwargs: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), **client_kwargs) as http:
        assert not takes_the_short_way(http, http.build_request("GET", "https://zoom.test/a"))


async def test_a_user_name_in_the_url_goes_through_send(http: httpx.AsyncClient) -> None:
    request = http.build_request("GET", "https://user:secret@zoom.test/a")
    assert not takes_the_short_way(http, request)
    response = await send_streaming(http, request)
    await response.aclose()
    assert response.request.headers["Authorization"].startswith("Basic ")  # send()'s BasicAuth


async def test_a_client_class_with_its_own_send_goes_through_it() -> None:
    sent: list[httpx.Request] = []

    class Recording(httpx.AsyncClient):
        async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            sent.append(request)
            return await super().send(request, **kwargs)

    async with Recording(transport=httpx.MockTransport(answer)) as http:
        request = http.build_request("GET", "https://zoom.test/a")
        assert not takes_the_short_way(http, request)
        await (await send_streaming(http, request)).aclose()
    assert sent == [request]


async def test_event_hooks_set_on_the_zoom_client_s_http_client_run() -> None:
    seen: list[str] = []

    async def on_request(request: httpx.Request) -> None:
        seen.append(f"request {request.url.path}")

    async def on_response(response: httpx.Response) -> None:
        seen.append(f"response {response.status_code}")

    async with ZoomClient(auth=StaticToken("t")) as zoom:
        with respx.mock as mock:
            mock.get("https://api.zoom.us/v2/users/me").respond(json={"id": "me"})
            assert await zoom.get("/users/me") == {"id": "me"}  # the short way
            zoom.http.event_hooks["request"].append(on_request)
            zoom.http.event_hooks["response"].append(on_response)
            assert await zoom.get("/users/me") == {"id": "me"}
    assert seen == ["request /v2/users/me", "response 200"]


async def test_respx_mocking_httpx_itself_intercepts_the_default_client() -> None:
    async with ZoomClient(auth=StaticToken("t")) as zoom:
        request = zoom.http.build_request("GET", "https://api.zoom.us/v2/users/me")
        assert takes_the_short_way(zoom.http, request)
        with respx.mock(using="httpx") as mock:  # patches AsyncClient._transport_for_url
            route = mock.get("https://api.zoom.us/v2/users/me").respond(json={"id": "me"})
            assert await zoom.get("/users/me") == {"id": "me"}
    assert route.call_count == 1


def test_on_another_httpx_release_every_request_goes_through_send(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_httpx_send, "_FITS", False)
    http = httpx.AsyncClient()
    assert not takes_the_short_way(http, http.build_request("GET", "https://zoom.test/a"))


async def test_send_patched_on_the_client_or_its_class_is_called() -> None:
    # An application's tests may patch zoom.http.send (or httpx's own) to watch its requests.
    async with ZoomClient(auth=StaticToken("t")) as zoom:
        with respx.mock as mock:
            mock.get("https://api.zoom.us/v2/users/me").respond(json={"id": "me"})
            with patch.object(zoom.http, "send", wraps=zoom.http.send) as on_client:
                assert await zoom.get("/users/me") == {"id": "me"}
            assert on_client.call_count == 1
            send = httpx.AsyncClient.send
            with patch.object(httpx.AsyncClient, "send", autospec=True, side_effect=send) as own:
                assert await zoom.get("/users/me") == {"id": "me"}
            assert own.call_count == 1
            request = zoom.http.build_request("GET", "https://api.zoom.us/v2/users/me")
            assert takes_the_short_way(zoom.http, request)  # unpatched again

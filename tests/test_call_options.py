"""Per-call options on every verb (timeout, headers, retry, max_retries) and bodies beyond JSON
(data, files, content) under the same limits and retry rules."""

from __future__ import annotations

import inspect
import io

import anyio
import httpx
import pytest

from tests.conftest import API, dripping
from zoom_async import (
    ConfigurationError,
    RetryPolicy,
    ServerError,
    ZoomClient,
    ZoomConnectionError,
    ZoomTimeoutError,
)

pytestmark = pytest.mark.looptime

# Team Chat file uploads go to the file host their docs name (docs/client.md "Base URLs").
CHAT_FILES = "https://file.zoom.us/v2"

VERBS = ("get", "post", "put", "patch", "delete", "request", "send")


def client(credentials, **kwargs) -> ZoomClient:
    return ZoomClient(**credentials, **kwargs)


def test_every_verb_takes_the_per_call_options() -> None:
    for verb in VERBS:
        names = set(inspect.signature(getattr(ZoomClient, verb)).parameters)
        assert {"timeout", "headers", "retry", "max_retries", "params", "path_params"} <= names
        if verb != "get":
            assert {"json", "data", "files", "content"} <= names, verb


async def test_a_call_timeout_overrides_the_clients(zoom_api, credentials, fast_retry) -> None:
    zoom_api.get(f"{API}/users").mock(side_effect=lambda r: dripping(0.5, 20))
    async with client(credentials, retry=fast_retry, timeout=30) as zoom:
        start = anyio.current_time()
        with pytest.raises(ZoomTimeoutError):
            await zoom.get("/users", timeout=1, max_retries=0)
        assert anyio.current_time() - start < 1.5
    async with client(credentials, retry=fast_retry, timeout=1) as zoom:
        assert await zoom.get("/users", timeout=30) == {"a": "x" * 20}


@pytest.mark.parametrize("bad", [0, -1, "5", True, float("nan")])
async def test_a_bad_call_timeout_is_refused(zoom_api, credentials, bad) -> None:
    async with client(credentials) as zoom:
        with pytest.raises(ConfigurationError, match="timeout"):
            await zoom.get("/users", timeout=bad)


async def test_call_headers_are_sent(zoom_api, credentials) -> None:
    route = zoom_api.get(f"{API}/users").mock(return_value=httpx.Response(200, json={}))
    async with client(credentials) as zoom:
        await zoom.get("/users", headers={"X-Request-Id": "abc"})
    sent = route.calls.last.request.headers
    assert sent["x-request-id"] == "abc" and sent["accept"] == "application/json"


@pytest.mark.parametrize(
    ("options", "calls"),
    [
        ({}, 4),
        ({"max_retries": 0}, 1),
        ({"max_retries": 1}, 2),
        ({"retry": RetryPolicy(max_attempts=2)}, 2),
        ({"retry": RetryPolicy(max_attempts=9), "max_retries": 2}, 3),
    ],
)
async def test_call_retry_options(zoom_api, credentials, fast_retry, options, calls) -> None:
    route = zoom_api.get(f"{API}/users").mock(return_value=httpx.Response(503))
    async with client(credentials, retry=fast_retry) as zoom:
        if "retry" in options:
            options["retry"] = RetryPolicy(
                max_attempts=options["retry"].max_attempts, backoff=fast_retry.backoff
            )
        with pytest.raises(ServerError):
            await zoom.get("/users", **options)
    assert route.call_count == calls


async def test_max_retries_also_bounds_429_retries(zoom_api, credentials, fast_retry) -> None:
    qps = httpx.Response(429, headers={"X-RateLimit-Type": "QPS"}, json={"message": "slow"})
    route = zoom_api.get(f"{API}/users").mock(return_value=qps)
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(Exception, match="slow"):
            await zoom.get("/users", max_retries=2)
    assert route.call_count == 3


@pytest.mark.parametrize("options", [{"retry": 3}, {"max_retries": -1}, {"max_retries": 1.5}])
async def test_bad_retry_options_are_refused(zoom_api, credentials, options) -> None:
    async with client(credentials) as zoom:
        with pytest.raises(ConfigurationError, match="retr"):
            await zoom.get("/users", **options)


# -- bodies --------------------------------------------------------------------------------


async def test_form_data_and_raw_content(zoom_api, credentials) -> None:
    route = zoom_api.post(f"{API}/im/groups").mock(return_value=httpx.Response(201, json={}))
    async with client(credentials) as zoom:
        await zoom.post("/im/groups", data={"name": "team", "size": 3})
        form = route.calls.last.request
        await zoom.post("/im/groups", content=b"<x/>", headers={"Content-Type": "application/xml"})
        raw = route.calls.last.request
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form.content == b"name=team&size=3"
    assert raw.content == b"<x/>" and raw.headers["content-type"] == "application/xml"


async def test_multipart_upload_of_a_file(zoom_api, credentials, tmp_path) -> None:
    route = zoom_api.post(f"{CHAT_FILES}/chat/users/me/files").mock(
        return_value=httpx.Response(201, json={"id": "f1"})
    )
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello zoom")
    async with client(credentials) as zoom:
        with path.open("rb") as f:
            assert await zoom.post("/chat/users/me/files", files={"files": f}) == {"id": "f1"}
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.content
    assert b'name="files"; filename="notes.txt"' in body and b"hello zoom" in body


@pytest.mark.parametrize(
    "kwargs",
    [
        {"json": {}, "data": {"a": 1}},
        {"json": {}, "content": b"x"},
        {"content": b"x", "files": {"f": b"1"}},
        {"content": 5},
        {"content": io.BytesIO(b"x")},
        {"data": b"raw"},
        {"files": {"f": io.StringIO("text")}},
        {"files": {"f": 42}},
        {"files": [("only-one",)]},
    ],
)
async def test_bad_bodies_are_refused_before_sending(zoom_api, credentials, kwargs) -> None:
    route = zoom_api.post(f"{API}/users").mock(return_value=httpx.Response(201, json={}))
    async with client(credentials) as zoom:
        with pytest.raises(ConfigurationError):
            await zoom.post("/users", **kwargs)
    assert route.call_count == 0


async def test_an_upload_post_is_not_re_sent_once_it_may_have_reached_zoom(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.post(f"{CHAT_FILES}/chat/users/me/files").mock(
        return_value=httpx.Response(502)
    )
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(ServerError, match="not re-sent"):
            await zoom.post("/chat/users/me/files", files={"files": ("a.png", b"png")})
    assert route.call_count == 1


async def test_an_upload_that_never_left_is_re_sent_whole(
    zoom_api, credentials, fast_retry, tmp_path
) -> None:
    route = zoom_api.post(f"{CHAT_FILES}/chat/users/me/files").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": "f"})]
    )
    path = tmp_path / "a.bin"
    path.write_bytes(b"0123456789" * 1000)
    async with client(credentials, retry=fast_retry) as zoom:
        with path.open("rb") as f:
            await zoom.post("/chat/users/me/files", files={"files": f})
    assert route.call_count == 2
    assert b"0123456789" * 1000 in route.calls.last.request.content


class Pipe(io.RawIOBase):
    """A binary stream that cannot seek (a pipe, a socket)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


async def test_a_body_that_cannot_be_read_twice_is_sent_once(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.put(f"{API}/users/me/settings").mock(side_effect=httpx.ConnectError("no"))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(ZoomConnectionError) as info:
            await zoom.put("/users/me/settings", files={"f": Pipe(b"data")})
    assert route.call_count == 1
    assert info.value.may_have_reached_zoom is False


async def test_an_idempotent_upload_is_retried_with_the_same_body(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.put(f"{API}/users/me/settings").mock(
        side_effect=[httpx.Response(503), httpx.Response(204)]
    )
    async with client(credentials, retry=fast_retry) as zoom:
        await zoom.put("/users/me/settings", files={"f": io.BytesIO(b"payload-123")})
    assert route.call_count == 2
    first, second = (call.request.content for call in route.calls)
    assert b"payload-123" in second
    assert first.count(b"payload-123") == second.count(b"payload-123") == 1

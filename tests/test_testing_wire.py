"""The fake's HTTP plumbing: what it reads from a request and writes back.

FakeZoomApp reads requests and writes answers without building Starlette's Request and
Response, and FakeZoom.serve() writes each answer in one piece: these tests hold both to what
Starlette and uvicorn do.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from starlette.datastructures import URL
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from zoom_async.testing import FakeZoom
from zoom_async.testing._app import _raw_headers, _request_body, _url_parts
from zoom_async.testing._copies import copied
from zoom_async.testing._uvicorn import FakeZoomProtocol


def _scope(path: str, query: bytes = b"", host: bytes | None = b"zoom.fake", **more: Any) -> Any:
    headers = [(b"accept", b"*/*")]
    if host is not None:
        headers.append((b"host", host))
    return {"type": "http", "path": path, "query_string": query, "headers": headers, **more}


@pytest.mark.parametrize(
    "scope",
    [
        _scope("/v2/users/me"),
        _scope("/v2/users", b"page_size=3&status=active"),
        _scope("/v2/meetings/a?b#c\\d", b"x=%20"),  # a decoded path with URL delimiters
        _scope("//v2/users", host=None, server=("127.0.0.1", 8080)),
        _scope("/v2/users", host=None, server=("::1", 443), scheme="https"),
        _scope("/v2/users", host=None, server=["10.0.0.1", 80]),
        _scope("/v2/users", host=b"127.0.0.1:59999", server=("127.0.0.1", 59999)),
        _scope("/v2/users", host=b"bad host:port", server=("127.0.0.1", 81)),
        _scope("/rec/download/x%2Fy", b"access_token=abc"),
        _scope("/v2/users", host=None),
    ],
)
def test_a_request_url_is_read_as_starlette_reads_it(scope: Any) -> None:
    url = URL(scope=scope)
    expected = (url.path, url.query, f"{url.scheme}://{url.netloc}")
    assert _url_parts(scope) == expected
    assert _url_parts(scope) == expected  # and again, from what was kept


async def test_a_request_body_is_read_as_starlette_reads_it() -> None:
    def receiver(messages: list[dict[str, Any]]) -> Any:
        pending = iter(messages)

        async def receive() -> dict[str, Any]:
            return next(pending)

        return receive

    chunks = [
        {"type": "http.request", "body": b'{"a": ', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"1}", "more_body": False},
    ]
    scope = _scope("/v2/users")
    assert await _request_body(receiver(chunks)) == b'{"a": 1}'
    assert await Request(scope, receiver(chunks)).body() == b'{"a": 1}'
    assert await _request_body(receiver([{"type": "http.request"}])) == b""
    gone = [chunks[0], {"type": "http.disconnect"}]
    with pytest.raises(ClientDisconnect):
        await _request_body(receiver(gone))
    with pytest.raises(ClientDisconnect):
        await Request(scope, receiver(gone)).body()


@pytest.mark.parametrize("status", [200, 201, 204, 304, 404, 429, 101])
@pytest.mark.parametrize(
    ("media_type", "headers"),
    [
        ("application/json;charset=UTF-8", {"X-RateLimit-Category": "Light"}),
        ("text/html", {}),
        ("text/csv;Charset=ascii", {}),
        (None, {"Retry-After": "2025-08-23T00:00:00Z"}),
        ("application/octet-stream", {"Content-Type": "video/mp4", "Content-Length": "3"}),
    ],
)
def test_answer_headers_are_starlettes(
    status: int, media_type: str | None, headers: dict[str, str]
) -> None:
    content = b"abc"
    expected = Response(content, status, headers, media_type).raw_headers
    assert _raw_headers(status, headers, content, media_type) == expected


def test_copies_share_nothing_that_can_change() -> None:
    inner = {"tags": ["a", "b"], "n": 1, "x": 1.5, "ok": True, "none": None}
    record = {"id": "u1", "nested": inner, "list": [inner, [1, 2]], "pair": (1, [2])}
    copy = copied(record)
    assert copy == record
    copy["nested"]["tags"].append("c")
    copy["list"][1].append(3)
    copy["pair"][1].append(3)
    assert record == {
        "id": "u1",
        "nested": {"tags": ["a", "b"], "n": 1, "x": 1.5, "ok": True, "none": None},
        "list": [inner, [1, 2]],
        "pair": (1, [2]),
    }
    assert copied([record])[0] == record and copied("s") == "s"


async def test_each_served_answer_is_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pipelined requests on one connection: a JSON answer, a HEAD (no body written), a 204,
    and a last one that closes: each answer leaves the server in one write, in order."""
    writes: list[bytes] = []
    made = FakeZoomProtocol.connection_made

    def spied(self: Any, transport: Any) -> None:
        made(self, transport)
        write = transport.write

        def recorded(data: bytes) -> None:
            writes.append(bytes(data))
            write(data)

        transport.write = recorded

    monkeypatch.setattr(FakeZoomProtocol, "connection_made", spied)
    fake = FakeZoom()
    token = fake.access_token()
    patch = json.dumps({"first_name": "Ada"}).encode()

    def request(method: str, body: bytes = b"", *extra: str) -> bytes:
        lines = [
            f"{method} /v2/users/me HTTP/1.1",
            "Host: 127.0.0.1",
            f"Authorization: Bearer {token}",
            f"Content-Length: {len(body)}",
            *extra,
        ]
        return "\r\n".join(lines).encode() + b"\r\n\r\n" + body

    async with fake.serve() as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(
            request("GET")
            + request("HEAD")
            + request("PATCH", patch, "Content-Type: application/json")
            + request("GET", b"", "Connection: close")
        )
        await writer.drain()
        received = await asyncio.wait_for(reader.read(), 30)
        writer.close()
    statuses = [int(s) for s in re.findall(rb"HTTP/1\.1 (\d{3}) ", received)]
    assert statuses == [200, 405, 204, 200]
    assert b"".join(writes) == received
    assert len(writes) == 4 and all(w.startswith(b"HTTP/1.1 ") for w in writes)
    for answer, name in ((writes[0], "Account"), (writes[3], "Ada")):  # head and body together
        head, body = answer.split(b"\r\n\r\n", 1)
        assert json.loads(body)["first_name"] == name
        assert f"content-length: {len(body)}".encode() in head
    assert writes[1].endswith(b"\r\n\r\n") and b"content-length: " in writes[1]  # HEAD
    assert b"connection: close" in writes[3]
    assert fake.owner["first_name"] == "Ada"


@pytest.mark.looptime
async def test_an_answer_holds_the_state_it_was_made_from() -> None:
    """A GET is answered with the record as it was when the GET was processed, even when a
    change lands while its answer is still on the way back (1 s downlink here)."""
    fake = FakeZoom(latency=((0.0, 0.0), (1.0, 1.0)))
    meeting = fake.add_meetings("me", 1, topic="Before")[0]
    webinar = fake.add_resource("webinar", {"topic": "Before"}, parent="me")
    reads = {
        "/users/me": ("/users/me", {"first_name": "After"}, "first_name"),
        f"/meetings/{meeting['id']}": (f"/meetings/{meeting['id']}", {"topic": "After"}, "topic"),
        f"/webinars/{webinar['id']}": (f"/webinars/{webinar['id']}", {"topic": "After"}, "topic"),
    }
    headers = {"Authorization": f"Bearer {fake.access_token()}"}
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=fake.base_url, headers=headers
    ) as http:
        for path, (changed, change, name) in reads.items():
            before = (await http.get(path)).json()[name]
            reading = asyncio.create_task(http.get(path))
            await asyncio.sleep(0.5)  # the GET was processed; its answer is on its way
            assert (await http.patch(changed, json=change)).status_code == 204
            answer = await reading
            assert answer.json()[name] == before != "After"
            assert answer.headers["content-type"] == "application/json;charset=UTF-8"
            assert answer.content == json.dumps(answer.json(), separators=(",", ":")).encode()
            assert (await http.get(path)).json()[name] == "After"

"""Uploads served by Zoom's file host: their descriptions name ``https://fileapi.zoom.us/v2/``
(``file.zoom.us`` for Team Chat's file uploads), and ZoomClient sends them there, typed or raw,
with the same token and rate-limit category; a proxy or fake ``base_url`` still gets them."""

from __future__ import annotations

import httpx
import pytest
import respx

from tests.conftest import ACCESS_TOKEN, client_for
from zoom_async import DEFAULT_FILE_BASE_URL, ZoomClient, catalog
from zoom_async.plans import Category
from zoom_async.testing import FakeZoom

pytestmark = pytest.mark.looptime

API = "https://api.zoom.us/v2"
FILEAPI = "https://fileapi.zoom.us/v2"


def test_the_catalog_knows_the_file_host_uploads() -> None:
    at_file_hosts = {
        (op.method, op.path): op.file_host for op in catalog.operations() if op.file_host
    }
    # 22 descriptions name fileapi.zoom.us (two of them as a full path, read through
    # [tool.codegen.hosts]); Team Chat's two file uploads name file.zoom.us.
    assert len(at_file_hosts) == 24
    assert sum(host == "fileapi.zoom.us" for host in at_file_hosts.values()) == 22
    assert at_file_hosts[("POST", "/fax/files")] == "fileapi.zoom.us"
    assert at_file_hosts[("POST", "/workspaces/settings/photos")] == "fileapi.zoom.us"
    assert at_file_hosts[("POST", "/chat/users/{userId}/files")] == "file.zoom.us"
    assert at_file_hosts[("PUT", "/zrbackground/files")] == "fileapi.zoom.us"
    assert {op.api for op in catalog.operations() if op.file_host} == {
        "clips", "events", "phone", "revenue-accelerator", "rooms", "team-chat", "whiteboard",
        "zoom-docs",
    }  # fmt: skip
    # every one of them is a POST or PUT of a file or of an upload's parts
    assert {method for method, _ in at_file_hosts} == {"POST", "PUT"}
    # the same path's other methods stay at api.zoom.us
    others = [op for op in catalog.operations() if op.path == "/workspaces/settings/photos"]
    assert [(op.method, op.file_host) for op in others if op.method != "POST"] == [
        (op.method, None) for op in others if op.method != "POST"
    ]
    assert len(others) > 1
    assert catalog.by_python_name("users.get").file_host is None


@pytest.mark.parametrize(
    ("kwargs", "file_base_url", "clips", "chat"),
    [
        # Zoom itself: each upload to the file host its docs name
        ({}, FILEAPI, f"{FILEAPI}/clips/files", "https://file.zoom.us/v2/chat/users/me/files"),
        # a proxy or FakeZoom as base_url: uploads follow it, one URL reaches everything
        (
            {"base_url": "http://127.0.0.1:8080/v2"},
            "http://127.0.0.1:8080/v2",
            "http://127.0.0.1:8080/v2/clips/files",
            "http://127.0.0.1:8080/v2/chat/users/me/files",
        ),
        # a file_base_url of your own takes every file-host upload
        (
            {"file_base_url": "https://files.proxy.example/v2/"},
            "https://files.proxy.example/v2",
            "https://files.proxy.example/v2/clips/files",
            "https://files.proxy.example/v2/chat/users/me/files",
        ),
        (
            {"base_url": "https://proxy.example/v2", "file_base_url": FILEAPI},
            FILEAPI,
            f"{FILEAPI}/clips/files",
            f"{FILEAPI}/chat/users/me/files",
        ),
    ],
)
async def test_url_for_sends_uploads_to_the_file_base_url(
    kwargs: dict[str, str],
    file_base_url: str,
    clips: str,
    chat: str,
    credentials: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ZOOM_BASE_URL", raising=False)
    monkeypatch.delenv("ZOOM_FILE_BASE_URL", raising=False)
    async with ZoomClient(**credentials, **kwargs) as zoom:
        assert zoom.file_base_url == file_base_url
        assert zoom.url_for("/clips/files") == clips
        assert zoom.url_for("/chat/users/{userId}/files", {"userId": "me"}) == chat
        # a full URL is routed by its path, whatever host it names
        assert zoom.url_for(f"{API}/clips/files") == clips
        # everything else stays under base_url
        assert zoom.url_for("/clips/c1") == f"{zoom.base_url}/clips/c1"
        assert zoom.url_for("/users/me") == f"{zoom.base_url}/users/me"


async def test_file_base_url_from_the_environment(
    credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOM_FILE_BASE_URL", "https://files.example/v2")
    async with ZoomClient(**credentials) as zoom:
        assert zoom.file_base_url == "https://files.example/v2"
        assert zoom.url_for("/whiteboards/files") == "https://files.example/v2/whiteboards/files"
    assert DEFAULT_FILE_BASE_URL == FILEAPI


async def test_raw_and_typed_uploads_reach_the_file_host(
    zoom_api: respx.MockRouter, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOOM_BASE_URL", raising=False)
    monkeypatch.delenv("ZOOM_FILE_BASE_URL", raising=False)
    clip = zoom_api.post(f"{FILEAPI}/clips/files").mock(
        return_value=httpx.Response(201, json={"file_id": "f1"})
    )
    background = zoom_api.put(f"{FILEAPI}/zrbackground/files").mock(
        return_value=httpx.Response(204)
    )
    chat = zoom_api.post("https://file.zoom.us/v2/chat/users/me/files").mock(
        return_value=httpx.Response(201, json={"id": "c1"})
    )
    me = zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={"id": "u"}))
    async with ZoomClient(**credentials) as zoom:
        typed = await zoom.clips.upload_file(file=("clip.mp4", b"\x00\x01", "video/mp4"))
        assert typed is not None
        raw = await zoom.post(
            "/clips/files", files={"file": ("clip.mp4", b"\x00\x01", "video/mp4")}
        )
        assert raw == {"file_id": "f1"}
        await zoom.put("/zrbackground/files", files={"file": ("bg.png", b"png")})
        await zoom.team_chat.files.upload(user_id="me", file=("a.txt", b"hi"))
        assert await zoom.get("/users/me") == {"id": "u"}
        # the uploads were paced in their spec's categories, on the same limiter as the rest
        snapshot = await zoom.limits.snapshot()
    assert clip.call_count == 2 and background.call_count == 1 and chat.call_count == 1
    assert me.call_count == 1
    for route in (clip, background, chat):
        request = route.calls.last.request
        # the same OAuth token as api.zoom.us
        assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'filename="clip.mp4"' in clip.calls.last.request.content
    assert zoom_api["token"].call_count == 1
    categories = [
        catalog.resolve(m, p).category  # type: ignore[union-attr]
        for m, p in [
            ("POST", "/clips/files"),
            ("POST", "/clips/files"),
            ("PUT", "/zrbackground/files"),
            ("POST", "/chat/users/me/files"),
            ("GET", "/users/me"),
        ]
    ]
    for category in set(categories):
        assert snapshot.lane(category).requests == categories.count(category)


async def test_fake_zoom_serves_uploads_at_the_clients_base_url() -> None:
    fake = FakeZoom()
    async with client_for(fake) as zoom:
        assert zoom.file_base_url == zoom.base_url == fake.base_url
        assert await zoom.clips.upload_file(file=("c.mp4", b"\x00")) is not None
        await zoom.whiteboard.files.upload(file=("w.png", b"png"))
        response = await zoom.send("POST", "/docs/file_uploads", files={"file": ("d.txt", b"d")})
    assert response.url == httpx.URL(f"{fake.base_url}/docs/file_uploads")
    seen = [(r.method, r.path, r.category) for r in fake.requests if r.path != "/oauth/token"]
    # Zoom counts them in their spec's categories (Whiteboard's upload is Heavy)
    assert seen == [
        ("POST", "/v2/clips/files", catalog.by_python_name("clips.upload_file").category),
        ("POST", "/v2/whiteboards/files", Category.HEAVY),
        ("POST", "/v2/docs/file_uploads", catalog.resolve("POST", "/docs/file_uploads").category),  # type: ignore[union-attr]
    ]

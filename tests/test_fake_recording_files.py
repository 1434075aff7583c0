"""FakeZoom serves cloud recording files at their download_url: zoom.download() never leaves it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import client_for, served_client
from zoom_async.downloads import DownloadError
from zoom_async.retries import ExponentialBackoff, RetryPolicy
from zoom_async.testing import FakeZoom
from zoom_async.testing._recording_files import file_bytes

pytestmark = pytest.mark.looptime

FAST = RetryPolicy(backoff=ExponentialBackoff(initial=0.001, maximum=0.001))


def recorded(files: int = 2, **kwargs: object) -> tuple[FakeZoom, dict[str, object]]:
    fake = FakeZoom(seed=3)
    meeting = fake.add_meetings("me", 1)[0]
    return fake, fake.add_recording(meeting["id"], files, **kwargs)  # type: ignore[arg-type]


async def test_download_urls_point_at_the_fake_and_serve_the_file_size(tmp_path: Path) -> None:
    fake, recording = recorded(files=3)
    files = recording["recording_files"]
    assert isinstance(files, list)
    async with client_for(fake, retry=FAST) as zoom:
        listed = await zoom.get(f"/meetings/{recording['id']}/recordings")
        for f in listed["recording_files"]:
            assert f["download_url"].startswith("http://zoom.fake/rec/download/")
            assert f["play_url"].startswith("http://zoom.fake/rec/play/")
            result = await zoom.download(
                f["download_url"], tmp_path / f["id"], expected_size=f["file_size"]
            )
            assert result.size == f["file_size"] and result.resumed_from == 0
            assert result.path.read_bytes() == file_bytes(f["id"], f["file_size"])
    assert fake.stats.file_requests == 3
    assert fake.stats.requests == 1  # downloads are not API calls: no rate limit counts them
    assert len({(tmp_path / f["id"]).read_bytes() for f in files}) == 3


async def test_given_content_is_served(tmp_path: Path) -> None:
    fake, recording = recorded(content=[b"first file", b"second"])
    files = recording["recording_files"]
    assert isinstance(files, list) and [f["file_size"] for f in files] == [10, 6]
    async with client_for(fake) as zoom:
        result = await zoom.download(files[1]["download_url"], tmp_path / "b.m4a")
    assert result.path.read_bytes() == b"second"


async def test_a_partial_file_resumes_with_range(tmp_path: Path) -> None:
    fake, recording = recorded(files=1, file_size=300_000)
    f = recording["recording_files"][0]  # type: ignore[index]
    content = file_bytes(f["id"], 300_000)
    (tmp_path / "r.mp4.part").write_bytes(content[:123_456])  # an earlier, broken download
    async with client_for(fake) as zoom:
        result = await zoom.download(f["download_url"], tmp_path / "r.mp4", expected_size=300_000)
    assert result.resumed_from == 123_456
    assert (tmp_path / "r.mp4").read_bytes() == content
    assert fake.requests[-1].status == 206


async def test_an_injected_break_is_retried(tmp_path: Path) -> None:
    fake, recording = recorded(files=1)
    f = recording["recording_files"][0]  # type: ignore[index]
    fake.inject("GET", "/rec/download/*", drop_connection=True)
    fake.inject("GET", "/rec/download/*", status=503)
    async with client_for(fake, retry=FAST) as zoom:
        result = await zoom.download(f["download_url"], tmp_path / "r.mp4")
    assert result.path.read_bytes() == file_bytes(f["id"], f["file_size"])
    assert [r.status for r in fake.requests if r.path.startswith("/rec/")] == [None, 503, 200]


async def test_range_answers_and_token_required() -> None:
    fake, recording = recorded(files=1, content=b"0123456789")
    url = recording["recording_files"][0]["download_url"]  # type: ignore[index]
    token = fake.access_token()
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        assert (await http.get(url)).status_code == 401
        bearer = {"Authorization": f"Bearer {token}"}
        cases = {"bytes=2-4": (206, b"234", "bytes 2-4/10"), "bytes=-3": (206, b"789", None)}
        cases["bytes=7-"] = (206, b"789", "bytes 7-9/10")
        cases["bytes=10-"] = (416, b"", "bytes */10")
        for asked, (status, body, content_range) in cases.items():
            answer = await http.get(url, headers={**bearer, "Range": asked})
            assert (answer.status_code, answer.content) == (status, body), asked
            if content_range:
                assert answer.headers["content-range"] == content_range
        answer = await http.get(url, params={"access_token": token})
        assert answer.content == b"0123456789" and answer.headers["accept-ranges"] == "bytes"


async def test_deleted_recordings_and_unknown_files_are_404(tmp_path: Path) -> None:
    fake, recording = recorded(files=2)
    first, second = recording["recording_files"]  # type: ignore[misc]
    async with client_for(fake) as zoom:
        await zoom.delete(f"/meetings/{recording['id']}/recordings/{first['id']}")
        with pytest.raises(DownloadError) as info:
            await zoom.download(first["download_url"], tmp_path / "a")
        assert info.value.status_code == 404
        await zoom.download(second["download_url"], tmp_path / "b")
        await zoom.delete(f"/meetings/{recording['id']}/recordings")
        with pytest.raises(DownloadError) as info:
            await zoom.download(second["download_url"], tmp_path / "c")
        assert info.value.status_code == 404
        with pytest.raises(DownloadError):
            await zoom.download("http://zoom.fake/rec/download/nope", tmp_path / "d")


async def test_served_fake_points_recordings_at_its_port(tmp_path: Path) -> None:
    fake = FakeZoom(seed=5)
    meeting = fake.add_meetings("me", 1)[0]
    async with fake.serve() as server:
        added = fake.add_recording(meeting["id"], 1)
        assert added["recording_files"][0]["download_url"].startswith(server.origin + "/rec/")
        async with served_client(fake, server) as zoom:
            page = await zoom.get("/users/me/recordings")
            f = page["meetings"][0]["recording_files"][0]
            assert f["download_url"].startswith(server.origin + "/rec/download/")
            result = await zoom.download(f["download_url"], tmp_path, expected_size=f["file_size"])
    assert result.path.read_bytes() == file_bytes(f["id"], f["file_size"])

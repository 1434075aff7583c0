"""zoom.download(): redirects without the token, resume with Range, size checks, retries."""

from __future__ import annotations

import random
import re
from pathlib import Path

import httpx
import pytest

from zoom_async import ZoomClient
from zoom_async.downloads import DownloadError, DownloadResult
from zoom_async.progress import ProgressUpdate

pytestmark = pytest.mark.looptime

CONTENT = random.Random(0).randbytes(1_000_003)
URL = "https://zoom.fake/rec/download/abc123"
CDN = "https://cdn.fake/files/abc123.mp4?sig=s1gn4ture"


class Tokens:
    """A token source: ``tokens`` in turn, counting refreshes."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens) or ["tok"]
        self.gets = 0
        self.invalidated: list[str] = []

    async def get_token(self, http: httpx.AsyncClient) -> str:
        self.gets += 1
        return self.tokens[0]

    async def invalidate(self, token: str) -> None:
        self.invalidated.append(token)
        if len(self.tokens) > 1:
            self.tokens.pop(0)


class Cut(httpx.AsyncByteStream):
    """A body that breaks off after ``n`` bytes, like a reset connection."""

    def __init__(self, data: bytes, n: int) -> None:
        self.data, self.n = data, n

    async def __aiter__(self):
        yield self.data[: self.n]
        raise httpx.ReadError("Connection reset by peer")


class Server:
    """zoom.fake checks the token and redirects to cdn.fake, which serves bytes with Range."""

    def __init__(self, content: bytes = CONTENT, *, ranges: bool = True) -> None:
        self.content = content
        self.ranges = ranges
        self.requests: list[httpx.Request] = []
        self.cut_next: list[int] = []
        self.fail_next: list[int] = []
        self.streaming = 0
        self.peak = 0
        self.disposition: str | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "zoom.fake":
            if request.url.path.startswith("/rec/download/missing"):
                return httpx.Response(404, json={"code": 3301, "message": "No recording."})
            if request.headers.get("authorization") != "Bearer tok":
                return httpx.Response(401, json={"code": 124, "message": "Invalid access token."})
            return httpx.Response(302, headers={"location": CDN})
        assert request.url.host == "cdn.fake"
        if "authorization" in request.headers:
            return httpx.Response(400, text="Only one auth mechanism allowed")
        if self.fail_next:
            return httpx.Response(self.fail_next.pop(0), text="<html>busy</html>")
        headers = {"content-type": "video/mp4"}
        if self.disposition:
            headers["content-disposition"] = self.disposition
        size = len(self.content)
        found = re.fullmatch(r"bytes=(\d+)-", request.headers.get("range", ""))
        start = int(found.group(1)) if found and self.ranges else 0
        if start >= size and found:
            return httpx.Response(416, headers={"content-range": f"bytes */{size}"})
        body = self.content[start:]
        if start:
            headers["content-range"] = f"bytes {start}-{size - 1}/{size}"
        if "x-no-length" not in request.headers:
            headers["content-length"] = str(len(body))
        status = 206 if start else 200
        if self.cut_next:
            return httpx.Response(status, headers=headers, stream=Cut(body, self.cut_next.pop(0)))
        return httpx.Response(status, headers=headers, stream=self.tracked(body))

    def tracked(self, body: bytes) -> httpx.AsyncByteStream:
        server = self

        class Tracked(httpx.AsyncByteStream):
            async def __aiter__(self):
                server.streaming += 1
                server.peak = max(server.peak, server.streaming)
                try:
                    for i in range(0, len(body), 100_000):
                        await _sleep(0.05)
                        yield body[i : i + 100_000]
                finally:
                    server.streaming -= 1

        return Tracked()


async def _sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)


def client(server: Server, tokens: Tokens | None = None, **kwargs) -> ZoomClient:
    return ZoomClient(
        auth=tokens or Tokens(),
        base_url="https://zoom.fake/v2",
        transport=httpx.MockTransport(server),
        **kwargs,
    )


async def test_download_follows_the_redirect_without_the_token(tmp_path: Path) -> None:
    server = Server()
    dest = tmp_path / "rec" / "meeting.mp4"
    async with client(server) as zoom:
        result = await zoom.download(URL, dest, expected_size=len(CONTENT))
    assert result == DownloadResult(dest, len(CONTENT), 0)
    assert dest.read_bytes() == CONTENT
    assert not dest.with_name("meeting.mp4.part").exists()
    first, second = server.requests
    assert first.url.host == "zoom.fake" and first.headers["authorization"] == "Bearer tok"
    assert second.url == httpx.URL(CDN) and "authorization" not in second.headers


async def test_an_interrupted_download_resumes_with_range(tmp_path: Path, fast_retry) -> None:
    server = Server()
    server.cut_next = [300_000, 200_000]
    dest = tmp_path / "meeting.mp4"
    async with client(server, retry=fast_retry) as zoom:
        result = await zoom.download(URL, dest)
    assert dest.read_bytes() == CONTENT and result.size == len(CONTENT)
    ranges = [r.headers.get("range") for r in server.requests if r.url.host == "cdn.fake"]
    assert ranges == [None, "bytes=300000-", "bytes=500000-"]


async def test_a_partial_file_from_an_earlier_run_is_continued(tmp_path: Path) -> None:
    dest = tmp_path / "meeting.mp4"
    dest.with_name("meeting.mp4.part").write_bytes(CONTENT[:400_000])
    server = Server()
    async with client(server) as zoom:
        result = await zoom.download(URL, dest, expected_size=len(CONTENT))
    assert result.resumed_from == 400_000 and dest.read_bytes() == CONTENT
    assert server.requests[-1].headers["range"] == "bytes=400000-"


async def test_a_server_without_range_support_restarts_from_zero(tmp_path: Path) -> None:
    dest = tmp_path / "meeting.mp4"
    dest.with_name("meeting.mp4.part").write_bytes(b"x" * 1000)
    server = Server(ranges=False)
    async with client(server) as zoom:
        await zoom.download(URL, dest)
    assert dest.read_bytes() == CONTENT


async def test_a_complete_part_file_is_finished_on_416(tmp_path: Path) -> None:
    dest = tmp_path / "meeting.mp4"
    dest.with_name("meeting.mp4.part").write_bytes(CONTENT)
    server = Server()
    async with client(server) as zoom:
        result = await zoom.download(URL, dest)
    assert dest.read_bytes() == CONTENT and result.resumed_from == len(CONTENT)


async def test_a_complete_file_is_not_downloaded_again(tmp_path: Path) -> None:
    dest = tmp_path / "meeting.mp4"
    dest.write_bytes(CONTENT)
    server = Server()
    async with client(server) as zoom:
        result = await zoom.download(URL, dest, expected_size=len(CONTENT))
    assert result.skipped and server.requests == []


async def test_a_wrong_size_is_an_error_and_leaves_no_file(tmp_path: Path) -> None:
    dest = tmp_path / "meeting.mp4"
    async with client(Server()) as zoom:
        with pytest.raises(DownloadError, match="announced 1000003 bytes but 500000") as info:
            await zoom.download(URL, dest, expected_size=500_000)
        assert info.value.url == URL
        # A server that announces no size is caught once the body runs past the expected size.
        with pytest.raises(DownloadError, match="expected 500000; the file was discarded"):
            await zoom.download(URL, dest, expected_size=500_000, headers={"X-No-Length": "1"})
    assert not dest.exists() and not dest.with_name("meeting.mp4.part").exists()


async def test_an_expired_token_is_renewed_once(tmp_path: Path) -> None:
    tokens = Tokens("stale", "tok")
    async with client(Server(), tokens) as zoom:
        await zoom.download(URL, tmp_path / "a.mp4")
    assert tokens.invalidated == ["stale"]


async def test_http_errors_raise_download_error_without_the_query(tmp_path: Path) -> None:
    async with client(Server()) as zoom:
        with pytest.raises(DownloadError) as info:
            await zoom.download(
                "https://zoom.fake/rec/download/missing?access_token=secret", tmp_path / "x"
            )
    assert info.value.status_code == 404
    assert "secret" not in str(info.value) and "No recording" in str(info.value)


async def test_server_errors_are_retried_then_reported(tmp_path: Path, fast_retry) -> None:
    server = Server()
    server.fail_next = [503, 502]
    async with client(server, retry=fast_retry) as zoom:
        await zoom.download(URL, tmp_path / "a.mp4")
        server.fail_next = [503] * 10
        with pytest.raises(DownloadError, match=r"HTTP 503.*4 attempts") as info:
            await zoom.download(URL, tmp_path / "b.mp4")
    assert info.value.status_code == 503
    assert (tmp_path / "a.mp4").read_bytes() == CONTENT


async def test_a_directory_destination_uses_the_servers_file_name(tmp_path: Path) -> None:
    server = Server()
    server.disposition = 'attachment; filename="GMT20250101-100000_Recording.mp4"'
    async with client(server) as zoom:
        result = await zoom.download(URL, tmp_path)
    assert result.path == tmp_path / "GMT20250101-100000_Recording.mp4"
    assert result.path.read_bytes() == CONTENT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["GMT20250101-100000_Recording.mp4"]  # noqa: ASYNC240


async def test_an_explicit_token_is_used_instead_of_the_clients(tmp_path: Path) -> None:
    tokens = Tokens("wrong")
    async with client(Server(), tokens) as zoom:
        await zoom.download(URL, tmp_path / "a.mp4", token="tok")
    assert tokens.gets == 0


async def test_progress_reports_bytes(tmp_path: Path) -> None:
    updates: list[ProgressUpdate] = []
    async with client(Server()) as zoom:
        await zoom.download(URL, tmp_path / "a.mp4", progress=updates.append)
    assert updates[-1].finished and updates[-1].completed == len(CONTENT)
    assert all(u.unit == "bytes" and u.total == len(CONTENT) for u in updates)
    assert [u.completed for u in updates] == sorted(u.completed for u in updates)


async def test_downloads_in_a_fan_out_respect_its_bound(tmp_path: Path) -> None:
    server = Server()
    async with client(server) as zoom:
        names = [f"r{i}.mp4" for i in range(6)]
        results = [
            result
            async for _, result in zoom.fan_out(
                names, lambda name: zoom.download(URL, tmp_path / name), concurrency=2
            )
        ]
    assert len(results) == 6 and server.peak == 2
    assert all(r.path.read_bytes() == CONTENT for r in results)


async def test_a_cancelled_download_keeps_its_part_and_resumes(tmp_path: Path) -> None:
    import anyio

    server = Server()
    dest = tmp_path / "meeting.mp4"
    async with client(server) as zoom:
        with anyio.CancelScope() as scope:

            def cancel_midway(update: ProgressUpdate) -> None:
                if update.completed >= 300_000:
                    scope.cancel()

            await zoom.download(URL, dest, progress=cancel_midway)
        assert scope.cancelled_caught and not dest.exists()
        kept = dest.with_name("meeting.mp4.part").stat().st_size
        assert 300_000 <= kept < len(CONTENT) and server.streaming == 0
        result = await zoom.download(URL, dest)
    assert result.resumed_from == kept and dest.read_bytes() == CONTENT

"""Downloading cloud recordings and files: streamed to disk, resumable, verified.

:meth:`ZoomClient.download <zoom_async.ZoomClient.download>`::

    recordings = await zoom.get("/users/me/recordings", params={"from": "2025-01-01"})
    for meeting in recordings["meetings"]:
        for f in meeting["recording_files"]:
            await zoom.download(
                f["download_url"],
                f"recordings/{f['id']}.{f['file_extension'].lower()}",
                expected_size=f.get("file_size"),
            )

* The body is streamed in ``chunk_size`` pieces into ``<destination>.part``, which is renamed
  to ``destination`` once complete: memory stays bounded and a finished file is never partial.
* Zoom's download URLs take the account's OAuth token as ``Authorization: Bearer``; it is sent
  only to the URL's own origin. Zoom redirects downloads to a storage host: the redirect is
  followed without the header (it would leak the token and such hosts refuse it). A 401 renews
  the token once. ``token=`` uses another bearer token, e.g. a webhook's ``download_token``.
* An interrupted download resumes with ``Range`` where the server allows it (``206``), starts
  over where it does not (``200``), and transient failures (connection drops, timeouts, 5xx,
  429) are retried per the client's :class:`~zoom_async.retries.RetryPolicy`, each time from
  where the file got to.
* The size is checked against the server's ``Content-Length``/``Content-Range`` and against
  ``expected_size`` (the recording's ``file_size``); a complete file already at
  ``destination`` with that size is not downloaded again.

Downloads are not REST API calls, so they do not take rate-limit slots; bound how many run at
once with a fan-out::

    async for f, result in zoom.fan_out(files, lambda f: zoom.download(...), concurrency=4):
        ...
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

import anyio
import httpx

from ._decoding import excerpt, read_at_most
from .errors import ConfigurationError, ZoomError
from .progress import ProgressCallback, ProgressUpdate, new_task_id
from .retries import FailureKind, RetryContext, parse_retry_after

if TYPE_CHECKING:
    from ._client import ZoomClient

__all__ = ["DEFAULT_CHUNK_SIZE", "DownloadError", "DownloadResult", "download"]

DEFAULT_CHUNK_SIZE = 256 * 1024
"""The most bytes written at a time. The body is read as the network delivers it (httpx reads
at most 64 KiB at a time), so a download holds about one such piece in memory."""

_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)


class DownloadError(ZoomError):
    """A download failed for good.

    Attributes:
        url: the URL, without its query string (which may hold a token).
        status_code: the HTTP status, when the server answered with an error.
        path: the destination.

    A transport error or a Zoom error behind it is ``__cause__``.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status_code: int | None = None,
        path: Path | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status_code = status_code
        self.path = path


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """A finished download."""

    path: Path
    """Where the file is."""
    size: int
    """Its size in bytes (verified)."""
    resumed_from: int = 0
    """Bytes kept from an earlier, interrupted download (0: downloaded from scratch)."""
    skipped: bool = False
    """The file was already complete (``expected_size`` matched); nothing was downloaded."""


class _Transient(Exception):
    """A failure worth retrying (from where the file got to)."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.status_code = status_code
        self.retry_after = retry_after


def _redact(url: httpx.URL) -> str:
    return str(url.copy_with(query=None, fragment=None))


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _filename(response: httpx.Response, url: httpx.URL) -> str:
    """A safe file name from ``Content-Disposition``, else from the URL's last segment."""
    header = response.headers.get("content-disposition", "")
    name = ""
    match = re.search(r"filename\*\s*=\s*[^']*'[^']*'([^;]+)", header, re.IGNORECASE)
    if match:
        name = unquote(match.group(1).strip().strip('"'))
    else:
        match = re.search(r'filename\s*=\s*"([^"]+)"|filename\s*=\s*([^;]+)', header, re.I)
        if match:
            name = (match.group(1) or match.group(2) or "").strip()
    if not name:
        name = unquote(url.path.rstrip("/").rsplit("/", 1)[-1])
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    return name or "download"


class _Download:
    def __init__(
        self,
        client: ZoomClient,
        url: str,
        destination: str | os.PathLike[str],
        *,
        expected_size: int | None,
        resume: bool,
        chunk_size: int,
        max_redirects: int,
        token: str | None,
        authenticate: bool,
        headers: Mapping[str, str] | None,
        progress: ProgressCallback | None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            url = client.url_for(url)
        self.client = client
        self.url = httpx.URL(url)
        self.shown_url = _redact(self.url)
        dest = Path(destination)
        self.into_dir = dest.is_dir()
        if self.into_dir:
            digest = hashlib.sha256(self.shown_url.encode()).hexdigest()[:16]
            self.dest: Path | None = None
            self.part = dest / f".zoom-download-{digest}.part"
            self.directory = dest
        else:
            self.dest = dest
            self.part = dest.with_name(dest.name + ".part")
            self.directory = dest.parent
        self.expected_size = expected_size
        self.resume = resume
        self.chunk_size = chunk_size
        self.max_redirects = max_redirects
        self.token = token
        self.authenticate = authenticate
        self.headers = dict(headers or {})
        self.progress = progress
        self.task_id = new_task_id()
        self.description = dest.name if not self.into_dir else self.shown_url.rsplit("/", 1)[-1]
        self.total: int | None = expected_size

    def fail(self, message: str, status_code: int | None = None) -> DownloadError:
        return DownloadError(
            f"download of {self.shown_url} failed: {message}",
            url=self.shown_url,
            status_code=status_code,
            path=self.dest or self.directory,
        )

    def report(self, done: int, finished: bool = False) -> None:
        if self.progress is not None:
            self.progress(
                ProgressUpdate(
                    task=self.task_id,
                    description=self.description,
                    completed=done,
                    total=self.total,
                    unit="bytes",
                    finished=finished,
                )
            )

    async def run(self) -> DownloadResult:
        await anyio.Path(self.directory).mkdir(parents=True, exist_ok=True)
        if self.dest is not None and self.expected_size is not None:
            existing = await _size(self.dest)
            if existing == self.expected_size:
                self.report(existing, finished=True)
                return DownloadResult(self.dest, existing, existing, skipped=True)
        if not self.resume:
            await _remove(self.part)
        resumed_from: int | None = None
        attempt = 0
        retry = self.client.retry
        while True:
            attempt += 1
            have = await _size(self.part) or 0
            if self.expected_size is not None and have > self.expected_size:
                await _remove(self.part)
                have = 0
            if resumed_from is None:
                resumed_from = have
            try:
                size, name = await self.transfer(have)
                break
            except _Transient as failure:
                ctx = RetryContext(
                    method="GET",
                    attempt=attempt,
                    kind=failure.kind,
                    status_code=failure.status_code,
                    retry_after=failure.retry_after,
                )
                if not retry.should_retry(ctx):
                    raise self.fail(
                        f"{failure} (after {attempt} attempt{'s' if attempt != 1 else ''}); "
                        f"the partial file {self.part} is kept for resuming",
                        failure.status_code,
                    ) from failure.__cause__
                await self.client.clock.sleep(retry.wait_time(ctx))
        dest = self.dest if self.dest is not None else self.directory / name
        await anyio.to_thread.run_sync(os.replace, self.part, dest)
        self.report(size, finished=True)
        return DownloadResult(dest, size, resumed_from)

    async def transfer(self, have: int) -> tuple[int, str]:
        """One attempt from byte ``have``; returns the final size and a file name."""
        headers = {"Accept": "*/*", **self.headers}
        if have:
            headers["Range"] = f"bytes={have}-"
        response = await self.open(headers)
        try:
            status = response.status_code
            name = _filename(response, response.url)
            if status == 416 and have:
                found = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
                if found and found.group(3) != "*" and int(found.group(3)) == have:
                    self.total = have
                    self.check(have, have)
                    return have, name
                await _remove(self.part)
                raise _Transient("server_error", "the server refused the resume range", status)
            if status == 429 or status >= 500:
                retry_after, _ = parse_retry_after(
                    response.headers.get("retry-after"), self.client.clock.utcnow()
                )
                kind: FailureKind = "rate_limit" if status == 429 else "server_error"
                raise _Transient(kind, f"HTTP {status}", status, retry_after)
            if status >= 300:
                detail = excerpt((await read_at_most(response, 4096))[0])
                raise self.fail(f"HTTP {status}{': ' + detail if detail else ''}", status)
            total: int | None = None
            if status == 206:
                found = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
                if not found or found.group(1) is None:
                    raise self.fail("206 answer without a usable Content-Range", status)
                start = int(found.group(1))
                if start != have:
                    await _remove(self.part)
                    raise _Transient(
                        "server_error", f"asked for bytes from {have}, got from {start}", status
                    )
                if found.group(3) != "*":
                    total = int(found.group(3))
                mode: Literal["ab", "wb"] = "ab"
            else:
                have = 0  # the server sent the whole file
                mode = "wb"
                length = response.headers.get("content-length")
                if length is not None and "content-encoding" not in response.headers:
                    total = int(length)
            if total is not None:
                if self.expected_size is not None and total != self.expected_size:
                    await _remove(self.part)
                    raise self.fail(
                        f"the server announced {total} bytes but {self.expected_size} were "
                        "expected; nothing was kept"
                    )
                self.total = total
            elif self.expected_size is not None:
                self.total = self.expected_size
            self.report(have)
            async with await anyio.open_file(self.part, mode) as file:
                try:
                    # As received (not re-chunked, which would hold back bytes an error
                    # then loses), written at most chunk_size at a time.
                    async for received in response.aiter_bytes():
                        for at in range(0, len(received), self.chunk_size):
                            chunk = received[at : at + self.chunk_size]
                            await file.write(chunk)
                            have += len(chunk)
                            self.report(have)
                        if self.expected_size is not None and have > self.expected_size:
                            break  # already too long: check() discards it
                except httpx.TimeoutException as exc:
                    raise _Transient("timeout", f"{type(exc).__name__} at byte {have}") from exc
                except httpx.TransportError as exc:
                    raise _Transient("connection", f"{type(exc).__name__} at byte {have}") from exc
            self.check(have, total)
            return have, name
        finally:
            with anyio.CancelScope(shield=True):
                await response.aclose()

    def check(self, size: int, total: int | None) -> None:
        """Verify the size; a short file is resumed, a long one is discarded as an error."""
        limits = ((total, "the server announced"), (self.expected_size, "expected"))
        for limit, what in limits:
            if limit is not None and size > limit:
                self.part.unlink(missing_ok=True)
                raise self.fail(f"got {size} bytes but {what} {limit}; the file was discarded")
        for limit, what in limits:
            if limit is not None and size < limit:
                raise _Transient("connection", f"the body ended at byte {size} of {limit} ({what})")

    async def open(self, headers: dict[str, str]) -> httpx.Response:
        """Send the request, following redirects; the token goes only to the URL's origin."""
        http = self.client.http
        token = self.token
        if token is None and self.authenticate:
            token = await self.client.auth.get_token(http)
        renewed = self.token is not None
        url = self.url
        hops = 0
        while True:
            sent_token = token is not None and _same_origin(url, self.url)
            request = http.build_request("GET", url, headers=headers)
            if sent_token:
                request.headers["Authorization"] = f"Bearer {token}"
            else:
                request.headers.pop("Authorization", None)
            try:
                response = await http.send(request, stream=True, follow_redirects=False)
            except httpx.TimeoutException as exc:
                raise _Transient("timeout", type(exc).__name__) from exc
            except httpx.TransportError as exc:
                raise _Transient("connection", type(exc).__name__) from exc
            location = response.headers.get("location")
            if response.is_redirect and location:
                await response.aclose()
                hops += 1
                if hops > self.max_redirects:
                    raise self.fail(f"more than {self.max_redirects} redirects")
                url = url.join(location)
                continue
            if response.status_code == 401 and sent_token and not renewed:
                await response.aclose()
                assert token is not None
                await self.client.auth.invalidate(token)
                token = await self.client.auth.get_token(http)
                renewed = True
                url, hops = self.url, 0
                continue
            return response


async def _size(path: Path) -> int | None:
    try:
        return (await anyio.Path(path).stat()).st_size
    except FileNotFoundError:
        return None


async def _remove(path: Path) -> None:
    await anyio.Path(path).unlink(missing_ok=True)


async def download(
    client: ZoomClient,
    url: str,
    destination: str | os.PathLike[str],
    *,
    expected_size: int | None = None,
    resume: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_redirects: int = 10,
    token: str | None = None,
    authenticate: bool = True,
    headers: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
) -> DownloadResult:
    """Stream ``url`` to ``destination``; see :meth:`ZoomClient.download
    <zoom_async.ZoomClient.download>` (which calls this with its client)."""
    if chunk_size < 1:
        raise ConfigurationError(f"chunk_size must be positive, got {chunk_size!r}")
    job = _Download(
        client,
        url,
        destination,
        expected_size=expected_size,
        resume=resume,
        chunk_size=chunk_size,
        max_redirects=max_redirects,
        token=token,
        authenticate=authenticate,
        headers=headers,
        progress=progress,
    )
    return await job.run()

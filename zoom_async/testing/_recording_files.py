"""Cloud recording files served by the fake itself, at Zoom's ``/rec/download/{fileId}`` paths.

A recording's ``download_url`` and ``play_url`` point at the fake (``http://zoom.fake`` in
process, ``http://127.0.0.1:PORT`` when served): code that follows them never reaches the
real Zoom. The files hold the bytes given to ``add_recording(content=...)`` or deterministic
bytes of their ``file_size``. Like Zoom, the download needs the account's access token
(``Authorization: Bearer`` or ``?access_token=``) and honours single ``Range`` requests.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ._responses import Reply, ZoomHTTPError

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["PLACEHOLDER_ORIGIN", "file_bytes", "is_file_path", "serve_file", "with_origin"]

PLACEHOLDER_ORIGIN = "http://zoom.fake"
"""The origin stored in recording URLs; answers carry the origin the client reached."""

_PREFIXES = ("/rec/download/", "/rec/play/")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_FILE_TYPES = {"MP4": "video/mp4", "M4A": "audio/mp4", "VTT": "text/vtt", "TXT": "text/plain"}


def is_file_path(path: str) -> bool:
    """Whether ``path`` is a recording file's download or play path."""
    return path.startswith(_PREFIXES)


def file_bytes(file_id: str, size: int) -> bytes:
    """The made-up content of file ``file_id``: ``size`` bytes that depend only on the id."""
    block = hashlib.sha256(file_id.encode()).digest() * 32  # 1 KiB
    return (block * (size // len(block) + 1))[:size]


def with_origin(recording: dict[str, Any], origin: str) -> dict[str, Any]:
    """A copy of ``recording`` whose file URLs point at ``origin``."""
    out = copy.deepcopy(recording)
    if origin != PLACEHOLDER_ORIGIN:
        for item in out.get("recording_files") or []:
            for key in ("download_url", "play_url"):
                value = item.get(key)
                if isinstance(value, str) and value.startswith(PLACEHOLDER_ORIGIN + "/"):
                    item[key] = origin + value[len(PLACEHOLDER_ORIGIN) :]
    return out


def _find(store: Store, file_id: str) -> dict[str, Any] | None:
    for recording in store.recordings.values():
        for item in recording.get("recording_files") or []:
            if item.get("id") == file_id:
                return item  # type: ignore[no-any-return]
    return None


def _query_token(query: str) -> str | None:
    token = dict(parse_qsl(query)).get("access_token")
    return f"Bearer {token}" if token else None


def serve_file(
    store: Store,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    authenticate: Any,
) -> Reply:
    """Answer ``GET``/``HEAD`` of a recording file (``authenticate(authorization)`` raises
    Zoom's 401 for a bad token)."""
    if method not in ("GET", "HEAD"):
        return Reply(405, {"code": 405, "message": "Method not allowed."}, {"Allow": "GET, HEAD"})
    authenticate(headers.get("authorization") or _query_token(query))
    file_id = path.rsplit("/", 1)[-1]
    item = _find(store, file_id)
    if item is None or not file_id:
        raise ZoomHTTPError(404, 3301, "This recording does not exist.")
    content = store.recording_content.get(file_id)
    if content is None:
        content = file_bytes(file_id, int(item.get("file_size") or 0))
    size = len(content)
    extension = str(item.get("file_extension") or "bin")
    out = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'attachment; filename="{file_id}.{extension.lower()}"',
    }
    media_type = _FILE_TYPES.get(extension.upper(), "application/octet-stream")
    status, body = 200, content
    asked = headers.get("range")
    found = _RANGE.match(asked.strip().replace(" ", "")) if asked else None
    if found and (found.group(1) or found.group(2)):
        first, last = found.group(1), found.group(2)
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:  # suffix range: the last N bytes
            start, end = max(size - int(last), 0), size - 1
        if start >= size or end < start:
            out["Content-Range"] = f"bytes */{size}"
            return Reply(416, b"", out, media_type)
        status, body = 206, content[start : end + 1]
        out["Content-Range"] = f"bytes {start}-{end}/{size}"
    if method == "HEAD":
        out["Content-Length"] = str(len(body))
        body = b""
    return Reply(status, body, out, media_type)

"""Zoom's answers: JSON error bodies, and the exact 429s of Zoom's rate-limit page."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..plans import Category
from ._ratelimits import Refusal

__all__ = [
    "JSON_TYPE",
    "SCIM_TYPE",
    "Reply",
    "ZoomHTTPError",
    "iso_z",
    "json_reply",
    "rate_limit_reply",
    "validation_error",
]

JSON_TYPE = "application/json;charset=UTF-8"
SCIM_TYPE = "application/scim+json;charset=UTF-8"

QPS_MESSAGE = "You have reached the maximum per-second rate limit for this API. Try again later."
PER_MINUTE_MESSAGE = (
    "You have reached the maximum per-minute rate limit for this API. Try again later."
)
"""Resource-intensive APIs are limited per minute, and their 429 says so."""
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. Refer to the response header "
    "for details on when you can make another request."
)
MEETING_QUOTA_MESSAGE = (
    "You have exceeded the daily rate limit of ({limit}) meeting create/update/delete API "
    "requests permitted for this particular user. You may resume these requests at GMT 00:00:00."
)
CONCURRENT_MESSAGE = (
    "Too many concurrent requests. A request to modify this resource has already been made."
)


def iso_z(dt: datetime) -> str:
    """``2025-08-23T00:00:00Z``: how Zoom writes UTC instants."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Reply:
    """An HTTP answer: status, a JSON-able body (``None``: empty), extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str | None = None

    def encode(self) -> tuple[bytes, str | None]:
        """The body bytes and the content type."""
        if self.body is None:
            return b"", self.media_type
        if isinstance(self.body, bytes):
            return self.body, self.media_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), self.media_type or "text/html;charset=utf-8"
        return _json_bytes(self.body), self.media_type or JSON_TYPE


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def json_reply(status: int, value: Any) -> Reply:
    """An answer with ``value`` as its JSON body, encoded now.

    The bytes are what :meth:`Reply.encode` would give later; encoding a stored record at once
    answers its state at this point without copying it first (later requests may change it).
    """
    return Reply(status, _json_bytes(value), media_type=JSON_TYPE)


class ZoomHTTPError(Exception):
    """Raised by handlers to answer with Zoom's ``{"code": ..., "message": ...}`` body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def reply(self) -> Reply:
        """The error as an answer."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return Reply(self.status, body)


def validation_error(field_name: str, message: str = "Invalid field.") -> ZoomHTTPError:
    """Zoom's 400 ``{"code": 300, "message": "Validation Failed.", "errors": [...]}``."""
    return ZoomHTTPError(
        400, 300, "Validation Failed.", errors=[{"field": field_name, "message": message}]
    )


def rate_limit_reply(refusal: Refusal, meeting_quota: int) -> Reply:
    """The 429 Zoom sends for ``refusal``, headers and body exactly as Zoom documents them."""
    category = refusal.category.value
    if refusal.kind == "QPS":
        per_minute = refusal.category is Category.RESOURCE_INTENSIVE
        return Reply(
            429,
            {"code": 429, "message": PER_MINUTE_MESSAGE if per_minute else QPS_MESSAGE},
            {"X-RateLimit-Category": category, "X-RateLimit-Type": "QPS"},
        )
    if refusal.kind == "Daily-limit":
        assert refusal.resets_at is not None
        return Reply(
            429,
            {"code": 429, "message": DAILY_MESSAGE},
            {
                "X-RateLimit-Category": category,
                "X-RateLimit-Type": "Daily-limit",
                "X-RateLimit-Limit": str(refusal.daily_limit),
                "X-RateLimit-Remaining": "0",
                "Retry-After": iso_z(refusal.resets_at),
            },
        )
    if refusal.kind == "Meeting-quota":
        return Reply(
            429,
            {"code": 429, "message": MEETING_QUOTA_MESSAGE.format(limit=meeting_quota)},
            {"X-RateLimit-Category": category},
        )
    return Reply(
        429,
        {"code": 429, "message": CONCURRENT_MESSAGE},
        {"X-RateLimit-Category": category},
    )

"""The exception hierarchy of zoom-async.

Every error the SDK raises derives from :class:`ZoomError`, so one ``except ZoomError`` is enough
to catch them all; narrower classes let callers react to what happened::

    ZoomError
    ├── ConfigurationError           bad arguments or settings; fix the call
    ├── LimiterUnavailable           the shared limiter store (Redis) did not answer in time
    ├── ZoomConnectionError          the transport failed (DNS, TCP, TLS, reset)
    │   └── ZoomTimeoutError
    ├── WebhookVerificationError     an incoming webhook is not from Zoom
    └── ZoomAPIError                 Zoom answered with an error (or refused locally for Zoom)
        ├── BadRequestError          400
        ├── AuthError                401, or the OAuth token endpoint refused
        ├── ForbiddenError           403
        ├── NotFoundError            404
        ├── ConflictError            409
        ├── ResponseDecodeError      a body that is not the JSON Zoom promised
        │   └── ResponseTooLarge         a body past the client's max_response_size
        ├── PageTokenExpired         a ``next_page_token`` outlived its ~15 minutes
        ├── RateLimitError           429, per-second limit
        │   ├── DailyLimitExceeded       the account's daily Heavy/Resource-intensive quota
        │   ├── MeetingQuotaExceeded     a user's 100 meeting create/update/delete calls a day
        │   └── ConcurrentRequestsError  "Too many concurrent requests" on one resource
        └── ServerError              5xx

Batch jobs add, in their own modules: ``PaginationError`` (and ``PaginationLoopError``) in
:mod:`zoom_async.pagination`, ``FanOutError`` in :mod:`zoom_async.fan_out`, ``DownloadError`` in
:mod:`zoom_async.downloads`; webhooks add ``WebhookPayloadError``. All derive from ``ZoomError``.

Messages never contain client secrets, tokens or webhook secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "AuthError",
    "BadRequestError",
    "ConcurrentRequestsError",
    "ConfigurationError",
    "ConflictError",
    "DailyLimitExceeded",
    "ForbiddenError",
    "LimiterUnavailable",
    "MeetingQuotaExceeded",
    "NotFoundError",
    "PageTokenExpired",
    "RateLimitError",
    "ResponseDecodeError",
    "ResponseTooLarge",
    "ServerError",
    "WebhookVerificationError",
    "ZoomAPIError",
    "ZoomConnectionError",
    "ZoomError",
    "ZoomTimeoutError",
]

_REDACTED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


class ZoomError(Exception):
    """Base class of every exception raised by zoom-async."""


class ConfigurationError(ZoomError, ValueError):
    """The SDK was called with arguments or settings it cannot use.

    The message says what to change, e.g. a missing ``client_id``.
    """


class LimiterUnavailable(ZoomError):
    """The shared limiter store (e.g. Redis) failed or did not answer in time.

    The request was **not** sent: without the shared counts the client cannot know it is within
    the account's limits, and it never sends unlimited. Retry later, or configure a local
    fallback (``RedisStore(fallback=...)``) to keep working at a fraction of the plan.
    """

    sent = False


class WebhookVerificationError(ZoomError):
    """An incoming webhook failed verification; ``reason`` says why (never the secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ZoomConnectionError(ZoomError):
    """The request could not be completed at the transport level.

    ``may_have_reached_zoom`` is ``True`` when the request was (or may have been) sent before the
    failure, so a non-idempotent call such as a POST may have taken effect at Zoom.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        may_have_reached_zoom: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.may_have_reached_zoom = may_have_reached_zoom


class ZoomTimeoutError(ZoomConnectionError):
    """The request timed out (connect, write, read or waiting for a pooled connection)."""


class ZoomAPIError(ZoomError):
    """Zoom answered with an error status, or the SDK refused a call on Zoom's behalf.

    Attributes:
        status_code: HTTP status, or ``None`` when the SDK refused the call without sending it.
        code: Zoom's numeric error ``code`` from the body, when present.
        message: Zoom's ``message`` (or the SDK's explanation).
        method, url: the request.
        headers: response headers (credentials redacted).
        body: the decoded body (``dict``), the raw text, or ``None``.
        sent: ``False`` when the request never left this process.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        method: str | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.method = method
        self.url = url
        self.headers: dict[str, str] = {
            k: ("<redacted>" if k.lower() in _REDACTED_HEADERS else v)
            for k, v in (headers or {}).items()
        }
        self.body = body
        self.sent = sent

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(str(self.status_code))
        if self.method and self.url:
            parts.append(f"{self.method} {self.url}")
        prefix = " ".join(parts)
        code = f" (Zoom code {self.code})" if self.code is not None else ""
        return f"{prefix}: {self.message}{code}" if prefix else f"{self.message}{code}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r}, method={self.method!r}, url={self.url!r})"
        )


class BadRequestError(ZoomAPIError):
    """HTTP 400: Zoom rejected the request's parameters or body."""


class AuthError(ZoomAPIError):
    """Authentication failed.

    ``step`` names where: ``"token"`` (the OAuth token endpoint refused the credentials),
    ``"refresh"`` (a refresh token was refused), ``"exchange"`` (an authorization code was
    refused), ``"request"`` (an API call was refused even with a fresh token) or ``"config"``.
    """

    def __init__(self, message: str, *, step: str = "request", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.step = step


class ForbiddenError(ZoomAPIError):
    """HTTP 403: the token lacks a scope or the account lacks a feature."""


class NotFoundError(ZoomAPIError):
    """HTTP 404 (Zoom also uses 404 with codes such as 1001 "User does not exist")."""


class ConflictError(ZoomAPIError):
    """HTTP 409: the resource already exists or is in a conflicting state."""


class ResponseDecodeError(ZoomAPIError):
    """The response body was not the JSON Zoom promised (HTML error page, truncated body...)."""


class ResponseTooLarge(ResponseDecodeError):
    """The body grew past the client's ``max_response_size`` while it was read; the rest was
    not read. ``limit`` is that size in bytes. Downloads (:meth:`ZoomClient.download`) stream
    to disk and have no such limit."""

    def __init__(self, message: str, *, limit: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.limit = limit


class PageTokenExpired(ZoomAPIError):
    """A ``next_page_token`` expired (Zoom keeps them about 15 minutes).

    ``checkpoint`` holds the position reached, so a job can restart the listing from there.
    """

    def __init__(self, message: str, *, checkpoint: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.checkpoint = checkpoint


class RateLimitError(ZoomAPIError):
    """HTTP 429: a rate limit refused the request.

    Attributes:
        category: ``"Light"``, ``"Medium"``, ``"Heavy"`` or ``"Resource-intensive"`` when known.
        limit_type: ``"QPS"``, ``"Daily-limit"``, ``"Meeting-quota"`` or ``"Concurrent"``.
        retry_after: seconds to wait before trying again, when known.
        resets_at: when the limit resets (aware UTC datetime), when known.
    """

    def __init__(
        self,
        message: str,
        *,
        category: str | None = None,
        limit_type: str | None = "QPS",
        retry_after: float | None = None,
        resets_at: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("status_code", 429)
        super().__init__(message, **kwargs)
        self.category = category
        self.limit_type = limit_type
        self.retry_after = retry_after
        self.resets_at = resets_at


class DailyLimitExceeded(RateLimitError):
    """The account's daily quota of Heavy and Resource-intensive requests is spent.

    ``resets_at`` is the next 00:00 UTC (or what Zoom's ``Retry-After`` said). Raised before
    sending when the local count already knows the quota is spent (then ``sent`` is ``False``).
    """

    def __init__(self, message: str, *, resets_at: datetime, **kwargs: Any) -> None:
        kwargs.setdefault("limit_type", "Daily-limit")
        super().__init__(message, resets_at=resets_at, **kwargs)
        self.resets_at: datetime = resets_at


class MeetingQuotaExceeded(RateLimitError):
    """A user has spent their 100 meeting create/update/delete requests of this UTC day.

    ``user`` is the host's user id (or the email/``me`` alias when the id is unknown);
    ``resets_at`` is the next 00:00 UTC.
    """

    def __init__(self, message: str, *, user: str, resets_at: datetime, **kwargs: Any) -> None:
        kwargs.setdefault("limit_type", "Meeting-quota")
        super().__init__(message, resets_at=resets_at, **kwargs)
        self.user = user
        self.resets_at: datetime = resets_at


class ConcurrentRequestsError(RateLimitError):
    """Zoom's "Too many concurrent requests" 429 for one resource."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("limit_type", "Concurrent")
        super().__init__(message, **kwargs)


class ServerError(ZoomAPIError):
    """HTTP 5xx. ``retried`` tells whether the SDK retried; POST/PATCH are never re-sent."""

    def __init__(self, message: str, *, retried: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retried = retried

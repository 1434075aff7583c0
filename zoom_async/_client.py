"""The async client: one pooled HTTP client, auth, the limiter, and safe retries."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
import re
from collections import OrderedDict
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import replace
from http.cookiejar import CookieJar
from types import TracebackType
from typing import Any, Literal, NoReturn, Self, TypeVar, overload
from urllib.parse import quote, unquote

import anyio
import httpx

from . import catalog
from ._decoding import excerpt, loads, read_at_most
from ._gc_freeze import DEFAULT_GC_FREEZE_ABOVE
from ._generated.api import ApiNamespaces
from ._httpx_send import send_streaming
from ._inputs import (
    check_headers,
    check_path,
    merge_query,
    optional_count,
    path_param_text,
    split_query,
)
from ._request_url import request_url
from ._version import USER_AGENT
from .auth import DEFAULT_TOKEN_URL, ServerToServerAuth, SharedTokens, TokenSource
from .clock import Clock, SystemClock
from .downloads import DEFAULT_CHUNK_SIZE, DownloadResult
from .downloads import download as _download
from .errors import (
    AuthError,
    BadRequestError,
    ConcurrentRequestsError,
    ConfigurationError,
    ConflictError,
    DailyLimitExceeded,
    ForbiddenError,
    MeetingQuotaExceeded,
    NotFoundError,
    ResponseDecodeError,
    ResponseTooLarge,
    ServerError,
    ZoomAPIError,
    ZoomConnectionError,
    ZoomTimeoutError,
)
from .fan_out import DEFAULT_CONCURRENCY, FanOut, Result
from .fan_out import fan_out as _fan_out
from .limits import (
    ANSWER_AT,
    LAST_READ_AT,
    EventHook,
    LimiterStore,
    Permit,
    Priority,
    RateLimiter,
    classify_rate_limit,
)
from .pagination import (
    DEFAULT_MAX_EMPTY_PAGES,
    DEFAULT_PAGE_CONCURRENCY,
    DEFAULT_TOKEN_MAX_AGE,
    Checkpoint,
    Item,
    PaginationMode,
    Paginator,
)
from .plans import Category, Family, RateLimitTable, resolve_plan
from .progress import ProgressCallback
from .retries import FailureKind, RetryContext, RetryPolicy

_T = TypeVar("_T")
_R = TypeVar("_R")

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CATEGORY",
    "DEFAULT_FILE_BASE_URL",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "MEETING_MUTATIONS",
    "ZoomClient",
]

logger = logging.getLogger("zoom_async")

DEFAULT_BASE_URL = "https://api.zoom.us/v2"
DEFAULT_FILE_BASE_URL = "https://fileapi.zoom.us/v2"

DEFAULT_CATEGORY = Category.MEDIUM
"""Category assumed for a path the catalog does not know: below Light, and outside the daily
quota that only Heavy and Resource-intensive requests spend."""

MEETING_MUTATIONS = frozenset({"meetingCreate", "meetingUpdate", "meetingDelete"})
"""Operations that count against a host's 100 meeting create/update/delete requests a day."""

DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024
"""The largest JSON answer read by default (64 MiB): a page of 300 Zoom objects is well under
1 MiB. Pass ``max_response_size=`` to change it. Downloads are not limited."""

_ERROR_BODY_LIMIT = 64 * 1024
# Error answers are read up to this size and the rest dropped: the message quotes only the
# start, and a huge 502 page must still end in a ServerError (and a retry where safe).

_SPENT_STREAM = httpx.ByteStream(b"")
# What a response read whole and closed holds as its stream (see _exchange).

_SAFE_PATH_CHARS = "@"
_MAX_REMEMBERED = 4_096
"""Entries of each map of what the client learned from responses (meeting hosts, user ids).
About 200 bytes each: listing 200,000 users keeps under 1 MB, not 25 MB; an id that fell out is
looked up again (one Light GET, cached) if a meeting mutation needs it."""


def encode_path_param(value: str | int) -> str:
    """URL-encode one path parameter the way Zoom expects.

    Meeting UUIDs that begin with ``/`` or contain ``//`` must be encoded twice.

    >>> encode_path_param("/ajXp112QmuoKj4854875==")
    '%252FajXp112QmuoKj4854875%253D%253D'
    >>> encode_path_param("a@b.com")
    'a@b.com'
    """
    text = str(value)
    once = quote(text, safe=_SAFE_PATH_CHARS)
    if text.startswith("/") or "//" in text:
        return quote(once, safe="")
    return once


class _Remembered(OrderedDict[str, str]):
    """A bounded LRU map: what the client has learned from responses."""

    def remember(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > _MAX_REMEMBERED:
            self.popitem(last=False)


class _Flight:
    __slots__ = ("done", "error", "finished", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.finished = False
        self.value: Any = None
        self.error: BaseException | None = None


class _SingleFlight:
    """Concurrent calls with one key share one run of a look-up (and its result or error)."""

    def __init__(self) -> None:
        self._running: dict[str, _Flight] = {}

    async def run(self, key: str, fn: Callable[[], Awaitable[_T]]) -> _T:
        while (flight := self._running.get(key)) is not None:
            await flight.done.wait()
            if flight.finished:
                if flight.error is not None:
                    raise flight.error
                return flight.value  # type: ignore[no-any-return]
            # The one running it was cancelled: the next caller in line runs it again.
        flight = self._running[key] = _Flight()
        try:
            flight.value = await fn()
        except Exception as exc:
            flight.error = exc
            flight.finished = True
            raise
        else:
            flight.finished = True
            return flight.value  # type: ignore[no-any-return]
        finally:
            del self._running[key]
            flight.done.set()


_POOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=16)
"""At most 200 connections: a burst sends up to L requests of each category at once (Light 80,
Medium 60, Heavy 40 on Business+), each on a connection of its own over HTTP/1.1. Over HTTP/2,
what httpx speaks to Zoom, requests share a connection up to its stream limit (Zoom's server
says how many; 100 at most), then another. The default client keeps
:func:`_pool_limits` connections alive between waves; ``transport="aiohttp"`` closes idle ones
after the keep-alive expiry only."""


def _pool_limits(plan: RateLimitTable) -> httpx.Limits:
    """The default client's pool: as many idle connections kept as the plan's per-second
    lanes send in one wave together (Light + Medium + Heavy: 180 on Business+, 60 on Pro).

    Under a strict-safe schedule a lane sends its L requests together once a window, so over
    HTTP/1.1 the next wave needs L connections again: keeping fewer re-opens the difference
    each window (a TLS handshake each against Zoom; against the fake, 64 connections a wave at
    Business+ Light, 1.57 instead of 1.21 ms of client CPU per request). A mixed batch keeps
    its lanes' waves in flight at once, so the pool keeps their sum, not the largest alone
    (which opened 336 connections for the 180 of a 3600-request mixed Business+ batch). Idle
    connections cost little since :mod:`zoom_async._pool` (httpcore 1.0.9 probed each on
    every pool event); over HTTP/2, what httpx speaks to Zoom, one connection carries up to its
    stream limit (100 at most), so a mixed Business+ wave takes two."""
    burst = sum(c.limit for c in plan.general.values() if c.window <= 1.0)
    most = _POOL_LIMITS.max_connections or 200
    keep = _POOL_LIMITS.max_keepalive_connections or 0
    return httpx.Limits(max_connections=most, max_keepalive_connections=min(most, max(keep, burst)))


class _NoResponseCookies(CookieJar):
    """A cookie jar that keeps no cookie a server sets.

    Zoom's API authenticates with the bearer token alone; the ``Set-Cookie`` headers of its
    answers (load balancer and tracking cookies) are of no use to an API client, and sending
    them back would tie a process's requests to one backend. httpx parses every answer's
    headers for cookies (an ``email.message.Message`` of all headers, then
    ``http.cookiejar``'s parsing: 30-80 µs a request), which this jar skips: a policy that
    refuses every cookie still parses them all first. Cookies a caller sets on
    ``zoom.http.cookies`` are kept and sent as usual.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None


def _aiohttp_transport() -> httpx.AsyncBaseTransport:
    try:
        from ._aiohttp_transport import ZoomAiohttpTransport
    except ImportError:
        raise ConfigurationError(
            "transport='aiohttp' needs httpx-aiohttp: pip install 'zoom-async[aiohttp]'"
        ) from None
    return ZoomAiohttpTransport(_POOL_LIMITS)


class _AnswersIgnored(httpx.Cookies):
    """``httpx.Cookies`` that do not look at answers at all (see :class:`_NoResponseCookies`)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*")
"""Characters a URL path may hold as they are (RFC 3986): such a path needs no parsing to be
known valid before the call queues."""


_ACCEPT = {"scim2": "application/scim+json"}
"""The ``Accept`` header an API asks for instead of ``application/json`` (the SCIM2 spec: "set
the value of the Accept header as application/scim+json"); its answers are JSON all the same."""


def _check_url(url: str, path: str) -> None:
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ConfigurationError(f"cannot build a URL from {path!r}: {exc}") from None


_Route = tuple[
    str,
    str,
    str,
    "dict[str, Any] | None",
    "Mapping[str, str] | None",
    "float | None",
    Family,
    Category,
    "tuple[str, Any] | None",
]
"""What :meth:`ZoomClient._route` finds: a :class:`_Call`'s parts before it has a slot."""


class _Call:
    """What a call holds while it waits for its slot: the request is built only then (its URL
    too: ``base`` is shared by every call to a server, ``rel`` is usually the caller's path)."""

    __slots__ = (
        "base",
        "body",
        "category",
        "deadline",
        "family",
        "headers",
        "http",
        "metered",
        "method",
        "params",
        "priority",
        "rel",
        "retry",
        "timeout",
    )

    def __init__(
        self,
        http: httpx.AsyncClient,
        method: str,
        base: str,
        rel: str,
        params: Any,
        headers: Mapping[str, str] | None,
        body: _Body,
        timeout: float | httpx.Timeout | None,
        priority: Priority,
        family: Family,
        category: Category,
        retry: RetryPolicy,
        deadline: float | None,
        metered: tuple[str, Any] | None,
        /,
    ) -> None:
        # Positional only: a class called with keywords gets them as a new dict (one per call).
        self.http = http
        self.method = method
        self.base = base
        self.rel = rel
        self.params = params
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.priority = priority
        self.family = family
        self.category = category
        self.retry = retry
        """The retry policy of this call (the client's, or the call's own)."""
        self.deadline = deadline
        """Seconds each attempt may take as a whole (``None``: no bound)."""
        self.metered = metered
        """``(path, catalog match)`` for a mutation or a meeting-quota call, else ``None``."""

    @property
    def url(self) -> str:
        return self.base + self.rel

    @property
    def replayable(self) -> bool:
        """False when the body cannot be sent twice (a file that cannot seek)."""
        return self.body.replayable

    def build(self) -> httpx.Request:
        """The request, as ``http.build_request`` would build it.

        Built here with httpx's public ``Request`` instead: ``build_request`` parses the URL
        twice (once to merge it with the client's ``base_url``, which an absolute URL ignores,
        then again to set the query from the merged ``params``), and the second parse is a
        third of a request's build, which runs between its grant and its send; the URL is the
        server's, parsed once, with the call's path (:func:`request_url`). A client with
        default ``params`` of its own (an ``http_client`` passed in) is left to httpx.
        """
        http = self.http
        if http.params:
            return http.build_request(
                self.method,
                self.base + self.rel,
                params=self.params,
                headers=self.headers,
                timeout=httpx.USE_CLIENT_DEFAULT if self.timeout is None else self.timeout,
                **self.body.arguments,
            )
        headers = httpx.Headers(http.headers)
        if self.headers:
            headers.update(self.headers)
        timeout = http.timeout if self.timeout is None else httpx.Timeout(self.timeout)
        url = request_url(self.base, self.rel, self.params)
        cookies = http.cookies
        if self.body is _NO_BODY and self.method not in _SENDS_LENGTH and not cookies:
            # What httpx.Request makes of a call without a body: its headers with Host first
            # (unless given), an empty body read. Made directly, without httpx's encoding of
            # no content and its lookups of Content-Type, Content-Length, Transfer-Encoding
            # and Host in the headers (3 % of a request's client CPU in a burst, py-spy).
            raw = headers.raw
            if "host" not in headers:
                raw = [(b"Host", url.netloc), *raw]
            request = httpx.Request(
                self.method,
                url,
                headers=raw,
                extensions={"timeout": timeout.as_dict()},
                stream=httpx.ByteStream(b""),
            )
            request.read()
            return request
        return httpx.Request(
            self.method,
            url,
            headers=headers,
            cookies=cookies or None,
            extensions={"timeout": timeout.as_dict()},
            **self.body.arguments,
        )


FileUploads = Mapping[str, Any] | Sequence[tuple[str, Any]]
"""``files=`` for a multipart upload, as httpx takes it: ``{"file": open(path, "rb")}``,
``{"file": ("name.png", data, "image/png")}``, or a list of ``(field, file)`` pairs."""

_METHOD = re.compile(r"[A-Za-z]{1,20}")
_STANDARD_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class _Body:
    """A call's body as httpx.build_request arguments, and whether it can be sent again."""

    __slots__ = ("arguments", "replayable")

    def __init__(self, arguments: dict[str, Any], replayable: bool) -> None:
        self.arguments = arguments
        self.replayable = replayable


_NO_BODY = _Body({}, True)

_SENDS_LENGTH = frozenset({"POST", "PUT", "PATCH"})
"""Methods httpx sends ``Content-Length: 0`` for when they have no body."""


def _body(
    json: Any,
    data: Mapping[str, Any] | None,
    files: FileUploads | None,
    content: bytes | str | None,
) -> _Body:
    """Check one call's body arguments (before it waits for a slot) and say if it replays."""
    if json is None and data is None and files is None and content is None:
        return _NO_BODY
    given = [
        name
        for name, value in (("json", json), ("data/files", data or files), ("content", content))
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigurationError(
            f"pass one kind of body, not {' and '.join(given)}: json= for JSON, data= (with "
            "files= for uploads) for forms, content= for raw bytes"
        )
    if json is not None:
        return _Body({"json": json}, True)
    if content is not None:
        if not isinstance(content, bytes | bytearray | str):
            raise ConfigurationError(
                f"content= takes bytes or str, not {type(content).__name__}; upload files "
                "with files="
            )
        return _Body(
            {"content": bytes(content) if isinstance(content, bytearray) else content}, True
        )
    arguments: dict[str, Any] = {}
    if data is not None:
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                f"data= takes a mapping of form fields, not {type(data).__name__}; raw bodies "
                "go in content="
            )
        arguments["data"] = dict(data)
    replayable = True
    if files is not None:
        items = list(files.items()) if isinstance(files, Mapping) else list(files)
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise ConfigurationError(
                    "files= takes {field: file} or a list of (field, file) pairs"
                )
            replayable = _check_upload(item[0], item[1]) and replayable
        arguments["files"] = items
    return _Body(arguments, replayable)


def _check_upload(field: str, value: Any) -> bool:
    """Refuse what httpx cannot upload; tell whether it can be read again for a retry."""
    upload = value[1] if isinstance(value, tuple) and len(value) in (2, 3, 4) else value
    if isinstance(upload, bytes | str):
        return True
    if isinstance(upload, io.TextIOBase):
        raise ConfigurationError(
            f"files[{field!r}] is a text file: open uploads in binary mode ('rb')"
        )
    if not callable(getattr(upload, "read", None)):
        raise ConfigurationError(
            f"files[{field!r}] must be bytes or a binary file object, not {type(upload).__name__}"
        )
    seekable = getattr(upload, "seekable", None)
    try:
        return bool(seekable()) if callable(seekable) else False
    except (OSError, ValueError):
        return False


def _checked_deadline(timeout: float | httpx.Timeout) -> float | None:
    if isinstance(timeout, httpx.Timeout):
        return attempt_deadline(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigurationError(
            f"timeout must be a positive number of seconds or an httpx.Timeout, not {timeout!r}"
        )
    if not math.isfinite(timeout):
        return None
    return float(timeout)


def _answer_time(response: httpx.Response | None) -> float | None:
    """When the answer began to arrive, if the default transport noted it: over HTTP/1.1 the
    first bytes after the request (read before the connection can carry the next request, and
    if not, a later time, which is safe); over HTTP/2, whose connection carries other requests'
    answers too, the last bytes read when its head was (``_pool._HTTP2Connection``), or else
    when the slot is released, which both came after this answer's."""
    if response is None:
        return None
    extensions = response.extensions
    answered_at = extensions.get(ANSWER_AT)  # an HTTP/2 connection of the pool's noted it
    if isinstance(answered_at, float):
        return answered_at
    stream = extensions.get("network_stream")
    if stream is None:
        return None
    multiplexed = extensions.get("http_version") == b"HTTP/2"
    answered_at = stream.get_extra_info(LAST_READ_AT if multiplexed else ANSWER_AT)
    return answered_at if isinstance(answered_at, float) else None


def _never_sent(exc: httpx.TransportError) -> bool:
    # No connection was made, or none became free in time, or the HTTP library refused to
    # write the request (LocalProtocolError, an unsupported scheme): the request never left.
    return isinstance(
        exc,
        httpx.ConnectError
        | httpx.ConnectTimeout
        | httpx.PoolTimeout
        | httpx.LocalProtocolError
        | httpx.UnsupportedProtocol,
    )


class _AttemptTimeout(httpx.TimeoutException):
    """The attempt as a whole (connect, send, the full answer) outlived its timeout."""


def attempt_deadline(timeout: float | httpx.Timeout | None) -> float | None:
    """Seconds one attempt may take as a whole: a number as given, or the longest phase of an
    :class:`httpx.Timeout` (``None``: no bound)."""
    if not isinstance(timeout, httpx.Timeout):
        return None if timeout is None else float(timeout)
    phases = (timeout.pool, timeout.connect, timeout.write, timeout.read)
    if any(p is None for p in phases):
        return None
    return max(p for p in phases if p is not None)


def _lease_timeout(timeout: float | httpx.Timeout | None) -> float:
    """How long a shared store keeps a slot in flight before counting it completed.

    A request waits at most for a pooled connection, the connection, the upload and the answer,
    each within its own timeout; a slot still held after their sum plus a margin belongs to a
    process that died (or hangs) mid-request.
    """
    if not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout)
    phases = (timeout.pool, timeout.connect, timeout.write, timeout.read)
    if any(phase is None for phase in phases):
        return 600.0  # no bound given: keep slots ten minutes before presuming a crash
    return sum(p for p in phases if p is not None) + 5.0


_ERRORS_BY_STATUS: dict[int, type[ZoomAPIError]] = {
    400: BadRequestError,
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
}


class ZoomClient(ApiNamespaces):
    """An async client for the whole Zoom REST API, within the account's rate limits.

    Every operation of Zoom's API is also a typed method in a namespace: ``zoom.users``,
    ``zoom.meetings``, ``zoom.phone.call_queues``... (see ``docs/naming.md``); their modules
    are imported on first use.

    Args:
        account_id, client_id, client_secret: server-to-server OAuth credentials; each falls
            back to ``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``, ``ZOOM_CLIENT_SECRET``. Not needed
            when ``auth`` is given.
        plan: ``"pro"`` (the conservative default), ``"business_plus"``, a
            :class:`~zoom_async.plans.RateLimitTable`, or a mapping such as ``{"Light": 50}``.
        budget_share: the part of the account's limits this client may use (other apps and
            processes share them), e.g. ``0.5``.
        base_url: the API root; default ``ZOOM_BASE_URL`` if set (a proxy, a regional endpoint,
            a FakeZoom on a port), else ``https://api.zoom.us/v2``.
        token_url: the OAuth token endpoint; default ``ZOOM_TOKEN_URL`` if set, else
            ``https://zoom.us/oauth/token``.
        file_base_url: where uploads that Zoom serves from a file host go (Clips, Zoom Events,
            Rooms, Whiteboard, Zoom Docs, Team Chat and Phone fax files...; ``file_host`` in the
            catalog); default ``ZOOM_FILE_BASE_URL`` if set. Not given: with the default
            ``base_url``, each upload goes to the host its docs name
            (``https://fileapi.zoom.us/v2``, or ``https://file.zoom.us/v2`` for Team Chat's
            file uploads); with a ``base_url`` of your own (a proxy, a FakeZoom), to that
            ``base_url``, so one URL still reaches every operation.
        timeout: seconds each attempt may take as a whole: waiting for a connection,
            connecting, sending and reading the full answer (waiting for a rate-limit slot is
            not counted). An :class:`httpx.Timeout` sets each phase; its longest phase then
            bounds the whole attempt. A call may pass its own ``timeout=``.
        max_response_size: the largest answer body read, in bytes (default 64 MiB), enforced
            while it streams in; past it :class:`~zoom_async.errors.ResponseTooLarge`.
            ``None``: no limit. :meth:`download` is not limited.
        http_client: an :class:`httpx.AsyncClient` to use (not closed by this client).
        transport: a transport for the client's own :class:`httpx.AsyncClient` (e.g.
            ``FakeZoom().transport()`` in tests), or ``"aiohttp"``: send through aiohttp's
            connection pool (``pip install 'zoom-async[aiohttp]'``, httpx-aiohttp), which costs
            about 60-70 % of the default transport's CPU per request in bursts over HTTP/1.1
            (docs/benchmarks.md). The default, httpx's transport over httpcore's pool (its
            request assignment fixed, ``zoom_async._pool``), speaks HTTP/2 to Zoom.
        auth: a :class:`~zoom_async.auth.TokenSource`, e.g. ``UserOAuth.for_user(...)``.
        retry: the :class:`~zoom_async.retries.RetryPolicy`.
        clock: time source for the limiter and token expiry.
        store: where the limiter keeps shared state (default in memory).
        on_daily_limit: ``"raise"`` :class:`DailyLimitExceeded` at once (default) or ``"wait"``
            until 00:00 UTC when the daily Heavy/Resource-intensive quota is spent.
        on_event: called with each :class:`~zoom_async.limits.LimitEvent` (waits, 429s).
        serialize_mutations: send mutations of one resource path one at a time, so Zoom's
            "Too many concurrent requests" 429 does not happen between our own requests.
        lookup_meeting_hosts: look up (one Light GET, cached) the host of a meeting or the id of
            a user given by email or ``me`` to count the per-user meeting quota exactly.
        priority: the default :data:`~zoom_async.limits.Priority` of this client's calls:
            ``"batch"`` (default) or ``"interactive"``. Interactive calls take the next free
            slot ahead of every queued batch call; each call may say ``priority=`` itself.
        gc_freeze_above: once this many calls are queued in one category (default 10,000:
            only a batch job gets there), keep them out of CPython's full garbage collections
            (``gc.freeze()``, undone when the queue drains), which otherwise pause the event
            loop 0.1 s or more each with 100,000 waiting. Process-wide (see
            :class:`~zoom_async.limits.RateLimiter` and docs/rate-limits.md); ``None``: the
            collector is never touched.

    Example::

        async with ZoomClient(plan="business_plus") as zoom:
            me = await zoom.get("/users/me")
            meeting = await zoom.post("/users/me/meetings", json={"topic": "Sync", "type": 2})
    """

    def __init__(
        self,
        *,
        account_id: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        plan: str | RateLimitTable | Mapping[str, object] = "pro",
        budget_share: float = 1.0,
        base_url: str | None = None,
        token_url: str | None = None,
        file_base_url: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_response_size: int | None = DEFAULT_MAX_RESPONSE_SIZE,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | Literal["aiohttp"] | None = None,
        auth: TokenSource | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        store: LimiterStore | None = None,
        on_daily_limit: Literal["raise", "wait"] = "raise",
        on_event: EventHook | None = None,
        serialize_mutations: bool = True,
        lookup_meeting_hosts: bool = True,
        priority: Priority = "batch",
        gc_freeze_above: int | None = DEFAULT_GC_FREEZE_ABOVE,
    ) -> None:
        if http_client is not None and transport is not None:
            raise ConfigurationError("pass either http_client or transport, not both")
        if on_daily_limit not in ("raise", "wait"):
            raise ConfigurationError("on_daily_limit must be 'raise' or 'wait'")
        if priority not in ("interactive", "batch"):
            raise ConfigurationError(f"priority must be 'interactive' or 'batch', not {priority!r}")
        self.max_response_size = optional_count("max_response_size", max_response_size, "bytes")
        self._deadline = attempt_deadline(timeout)
        self._clock = clock or SystemClock()
        base_url = base_url or os.environ.get("ZOOM_BASE_URL") or DEFAULT_BASE_URL
        token_url = token_url or os.environ.get("ZOOM_TOKEN_URL") or DEFAULT_TOKEN_URL
        if auth is None:
            auth = ServerToServerAuth(
                account_id or os.environ.get("ZOOM_ACCOUNT_ID", ""),
                client_id or os.environ.get("ZOOM_CLIENT_ID", ""),
                client_secret or os.environ.get("ZOOM_CLIENT_SECRET", ""),
                token_url=token_url,
                clock=self._clock,
            )
        self.auth: TokenSource = auth
        self.base_url = base_url.rstrip("/")
        self.api_root = self.base_url.removesuffix("/v2")
        """Where operations outside ``/v2`` go (SCIM2's ``/scim2/...``): ``base_url`` without
        its trailing ``/v2``, or ``base_url`` itself when it has none."""
        self._base_path = httpx.URL(self.base_url).path.rstrip("/")
        self._base_prefix = self._base_path + "/"
        file_base_url = file_base_url or os.environ.get("ZOOM_FILE_BASE_URL")
        # Without a file_base_url, uploads follow the base_url of a proxy or fake, and otherwise
        # go to the file host each one's docs name (_url).
        self._own_file_hosts = file_base_url is None and self.base_url == DEFAULT_BASE_URL
        if file_base_url is None:
            file_base_url = DEFAULT_FILE_BASE_URL if self._own_file_hosts else self.base_url
        self.file_base_url = file_base_url.rstrip("/")
        """Where uploads served by Zoom's file host go (``https://fileapi.zoom.us/v2``; see the
        ``file_base_url`` argument)."""
        bind_account = getattr(store, "bind_account", None)
        if bind_account is not None:
            # A shared store scopes its keys by account and app (see RedisStore.bind_account).
            if isinstance(auth, ServerToServerAuth):
                bind_account(auth.account_id, auth.client_id)
            else:
                bind_account(account_id or "", client_id or "")
        if (
            isinstance(auth, ServerToServerAuth)
            and auth.shared is None
            and isinstance(store, SharedTokens)
        ):
            # The processes sharing the limits share the token too: one token request for all.
            auth.shared = store
        self.plan = resolve_plan(plan, budget_share=budget_share)
        self.retry = retry or RetryPolicy()
        self.limits = RateLimiter(
            self.plan,
            clock=self._clock,
            store=store,
            on_daily_limit=on_daily_limit,
            on_event=on_event,
            lease_timeout=_lease_timeout(timeout),
            gc_freeze_above=gc_freeze_above,
        )
        """The :class:`~zoom_async.limits.RateLimiter`; ``await zoom.limits.snapshot()``."""
        self.serialize_mutations = serialize_mutations
        self.lookup_meeting_hosts = lookup_meeting_hosts
        self.priority: Priority = priority
        """The default priority of this client's calls."""
        if http_client is not None:
            self._http = http_client
            self._owns_http = False
        else:
            if transport == "aiohttp":
                transport = _aiohttp_transport()
            elif isinstance(transport, str):
                raise ConfigurationError(
                    f"transport must be an httpx transport or 'aiohttp', not {transport!r}"
                )
            client_class = httpx.AsyncClient
            if transport is None:
                # httpx's own transport, over httpcore's pool with its per-event assignment fixed
                # (quadratic in a burst's size in httpcore 1.0.9; see _pool), on the httpcore
                # and httpx releases it was checked against; on others, theirs as they are.
                try:
                    from ._pool import _FITS as fits
                    from ._pool import PoolClient
                except ImportError:  # a later httpcore moved the private parts _pool uses
                    fits = False
                if fits:
                    client_class = PoolClient
            self._http = client_class(
                timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
                transport=transport,
                http2=transport is None,
                limits=_pool_limits(self.plan),
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                cookies=_NoResponseCookies(),
            )
            # httpx hands every answer to Cookies.extract_cookies, which builds a urllib Request
            # from it (URL parsing, a copy of the headers: 20-50 µs) before the jar can decline.
            # These Cookies skip that; the jar and the cookies a caller sets stay as they are.
            # (httpx has no public way to give a client a Cookies subclass.)
            self._http._cookies = _AnswersIgnored(self._http.cookies.jar)
            self._owns_http = True
        self._mutation_locks: dict[str, tuple[anyio.Lock, list[int]]] = {}
        self._meeting_hosts = _Remembered()
        self._lookups = _SingleFlight()
        self._user_ids = _Remembered()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"ZoomClient(base_url={self.base_url!r}, plan={self.plan.name!r}, auth={self.auth!r})"
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections (unless the HTTP client was passed in). Calls still
        waiting for a rate-limit slot fail at once with :class:`ConfigurationError`."""
        if not self._closed:
            self._closed = True
            self.limits._fail_queued(
                "this ZoomClient was closed while the call waited for its rate-limit slot"
            )
            if self._owns_http:
                await self._http.aclose()

    @property
    def http(self) -> httpx.AsyncClient:
        """The underlying :class:`httpx.AsyncClient`."""
        return self._http

    @property
    def clock(self) -> Clock:
        """The client's clock."""
        return self._clock

    # -- URLs ------------------------------------------------------------------------------

    def _relative_path(self, path: str, path_params: Mapping[str, str | int] | None) -> str:
        if not isinstance(path, str):
            raise ConfigurationError(f"the path must be a str, not {type(path).__name__}")
        check_path(path)
        if path.startswith(("http://", "https://")):
            try:
                url = httpx.URL(path)
            except httpx.InvalidURL as exc:
                raise ConfigurationError(f"invalid URL {path!r}: {exc}") from None
            raw = url.raw_path.decode("ascii")  # its query string is kept, and merged
            if self._base_path and raw.startswith(self._base_prefix):
                raw = raw[len(self._base_path) :]
            path = raw
        if path_params:
            encoded = {k: encode_path_param(path_param_text(k, v)) for k, v in path_params.items()}
            try:
                path = path.format_map(encoded)
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigurationError(
                    f"path {path!r} needs path parameter {exc} in path_params"
                ) from None
        elif "{" in path and "}" in path:
            raise ConfigurationError(
                f"path {path!r} has a {{placeholder}}: pass its value in path_params="
            )
        if path[:1] != "/" or path[1:2] == "/":
            path = "/" + path.lstrip("/")  # else the caller's string is kept (no copy)
        if self._base_path and path.startswith(self._base_prefix):
            path = path[len(self._base_path) :]
        # No second check_path: encoded path parameters cannot add a dot segment or a control
        # character (path_param_text refuses "." and "..", encoding quotes the rest).
        return path

    def url_for(self, path: str, path_params: Mapping[str, str | int] | None = None) -> str:
        """The full URL of ``path`` (relative to ``base_url``, or to :attr:`api_root` for an
        operation outside ``/v2`` such as ``/scim2/Users``, or to :attr:`file_base_url` for an
        upload served by a file host such as ``/clips/files``). The operation whose template
        matches most literally decides (``/clips/files`` is the upload, not ``GET
        /clips/{clipId}``); among equals, the first of GET, POST, PUT, PATCH, DELETE."""
        rel = self._relative_path(path, path_params)
        found = [catalog.resolve(m, rel) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")]
        ops = [op for op in found if op is not None]
        if ops:
            return self._url(min(ops, key=lambda op: op.path.count("{")), rel)
        return self.base_url + rel

    def _url(self, op: catalog.Operation | None, rel: str) -> str:
        return self._server(op) + rel

    def _server(self, op: catalog.Operation | None) -> str:
        # Zoom's specs name two servers: https://api.zoom.us/v2 and, for SCIM2, the API root;
        # uploads' descriptions name a file host.
        if op is not None and op.file_host is not None:
            if self._own_file_hosts:
                return f"https://{op.file_host}/v2"
            return self.file_base_url
        if op is None or op.base_path == "/v2":
            return self.base_url
        return self.api_root + op.base_path

    # -- the verbs -------------------------------------------------------------------------

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        priority: Priority | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """``GET path``; returns the decoded JSON (``await`` it). Options as for :meth:`request`.

        The verbs return :meth:`request`'s coroutine rather than awaiting it: one coroutine less
        on the stack of each of 100,000 queued calls."""
        return self.request(
            "GET",
            path,
            params=params,
            headers=headers,
            path_params=path_params,
            priority=priority,
            timeout=timeout,
            retry=retry,
            max_retries=max_retries,
        )

    def post(
        self,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FileUploads | None = None,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        priority: Priority | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """``POST path``; never re-sent once it may have reached Zoom. Options as for
        :meth:`request`."""
        return self.request(
            "POST",
            path,
            json=json,
            data=data,
            files=files,
            content=content,
            params=params,
            headers=headers,
            path_params=path_params,
            priority=priority,
            timeout=timeout,
            retry=retry,
            max_retries=max_retries,
        )

    def put(
        self,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FileUploads | None = None,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        priority: Priority | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """``PUT path``. Options as for :meth:`request`."""
        return self.request(
            "PUT",
            path,
            json=json,
            data=data,
            files=files,
            content=content,
            params=params,
            headers=headers,
            path_params=path_params,
            priority=priority,
            timeout=timeout,
            retry=retry,
            max_retries=max_retries,
        )

    def patch(
        self,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FileUploads | None = None,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        priority: Priority | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """``PATCH path``; never re-sent once it may have reached Zoom. Options as for
        :meth:`request`."""
        return self.request(
            "PATCH",
            path,
            json=json,
            data=data,
            files=files,
            content=content,
            params=params,
            headers=headers,
            path_params=path_params,
            priority=priority,
            timeout=timeout,
            retry=retry,
            max_retries=max_retries,
        )

    def delete(
        self,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FileUploads | None = None,
        content: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        priority: Priority | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """``DELETE path``. Options as for :meth:`request`."""
        return self.request(
            "DELETE",
            path,
            json=json,
            data=data,
            files=files,
            content=content,
            params=params,
            headers=headers,
            path_params=path_params,
            priority=priority,
            timeout=timeout,
            retry=retry,
            max_retries=max_retries,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FileUploads | None = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        priority: Priority | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        operation: catalog.Operation | None = None,
    ) -> Coroutine[Any, Any, Any]:
        """Send one API request within the rate limits, retrying only where it is safe.

        Args:
            method, path: e.g. ``"GET"``, ``"/users/{userId}/meetings"`` (or a full URL).
            params: query parameters; ``None`` values are left out, lists repeated, booleans
                sent as ``true``/``false``, dates in ISO 8601, enums by value.
            path_params: values for the ``{placeholders}`` of ``path``, URL-encoded for you.
            json: a JSON body.
            data: form fields (``application/x-www-form-urlencoded``, or with ``files`` the
                fields of a ``multipart/form-data`` upload).
            files: files to upload as ``multipart/form-data``: ``{"file": open(p, "rb")}``,
                ``{"file": ("name.png", b"...", "image/png")}`` or a list of such pairs.
            content: a raw body (``bytes`` or ``str``); set ``Content-Type`` in ``headers``.
            headers: extra headers for this call (checked: no line breaks).
            priority: ``"interactive"`` or ``"batch"`` (default: the client's).
            timeout: this call's :class:`ZoomClient` ``timeout`` (each attempt as a whole).
            retry: this call's :class:`~zoom_async.retries.RetryPolicy`.
            max_retries: at most this many retries of any kind (``0``: one attempt only; the
                one re-send with a renewed token after a 401 is not counted).
            operation: the :class:`~zoom_async.catalog.Operation` this call is for, when the
                caller knows it (typed methods and paginators pass theirs): the client then
                takes its rate-limit category and server from it instead of looking the path up.

        Only one of ``json``, ``data``/``files`` and ``content`` may be given. A body that
        cannot be read twice (a file object that cannot seek) is sent at most once. A POST or
        PATCH, upload or not, is never re-sent once it may have reached Zoom.

        Returns the decoded JSON body (usually a ``dict``), or ``None`` for 204 and empty
        bodies. Raises a :class:`~zoom_async.errors.ZoomAPIError` subclass for error answers
        and :class:`~zoom_async.errors.ZoomConnectionError` for transport failures.

        Returns a coroutine, as an ``async def`` would: ``await`` it, or pass it to
        ``asyncio.create_task``. The call is checked and routed right away, but whatever is
        wrong with it is raised only by that coroutine, as from an ``async def``.
        """
        # Routed here, not in the coroutine: a queued call is _request's small coroutine and
        # its _Call (about 1.15 KB with its task), not this method's 27 locals. Cancelled, its
        # frame outlives it in the CancelledError's traceback, and each collection while the
        # caller holds that walks the frame: 100,000 cancelled calls unwind in 0.05-0.2 s less
        # CPU (docs/benchmarks.md, "Queued calls").
        try:
            if json is None and data is None and files is None and content is None:
                body = _NO_BODY  # (the common case without two calls: this runs per call)
            else:
                body = _body(json, data, files, content)
            if retry is None and max_retries is None:
                retry = self.retry
            else:
                retry = self._call_policy(retry, max_retries)
            call = self._prepare(
                method,
                path,
                params=params,
                path_params=path_params,
                body=body,
                headers=headers,
                priority=priority or self.priority,
                timeout=timeout,
                retry=retry,
                operation=operation,
            )
        except Exception as error:
            return _raising(error)
        return self._request(call)

    async def _request(self, call: _Call) -> Any:
        """:meth:`request`'s coroutine: the call's decoded answer."""
        if self._closed:  # (closed after the call was made, before it was awaited)
            raise ConfigurationError("this ZoomClient is closed; create a new one")
        if call.metered is None:
            # The common path, inline: a queued call is this coroutine awaiting the lane's
            # future, nothing more. The httpx.Request (~100 µs and ~2 KB) is built once the
            # call has its slot.
            permit = await self.limits._wait_for_slot(call.family, call.category, call.priority)
            response = await self._attempts(call, None, None, permit)
        else:
            response = await self._send(call)
        decoded = self._decode(response)
        self._learn(decoded, call.rel)
        return decoded

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FileUploads | None = None,
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        path_params: Mapping[str, str | int] | None = None,
        priority: Priority | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        operation: catalog.Operation | None = None,
    ) -> httpx.Response:
        """Like :meth:`request` but returns the successful :class:`httpx.Response` itself
        (its body already read, within ``max_response_size``)."""
        call = self._prepare(
            method,
            path,
            params=params,
            path_params=path_params,
            body=_body(json, data, files, content),
            headers=headers,
            priority=priority or self.priority,
            timeout=timeout,
            retry=self._call_policy(retry, max_retries),
            operation=operation,
        )
        response = await self._send(call)
        try:
            decoded = loads(response.content) if response.content else None
        except ValueError:
            decoded = None
        self._learn(decoded, call.rel)
        return response

    def _call_policy(self, retry: RetryPolicy | None, max_retries: int | None) -> RetryPolicy:
        policy = self.retry
        if retry is not None:
            if not isinstance(retry, RetryPolicy):
                raise ConfigurationError(
                    f"retry must be a RetryPolicy, not {type(retry).__name__}; "
                    "for a number of retries pass max_retries="
                )
            policy = retry
        if max_retries is not None:
            if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
                raise ConfigurationError(f"max_retries must be an int >= 0, not {max_retries!r}")
            attempts = max_retries + 1
            policy = replace(
                policy,
                max_attempts=min(policy.max_attempts, attempts),
                max_rate_limit_attempts=min(policy.max_rate_limit_attempts, attempts),
            )
        return policy

    def _prepare(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        path_params: Mapping[str, str | int] | None,
        body: _Body,
        headers: Mapping[str, str] | None,
        priority: Priority,
        timeout: float | httpx.Timeout | None,
        retry: RetryPolicy,
        operation: catalog.Operation | None = None,
    ) -> _Call:
        """Check the call and route it, without suspending: bad input fails before any wait."""
        method, server, rel, query, headers, deadline, family, category, metered = self._route(
            method, path, params, path_params, headers, timeout, operation
        )
        return _Call(
            self._http,
            method,
            server,
            rel,
            query,
            headers,
            body,
            timeout,
            priority,
            family,
            category,
            retry,
            deadline,
            metered,
        )

    def _route(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        path_params: Mapping[str, str | int] | None,
        headers: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,
        operation: catalog.Operation | None,
    ) -> _Route:
        """:meth:`_prepare`'s checks and routing, as the parts of a :class:`_Call`: ``(method,
        server, rel, query, headers, deadline, family, category, metered)``."""
        if self._closed:
            raise ConfigurationError("this ZoomClient is closed; create a new one")
        if not (type(method) is str and method in _STANDARD_METHODS):
            if not isinstance(method, str) or not _METHOD.fullmatch(method):
                raise ConfigurationError(f"{method!r} is not an HTTP method")
            method = method.upper()  # a literal "GET" is kept: no copy per queued call
        rel = self._relative_path(path, path_params)
        if "?" in rel or "#" in rel or params is not None:
            rel, path_query = split_query(rel)
            # httpx replaces a URL's query string when params are given: merge them instead.
            query = merge_query(path_query, params)
        else:
            query = None
        if headers is not None:
            check_headers(headers)
        deadline = self._deadline
        if timeout is not None:
            deadline = _checked_deadline(timeout)
        op: catalog.Operation | None
        if operation is not None and operation.method == method:
            # A typed call knows its operation: no path lookup.
            op, located = operation, None
        else:
            located = catalog._locate(method, rel)
            op = located[0] if located is not None else None
        if op is None or (op.base_path == "/v2" and op.file_host is None):
            server = self.base_url  # (most operations: no call to _server)
        else:
            server = self._server(op)
        accept = _ACCEPT.get(op.api) if op is not None else None
        if accept and not (headers and any(k.lower() == "accept" for k in headers)):
            headers = {**(headers or {}), "Accept": accept}
        if not _PLAIN_PATH.fullmatch(rel):
            _check_url(server + rel, path)
        family: Family = op.family if op is not None else "general"
        category = op.category if op is not None else DEFAULT_CATEGORY
        meeting_op = op is not None and op.operation_id in MEETING_MUTATIONS
        if meeting_op or (self.serialize_mutations and method not in ("GET", "HEAD", "OPTIONS")):
            # The path parameters' values name the resource for the mutation lock and the
            # meeting quota (a typed call's from its arguments, as catalog.match gives them).
            found: tuple[catalog.Operation, dict[str, str]] | None = None
            if located is not None:
                found = (located[0], dict(zip(located[1], located[2], strict=True)))
            elif op is not None:
                values = {k: path_param_text(k, v) for k, v in (path_params or {}).items()}
                found = (op, values)
            return method, server, rel, query, headers, deadline, family, category, (rel, found)
        return method, server, rel, query, headers, deadline, family, category, None

    async def _send(self, call: _Call) -> httpx.Response:
        """The call's response: mutations one at a time per resource, meeting quota counted."""
        if call.metered is None:
            permit = await self.limits._wait_for_slot(call.family, call.category, call.priority)
            return await self._attempts(call, None, None, permit)
        rel, found = call.metered
        meeting_user: str | None = None
        if found is not None and found[0].operation_id in MEETING_MUTATIONS:
            meeting_user = await self._meeting_host(found[0].operation_id, found[1])
        if self.serialize_mutations and call.method not in ("GET", "HEAD", "OPTIONS"):
            async with self._mutation_lock(_resource_key(rel, found)):
                return await self._metered(call, meeting_user)
        return await self._metered(call, meeting_user)

    # -- internals -------------------------------------------------------------------------

    @asynccontextmanager
    async def _mutation_lock(self, key: str) -> AsyncIterator[None]:
        entry = self._mutation_locks.get(key)
        if entry is None:
            entry = self._mutation_locks[key] = (anyio.Lock(), [0])
        lock, users = entry
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                self._mutation_locks.pop(key, None)

    async def _metered(self, call: _Call, meeting_user: str | None) -> httpx.Response:
        if meeting_user is None:
            return await self._attempts(call, None)
        # The host's meeting quota is charged once per call, not per attempt, and given back
        # when no attempt can have let Zoom act (never sent, or refused with 401/429).
        await self.limits.reserve_meeting(meeting_user)
        reached = [False]
        try:
            return await self._attempts(call, meeting_user, reached)
        finally:
            if not reached[0]:
                with anyio.CancelScope(shield=True):
                    await self.limits.release_meeting(meeting_user)

    async def _attempts(
        self,
        call: _Call,
        meeting_user: str | None,
        reached: list[bool] | None = None,
        permit: Permit | None = None,
    ) -> httpx.Response:
        """Send ``call`` until it succeeds or may not be retried; ``permit``: the first slot,
        when the caller already waited for it."""
        method = call.method
        family, category = call.family, call.category
        request: httpx.Request | None = None
        attempt = 0
        auth_renewed = False
        while True:
            attempt += 1
            if permit is None:
                permit = await self.limits.acquire(
                    family, category, priority=call.priority, retry=attempt > 1
                )
            try:
                if request is None:
                    request = call.build()
                # Asked for after the wait, so a call queued for an hour sends a fresh token.
                token = await self.auth.get_token(self._http)
                # A slot granted ahead of the instant it frees (limits._EARLY_GRANT): the request
                # is ready, and leaves no earlier than that instant (the loop's timer for it).
                clock = self.limits._clock
                if (early := permit.granted_at - clock.monotonic()) > 0.0:
                    await clock.sleep(early)
            except BaseException as exc:
                await permit.release(sent=False)
                if isinstance(exc, httpx.InvalidURL):
                    raise ConfigurationError(
                        f"cannot build a URL from {call.url!r}: {exc}"
                    ) from None
                raise
            request.headers["Authorization"] = f"Bearer {token}"
            response: httpx.Response | None = None
            sent = True
            failure: httpx.TransportError | None = None
            reached_before = reached is not None and reached[0]
            if reached is not None:
                reached[0] = True  # until we know better (a cancelled send may have arrived)
            permit.sent_at = self.limits._clock.monotonic()
            try:
                response = await self._exchange(request, call.deadline)
            except httpx.TransportError as exc:
                sent = not _never_sent(exc)
                failure = exc
            finally:
                await permit.release(response, sent=sent, answered_at=_answer_time(response))
            granted_at, lease_id, sent_at = permit.granted_at, permit.lease_id, permit.sent_at
            permit = None
            if reached is not None and (
                not sent or (response is not None and response.status_code in (401, 429))
            ):
                # Never sent, or Zoom refused it before acting: this attempt used no quota.
                reached[0] = reached_before

            if failure is not None:
                if isinstance(failure, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
                    # The HTTP library refused to write it: the same request would fail again.
                    raise ZoomConnectionError(
                        # Not str(failure): h11 quotes the offending header, maybe a token.
                        f"the HTTP library refused to write the request "
                        f"({type(failure).__name__}); it was not sent",
                        method=method,
                        url=str(request.url),
                        may_have_reached_zoom=False,
                    ) from failure
                ctx = RetryContext(
                    method=method,
                    attempt=attempt,
                    kind="timeout" if isinstance(failure, httpx.TimeoutException) else "connection",
                    may_have_reached_zoom=sent,
                )
                if await self._wait_to_retry(ctx, call):
                    continue
                raise self._transport_error(
                    failure, method, str(request.url), sent, attempt, call.retry
                ) from failure

            assert response is not None
            status = response.status_code
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s %s -> %s (attempt %d)", method, request.url.path, status, attempt)
            if status < 400:
                return response  # _exchange has read the body

            if status == 401 and not auth_renewed and call.replayable:
                # Refused before anything happened: safe to renew the token and re-send once.
                auth_renewed = True
                await self.auth.invalidate(token)
                attempt -= 1
                continue

            if status == 429:
                error = classify_rate_limit(
                    response,
                    category=category,
                    meeting_user=meeting_user,
                    now=self._clock.utcnow(),
                    method=method,
                    url=str(request.url),
                )
                if isinstance(error, MeetingQuotaExceeded):
                    assert meeting_user is not None
                    await self.limits.meeting_exhausted(meeting_user)
                    if reached is not None:
                        reached[0] = True  # the count now says "spent": nothing to give back
                    self.limits.note_rate_limited(family, category, "Meeting-quota")
                    raise error
                if isinstance(error, DailyLimitExceeded):
                    await self.limits.daily_exhausted(family, error.resets_at)
                    self.limits.note_rate_limited(family, category, "Daily-limit")
                    if self.limits.on_daily_limit == "wait" and call.replayable:
                        delay = (error.resets_at - self._clock.utcnow()).total_seconds()
                        await self._clock.sleep(max(delay, 0.0) + 0.001)
                        attempt -= 1
                        continue
                    raise error
                kind: FailureKind
                if isinstance(error, ConcurrentRequestsError):
                    kind = "concurrent"
                    self.limits.note_rate_limited(family, category, "Concurrent")
                else:
                    kind = "rate_limit"
                    await self.limits.rate_limited(
                        family, category, granted_at=granted_at, lease_id=lease_id, sent_at=sent_at
                    )
                ctx = RetryContext(
                    method=method,
                    attempt=attempt,
                    kind=kind,
                    status_code=429,
                    may_have_reached_zoom=False,
                    retry_after=error.retry_after,
                )
                if await self._wait_to_retry(ctx, call):
                    continue
                raise error

            if status >= 500:
                ctx = RetryContext(
                    method=method, attempt=attempt, kind="server_error", status_code=status
                )
                if await self._wait_to_retry(ctx, call):
                    continue
                raise self._server_error(response, method, str(request.url), attempt, call.retry)

            raise self._api_error(response, method, str(request.url), auth_renewed=auth_renewed)

    async def _exchange(self, request: httpx.Request, deadline: float | None) -> httpx.Response:
        """Send ``request`` and read its whole answer, within ``deadline`` seconds in all.

        httpx's timeouts bound each phase (one read may wait ``read`` seconds, then the next
        read again): a body dripping a byte at a time would never time out. Here the attempt
        as a whole has one deadline, and the body is read with the size limit enforced.
        """
        response: httpx.Response | None = None
        # asyncio.timeout, not anyio.move_on_after: the same deadline at half the cost per
        # request (a cancel scope costs ~15 µs more), and the client runs on asyncio anyway.
        attempt = asyncio.timeout(deadline)  # None: no bound
        try:
            async with attempt:
                try:
                    response = await send_streaming(self._http, request)
                    await self._read_body(response)
                except httpx.DecodingError as exc:
                    raise ResponseDecodeError(
                        f"the answer's content could not be decoded ({type(exc).__name__}: "
                        f"{excerpt(str(exc))})",
                        status_code=response.status_code if response is not None else None,
                        method=request.method,
                        url=str(request.url),
                        headers=dict(response.headers) if response is not None else None,
                    ) from None
                finally:
                    if response is not None and not response.is_closed:
                        with anyio.CancelScope(shield=True):
                            await response.aclose()
        except TimeoutError:
            if not attempt.expired():
                raise  # someone else's TimeoutError
            raise _AttemptTimeout(
                f"no complete answer within {deadline:g} s", request=request
            ) from None
        assert response is not None
        # httpx's BoundAsyncStream refers back to its response: a reference cycle that only the
        # collector frees, and with it everything the response reaches (its request, headers,
        # the transport's per-request streams: some 40 tracked objects a request). That made a
        # young-generation pass every dozen requests, and older-generation passes in a burst.
        # The answer is read and closed by now (its body in .content; httpx never reads a closed
        # response's stream again), so let go of the stream and refcounting frees it all.
        response.stream = _SPENT_STREAM
        return response

    async def _read_body(self, response: httpx.Response) -> None:
        limit = self.max_response_size
        is_error = response.status_code >= 400
        if is_error:
            limit = _ERROR_BODY_LIMIT if limit is None else min(limit, _ERROR_BODY_LIMIT)
        elif limit is not None:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise self._too_large(response, limit, int(declared))
        if limit is None:
            await response.aread()
            return
        body, more = await read_at_most(response, limit)
        if more and not is_error:
            raise self._too_large(response, limit, None)
        # What Response.aread() does, with the limit applied while reading.
        response._content = body

    def _too_large(
        self, response: httpx.Response, limit: int, declared: int | None
    ) -> ResponseTooLarge:
        size = f"{declared:,} bytes" if declared is not None else "more"
        return ResponseTooLarge(
            f"the answer is {size}, past max_response_size={limit:,}; it was not read. Raise "
            "max_response_size, ask for smaller pages, or use download() for files",
            limit=limit,
            status_code=response.status_code,
            method=response.request.method,
            url=str(response.request.url),
            headers=dict(response.headers),
        )

    async def _wait_to_retry(self, ctx: RetryContext, call: _Call) -> bool:
        """Ask the call's retry policy; when it says retry, wait its interval first."""
        if not call.replayable or not call.retry.should_retry(ctx):
            return False
        await self._clock.sleep(call.retry.wait_time(ctx))
        return True

    def _transport_error(
        self,
        exc: httpx.TransportError,
        method: str,
        url: str,
        sent: bool,
        attempt: int,
        policy: RetryPolicy,
    ) -> ZoomConnectionError:
        # Our own deadline says what happened; httpx's messages may quote the request.
        kind = str(exc) if isinstance(exc, _AttemptTimeout) else type(exc).__name__
        what = f"{kind} after {attempt} attempt{'s' if attempt != 1 else ''}"
        if sent and method not in policy.retry_methods:
            what += (
                f"; the {method} was not re-sent because it may have reached Zoom: check whether "
                "it took effect before repeating it"
            )
        cls = ZoomTimeoutError if isinstance(exc, httpx.TimeoutException) else ZoomConnectionError
        return cls(what, method=method, url=url, may_have_reached_zoom=sent)

    def _server_error(
        self, response: httpx.Response, method: str, url: str, attempt: int, policy: RetryPolicy
    ) -> ServerError:
        code, message, body = _error_fields(response)
        retried = attempt > 1
        if method not in policy.retry_methods:
            message = (
                f"{message or 'server error'}; the {method} was not re-sent because it may have "
                "reached Zoom: check whether it took effect before repeating it"
            )
        elif retried:
            message = f"{message or 'server error'} (after {attempt} attempts)"
        return ServerError(
            message or "server error",
            retried=retried,
            status_code=response.status_code,
            code=code,
            method=method,
            url=url,
            headers=dict(response.headers),
            body=body,
        )

    def _api_error(
        self, response: httpx.Response, method: str, url: str, *, auth_renewed: bool
    ) -> ZoomAPIError:
        code, message, body = _error_fields(response)
        status = response.status_code
        cls = _ERRORS_BY_STATUS.get(status, ZoomAPIError)
        message = message or response.reason_phrase or f"HTTP {status}"
        if cls is AuthError:
            renewed = " even with a renewed token" if auth_renewed else ""
            return AuthError(
                f"Zoom rejected the access token{renewed}: {message}",
                step="request",
                status_code=status,
                code=code,
                method=method,
                url=url,
                headers=dict(response.headers),
                body=body,
            )
        return cls(
            message,
            status_code=status,
            code=code,
            method=method,
            url=url,
            headers=dict(response.headers),
            body=body,
        )

    def _decode(self, response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return loads(response.content)
        except ValueError as exc:
            snippet = excerpt(response.content)
            raise ResponseDecodeError(
                f"expected JSON but got {response.headers.get('content-type', 'no content type')}"
                f" ({excerpt(str(exc), 100)}): {snippet!r}",
                status_code=response.status_code,
                method=response.request.method,
                url=str(response.request.url),
                headers=dict(response.headers),
                body=snippet,
            ) from None

    def _learn(self, data: Any, path: str) -> None:
        """Remember meeting hosts and user ids seen in responses (for the meeting quota)."""
        if not isinstance(data, dict):
            return
        self._learn_object(data)
        for key in ("meetings", "users"):
            items = data.get(key)
            if isinstance(items, list):
                for item in items[:1000]:
                    if isinstance(item, dict):
                        self._learn_object(item)
        if path.endswith("/users/me") and "id" in data:
            self._user_ids.remember("me", str(data["id"]))

    def _learn_object(self, item: Mapping[str, Any]) -> None:
        host = item.get("host_id")
        if host:
            for key in ("id", "uuid"):
                if item.get(key) is not None:
                    self._meeting_hosts.remember(str(item[key]), str(host))
        email, user_id = item.get("email"), item.get("id")
        if email and user_id and "host_id" not in item:
            self._user_ids.remember(str(email).lower(), str(user_id))

    async def _meeting_host(self, operation_id: str, params: Mapping[str, str]) -> str | None:
        """The host user id a meeting create/update/delete counts against."""
        if operation_id == "meetingCreate":
            user = params.get("userId", "me")
            alias = user.lower()
            if alias != "me" and "@" not in alias:
                return user
            known = self._user_ids.get(alias)
            if known is not None or not self.lookup_meeting_hosts:
                return known or alias
            return await self._lookups.run(f"user:{alias}", lambda: self._look_up_user(user))
        meeting_id = params.get("meetingId")
        if meeting_id is None:
            return None
        known = self._meeting_hosts.get(meeting_id)
        if known is not None or not self.lookup_meeting_hosts:
            return known or f"meeting:{meeting_id}"
        # Single flight: 50 concurrent updates of one meeting make one look-up.
        return await self._lookups.run(
            f"meeting:{meeting_id}", lambda: self._look_up_host(meeting_id)
        )

    async def _look_up_user(self, user: str) -> str | None:
        alias = user.lower()
        try:
            data = await self.get("/users/{userId}", path_params={"userId": user})
        except NotFoundError:
            return None
        if isinstance(data, dict) and data.get("id"):
            self._user_ids.remember(alias, str(data["id"]))
            return str(data["id"])
        return alias

    async def _look_up_host(self, meeting_id: str) -> str | None:
        try:
            data = await self.get("/meetings/{meetingId}", path_params={"meetingId": meeting_id})
        except NotFoundError:
            return None  # the mutation will get Zoom's 404 and does not count
        if isinstance(data, dict) and data.get("host_id"):
            return str(data["host_id"])
        return None

    # -- listings, fan-out, downloads ----------------------------------------------------------

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        path_params: Mapping[str, str | int] | None = None,
        list_key: str | None = None,
        mode: PaginationMode = "auto",
        prefetch: int = 1,
        concurrency: int = DEFAULT_PAGE_CONCURRENCY,
        checkpoint: Checkpoint | None = None,
        token_max_age: float | None = DEFAULT_TOKEN_MAX_AGE,
        progress: ProgressCallback | None = None,
        max_empty_pages: int = DEFAULT_MAX_EMPTY_PAGES,
    ) -> Paginator[Item]:
        """Every item of a list endpoint: ``async for`` items, ``.pages()`` for pages, ``await``
        for the first page. See :mod:`zoom_async.pagination`.

        Args:
            path, params, path_params: the list request, as for :meth:`get`. Paging
                parameters may be given in ``params`` or in the path's query string
                (``"/users?status=inactive&page_size=50"``): ``page_size``, a
                ``next_page_token`` to resume from, or a ``page_number`` to start at. Nothing
                given is dropped; one parameter given twice with different values raises
                :class:`~zoom_async.errors.ConfigurationError`.
            page_size: items per page (default 300), clamped to the endpoint's maximum.
            list_key: the key of the items (default: from the catalog or the response).
            mode: ``"auto"``, ``"token"`` or ``"page_number"`` (see
                :data:`~zoom_async.pagination.PaginationMode`).
            prefetch: pages fetched ahead of the one being handled.
            concurrency: pages fetched at once when the page count is known.
            checkpoint: resume from a saved :class:`~zoom_async.pagination.Checkpoint`.
            token_max_age: fetch the next page before its ``next_page_token`` is older than
                this many seconds, even if the caller is behind (``None``: never).
            progress: a :data:`~zoom_async.progress.ProgressCallback`.
            max_empty_pages: empty pages in a row (each with a new ``next_page_token``)
                tolerated; one more and the listing raises
                :class:`~zoom_async.pagination.PaginationError`.

        Example::

            async for user in zoom.paginate("/users", params={"status": "active"}):
                print(user["email"])
        """
        return Paginator(
            self,
            path,
            params=params,
            path_params=path_params,
            page_size=page_size,
            list_key=list_key,
            mode=mode,
            prefetch=prefetch,
            concurrency=concurrency,
            checkpoint=checkpoint,
            token_max_age=token_max_age,
            progress=progress,
            max_empty_pages=max_empty_pages,
        )

    @overload
    def fan_out(
        self,
        items: AsyncIterable[_T] | Iterable[_T],
        fn: Callable[[_T], Awaitable[_R]],
        *,
        concurrency: int = ...,
        ordered: bool = ...,
        errors: Literal["raise"] = ...,
        progress: ProgressCallback | None = ...,
        total: int | None = ...,
        description: str = ...,
    ) -> FanOut[tuple[_T, _R]]: ...

    @overload
    def fan_out(
        self,
        items: AsyncIterable[_T] | Iterable[_T],
        fn: Callable[[_T], Awaitable[_R]],
        *,
        concurrency: int = ...,
        ordered: bool = ...,
        errors: Literal["collect"],
        progress: ProgressCallback | None = ...,
        total: int | None = ...,
        description: str = ...,
    ) -> FanOut[Result[_T, _R]]: ...

    def fan_out(
        self,
        items: AsyncIterable[_T] | Iterable[_T],
        fn: Callable[[_T], Awaitable[_R]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        ordered: bool = False,
        errors: Literal["raise", "collect"] = "raise",
        progress: ProgressCallback | None = None,
        total: int | None = None,
        description: str = "fan-out",
    ) -> FanOut[tuple[_T, _R]] | FanOut[Result[_T, _R]]:
        """Run ``fn(item)`` for each item, ``concurrency`` at a time, within the rate limits;
        yields ``(item, value)`` (or :class:`~zoom_async.fan_out.Result` objects with
        ``errors="collect"``). See :func:`zoom_async.fan_out.fan_out`.

        Example::

            async for user, meetings in zoom.fan_out(
                zoom.paginate("/users"), lambda u: zoom.get(f"/users/{u['id']}/meetings")
            ):
                ...
        """
        if errors == "collect":
            return _fan_out(
                items,
                fn,
                concurrency=concurrency,
                ordered=ordered,
                errors="collect",
                progress=progress,
                total=total,
                description=description,
            )
        return _fan_out(
            items,
            fn,
            concurrency=concurrency,
            ordered=ordered,
            errors="raise",
            progress=progress,
            total=total,
            description=description,
        )

    async def download(
        self,
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
        """Stream a file (a cloud recording's ``download_url``...) to ``destination``.

        Bounded memory; the token goes only to the URL's own host (not to the storage host it
        redirects to); an interrupted download resumes where the server allows; the size is
        verified against the server and ``expected_size``. ``destination`` may be a directory
        (the name then comes from ``Content-Disposition``). See :mod:`zoom_async.downloads`.

        Args:
            expected_size: the size the file must have (a recording file's ``file_size``); a
                complete file already there is not downloaded again.
            resume: continue a ``<destination>.part`` left by an interrupted download.
            token: a bearer token to use instead of the client's (a webhook's
                ``download_token``); ``authenticate=False`` sends none.
            progress: a :data:`~zoom_async.progress.ProgressCallback` (unit ``"bytes"``).

        Example::

            result = await zoom.download(f["download_url"], "rec.mp4", expected_size=f["file_size"])
        """
        return await _download(
            self,
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


async def _raising(error: Exception) -> NoReturn:
    """What :meth:`ZoomClient.request` found wrong, raised where an ``async def`` raises it:
    when its coroutine is awaited."""
    raise error


def _resource_key(path: str, found: tuple[catalog.Operation, dict[str, str]] | None) -> str:
    """One name for a resource however its path is spelled (``/meetings/1/``, ``/v2/meetings/1``,
    ``/meetings//1``...): the catalog's template filled with the matched values."""
    if found is not None:
        op, values = found
        segments = [
            values.get(seg[1:-1], seg) if seg.startswith("{") and seg.endswith("}") else seg
            for seg in op.path.strip("/").split("/")
        ]
    else:
        segments = [unquote(seg) for seg in path.split("?", 1)[0].split("/") if seg]
    return "/" + "/".join(segments)


def _error_fields(response: httpx.Response) -> tuple[int | None, str, Any]:
    """Zoom's ``code`` and ``message`` from an error answer, and the body to keep.

    A body that is not JSON (an HTML 502 page) is quoted as a short single-line excerpt.
    """
    try:
        data = loads(response.content)
    except ValueError:
        text = excerpt(response.content)
        return None, text, text
    if isinstance(data, dict):
        code = data.get("code")
        # SCIM2 errors say it in "detail" (RFC 7644 section 3.12).
        message = data.get("message") or data.get("reason") or data.get("detail") or ""
        if not isinstance(message, str):
            message = str(message)
        return (
            (code if isinstance(code, int) and not isinstance(code, bool) else None),
            excerpt(message, 500),
            data,
        )
    return None, "", data

"""Receive Zoom webhooks: verify them, answer URL validation, parse typed events, run handlers.

Zoom POSTs each event to your endpoint and expects a 200 or 204 within 3 seconds, so the endpoint
here verifies the request, acknowledges it at once and runs your handlers in the background::

    from zoom_async.events import MeetingStartedEvent
    from zoom_async.webhooks import Webhooks

    hooks = Webhooks(secret_token=os.environ["ZOOM_WEBHOOK_SECRET_TOKEN"])

    @hooks.on("meeting.started")
    async def started(event: MeetingStartedEvent) -> None:
        ...

    app.include_router(hooks.fastapi_router(path="/zoom/webhook"))   # FastAPI, or
    app = hooks.asgi_app(path="/zoom/webhook")                       # any ASGI server

The building blocks are public too: :func:`verify` (the ``x-zm-signature`` check),
:func:`url_validation` (the answer to ``endpoint.url_validation``), :func:`parse_event` (raw body
to a typed model from :mod:`zoom_async.events`) and :meth:`Webhooks.handle_request` (the whole
endpoint, framework-agnostic). See ``docs/webhooks.md``.

Neither the secret token nor a signature is ever logged or put in an exception message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from ._decoding import loads
from .clock import Clock, SystemClock
from .errors import ConfigurationError, WebhookVerificationError

if TYPE_CHECKING:
    from fastapi import APIRouter
    from pydantic import ValidationError

    from .events import ZoomEvent

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "URL_VALIDATION_EVENT",
    "ASGIApp",
    "Handler",
    "InMemorySeenStore",
    "SeenStore",
    "WebhookPayloadError",
    "WebhookResponse",
    "WebhookVerificationError",
    "Webhooks",
    "default_dedup_key",
    "parse_event",
    "sign",
    "url_validation",
    "verify",
]

logger = logging.getLogger("zoom_async.webhooks")

#: Header carrying ``v0=<hex HMAC-SHA256>``.
SIGNATURE_HEADER = "x-zm-signature"
#: Header carrying the request's Unix time in seconds (part of the signed message).
TIMESTAMP_HEADER = "x-zm-request-timestamp"
#: The event Zoom sends to check that an endpoint is yours.
URL_VALIDATION_EVENT = "endpoint.url_validation"
#: Seconds a request timestamp may be away from now before the request counts as a replay.
DEFAULT_TOLERANCE = 300.0
#: Largest request body the endpoint reads (bytes); larger requests get a 413.
DEFAULT_MAX_BODY_SIZE = 8 * 1024 * 1024

_STORE_TIMEOUT = 1.0  # seconds a seen-store may take before the event is processed anyway

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: An ASGI 3 application.
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: An event handler: ``async def handler(event) -> None`` (a plain function runs in a thread).
Handler = Callable[[Any], Any]
H = TypeVar("H", bound=Handler)


class WebhookPayloadError(WebhookVerificationError):
    """The body is not a Zoom event: not JSON, not an object, or without an ``event`` name.

    With ``parse_event(..., strict=True)`` also raised when a known event does not match its
    model. ``reason`` says which; it never contains the body.
    """


# ------------------------------------------------------------------------------------------
# Signatures


def _secret_bytes(secret_token: str) -> bytes:
    if not isinstance(secret_token, str) or not secret_token:
        raise ConfigurationError(
            "secret_token must be the app's non-empty Secret Token (Marketplace > Features > "
            "Access > Secret Token)"
        )
    return secret_token.encode("utf-8")


def _body_bytes(body: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    raise TypeError(
        f"body must be the raw request body (bytes), not {type(body).__name__}; "
        "a re-serialised JSON object does not carry Zoom's signature"
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                value = candidate
                break
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value


def sign(
    secret_token: str, timestamp: int | str, body: bytes | bytearray | memoryview | str
) -> str:
    """The ``x-zm-signature`` Zoom sends for ``body`` at ``timestamp``.

    ``"v0=" + hex(HMAC-SHA256(secret_token, f"v0:{timestamp}:{body}"))``, computed over the raw
    body bytes. Handy in tests, to post requests your endpoint accepts.
    """
    message = b"v0:" + str(timestamp).encode("ascii") + b":" + _body_bytes(body)
    digest = hmac.new(_secret_bytes(secret_token), message, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def verify(
    secret_token: str,
    headers: Mapping[str, str],
    body: bytes | bytearray | memoryview | str,
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Check that a webhook request comes from Zoom; raise if it does not.

    Compares ``x-zm-signature`` with ``v0=`` + hex HMAC-SHA256 of
    ``v0:{x-zm-request-timestamp}:{body}`` keyed by ``secret_token``, in constant time, and
    rejects a timestamp more than ``tolerance`` seconds away from ``now`` (default: the current
    time), which stops replays of captured requests. ``tolerance=None`` skips that check.

    Args:
        secret_token: the app's Secret Token.
        headers: the request headers (any mapping; names are matched case-insensitively).
        body: the raw request body exactly as received. Never a re-serialised JSON: any change
            of whitespace, key order or escaping breaks the signature.
        tolerance: allowed clock difference in seconds.
        now: the current Unix time (for tests).

    Raises:
        WebhookVerificationError: with a ``reason`` such as ``"signature mismatch"``; the
            reason never contains the secret or the signatures.
        ConfigurationError: ``secret_token`` is empty.
    """
    secret = _secret_bytes(secret_token)
    raw = _body_bytes(body)
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    if not signature:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    if not timestamp:
        raise WebhookVerificationError(f"missing {TIMESTAMP_HEADER} header")
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 16:
        raise WebhookVerificationError(f"malformed {TIMESTAMP_HEADER} header")
    if tolerance is not None:
        current = time.time() if now is None else now
        if abs(current - int(timestamp)) > tolerance:
            raise WebhookVerificationError(
                f"{TIMESTAMP_HEADER} is more than {tolerance:g} s away from now "
                "(stale or replayed request, or a wrong clock)"
            )
    signature = signature.strip()
    if not signature.startswith("v0="):
        raise WebhookVerificationError(f"malformed {SIGNATURE_HEADER} header (expected v0=...)")
    message = b"v0:" + timestamp.encode("ascii") + b":" + raw
    expected = b"v0=" + hmac.new(secret, message, hashlib.sha256).hexdigest().encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        raise WebhookVerificationError("signature mismatch (wrong secret token or altered body)")


def url_validation(secret_token: str, plain_token: str) -> dict[str, str]:
    """The answer to Zoom's ``endpoint.url_validation`` event.

    Returns ``{"plainToken": plain_token, "encryptedToken": hex(HMAC-SHA256(secret_token,
    plain_token))}``, to send back as JSON with status 200. Only answer requests that passed
    :func:`verify`: otherwise anyone could obtain HMACs of strings of their choosing.

    Raises:
        WebhookPayloadError: ``plain_token`` is empty, not a string, or shaped like a signed
            message (``v0:...``), which a genuine plain token never is.
    """
    if not isinstance(plain_token, str) or not plain_token or plain_token.startswith("v0:"):
        raise WebhookPayloadError("endpoint.url_validation without a usable payload.plainToken")
    digest = hmac.new(_secret_bytes(secret_token), plain_token.encode("utf-8"), hashlib.sha256)
    return {"plainToken": plain_token, "encryptedToken": digest.hexdigest()}


# ------------------------------------------------------------------------------------------
# Parsing


def _decode(body: bytes | bytearray | memoryview | str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(body, Mapping):
        data: Any = dict(body)
    else:
        try:
            data = loads(_body_bytes(body))
        except ValueError as exc:
            raise WebhookPayloadError(f"body is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise WebhookPayloadError("body is not a JSON object")
    name = data.get("event")
    if not isinstance(name, str) or not name:
        raise WebhookPayloadError("body has no event name")
    return data


def _error_summary(exc: ValidationError) -> str:
    """Where validation failed, without the (possibly personal) values."""
    locs = [".".join(str(p) for p in err["loc"]) or "<root>" for err in exc.errors()[:5]]
    more = "" if exc.error_count() <= 5 else f" and {exc.error_count() - 5} more"
    return f"{exc.error_count()} error(s) at {', '.join(locs)}{more}"


def parse_event(
    body: bytes | bytearray | memoryview | str | Mapping[str, Any], *, strict: bool = False
) -> ZoomEvent:
    """Parse a webhook body into the typed model of its event.

    The model is chosen by the ``event`` field (``meeting.started`` ->
    :class:`~zoom_async.events.MeetingStartedEvent`); unknown events give a generic
    :class:`~zoom_async.events.ZoomEvent`. Fields the model does not know are kept (as extra
    attributes), never dropped. A known event whose body does not fit its model (Zoom changed a
    type) is logged and returned as a generic ``ZoomEvent`` too, unless ``strict`` is set.

    ``body`` is the raw body (bytes or text) or an already decoded JSON object.

    Raises:
        WebhookPayloadError: not JSON, not an object, no ``event`` name; with ``strict``, a
            known event that does not match its model.
    """
    # The event models are imported on the first event, not with the package (they are most of
    # its import time).
    from pydantic import ValidationError

    from .events import ZoomEvent, model_for

    data = _decode(body)
    name: str = data["event"]
    model = model_for(name)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        summary = _error_summary(exc)
        if model is ZoomEvent:
            raise WebhookPayloadError(f"{name} is not a Zoom event: {summary}") from None
        if strict:
            raise WebhookPayloadError(f"{name} does not match its model: {summary}") from None
        logger.warning("%s does not match its model (%s); parsed as ZoomEvent", name, summary)
    try:
        return ZoomEvent.model_validate(data)
    except ValidationError as exc:
        raise WebhookPayloadError(f"{name} is not a Zoom event: {_error_summary(exc)}") from None


# ------------------------------------------------------------------------------------------
# Duplicate detection


@runtime_checkable
class SeenStore(Protocol):
    """Remembers which deliveries were processed, to skip Zoom's duplicate deliveries.

    Share one store between processes (Redis, a database...) when several instances receive the
    same webhooks. ``seen`` should be fast: it runs before the request is acknowledged.
    """

    async def seen(self, key: str) -> bool:
        """Whether ``key`` was marked (and has not expired)."""
        ...

    async def mark(self, key: str) -> None:
        """Remember ``key``."""
        ...


class InMemorySeenStore:
    """A per-process :class:`SeenStore`: keys expire after ``ttl`` seconds.

    At most ``max_entries`` keys are kept (the oldest go first). The default TTL covers Zoom's
    retries, which it spreads over a few hours.
    """

    def __init__(
        self, ttl: float = 4 * 3600.0, max_entries: int = 100_000, clock: Clock | None = None
    ) -> None:
        if ttl <= 0 or max_entries <= 0:
            raise ConfigurationError("ttl and max_entries must be positive")
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock or SystemClock()
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def _purge(self, now: float) -> None:
        while self._expiry:
            key, expires = next(iter(self._expiry.items()))
            if expires > now:
                break
            del self._expiry[key]

    async def seen(self, key: str) -> bool:
        """Whether ``key`` was marked less than ``ttl`` seconds ago."""
        self._purge(self._clock.monotonic())
        return key in self._expiry

    async def mark(self, key: str) -> None:
        """Remember ``key`` for ``ttl`` seconds."""
        self._expiry[key] = self._clock.monotonic() + self.ttl
        self._expiry.move_to_end(key)
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)

    def __len__(self) -> int:
        return len(self._expiry)


def default_dedup_key(event: ZoomEvent, body: bytes) -> str | None:
    """``"{event}:{event_ts}:{sha256(body)}"``: a redelivery carries the same body.

    Two distinct events never share a body (they differ at least in ``event_ts`` or payload), so
    only true duplicates collide.
    """
    return f"{event.event}:{event.event_ts}:{hashlib.sha256(body).hexdigest()}"


# ------------------------------------------------------------------------------------------
# The endpoint


@dataclass(frozen=True)
class WebhookResponse:
    """What :meth:`Webhooks.handle_request` answers: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The body as JSON bytes."""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_limited(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise _TooLarge
    return bytes(buffer)


def _content_length_too_large(value: str | None, limit: int) -> bool:
    try:
        return value is not None and int(value) > limit
    except ValueError:
        return False


class Webhooks:
    """A Zoom webhook endpoint: verification, URL validation, dedup and background handlers.

    Register handlers with :meth:`on`, then serve it as an ASGI app (the object itself, or
    :meth:`asgi_app`) or mount :meth:`fastapi_router`. Each accepted event is acknowledged
    before any handler runs; handlers run in background tasks that are kept (so none is lost),
    their exceptions are logged to ``zoom_async.webhooks`` (and passed to ``on_error``), and
    :meth:`drain` / :meth:`aclose` wait for them at shutdown.

    Args:
        secret_token: the app's Secret Token (used to verify signatures).
        tolerance: seconds a request timestamp may differ from now (``None``: no check).
        dedupe: skip deliveries already seen (Zoom redelivers when it missed an answer).
        seen_store: where seen deliveries are remembered; default :class:`InMemorySeenStore`.
        dedup_key: the key of a delivery (``None`` from it: never deduplicated).
        max_body_size: largest accepted body in bytes (larger: 413).
        max_concurrency: at most this many events have handlers running at once (others wait,
            already acknowledged); ``None``: no limit.
        on_error: called as ``on_error(event, exception)`` after a handler raised.
        clock: time source for the signature timestamp check.
    """

    def __init__(
        self,
        secret_token: str,
        *,
        tolerance: float | None = DEFAULT_TOLERANCE,
        dedupe: bool = True,
        seen_store: SeenStore | None = None,
        dedup_key: Callable[[ZoomEvent, bytes], str | None] = default_dedup_key,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_concurrency: int | None = None,
        on_error: Callable[[ZoomEvent, BaseException], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        _secret_bytes(secret_token)  # fail early on an empty secret
        if max_concurrency is not None and max_concurrency < 1:
            raise ConfigurationError("max_concurrency must be at least 1")
        self._secret = secret_token
        self.tolerance = tolerance
        if not dedupe:
            seen_store = None
        elif seen_store is None:
            seen_store = InMemorySeenStore()
        self.seen_store: SeenStore | None = seen_store
        self.dedup_key = dedup_key
        self.max_body_size = max_body_size
        self.on_error = on_error
        self._clock = clock or SystemClock()
        self._handlers: dict[str, list[Handler]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.max_concurrency = max_concurrency
        self._semaphores: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}
        self._inflight: set[str] = set()  # dedup keys being checked right now
        self._closed = False

    def __repr__(self) -> str:
        events = sorted(self._handlers)
        return f"Webhooks(handlers={events!r}, pending={self.pending})"  # never the secret

    # -- handlers ---------------------------------------------------------------------------

    def on(self, *events: str) -> Callable[[H], H]:
        """Decorator registering a handler for one or more events.

        ``"*"`` matches every event and ``"meeting.*"`` every event whose name starts with
        ``meeting.``. Handlers of one event run one after the other in registration order;
        different events are handled concurrently. A handler gets the parsed event (a model
        from :mod:`zoom_async.events`); plain (non-async) functions run in a worker thread.
        """
        if not events:
            raise ConfigurationError("on() needs at least one event name")

        def decorator(handler: H) -> H:
            for event in events:
                self.add_handler(event, handler)
            return handler

        return decorator

    def add_handler(self, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event`` (same patterns as :meth:`on`)."""
        if not isinstance(event, str) or not event:
            raise ConfigurationError("event must be a non-empty event name or pattern")
        if not callable(handler):
            raise ConfigurationError("handler must be callable")
        self._handlers.setdefault(event, []).append(handler)

    def handlers_for(self, event: str) -> list[Handler]:
        """The handlers that run for event ``event``, in order: exact, ``prefix.*``, ``*``."""
        found = list(self._handlers.get(event, ()))
        for pattern, handlers in self._handlers.items():
            if pattern.endswith(".*") and event.startswith(pattern[:-1]) and pattern != event:
                found.extend(handlers)
        if event != "*":
            found.extend(self._handlers.get("*", ()))
        return found

    async def dispatch(self, event: ZoomEvent) -> None:
        """Run the handlers of ``event`` now and wait for them; their errors are logged.

        Use it for events from another source, e.g. :class:`zoom_async.event_stream.EventStream`.
        """
        for handler in self.handlers_for(event.event):
            try:
                if _is_async(handler):
                    await handler(event)
                else:
                    result = await asyncio.to_thread(handler, event)
                    if inspect.isawaitable(result):
                        await result
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception(
                    "webhook handler %s failed for event %s",
                    _handler_name(handler),
                    event.event,
                )
                await self._report(event, exc)

    async def _report(self, event: ZoomEvent, exc: BaseException) -> None:
        if self.on_error is None:
            return
        try:
            result = self.on_error(event, exc)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("on_error callback failed for event %s", event.event)

    def submit(self, event: ZoomEvent) -> asyncio.Task[None]:
        """Run the handlers of ``event`` in a background task (kept until it finishes)."""
        task = asyncio.get_running_loop().create_task(
            self._run(event), name=f"zoom-webhook:{event.event}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, event: ZoomEvent) -> None:
        if self.max_concurrency is None:
            await self.dispatch(event)
            return
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:  # one per event loop (tests may run several loops in turn)
            self._semaphores = {loop: asyncio.Semaphore(self.max_concurrency)}
            semaphore = self._semaphores[loop]
        async with semaphore:
            await self.dispatch(event)

    @property
    def pending(self) -> int:
        """How many events still have handlers running or waiting."""
        return len(self._tasks)

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called (new requests get a 503)."""
        return self._closed

    async def drain(self) -> None:
        """Wait until no handler is running (also for tasks started while waiting).

        Bound the wait with ``asyncio.timeout``; that leaves the handlers running.
        """
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def aclose(self, grace_period: float | None = 30.0) -> None:
        """Stop accepting events (503), wait up to ``grace_period`` s for handlers, cancel the rest.

        ``grace_period=None`` waits as long as handlers run.
        """
        self._closed = True
        try:
            async with asyncio.timeout(grace_period):
                await self.drain()
            return
        except TimeoutError:
            pass
        leftover = list(self._tasks)
        logger.warning("cancelling %d webhook handler task(s) still running", len(leftover))
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)

    # -- the endpoint -----------------------------------------------------------------------

    async def handle_request(
        self, headers: Mapping[str, str], body: bytes, *, client: str | None = None
    ) -> WebhookResponse:
        """Handle one webhook POST; return what to answer. Framework-agnostic.

        401 if verification fails, 400 if the body is not an event, 200 with the tokens for
        URL validation, 200 ``{"status": "accepted"}`` after scheduling the handlers (or
        ``"duplicate"`` for a delivery already seen), 503 once closed.
        """
        if self._closed:
            return WebhookResponse(503, {"error": "shutting down"}, {"retry-after": "5"})
        try:
            verify(
                self._secret,
                headers,
                body,
                tolerance=self.tolerance,
                now=self._clock.utcnow().timestamp(),
            )
        except WebhookVerificationError as exc:
            logger.warning("rejected webhook%s: %s", f" from {client}" if client else "", exc)
            return WebhookResponse(401, {"error": "webhook verification failed"})
        try:
            data = _decode(body)
            if data["event"] == URL_VALIDATION_EVENT:
                payload = data.get("payload")
                token = payload.get("plainToken") if isinstance(payload, dict) else None
                answer = url_validation(self._secret, token if isinstance(token, str) else "")
                return WebhookResponse(200, answer)
            event = parse_event(data)
        except WebhookPayloadError as exc:
            logger.warning("bad webhook body: %s", exc)
            return WebhookResponse(400, {"error": str(exc)})
        if await self._is_duplicate(event, body):
            logger.info("duplicate delivery of %s ignored", event.event)
            return WebhookResponse(200, {"status": "duplicate"})
        if self.handlers_for(event.event):
            self.submit(event)
        else:
            logger.debug("no handler for %s", event.event)
        return WebhookResponse(200, {"status": "accepted"})

    async def _handle_stream(
        self,
        headers: Mapping[str, str],
        chunks: AsyncIterable[bytes],
        *,
        client: str | None = None,
    ) -> WebhookResponse:
        """:meth:`handle_request` for a body still to be read: 413 when ``Content-Length`` or
        the body read so far passes ``max_body_size``, the body never read past it."""
        limit = self.max_body_size
        if _content_length_too_large(headers.get("content-length"), limit):
            return WebhookResponse(413, {"error": "body too large"})
        try:
            body = await _read_limited(chunks, limit)
        except _TooLarge:
            return WebhookResponse(413, {"error": "body too large"})
        return await self.handle_request(headers, body, client=client)

    async def _is_duplicate(self, event: ZoomEvent, body: bytes) -> bool:
        store = self.seen_store
        if store is None:
            return False
        key = self.dedup_key(event, body)
        if key is None:
            return False
        if key in self._inflight:  # the same delivery, concurrently
            return True
        self._inflight.add(key)
        try:
            async with asyncio.timeout(_STORE_TIMEOUT):
                if await store.seen(key):
                    return True
                await store.mark(key)
        except Exception:  # a broken store must not drop events: process them, maybe twice
            logger.exception("seen-store failed; processing %s without dedup", event.event)
        finally:
            self._inflight.discard(key)
        return False

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: the endpoint at any path (see :meth:`asgi_app` to pin a path)."""
        await self._asgi(scope, receive, send, None)

    def asgi_app(self, path: str | None = None) -> ASGIApp:
        """An ASGI app serving the endpoint at ``path`` (any path if ``None``).

        It also handles the ASGI lifespan protocol: at shutdown it calls :meth:`aclose`.
        """

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await self._asgi(scope, receive, send, path)

        return app

    async def _asgi(self, scope: Scope, receive: Receive, send: Send, path: str | None) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if kind != "http":
            return
        if path is not None and not _path_matches(scope, path):
            await _send(send, WebhookResponse(404, {"error": "not found"}))
            return
        if scope.get("method") != "POST":
            await _send(send, WebhookResponse(405, {"error": "use POST"}, {"allow": "POST"}))
            return
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope.get("headers", [])
        }

        async def chunks() -> AsyncIterable[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                yield bytes(message.get("body", b""))
                if not message.get("more_body", False):
                    return

        client = scope.get("client")
        try:
            response = await self._handle_stream(
                headers, chunks(), client=client[0] if client else None
            )
        except _Disconnected:
            return
        await _send(send, response)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- FastAPI ------------------------------------------------------------------------------

    def fastapi_router(self, path: str = "/zoom/webhook", **router_kwargs: Any) -> APIRouter:
        """A FastAPI ``APIRouter`` with the endpoint at ``POST path``.

        FastAPI is optional and imported only here. ``router_kwargs`` go to ``APIRouter`` (e.g.
        ``prefix``). Call ``await hooks.aclose()`` in your app's lifespan shutdown so running
        handlers finish.
        """
        try:
            from fastapi import APIRouter
            from starlette.requests import Request
            from starlette.responses import Response
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError("fastapi_router() needs FastAPI: pip install fastapi") from exc

        async def zoom_webhook(request: Request) -> Response:
            client = request.client.host if request.client else None
            result = await self._handle_stream(request.headers, request.stream(), client=client)
            return Response(
                result.encode(),
                status_code=result.status,
                headers=result.headers,
                media_type="application/json",
            )

        router = APIRouter(**router_kwargs)
        # A plain Starlette route (no OpenAPI entry, no dependency injection); APIRouter does not
        # apply its own prefix to those, so do it here.
        router.add_route(router.prefix + path, zoom_webhook, methods=["POST"], name="zoom_webhook")
        return router


def _path_matches(scope: Scope, path: str) -> bool:
    """Whether the request is for ``path`` (with or without the mount's ``root_path``)."""
    wanted = path.rstrip("/") or "/"
    full = str(scope.get("path", "")).rstrip("/") or "/"
    root = str(scope.get("root_path", "")).rstrip("/")
    local = (full[len(root) :] or "/") if root and full.startswith(root) else full
    return wanted in (full, local)


def _is_async(handler: Handler) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - async callable objects
    )


def _handler_name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__qualname__


async def _send(send: Send, response: WebhookResponse) -> None:
    body = response.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

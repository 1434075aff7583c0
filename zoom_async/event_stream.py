"""Zoom's WebSocket event subscription (beta) as an async iterator of typed events.

Instead of POSTing events to a public endpoint, Zoom can push them over a WebSocket your process
opens to ``wss://ws.zoom.us/ws?subscriptionId=...&access_token=...`` with a Server-to-Server
OAuth token. :class:`EventStream` keeps that connection alive (a ``{"module": "heartbeat"}``
message every 30 s, as Zoom asks), reconnects with capped exponential backoff and jitter when it
drops, fetches a fresh token for every connection, and yields the same typed models as
:func:`zoom_async.webhooks.parse_event`::

    async with EventStream(subscription_id, client.auth.get_token) as stream:
        async for event in stream:
            await hooks.dispatch(event)          # or handle it inline

Zoom does not replay events that happen while no connection is open, and it allows one
connection per subscription (a new one replaces the old one).

The access token is never logged: every URL that reaches a log or an exception message has it
masked, including the debug lines of the ``websockets`` library (this module hands it a logger,
``zoom_async.event_stream.websockets``, that redacts them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from ._decoding import loads
from .errors import ConfigurationError, RateLimitError, ServerError, ZoomConnectionError
from .events import ZoomEvent
from .webhooks import WebhookPayloadError, parse_event

__all__ = ["DEFAULT_URL", "EventStream", "TokenProvider", "mask_token"]

logger = logging.getLogger("zoom_async.event_stream")

#: Zoom's WebSocket endpoint for event subscriptions.
DEFAULT_URL = "wss://ws.zoom.us/ws"

#: ``async def provider() -> str``: a valid Server-to-Server OAuth access token.
TokenProvider = Callable[[], Awaitable[str]]

_HEARTBEAT = json.dumps({"module": "heartbeat"})
_TOKEN_IN_TEXT = re.compile(r"(access_token=)[^&\s\"']+", re.IGNORECASE)
# Errors of the token provider worth retrying; anything else (e.g. AuthError: wrong credentials)
# ends the stream.
_RETRYABLE_TOKEN_ERRORS = (ZoomConnectionError, ServerError, RateLimitError, OSError, TimeoutError)


def mask_token(text: str) -> str:
    """``text`` with the value of every ``access_token=`` parameter replaced by ``***``."""
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


class _RedactTokens(logging.Filter):
    """Masks access tokens in records (the websockets library logs request lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        masked = mask_token(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_ws_logger = logging.getLogger("zoom_async.event_stream.websockets")
_ws_logger.addFilter(_RedactTokens())


class EventStream:
    """An async iterator over the events of a Zoom WebSocket event subscription.

    Args:
        subscription_id: the subscription's id (in the endpoint URL Marketplace shows for it).
        token_provider: ``async () -> str`` returning a valid S2S access token; called before
            every connection attempt, so each reconnection uses a renewed token (with the SDK's
            auth: ``functools.partial(auth.get_token, http)``).
        invalidate_token: ``async (token) -> None``, called with a token Zoom refused (HTTP
            401/403 at the handshake, or a refused subscription) so that the next
            ``token_provider`` call fetches a new one instead of a cached one (with the SDK's
            auth: ``auth.invalidate``).
        url: the WebSocket endpoint.
        heartbeat_interval: seconds between ``{"module": "heartbeat"}`` messages.
        backoff_initial: delay before the first reconnection attempt, in seconds; it doubles
            with every consecutive failure up to ``backoff_max``, and each delay is randomised
            to between half and all of its value (jitter).
        backoff_max: the cap of the reconnection delay.
        healthy_after: a connection that stayed up this long resets the backoff.
        max_attempts: consecutive failures (attempts that did not connect, and connections
            that dropped before ``healthy_after``) after which iteration raises
            :class:`~zoom_async.errors.ZoomConnectionError`; ``None`` retries forever.
        open_timeout: seconds for the token and the WebSocket handshake.
        strict: parse events strictly (see :func:`~zoom_async.webhooks.parse_event`).
        rng: random source for the jitter (tests pass a seeded one).
        connect_options: extra keyword arguments for ``websockets.asyncio.client.connect``
            (``ssl``, ``proxy``, ``max_size``...).

    Iterate it from one task at a time. Use ``async with`` (or call :meth:`aclose`) so the
    connection and the heartbeat task end with it.
    """

    def __init__(
        self,
        subscription_id: str,
        token_provider: TokenProvider,
        *,
        invalidate_token: Callable[[str], Awaitable[object]] | None = None,
        url: str = DEFAULT_URL,
        heartbeat_interval: float = 30.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        healthy_after: float = 60.0,
        max_attempts: int | None = None,
        open_timeout: float = 10.0,
        strict: bool = False,
        rng: random.Random | None = None,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        if not subscription_id:
            raise ConfigurationError("subscription_id is required")
        if heartbeat_interval <= 0 or backoff_initial < 0 or backoff_max < backoff_initial:
            raise ConfigurationError(
                "need heartbeat_interval > 0 and 0 <= backoff_initial <= backoff_max"
            )
        if max_attempts is not None and max_attempts < 1:
            raise ConfigurationError("max_attempts must be at least 1 (or None)")
        self.subscription_id = subscription_id
        self._token_provider = token_provider
        self._invalidate_token = invalidate_token
        self._token: str | None = None  # of the current connection; never logged
        self.url = url
        self.heartbeat_interval = heartbeat_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.healthy_after = healthy_after
        self.max_attempts = max_attempts
        self.open_timeout = open_timeout
        self.strict = strict
        self._rng = rng or random.Random()
        self._connect_options = dict(connect_options or {})
        self._ws: ClientConnection | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._connected_at = 0.0
        self._failures = 0  # consecutive failed connections
        self._closed = False
        self._refused = False  # Zoom answered build_connection/heartbeat with success=false
        self._close_event = asyncio.Event()
        #: Successful WebSocket handshakes so far.
        self.connections = 0

    def __repr__(self) -> str:
        return (
            f"EventStream(subscription_id={self.subscription_id!r}, url={self.url!r}, "
            f"connected={self.connected})"
        )

    @property
    def connected(self) -> bool:
        """Whether a WebSocket connection is open right now."""
        return self._ws is not None

    # -- iteration ----------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ZoomEvent:
        """The next event; reconnects as often as needed to get it."""
        while True:
            if self._closed:
                raise StopAsyncIteration
            ws = await self._ensure_connected()
            if ws is None:  # closed while connecting
                raise StopAsyncIteration
            try:
                frame = await ws.recv()
            except (ConnectionClosed, OSError, TimeoutError) as exc:
                if self._closed:
                    raise StopAsyncIteration from None
                await self._disconnect(f"connection lost ({_describe(exc)})")
                continue
            event = self._handle_frame(frame)
            if event is not None:
                return event
            if self._refused:
                self._refused = False
                if self._token is not None:
                    await self._token_refused(self._token)
                await self._disconnect("Zoom refused the subscription connection")

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
        """Close the connection and end the iteration (idempotent)."""
        self._closed = True
        self._close_event.set()
        await self._disconnect(None)

    # -- connection ---------------------------------------------------------------------------

    def backoff_delay(self, failures: int) -> float:
        """The wait before the next attempt after ``failures`` consecutive failures."""
        if failures <= 0:
            return 0.0
        capped: float = min(self.backoff_max, self.backoff_initial * 2.0 ** (failures - 1))
        return capped * (0.5 + 0.5 * self._rng.random())

    def _connect_url(self, token: str) -> str:
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("subscriptionId",)]
        query += [("subscriptionId", self.subscription_id), ("access_token", token)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _safe_url(self) -> str:
        """The connection URL with the token masked, for logs and errors."""
        return mask_token(self._connect_url("token"))

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the stream is closed meanwhile."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._close_event.wait()

    def _failed(self, what: str) -> None:
        self._failures += 1
        if self.max_attempts is not None and self._failures >= self.max_attempts:
            raise ZoomConnectionError(
                f"Zoom event stream: {self._failures} consecutive connection failures; "
                f"last: {mask_token(what)}",
                url=self._safe_url(),
                may_have_reached_zoom=False,
            )
        logger.warning(
            "Zoom event stream: %s; retrying in up to %.1f s",
            mask_token(what),
            min(self.backoff_max, self.backoff_initial * 2.0 ** (self._failures - 1)),
        )

    async def _ensure_connected(self) -> ClientConnection | None:
        while self._ws is None:
            await self._wait(self.backoff_delay(self._failures))
            if self._closed:
                return None
            try:
                async with asyncio.timeout(self.open_timeout):
                    token = await self._token_provider()
            except _RETRYABLE_TOKEN_ERRORS as exc:
                self._failed(f"could not get an access token ({_describe(exc)})")
                continue
            if not isinstance(token, str) or not token:
                raise ConfigurationError("token_provider returned no access token")
            try:
                options = {"open_timeout": self.open_timeout, **self._connect_options}
                options["logger"] = _ws_logger  # always the redacting one
                ws = await connect(self._connect_url(token), **options)
            except InvalidStatus as exc:
                status = exc.response.status_code
                hint = ""
                if status in (401, 403):
                    hint = " (token refused?)"
                    await self._token_refused(token)
                self._failed(f"handshake refused with HTTP {status}{hint}")
                continue
            except (WebSocketException, OSError, TimeoutError) as exc:
                self._failed(f"could not connect ({_describe(exc)})")
                continue
            if self._closed:
                await ws.close()
                return None
            self._ws, self._token = ws, token
            self._connected_at = asyncio.get_running_loop().time()
            self.connections += 1
            self._heartbeat = asyncio.get_running_loop().create_task(
                self._send_heartbeats(ws), name="zoom-event-stream-heartbeat"
            )
            logger.info("Zoom event stream connected to %s", self._safe_url())
        return self._ws

    async def _token_refused(self, token: str) -> None:
        if self._invalidate_token is None:
            return
        try:
            await self._invalidate_token(token)
        except Exception as exc:
            logger.warning("Zoom event stream: invalidate_token failed (%s)", _describe(exc))

    async def _disconnect(self, reason: str | None) -> None:
        """Drop the current connection; with a ``reason``, count it as a failure."""
        ws, self._ws, self._token = self._ws, None, None
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if ws is None or reason is None:
            return
        lived = asyncio.get_running_loop().time() - self._connected_at
        if lived >= self.healthy_after:
            self._failures = 0
        self._failed(reason)

    async def _send_heartbeats(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await ws.send(_HEARTBEAT)
            except ConnectionClosed:
                return  # the reader sees the closed connection and reconnects
            logger.debug("Zoom event stream: heartbeat sent")

    # -- frames -------------------------------------------------------------------------------

    def _handle_frame(self, frame: str | bytes) -> ZoomEvent | None:
        """The event a frame carries; ``None`` for control frames and unusable frames."""
        try:
            message = loads(frame)
        except ValueError:
            logger.warning("Zoom event stream: ignoring a frame that is not JSON")
            return None
        if not isinstance(message, dict):
            logger.warning("Zoom event stream: ignoring a frame that is not a JSON object")
            return None
        module = message.get("module")
        if module == "message":
            content = message.get("content")
            if isinstance(content, (str, bytes, dict)):
                try:
                    return parse_event(content, strict=self.strict)
                except WebhookPayloadError as exc:
                    logger.warning("Zoom event stream: ignoring an event: %s", exc)
                    return None
            logger.warning("Zoom event stream: ignoring a message without content")
            return None
        if module in ("build_connection", "heartbeat") and message.get("success") is False:
            self._refused = True  # __anext__ reconnects
            return None
        logger.debug("Zoom event stream: %s frame", module)
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return mask_token(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)

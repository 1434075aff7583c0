"""``ZoomClient(transport="aiohttp")``: aiohttp's connection pool under httpx's API.

httpx-aiohttp (what openai-python and anthropic-sdk-python offer for high concurrency) turns
aiohttp's answers into ``httpx.Response`` objects and its errors into httpx's. Its error map
is too coarse for a client that must know whether a request may have reached Zoom: every
``aiohttp.ClientConnectionError`` becomes ``httpx.ConnectTimeout`` ("never sent"), including
``ServerDisconnectedError`` and a connection reset *after* the request was written. A POST whose
connection the server dropped would then be re-sent blindly. This module maps aiohttp's errors
again from the original exception, so that only errors raised before anything was written
count as "not sent", and everything else as "may have reached Zoom".
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["ZoomAiohttpTransport"]

# Most specific first: the first class the aiohttp error is an instance of wins.
_NOT_SENT: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    # No connection: DNS, refused, TLS handshake or certificate (the request was not written).
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerFingerprintMismatch, httpx.ConnectError),
    # No connection within the `connect`/`sock_connect` timeouts (pool wait included).
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
)
_MAYBE_SENT: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),  # a malformed answer
    # Anything else (a reset or broken pipe mid-request...): it may have been written.
    (aiohttp.ClientError, httpx.ReadError),
)


def _httpx_error(error: BaseException) -> httpx.TransportError | None:
    """The httpx error for an aiohttp one (``None``: not an aiohttp client error)."""
    for table in (_NOT_SENT, _MAYBE_SENT):
        for aiohttp_type, httpx_type in table:
            if isinstance(error, aiohttp_type):
                return httpx_type(f"{type(error).__name__}: {error}")
    return None


def _remapped(exc: BaseException) -> BaseException:
    """``exc`` re-mapped from the aiohttp error behind it (``exc`` itself when there is none)."""
    cause = exc if isinstance(exc, aiohttp.ClientError) else exc.__cause__
    if cause is None:
        return exc
    mapped = _httpx_error(cause)
    if mapped is None:
        return exc
    mapped.__cause__ = cause
    return mapped


class _RemappedStream(httpx.AsyncByteStream):
    """An answer's body, with errors while reading it re-mapped (they are all "sent")."""

    def __init__(self, stream: httpx.AsyncByteStream) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise _remapped(exc) from exc.__cause__ or exc

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise _remapped(exc) from exc.__cause__ or exc


class ZoomAiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport with errors mapped by whether the request may have been sent,
    and a session that keeps no cookies."""

    def __init__(self, limits: httpx.Limits) -> None:
        ssl_context = httpx.create_ssl_context()

        def session() -> aiohttp.ClientSession:
            # httpx-aiohttp's own session, but with aiohttp's DummyCookieJar: aiohttp would keep
            # and send back the cookies of Zoom's answers (see _client._NoResponseCookies).
            connector = aiohttp.TCPConnector(
                limit=limits.max_connections or 0,
                keepalive_timeout=limits.keepalive_expiry,
                ssl=ssl_context,
            )
            return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

        super().__init__(verify=ssl_context, limits=limits, client=session)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except (httpx.TransportError, aiohttp.ClientError) as exc:
            raise _remapped(exc) from exc.__cause__ or exc
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _RemappedStream(response.stream)
        return response

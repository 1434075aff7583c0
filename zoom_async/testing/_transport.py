"""How a dropped connection reaches an httpx client that talks to the fake in-process."""

from __future__ import annotations

import httpx

__all__ = ["ConnectionDropped", "FakeZoomTransport"]

DROP_MESSAGE = "Server disconnected without sending a response."


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised by :attr:`FakeZoom.app` when a fault drops the connection without an answer.

    It is an :class:`httpx.RemoteProtocolError`, the error httpx raises when a real server
    closes the connection before answering, so a plain ``httpx.ASGITransport(app=fake.app)``
    surfaces it like the network would. :meth:`FakeZoom.transport` goes one step further and
    raises a plain ``httpx.RemoteProtocolError`` bound to the client's own request.
    """


class FakeZoomTransport(httpx.ASGITransport):
    """``httpx.ASGITransport`` for the fake: a dropped connection raises
    ``httpx.RemoteProtocolError("Server disconnected without sending a response.")`` carrying the
    request, exactly what ``httpx.AsyncHTTPTransport`` raises for a real server."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` to the app; a dropped connection raises ``RemoteProtocolError``."""
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None

"""The uvicorn pieces of :meth:`FakeZoom.serve` (imported only when a server starts)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Generator
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

try:  # httptools parses several times faster than h11: the fake then answers bursts sooner
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseProtocol
except ImportError:  # pragma: no cover - httptools is optional
    _BaseProtocol = H11Protocol  # type: ignore[assignment,misc]

from ._app import CLOSE_CONNECTION_EXTENSION

__all__ = ["EmbeddedServer", "FakeZoomProtocol", "bind"]


class FakeZoomProtocol(_BaseProtocol):
    """uvicorn's HTTP protocol, giving the app a way to close the connection without answering."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions[CLOSE_CONNECTION_EXTENSION] = self._close_connection
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app

    def _close_connection(self) -> None:
        self.transport.close()


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port`` (``0``: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # TCP, and without it Nagle's algorithm meets delayed ACKs and adds ~40 ms per response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock

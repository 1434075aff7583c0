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

    def on_headers_complete(self) -> None:  # httptools' parser callback (not h11's)
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:  # a new request's cycle
            writer = _AnswerWriter(self.transport, cycle)
            cycle.transport = writer  # type: ignore[assignment]
            answered = cycle.on_response

            def on_response() -> None:
                writer.flush()
                answered()

            cycle.on_response = on_response


class _AnswerWriter:
    """The connection as one request's uvicorn cycle sees it: the answer's status line and
    headers go out with its body in one write.

    uvicorn writes them apart (``http.response.start``, then ``http.response.body``): two
    sends, so two TCP segments, each a wake-up and a read for the client, and a system call
    each for the fake. The head is held from its write to the next one (the body, even an
    empty one), and written before anything else the cycle does to the connection: closing
    it, or finishing the answer without a body write (``HEAD``).
    """

    __slots__ = ("_cycle", "_head", "_held", "_transport")

    def __init__(self, transport: Any, cycle: Any) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head: bytes | None = None
        self._held = False

    def write(self, data: Any) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif not self._held and self._cycle.response_started:
            self._held = True  # the first write once the answer started: its head
            self._head = bytes(data)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return bool(self._transport.is_closing())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


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

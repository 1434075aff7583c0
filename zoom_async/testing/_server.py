"""``FakeZoom.serve()``: the fake on a real port, uvicorn running as a task of the current loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

try:  # httptools parses several times faster than h11: the fake then answers bursts sooner
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseProtocol
except ImportError:  # pragma: no cover - httptools is optional
    _BaseProtocol = H11Protocol  # type: ignore[assignment,misc]

from ._app import CLOSE_CONNECTION_EXTENSION

if TYPE_CHECKING:
    from ._fake import FakeZoom

__all__ = ["FakeZoomServer", "serve"]


@dataclass(frozen=True)
class FakeZoomServer:
    """A running :meth:`FakeZoom.serve` server."""

    host: str
    port: int
    origin: str
    """``http://127.0.0.1:PORT``."""
    base_url: str
    """``http://127.0.0.1:PORT/v2``: the API base URL."""
    token_url: str
    """``http://127.0.0.1:PORT/oauth/token``."""


class _FakeZoomProtocol(_BaseProtocol):
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


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
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


@contextlib.asynccontextmanager
async def serve(fake: FakeZoom, host: str, port: int) -> AsyncIterator[FakeZoomServer]:
    """Run uvicorn on ``host:port`` (``0``: a free port) until the block exits."""
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app,
        lifespan="off",
        log_config=None,
        access_log=False,
        http=_FakeZoomProtocol,
        ws="none",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"FakeZoom server :{bound}")
    try:
        spins = 0
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the FakeZoom server stopped during startup")
            spins += 1
            await asyncio.sleep(0 if spins < 100 else 0.005)
        netloc = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
        origin = f"http://{netloc}"
        yield FakeZoomServer(host, bound, origin, f"{origin}/v2", f"{origin}/oauth/token")
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()

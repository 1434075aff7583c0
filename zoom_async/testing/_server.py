"""``FakeZoom.serve()``: the fake on a real port, uvicorn running as a task of the current loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

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


@contextlib.asynccontextmanager
async def serve(fake: FakeZoom, host: str, port: int) -> AsyncIterator[FakeZoomServer]:
    """Run uvicorn on ``host:port`` (``0``: a free port) until the block exits."""
    import uvicorn

    from ._uvicorn import EmbeddedServer, FakeZoomProtocol, bind

    sock = bind(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(
        fake.app,
        lifespan="off",
        log_config=None,
        access_log=False,
        http=FakeZoomProtocol,
        ws="none",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"FakeZoom server :{bound}")
    served_before = fake._origin
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
        fake._origin = origin  # what add_recording's file URLs point at
        yield FakeZoomServer(host, bound, origin, f"{origin}/v2", f"{origin}/oauth/token")
    finally:
        fake._origin = served_before
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()

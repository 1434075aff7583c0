"""zoom-async in an ``aiohttp.web`` application: the webhook endpoint and the client's lifecycle.

``pip install 'zoom-async[aiohttp]'``. The endpoint behaves exactly like the ASGI app and the
FastAPI router of :class:`~zoom_async.webhooks.Webhooks` (it runs the same
:meth:`~zoom_async.webhooks.Webhooks.handle_request`): signature verification on the raw body,
Zoom's URL validation, handlers in the background after a fast 200, duplicate deliveries
answered without running handlers, 413 past ``max_body_size``, 503 once closed.

Example::

    from aiohttp import web
    from zoom_async.aiohttp_web import ZOOM, add_webhook_route, zoom_client_context

    app = web.Application()
    app.cleanup_ctx.append(zoom_client_context(plan="business_plus"))
    add_webhook_route(app, hooks)  # POST /zoom/webhook; hooks.aclose() on shutdown

    async def me(request: web.Request) -> web.Response:
        return web.json_response(await request.app[ZOOM].get("/users/me"))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

try:
    from aiohttp import web
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "zoom_async.aiohttp_web needs aiohttp: pip install 'zoom-async[aiohttp]'"
    ) from exc

from ._client import ZoomClient
from .webhooks import Webhooks

__all__ = ["ZOOM", "add_webhook_route", "webhook_handler", "zoom_client_context"]

ZOOM: web.AppKey[ZoomClient] = web.AppKey("zoom", ZoomClient)
"""Where :func:`zoom_client_context` keeps the client: ``request.app[ZOOM]``."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def webhook_handler(hooks: Webhooks) -> Handler:
    """An aiohttp request handler running ``hooks``' endpoint logic (route it to ``POST``)."""

    async def zoom_webhook(request: web.Request) -> web.Response:
        result = await hooks._handle_stream(
            request.headers, request.content.iter_any(), client=request.remote
        )
        return web.Response(
            body=result.encode(),
            status=result.status,
            headers=result.headers,
            content_type="application/json",
        )

    return zoom_webhook


def add_webhook_route(
    app: web.Application, hooks: Webhooks, path: str = "/zoom/webhook"
) -> web.AbstractRoute:
    """Route ``POST path`` to ``hooks`` and close them when the app shuts down.

    Other methods get aiohttp's 405. On shutdown the endpoint stops accepting (503, so Zoom
    retries elsewhere) and running handlers get ``hooks.aclose()``'s grace period to finish.
    """

    async def close_hooks(_app: web.Application) -> None:
        await hooks.aclose()

    app.on_shutdown.append(close_hooks)
    return app.router.add_post(path, webhook_handler(hooks), name="zoom_webhook")


def zoom_client_context(
    key: web.AppKey[ZoomClient] = ZOOM, **client_options: Any
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry: one :class:`ZoomClient` for the app's lifetime, at ``app[key]``.

    ``client_options`` go to :class:`ZoomClient` (credentials default to ``ZOOM_*``). The client
    is opened at startup (a wrong option fails the startup, not the first request) and closed at
    cleanup, after the server stopped taking requests.
    """

    async def zoom_client(app: web.Application) -> AsyncIterator[None]:
        async with ZoomClient(**client_options) as zoom:
            app[key] = zoom
            yield

    return zoom_client

"""Zoom in an aiohttp app: the webhook endpoint and one shared client.

Run it::

    pip install "zoom-async[aiohttp]"
    export ZOOM_ACCOUNT_ID=... ZOOM_CLIENT_ID=... ZOOM_CLIENT_SECRET=...
    export ZOOM_WEBHOOK_SECRET_TOKEN=...        # Marketplace > your app > Features > Secret Token
    python aiohttp_app.py                       # http://localhost:8080

then set the app's Event notification endpoint URL to ``https://<your host>/zoom/webhook`` and
click Validate. ``POST /meetings`` creates a meeting; Zoom then sends ``meeting.created``, which
the handler below records; ``GET /meetings`` lists the account owner's meetings.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aiohttp import web

from zoom_async.aiohttp_web import ZOOM, add_webhook_route, zoom_client_context
from zoom_async.events import MeetingCreatedEvent
from zoom_async.webhooks import Webhooks

log = logging.getLogger("aiohttp_app")
CREATED: web.AppKey[list[str]] = web.AppKey("created", list)


def create_app(**client_options: Any) -> web.Application:
    """The application; ``client_options`` go to ``ZoomClient`` (e.g. ``plan="business_plus"``)."""
    app = web.Application()
    app[CREATED] = []
    hooks = Webhooks(secret_token=os.environ["ZOOM_WEBHOOK_SECRET_TOKEN"])

    @hooks.on("meeting.created")
    async def meeting_created(event: MeetingCreatedEvent) -> None:
        """Runs in the background, after Zoom got its 200."""
        meeting = event.payload.object
        if meeting is not None:
            log.info("meeting %s created: %s", meeting.id, meeting.topic)
            app[CREATED].append(str(meeting.topic))

    async def list_meetings(request: web.Request) -> web.Response:
        zoom = request.app[ZOOM]
        meetings = [m async for m in zoom.paginate("/users/me/meetings")]
        return web.json_response({"meetings": [m["topic"] for m in meetings]})

    async def create_meeting(request: web.Request) -> web.Response:
        body = await request.json()
        meeting = await request.app[ZOOM].post(
            "/users/me/meetings", json={"topic": str(body["topic"]), "type": 2}
        )
        return web.json_response({"id": meeting["id"], "join_url": meeting["join_url"]}, status=201)

    app.cleanup_ctx.append(zoom_client_context(**client_options))
    add_webhook_route(app, hooks, "/zoom/webhook")
    app.router.add_get("/meetings", list_meetings)
    app.router.add_post("/meetings", create_meeting)
    return app


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    web.run_app(create_app(plan=os.environ.get("ZOOM_PLAN", "pro")), port=8080)

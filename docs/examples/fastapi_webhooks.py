"""Receive Zoom webhooks with FastAPI.

Run it::

    pip install "zoom-async[server]" fastapi
    export ZOOM_WEBHOOK_SECRET_TOKEN=...        # Marketplace > your app > Features > Secret Token
    uvicorn fastapi_webhooks:app --port 8000

then set the app's Event notification endpoint URL to ``https://<your host>/zoom/webhook`` and
click Validate: the endpoint answers Zoom's URL validation by itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from zoom_async.events import MeetingParticipantJoinedEvent, MeetingStartedEvent, ZoomEvent
from zoom_async.webhooks import Webhooks

logging.basicConfig(level=logging.INFO)  # show the handlers' log lines next to uvicorn's
log = logging.getLogger("fastapi_webhooks")

hooks = Webhooks(secret_token=os.environ["ZOOM_WEBHOOK_SECRET_TOKEN"])


@hooks.on("meeting.started")
async def meeting_started(event: MeetingStartedEvent) -> None:
    """Runs in the background, after Zoom already got its 200."""
    meeting = event.payload.object
    if meeting is not None:
        log.info("meeting %s started: %s", meeting.id, meeting.topic)


@hooks.on("meeting.participant_joined")
async def participant_joined(event: MeetingParticipantJoinedEvent) -> None:
    """Payload objects are typed; nested objects too."""
    meeting = event.payload.object
    if meeting is not None and meeting.participant is not None:
        log.info("%s joined meeting %s", meeting.participant.user_name, meeting.id)


@hooks.on("*")
async def every_event(event: ZoomEvent) -> None:
    """``*`` sees every event, including ones newer than this SDK (as a generic ZoomEvent)."""
    log.info("received %s (account %s)", event.event, event.payload.account_id)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await hooks.aclose()  # at shutdown: let running handlers finish (30 s grace period)


app = FastAPI(lifespan=lifespan)
app.include_router(hooks.fastapi_router(path="/zoom/webhook"))

"""A user's file calling typed methods: ``mypy --strict`` checks it (see ``[tool.mypy] files``).

The ``assert_type`` lines fail type checking if a method's return type regresses to ``Any``;
``tests/test_typed_api.py`` also runs ``main()`` against FakeZoom.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, assert_type

import httpx

from zoom_async import Page, Paginator, ZoomClient
from zoom_async.catalog import Operation
from zoom_async.models.cloud_recordings import CloudRecordingsListItem
from zoom_async.models.meetings import (
    MeetingsCreateResponse,
    MeetingsGetResponse,
    MeetingsListItem,
)
from zoom_async.testing import FakeZoom


async def typed_calls(zoom: ZoomClient) -> list[str]:
    seen: list[str] = []
    meeting = await zoom.meetings.create(
        user_id="me",
        topic="Sync",
        type=2,
        duration=30,
        settings={"host_video": True, "approval_type": 2, "meeting_invitees": [{"email": "a@b.c"}]},
    )
    assert_type(meeting, MeetingsCreateResponse)
    assert meeting.id is not None
    got = await zoom.meetings.get(meeting_id=meeting.id)
    assert_type(got, MeetingsGetResponse)
    seen.append(got.topic or "")
    pager = zoom.meetings.list(user_id="me", type="upcoming", page_size=50)
    assert_type(pager, Paginator[MeetingsListItem])
    page = await pager
    assert_type(page, Page[MeetingsListItem])
    async for item in zoom.meetings.list(user_id="me"):
        assert_type(item, MeetingsListItem)
        seen.append(item.topic or "")
    recordings = zoom.cloud_recordings.list(user_id="me", from_=date(2026, 11, 1))
    assert_type(recordings, Paginator[CloudRecordingsListItem])
    raw = await zoom.meetings.get.with_raw_response(meeting_id=meeting.id)
    assert_type(raw, httpx.Response)
    raw_items = zoom.meetings.list.with_raw_response(user_id="me")
    assert_type(raw_items, Paginator[dict[str, Any]])
    operation = zoom.meetings.create.operation
    assert_type(operation, Operation)
    seen.append(operation.category.value)
    await zoom.meetings.delete(meeting_id=meeting.id)
    return seen


async def main() -> list[str]:
    fake = FakeZoom()
    async with ZoomClient(
        account_id=fake.account_id,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        base_url=fake.base_url,
        token_url=fake.token_url,
        transport=fake.transport(),
    ) as zoom:
        return await typed_calls(zoom)


if __name__ == "__main__":
    print(asyncio.run(main()))

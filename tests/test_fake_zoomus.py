"""A third-party client (zoomus, synchronous, requests-based) and our typed client run the same
CRUD scenario against FakeZoom on a local port, and see the same account."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from zoom_async import ZoomClient
from zoom_async.errors import ZoomAPIError
from zoom_async.testing import FakeZoom

zoomus = pytest.importorskip("zoomus")

Step = tuple[str, int, Any]
"""(what, HTTP status, the fields the scenario compares)"""


def zoomus_scenario(base_url: str, token_url: str, fake: FakeZoom) -> list[Step]:
    client = zoomus.ZoomClient(
        fake.client_id,
        fake.client_secret,
        fake.account_id,
        base_uri=base_url,
        oauth_uri=token_url,
    )
    steps: list[Step] = []
    r = client.user.create(
        action="custCreate",
        user_info={"email": "ann@example.com", "type": 1, "first_name": "Ann", "last_name": "Lee"},
    )
    steps.append(("create user", r.status_code, r.json()["email"]))
    uid = r.json()["id"]
    r = client.user.update(id=uid, first_name="Annie")
    steps.append(("update user", r.status_code, None))
    r = client.user.get(id=uid)
    steps.append(("get user", r.status_code, (r.json()["first_name"], r.json()["display_name"])))
    r = client.meeting.create(user_id=uid, topic="Kickoff", type=2, duration=30)
    steps.append(("create meeting", r.status_code, (r.json()["topic"], r.json()["host_id"] == uid)))
    mid = r.json()["id"]
    r = client.meeting.update(id=mid, topic="Kickoff (moved)")
    steps.append(("update meeting", r.status_code, None))
    r = client.meeting.get(id=mid)
    steps.append(("get meeting", r.status_code, (r.json()["topic"], r.json()["duration"])))
    r = client.meeting.list(user_id=uid)
    steps.append(("list meetings", r.status_code, [m["topic"] for m in r.json()["meetings"]]))
    r = client.meeting.delete(id=mid)
    steps.append(("delete meeting", r.status_code, None))
    r = client.meeting.get(id=mid)
    steps.append(("get deleted meeting", r.status_code, r.json()["code"]))
    r = client.user.delete(id=uid)
    steps.append(("delete user", r.status_code, None))
    r = client.user.get(id=uid)
    steps.append(("get deleted user", r.status_code, r.json()["code"]))
    return steps


async def typed_scenario(zoom: ZoomClient) -> list[Step]:
    steps: list[Step] = []
    user = await zoom.users.create(
        action="custCreate",
        user_info={"email": "ann@example.com", "type": 1, "first_name": "Ann", "last_name": "Lee"},
    )
    steps.append(("create user", 201, user.email))
    uid = str(user.id)
    await zoom.users.update(user_id=uid, first_name="Annie")
    steps.append(("update user", 204, None))
    got = await zoom.users.get(user_id=uid)
    steps.append(("get user", 200, (got.first_name, got.display_name)))
    meeting = await zoom.meetings.create(user_id=uid, topic="Kickoff", type=2, duration=30)
    steps.append(("create meeting", 201, (meeting.topic, meeting.host_id == uid)))
    mid = int(meeting.id or 0)
    await zoom.meetings.update(meeting_id=mid, topic="Kickoff (moved)")
    steps.append(("update meeting", 204, None))
    m = await zoom.meetings.get(meeting_id=mid)
    steps.append(("get meeting", 200, (m.topic, m.duration)))
    page = await zoom.meetings.list(user_id=uid)
    steps.append(("list meetings", 200, [item.topic for item in page.items]))
    await zoom.meetings.delete(meeting_id=mid)
    steps.append(("delete meeting", 204, None))
    try:
        await zoom.meetings.get(meeting_id=mid)
    except ZoomAPIError as exc:
        steps.append(("get deleted meeting", exc.status_code or 0, exc.code))
    await zoom.users.delete(user_id=uid)
    steps.append(("delete user", 204, None))
    try:
        await zoom.users.get(user_id=uid)
    except ZoomAPIError as exc:
        steps.append(("get deleted user", exc.status_code or 0, exc.code))
    return steps


async def test_zoomus_and_our_client_see_the_same_account() -> None:
    expected = [
        ("create user", 201, "ann@example.com"),
        ("update user", 204, None),
        ("get user", 200, ("Annie", "Annie Lee")),
        ("create meeting", 201, ("Kickoff", True)),
        ("update meeting", 204, None),
        ("get meeting", 200, ("Kickoff (moved)", 30)),
        ("list meetings", 200, ["Kickoff (moved)"]),
        ("delete meeting", 204, None),
        ("get deleted meeting", 404, 3001),
        ("delete user", 204, None),
        ("get deleted user", 404, 1001),
    ]
    theirs_fake = FakeZoom()
    async with theirs_fake.serve() as server:
        theirs = await asyncio.to_thread(
            zoomus_scenario, server.base_url, server.token_url, theirs_fake
        )
    ours_fake = FakeZoom()
    async with (
        ours_fake.serve() as server,
        ZoomClient(
            account_id=ours_fake.account_id,
            client_id=ours_fake.client_id,
            client_secret=ours_fake.client_secret,
            base_url=server.base_url,
            token_url=server.token_url,
        ) as zoom,
    ):
        ours = await typed_scenario(zoom)
    assert theirs == expected
    assert ours == expected
    # Both answered by the fake's simulated account, not from schemas.
    for fake in (theirs_fake, ours_fake):
        assert fake.stats.answered_by["schema"] == 0
        assert fake.stats.status_codes[400] == 0

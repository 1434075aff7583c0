"""FakeZoom keeps state: creates are listed and readable, updates visible, deletes final (404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from zoom_async.testing import FakeZoom

# (create path, list path, item path template, list key, create body, update method, update body)
CRUD = [
    (
        "/users/me/webinars",
        "/users/me/webinars",
        "/webinars/{id}",
        "webinars",
        {"topic": "Launch", "type": 5, "duration": 60},
        "PATCH",
        {"topic": "Launch v2"},
    ),
    ("/groups", "/groups", "/groups/{id}", "groups", {"name": "Sales"}, "PATCH", {"name": "Ops"}),
    (
        "/chat/users/me/channels",
        "/chat/users/me/channels",
        "/chat/channels/{id}",
        "channels",
        {"name": "general", "type": 1},
        "PATCH",
        {"name": "random"},
    ),
    (
        "/phone/call_queues",
        "/phone/call_queues",
        "/phone/call_queues/{id}",
        "call_queues",
        {"name": "Support", "site_id": "s1"},
        "PATCH",
        {"name": "Tier 2"},
    ),
]


@asynccontextmanager
async def client(fake: FakeZoom) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url=fake.base_url,
        headers={"Authorization": f"Bearer {fake.access_token()}"},
    ) as http:
        yield http


def name_of(obj: dict[str, Any]) -> Any:
    return obj.get("topic", obj.get("name"))


@pytest.mark.parametrize(("create", "listing", "item", "key", "body", "verb", "change"), CRUD)
async def test_crud(
    create: str,
    listing: str,
    item: str,
    key: str,
    body: dict[str, Any],
    verb: str,
    change: dict[str, Any],
) -> None:
    fake = FakeZoom()
    async with client(fake) as http:
        r = await http.post(create, json=body)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        url = item.format(id=rid)
        got = (await http.get(url)).json()
        assert got["id"] == rid and name_of(got) == name_of(body)
        other = (await http.post(create, json=body)).json()["id"]
        listed = (await http.get(listing, params={"page_size": 1})).json()
        assert listed["total_records"] == 2 and len(listed[key]) == 1
        assert listed[key][0]["id"] == rid and listed["next_page_token"]
        rest = await http.get(listing, params={"next_page_token": listed["next_page_token"]})
        assert [x["id"] for x in rest.json()[key]] == [other]
        r = await http.request(verb, url, json=change)
        assert r.status_code == 204
        assert name_of((await http.get(url)).json()) == name_of(change)
        assert (await http.delete(url)).status_code == 204
        r = await http.get(url)
        assert r.status_code == 404 and "does not exist" in r.json()["message"]
        assert (await http.delete(url)).status_code == 404
        assert [x["id"] for x in (await http.get(listing)).json()[key]] == [other]
    assert fake.stats.answered_by["schema"] == 0


async def test_users_update_and_delete() -> None:
    fake = FakeZoom()
    jo = fake.add_user("jo@example.com", first_name="Jo", last_name="Ng")
    async with client(fake) as http:
        r = await http.patch(f"/users/{jo['id']}", json={"first_name": "Joanna", "dept": "R&D"})
        assert r.status_code == 204
        got = (await http.get("/users/jo@example.com")).json()
        assert (got["first_name"], got["display_name"], got["dept"]) == (
            "Joanna",
            "Joanna Ng",
            "R&D",
        )
        r = await http.patch(f"/users/{jo['id']}", json={"first_name": 5})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "first_name"
        assert (await http.delete(f"/users/{jo['id']}")).status_code == 204
        r = await http.get(f"/users/{jo['id']}")
        assert (r.status_code, r.json()["code"]) == (404, 1001)
        assert (await http.delete("/users/me")).status_code == 400  # not the owner


async def test_registrants_follow_their_meeting_and_webinar() -> None:
    fake = FakeZoom()
    meeting = fake.add_meetings("me", 1)[0]
    async with client(fake) as http:
        base = f"/meetings/{meeting['id']}/registrants"
        r = await http.post(base, json={"email": "ann@example.com", "first_name": "Ann"})
        assert r.status_code == 201 and r.json()["id"] == meeting["id"]
        rid = r.json()["registrant_id"]
        got = (await http.get(f"{base}/{rid}")).json()
        assert (got["id"], got["email"], got["first_name"]) == (rid, "ann@example.com", "Ann")
        assert [x["email"] for x in (await http.get(base)).json()["registrants"]] == [
            "ann@example.com"
        ]
        assert (
            await http.post("/meetings/1/registrants", json={"email": "a@b.c", "first_name": "A"})
        ).status_code == 404
        assert (await http.delete(f"{base}/{rid}")).status_code == 204
        assert (await http.get(f"{base}/{rid}")).status_code == 404

        webinar = (await http.post("/users/me/webinars", json={"topic": "W"})).json()
        wbase = f"/webinars/{webinar['id']}/registrants"
        r = await http.post(wbase, json={"email": "bo@example.com", "first_name": "Bo"})
        wrid = r.json()["registrant_id"]
        assert (await http.get(f"{wbase}/{wrid}")).status_code == 200
        assert (await http.delete(f"/webinars/{webinar['id']}")).status_code == 204
        assert (await http.get(f"{wbase}/{wrid}")).status_code == 404


async def test_chat_messages_by_channel() -> None:
    fake = FakeZoom()
    async with client(fake) as http:
        channel = (await http.post("/chat/users/me/channels", json={"name": "c", "type": 1})).json()
        sent = await http.post(
            "/chat/users/me/messages", json={"message": "hi", "to_channel": channel["id"]}
        )
        assert sent.status_code == 201
        mid = sent.json()["id"]
        listed = await http.get("/chat/users/me/messages", params={"to_channel": channel["id"]})
        assert [m["message"] for m in listed.json()["messages"]] == ["hi"]
        other = await http.get("/chat/users/me/messages", params={"to_channel": "elsewhere"})
        assert other.json()["messages"] == []
        r = await http.put(
            f"/chat/users/me/messages/{mid}", json={"message": "hello", "to_channel": channel["id"]}
        )
        assert r.status_code == 204
        got = await http.get(f"/chat/users/me/messages/{mid}", params={"to_channel": channel["id"]})
        assert got.json()["message"] == "hello"
        assert (
            await http.delete(
                f"/chat/users/me/messages/{mid}", params={"to_channel": channel["id"]}
            )
        ).status_code == 204
        gone = await http.get(
            f"/chat/users/me/messages/{mid}", params={"to_channel": channel["id"]}
        )
        assert gone.status_code == 404


async def test_cloud_recordings_and_past_meetings() -> None:
    fake = FakeZoom()
    meeting = fake.add_meetings("me", 1)[0]
    fake.add_participants(meeting["id"], 3)
    recording = fake.add_recording(meeting["id"], files=3)
    assert recording["uuid"] == meeting["uuid"] and recording["recording_count"] == 3
    day = meeting["start_time"][:10]
    async with client(fake) as http:
        listed = (await http.get("/users/me/recordings", params={"from": day, "to": day})).json()
        assert [m["id"] for m in listed["meetings"]] == [meeting["id"]]
        assert listed["from"] == day and listed["total_records"] == 1
        url = f"/meetings/{meeting['id']}/recordings"
        got = (await http.get(url)).json()
        file_id = got["recording_files"][0]["id"]
        assert (await http.delete(f"{url}/{file_id}")).status_code == 204
        assert len((await http.get(url)).json()["recording_files"]) == 2
        past = (await http.get(f"/past_meetings/{meeting['id']}")).json()
        assert (past["uuid"], past["participants_count"]) == (meeting["uuid"], 3)
        assert (await http.delete(url)).status_code == 204
        r = await http.get(url)
        assert (r.status_code, r.json()["code"]) == (404, 3301)
        assert (await http.get("/past_meetings/123")).status_code == 404


async def test_phone_users_mirror_the_account() -> None:
    fake = FakeZoom()
    ann = fake.add_user("ann@example.com")
    async with client(fake) as http:
        listed = (await http.get("/phone/users")).json()
        assert [u["email"] for u in listed["users"]] == ["owner@example.com", "ann@example.com"]
        r = await http.patch(f"/phone/users/{ann['id']}", json={"extension_number": "1234"})
        assert r.status_code == 204
        got = (await http.get("/phone/users/ann@example.com")).json()
        assert (got["id"], got["extension_number"]) == (ann["id"], 1234)
        assert (await http.get("/phone/users/nobody@example.com")).status_code == 404


# -- fidelity details ------------------------------------------------------------------------------


async def test_tokens_are_three_part_jwts_with_zooms_claims() -> None:
    import base64
    import json

    fake = FakeZoom()
    async with httpx.AsyncClient(transport=fake.transport()) as http:
        r = await http.post(
            fake.token_url,
            data={"grant_type": "account_credentials", "account_id": fake.account_id},
            auth=(fake.client_id, fake.client_secret),
        )
    token = r.json()["access_token"]
    header, claims, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert json.loads(base64.urlsafe_b64decode(header + "==="))["alg"] == "HS512"
    assert decoded["aid"] == fake.account_id and decoded["iss"] == f"zm:cid:{fake.client_id}"
    assert decoded["exp"] - decoded["iat"] == 3599 and signature


@pytest.mark.looptime
async def test_resource_intensive_refusals_say_per_minute() -> None:
    fake = FakeZoom(plan="pro")
    async with client(fake) as http:
        params = {"from": "2026-01-01", "to": "2026-01-02"}
        statuses = [
            (await http.get("/metrics/meetings", params=params)).status_code for _ in range(40)
        ]
        refused = await http.get("/metrics/meetings", params=params)
    assert 429 in statuses or refused.status_code == 429
    last = refused if refused.status_code == 429 else None
    assert last is not None
    assert last.json()["message"].startswith("You have reached the maximum per-minute rate limit")
    assert last.headers["X-RateLimit-Type"] == "QPS"


async def test_page_number_is_refused_where_an_operation_pages_by_token_only() -> None:
    fake = FakeZoom()
    async with client(fake) as http:
        r = await http.get("/phone/call_queues", params={"page_number": 2})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "page_number"
        r = await http.get("/rooms", params={"page_size": 1})  # schema-only, token paging
        assert r.status_code == 200
        page = await http.get("/users", params={"page_number": 2, "page_size": 1})
        assert page.json()["page_number"] == 2  # GET /users pages both ways


async def test_seeding_resources_without_requests() -> None:
    fake = FakeZoom()
    webinar = fake.add_resource("webinar", {"topic": "Seeded"}, parent="me")
    fake.add_resource("webinar_registrant", {"email": "a@example.com"}, parent=webinar["id"])
    group = fake.add_resource("group", {"name": "Ops"})
    assert fake.get_resource("group", group["id"])["name"] == "Ops"
    assert [w["topic"] for w in fake.resources("webinar")] == ["Seeded"]
    with pytest.raises(KeyError, match="known: call_queue"):
        fake.resources("nope")
    with pytest.raises(ValueError, match="parent"):
        fake.add_resource("webinar", {})
    with pytest.raises(KeyError, match="Webinar does not exist"):
        fake.add_resource("webinar_registrant", {}, parent=1)
    async with client(fake) as http:
        got = await http.get(f"/webinars/{webinar['id']}/registrants")
        assert [r["email"] for r in got.json()["registrants"]] == ["a@example.com"]
    assert fake.stats.requests == 1


async def test_validation_of_types_enums_and_methods() -> None:
    fake = FakeZoom()
    async with client(fake) as http:
        r = await http.post("/users/me/webinars", json={"topic": 5, "type": 99})
        assert r.status_code == 400 and r.json()["message"] == "Validation Failed."
        fields = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert fields["topic"] == "Expected string." and fields["type"].startswith("Must be one of")
        r = await http.get("/users", params={"status": "sleeping"})
        assert (r.status_code, r.json()["errors"]) == (
            400,
            [{"field": "status", "message": "Invalid field."}],
        )
        r = await http.get("/users/me/meetings", params={"page_size": "many"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "page_size"
        r = await http.post(
            "/groups", content=b"{oops", headers={"content-type": "application/json"}
        )
        assert (r.status_code, r.json()["code"]) == (400, 300)
        r = await http.put("/groups")
        assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
        assert (await http.get("/no/such/path")).status_code == 404
    assert fake.stats.status_codes[400] == 4
    fake.validate_requests = False
    async with client(fake) as http:
        r = await http.post("/users/me/webinars", json={"topic": 5})
        assert r.status_code == 201  # validation off: the stateful engine takes it as sent

"""Tests of zoom_async.testing.FakeZoom: OAuth, resources, paging, rate limits, faults, serving."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from zoom_async.clock import SystemClock
from zoom_async.plans import Category
from zoom_async.testing import ConnectionDropped, FakeZoom

CREDS = ("test-client-id", "test-client-secret")
S2S = {"grant_type": "account_credentials", "account_id": "test-account"}
QPS_BODY = {
    "code": 429,
    "message": "You have reached the maximum per-second rate limit for this API. Try again later.",
}


@asynccontextmanager
async def client(fake: FakeZoom, *, token: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
        if token:
            http.headers["Authorization"] = f"Bearer {fake.access_token()}"
        yield http


def ratelimit_headers(response: httpx.Response) -> dict[str, str]:
    """The rate-limit headers, as Zoom names them."""
    names = ("X-RateLimit-Category", "X-RateLimit-Type", "X-RateLimit-Limit")
    names += ("X-RateLimit-Remaining", "Retry-After")
    return {n: response.headers[n] for n in names if n in response.headers}


# -- OAuth ---------------------------------------------------------------------------------------


async def test_s2s_token_and_api_call() -> None:
    fake = FakeZoom()
    async with client(fake, token=False) as http:
        r = await http.post(fake.token_url, data=S2S, auth=CREDS)
        assert r.status_code == 200
        body = r.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 3599
        assert body["api_url"] == "http://zoom.fake" and "refresh_token" not in body
        # Zoom also takes the grant in the query string.
        r2 = await http.post(fake.token_url, params=S2S, auth=CREDS)
        assert r2.status_code == 200
        me = await http.get(
            "/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200 and me.json()["email"] == "owner@example.com"
        assert me.json()["role_id"] == "0"
    assert fake.stats.token_requests == 2
    assert [rec.path for rec in fake.requests] == ["/oauth/token", "/oauth/token", "/v2/users/me"]


async def test_token_endpoint_errors() -> None:
    fake = FakeZoom()
    invalid = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    async with client(fake, token=False) as http:
        r = await http.post(fake.token_url, data=S2S, auth=("test-client-id", "wrong"))
        assert (r.status_code, r.json()) == (400, invalid)
        r = await http.post(fake.token_url, data=S2S)
        assert (r.status_code, r.json()) == (401, invalid)
        r = await http.post(fake.token_url, data={**S2S, "account_id": "other"}, auth=CREDS)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
        r = await http.post(fake.token_url, data={"grant_type": "password"}, auth=CREDS)
        assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    assert fake.stats.token_requests == 4


async def test_authorization_code_pkce_and_refresh_rotation() -> None:
    fake = FakeZoom()
    user = fake.add_user("jo@example.com")
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    code = fake.issue_authorization_code(
        user_id="jo@example.com",
        redirect_uri="https://app/cb",
        code_challenge=challenge.rstrip(b"=").decode(),
    )
    grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app/cb"}
    async with client(fake, token=False) as http:
        r = await http.post(fake.token_url, data={**grant, "code_verifier": "bad"}, auth=CREDS)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        # A refused exchange still used the code up, as at Zoom.
        code = fake.issue_authorization_code(user_id=user["id"], redirect_uri="https://app/cb")
        r = await http.post(
            fake.token_url, data={**grant, "code": code, "redirect_uri": "x"}, auth=CREDS
        )
        assert r.status_code == 400 and r.json()["reason"] == "Redirect URI mismatch."
        code = fake.issue_authorization_code(user_id=user["id"])
        r = await http.post(fake.token_url, data={**grant, "code": code}, auth=CREDS)
        assert r.status_code == 200
        tokens = r.json()
        r = await http.post(fake.token_url, data={**grant, "code": code}, auth=CREDS)
        assert (r.status_code, r.json()["reason"]) == (400, "Invalid authorization code")

        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = await http.get("/users/me", headers=auth)
        assert me.json()["id"] == user["id"]

        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        r = await http.post(fake.token_url, data=refresh, auth=CREDS)
        assert r.status_code == 200 and r.json()["refresh_token"] != tokens["refresh_token"]
        again = await http.post(fake.token_url, data=refresh, auth=CREDS)
        assert again.status_code == 400 and again.json()["error"] == "invalid_request"


@pytest.mark.looptime
async def test_api_auth_errors_expiry_and_expire_tokens() -> None:
    fake = FakeZoom(token_ttl=3599)
    invalid = {"code": 124, "message": "Invalid access token."}
    async with client(fake) as http:
        r = await http.get("/users/me", headers={"Authorization": "Bearer nope"})
        assert (r.status_code, r.json()) == (401, invalid)
        r = await http.get("/users/me", headers={"Authorization": ""})
        assert (r.status_code, r.json()) == (401, invalid)
        assert (await http.get("/users/me")).status_code == 200
        await asyncio.sleep(3599)
        r = await http.get("/users/me")
        assert (r.status_code, r.json()["code"]) == (401, 124)

        http.headers["Authorization"] = f"Bearer {fake.access_token()}"
        assert (await http.get("/users/me")).status_code == 200
        assert fake.expire_tokens() == 1
        r = await http.get("/users/me")
        assert r.status_code == 401 and r.json() == {
            "code": 124,
            "message": "Access token is expired.",
        }
    # 401s are not counted against the rate limits.
    assert fake.stats.accepted_for("Light") == 2


# -- resources -----------------------------------------------------------------------------------


async def test_users_paging_by_number_and_token() -> None:
    fake = FakeZoom()
    fake.add_users(6)  # plus the owner: 7 users
    async with client(fake) as http:
        r = await http.get("/users", params={"page_size": 3, "page_number": 3})
        page = r.json()
        assert r.headers["X-RateLimit-Category"] == "Medium"
        assert {
            k: page[k] for k in ("page_count", "page_number", "page_size", "total_records")
        } == {
            "page_count": 3,
            "page_number": 3,
            "page_size": 3,
            "total_records": 7,
        }
        assert len(page["users"]) == 1 and page["next_page_token"] == ""

        seen: list[str] = []
        params: dict[str, Any] = {"page_size": 3}
        while True:
            page = (await http.get("/users", params=params)).json()
            seen += [u["id"] for u in page["users"]]
            if not page["next_page_token"]:
                break
            params["next_page_token"] = page["next_page_token"]
        assert seen == [u["id"] for u in fake.users]
        assert set(page["users"][0]) >= {"id", "email", "type", "status", "created_at"}

        r = await http.get("/users", params={"page_size": "x"})
        assert r.status_code == 400 and r.json()["code"] == 300


async def test_get_and_create_users() -> None:
    fake = FakeZoom()
    jo = fake.add_user("jo@example.com")
    async with client(fake) as http:
        assert (await http.get(f"/users/{jo['id']}")).json()["email"] == "jo@example.com"
        assert (await http.get("/users/jo@example.com")).json()["id"] == jo["id"]
        r = await http.get("/users/nobody@example.com")
        assert (r.status_code, r.json()) == (
            404,
            {"code": 1001, "message": "User does not exist: nobody@example.com."},
        )
        assert r.headers["X-RateLimit-Category"] == "Light"

        new = {"action": "custCreate", "user_info": {"email": "al@example.com", "type": 1}}
        r = await http.post("/users", json=new)
        assert r.status_code == 201 and set(r.json()) == {
            "id",
            "first_name",
            "last_name",
            "email",
            "type",
        }
        assert fake.get_user("al@example.com") is not None
        r = await http.post("/users", json=new)
        assert r.status_code == 409 and r.json()["code"] == 1005
        r = await http.post("/users", json={"action": "create", "user_info": {"type": 1}})
        assert r.status_code == 400
        assert r.json() == {
            "code": 300,
            "message": "Validation Failed.",
            "errors": [{"field": "user_info.email", "message": "This field is required."}],
        }
        r = await http.post(
            "/users", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert (r.status_code, r.json()["code"]) == (400, 300)


async def test_meetings_crud_and_listing() -> None:
    fake = FakeZoom()
    jo = fake.add_user("jo@example.com")
    async with client(fake) as http:
        body = {"topic": "Standup", "type": 2, "start_time": "2030-01-02T10:00:00Z", "duration": 15}
        r = await http.post(f"/users/{jo['id']}/meetings", json=body)
        assert r.status_code == 201
        meeting = r.json()
        assert isinstance(meeting["id"], int) and meeting["host_id"] == jo["id"]
        assert meeting["topic"] == "Standup" and meeting["start_time"] == "2030-01-02T10:00:00Z"
        assert {"uuid", "join_url", "start_url", "password", "settings"} <= set(meeting)
        mid = meeting["id"]

        r = await http.patch(
            f"/meetings/{mid}", json={"topic": "Daily", "settings": {"audio": "both"}}
        )
        assert (r.status_code, r.content) == (204, b"")
        got = (await http.get(f"/meetings/{mid}")).json()
        assert got["topic"] == "Daily" and got["settings"]["audio"] == "both"
        assert got["settings"]["waiting_room"] is True

        r = await http.patch(f"/meetings/{mid}", json={"type": 5})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "type"

        assert (await http.delete(f"/meetings/{mid}")).status_code == 204
        r = await http.get(f"/meetings/{mid}")
        assert (r.status_code, r.json()) == (
            404,
            {"code": 3001, "message": f"Meeting does not exist: {mid}."},
        )
        r = await http.delete(f"/meetings/{mid}")
        assert r.status_code == 404
        r = await http.post("/users/ghost/meetings", json={})
        assert r.json() == {"code": 1001, "message": "User does not exist: ghost."}

        fake.add_meetings(jo["id"], 7)
        ids = []
        params: dict[str, Any] = {"page_size": 3}
        while True:
            page = (await http.get("/users/jo@example.com/meetings", params=params)).json()
            assert page["total_records"] == 7
            ids += [m["id"] for m in page["meetings"]]
            if not page["next_page_token"]:
                break
            params["next_page_token"] = page["next_page_token"]
        assert ids == [m["id"] for m in fake.meetings]
        # page_size is capped to the spec's maximum (300 here).
        page = (await http.get("/users/me/meetings", params={"page_size": 1000})).json()
        assert page["page_size"] == 300


@pytest.mark.looptime
async def test_page_tokens_expire() -> None:
    fake = FakeZoom()
    fake.add_users(4)
    expired = {"code": 300, "message": "The next page token is invalid or expired."}
    async with client(fake) as http:
        token = (await http.get("/users", params={"page_size": 2})).json()["next_page_token"]
        r = await http.get("/users/me/meetings", params={"next_page_token": token})
        assert (r.status_code, r.json()) == (400, expired)  # another listing's token
        await asyncio.sleep(14 * 60)
        assert (await http.get("/users", params={"next_page_token": token})).status_code == 200
        await asyncio.sleep(60)
        r = await http.get("/users", params={"next_page_token": token})
        assert (r.status_code, r.json()) == (400, expired)
        r = await http.get("/users", params={"next_page_token": "garbage"})
        assert (r.status_code, r.json()) == (400, expired)


async def test_report_dashboard_and_participants() -> None:
    start = datetime(2030, 3, 1, 9, tzinfo=UTC)
    fake = FakeZoom()
    jo = fake.add_user("jo@example.com")
    meetings = fake.add_meetings(jo["id"], 30, start=start, spacing=timedelta(hours=12))
    fake.add_participants(meetings[0]["id"], 5)
    async with client(fake) as http:
        q = {"from": "2030-03-01", "to": "2030-03-05", "page_size": 4}
        r = await http.get(f"/report/users/{jo['id']}/meetings", params=q)
        assert r.status_code == 200
        assert ratelimit_headers(r) == {
            "X-RateLimit-Category": "Heavy",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": "30000",
            "X-RateLimit-Remaining": "29999",
        }
        page = r.json()
        assert page["from"] == "2030-03-01" and page["total_records"] == 10
        assert page["meetings"][0]["participants_count"] == 5
        assert "page_number" not in page

        r = await http.get("/metrics/meetings", params=q)
        assert r.headers["X-RateLimit-Category"] == "Resource-intensive"
        assert r.headers["X-RateLimit-Remaining"] == "29998"
        assert r.json()["total_records"] == 10

        r = await http.get("/report/users/me/meetings", params={"to": "2030-03-05"})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "from"

        mid = meetings[0]["id"]
        page = (
            await http.get(f"/past_meetings/{mid}/participants", params={"page_size": 3})
        ).json()
        assert page["total_records"] == 5 and len(page["participants"]) == 3
        rest = await http.get(
            f"/past_meetings/{mid}/participants",
            params={"page_size": 3, "next_page_token": page["next_page_token"]},
        )
        assert len(rest.json()["participants"]) == 2


async def test_other_catalog_operations_and_unknown_paths() -> None:
    fake = FakeZoom()
    async with client(fake) as http:
        r = await http.get("/phone/call_logs")
        # Not simulated: answered from the spec's schema, list key and paging fields included.
        assert r.status_code == 200 and len(r.json()["call_logs"]) == 3
        assert r.json()["total_records"] == 3 and r.json()["next_page_token"] == ""
        assert fake.requests[-1].answered_by == "schema"
        assert r.headers["X-RateLimit-Category"] == "Heavy"
        assert r.headers["X-RateLimit-Limit"] == "30000"
        r = await http.get("/no/such/thing")
        assert (r.status_code, r.json()) == (404, {"code": 404, "message": "Not found"})
    assert fake.stats.accepted[("phone", Category.HEAVY)] == 1
    assert fake.requests[0].family == "phone" and fake.requests[0].operation_id == "accountCallLogs"


# -- rate limits ---------------------------------------------------------------------------------


@pytest.mark.looptime
async def test_qps_limit_is_a_strict_sliding_window() -> None:
    fake = FakeZoom(plan="pro")
    async with client(fake) as http:
        statuses = [(await http.get("/users/me")).status_code for _ in range(30)]
        assert statuses == [200] * 30
        r = await http.get("/users/me")
        assert r.status_code == 429 and r.json() == QPS_BODY
        assert ratelimit_headers(r) == {"X-RateLimit-Category": "Light", "X-RateLimit-Type": "QPS"}
        await asyncio.sleep(0.999)
        assert (await http.get("/users/me")).status_code == 429
        await asyncio.sleep(0.001)  # the first 30 leave the window (t - 1, t]
        assert (await http.get("/users/me")).status_code == 200
        # Categories have separate windows.
        assert (await http.get("/users")).status_code == 200
    assert fake.stats.rate_limited == {"QPS": 2}
    assert fake.stats.rate_limited_by[("general", Category.LIGHT, "QPS")] == 2
    assert fake.max_in_any_window("Light") == 30
    assert [r.rate_limit_type for r in fake.requests].count("QPS") == 2


@pytest.mark.looptime
async def test_resource_intensive_window_is_a_minute() -> None:
    fake = FakeZoom(plan="business_plus")
    q = {"from": "2030-01-01", "to": "2030-01-02"}
    async with client(fake) as http:
        for _ in range(20):
            assert (await http.get("/metrics/meetings", params=q)).status_code == 200
        r = await http.get("/metrics/meetings", params=q)
        assert r.status_code == 429
        assert ratelimit_headers(r) == {
            "X-RateLimit-Category": "Resource-intensive",
            "X-RateLimit-Type": "QPS",
        }
        await asyncio.sleep(59.5)
        assert (await http.get("/metrics/meetings", params=q)).status_code == 429
        await asyncio.sleep(0.5)
        assert (await http.get("/metrics/meetings", params=q)).status_code == 200
    assert fake.max_in_any_window(Category.RESOURCE_INTENSIVE) == 20


@pytest.mark.looptime
async def test_count_refused_makes_refusals_occupy_the_window() -> None:
    for count_refused, expected in ((False, 200), (True, 429)):
        fake = FakeZoom(count_refused=count_refused)
        async with client(fake) as http:
            for _ in range(30):
                await http.get("/users/me")
            await asyncio.sleep(0.9)
            for _ in range(30):
                assert (await http.get("/users/me")).status_code == 429
            await asyncio.sleep(0.2)  # the accepted 30 left the window, the refused 30 did not
            assert (await http.get("/users/me")).status_code == expected


@pytest.mark.looptime
async def test_daily_limit_and_reset_at_utc_midnight() -> None:
    clock = SystemClock(start=datetime(2025, 8, 22, 23, 59, 50, tzinfo=UTC))
    fake = FakeZoom(clock=clock)
    fake.spend_daily_quota("general", 29_999)
    assert fake.daily_quota_remaining() == 1
    async with client(fake) as http:
        r = await http.get("/phone/call_logs")  # Zoom Phone has its own daily quota
        assert r.headers["X-RateLimit-Remaining"] == "29999"
        r = await http.get(
            "/report/users/me/meetings", params={"from": "2025-08-01", "to": "2025-08-22"}
        )
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "0"
        await asyncio.sleep(1)
        r = await http.get("/metrics/meetings", params={"from": "2025-08-01", "to": "2025-08-22"})
        assert r.status_code == 429
        assert r.json() == {
            "code": 429,
            "message": "You have reached the maximum daily rate limit for this API. Refer to the "
            "response header for details on when you can make another request.",
        }
        assert ratelimit_headers(r) == {
            "X-RateLimit-Category": "Resource-intensive",
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": "30000",
            "X-RateLimit-Remaining": "0",
            "Retry-After": "2025-08-23T00:00:00Z",
        }
        assert (await http.get("/users/me")).status_code == 200  # Light has no daily quota
        await asyncio.sleep(9)  # 00:00:00 UTC
        r = await http.get(
            "/report/users/me/meetings", params={"from": "2025-08-01", "to": "2025-08-22"}
        )
        assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "29999"
    assert fake.stats.rate_limited == {"Daily-limit": 1}


@pytest.mark.looptime
async def test_meeting_quota_per_host_user() -> None:
    clock = SystemClock(start=datetime(2025, 8, 22, 12, tzinfo=UTC))
    fake = FakeZoom(clock=clock)
    jo, al = fake.add_user("jo@example.com"), fake.add_user("al@example.com")
    jo_meeting = fake.add_meetings(jo["id"], 1)[0]
    fake.spend_meeting_quota(jo["id"], 99)
    expected = {
        "code": 429,
        "message": "You have exceeded the daily rate limit of (100) meeting create/update/delete "
        "API requests permitted for this particular user. You may resume these requests at GMT "
        "00:00:00.",
    }
    async with client(fake) as http:
        assert (await http.post("/users/jo@example.com/meetings", json={})).status_code == 201
        assert fake.meeting_quota_remaining(jo["id"]) == 0
        for request in (
            http.patch(f"/meetings/{jo_meeting['id']}", json={"topic": "x"}),
            http.delete(f"/meetings/{jo_meeting['id']}"),
            http.post(f"/users/{jo['id']}/meetings", json={}),
        ):
            r = await request
            assert (r.status_code, r.json()) == (429, expected)
            assert ratelimit_headers(r) == {"X-RateLimit-Category": "Light"}
        assert (
            await http.get(f"/meetings/{jo_meeting['id']}")
        ).status_code == 200  # reads are fine
        assert (await http.post(f"/users/{al['id']}/meetings", json={})).status_code == 201
        await asyncio.sleep(12 * 3600)
        http.headers["Authorization"] = f"Bearer {fake.access_token()}"
        assert (await http.delete(f"/meetings/{jo_meeting['id']}")).status_code == 204
    assert fake.stats.rate_limited == {"Meeting-quota": 3}


@pytest.mark.looptime
async def test_concurrent_mutations_of_one_resource() -> None:
    fake = FakeZoom(processing_time=0.5, concurrency_conflicts=True)
    meeting = fake.add_meetings("me", 2)
    async with client(fake) as http:
        url = f"/meetings/{meeting[0]['id']}"
        first, second, other, read = await asyncio.gather(
            http.patch(url, json={"topic": "a"}),
            http.patch(url, json={"topic": "b"}),
            http.patch(f"/meetings/{meeting[1]['id']}", json={"topic": "c"}),
            http.get(url),
        )
        assert (first.status_code, other.status_code, read.status_code) == (204, 204, 200)
        assert second.status_code == 429
        assert second.json() == {
            "code": 429,
            "message": "Too many concurrent requests. A request to modify this resource has "
            "already been made.",
        }
        assert ratelimit_headers(second) == {"X-RateLimit-Category": "Light"}
        updated = fake.get_meeting(meeting[0]["id"])
        assert updated is not None and updated["topic"] == "a"
        assert (await http.patch(url, json={"topic": "d"})).status_code == 204  # sequential: fine
    assert fake.stats.rate_limited == {"Concurrent": 1}


@pytest.mark.looptime
async def test_neighbour_shares_the_window_and_daily_quota() -> None:
    fake = FakeZoom()  # Pro: Light 30/s
    neighbour = fake.add_neighbour(Category.LIGHT, rate=20)
    async with client(fake) as http:
        await asyncio.sleep(5)
        assert 19 <= fake.window_usage("Light") <= 21
        statuses = [(await http.get("/users/me")).status_code for _ in range(30)]
        assert 9 <= statuses.count(200) <= 11 and statuses.count(429) >= 19
        assert fake.max_in_any_window("Light") == 30
        assert fake.max_in_any_window("Light", include_neighbours=False) <= 11
        assert neighbour.accepted >= 100
        assert fake.remove_neighbour(neighbour) == 1
        await asyncio.sleep(1)
        assert fake.window_usage("Light") == 0

    greedy = fake.add_neighbour("Heavy", rate=15)  # more than Pro's 10/s: some refused
    await asyncio.sleep(2)
    assert fake.max_in_any_window("Heavy") == 10
    assert greedy.refused > 0
    assert fake.daily_quota_remaining() == 30_000 - greedy.accepted
    assert fake.stats.neighbour_refused[("general", Category.HEAVY)] == greedy.refused
    fake.remove_neighbour("Heavy")
    assert fake.neighbours == []


@pytest.mark.looptime
async def test_neighbour_over_days() -> None:
    clock = SystemClock(start=datetime(2025, 8, 22, tzinfo=UTC))
    fake = FakeZoom(clock=clock)
    neighbour = fake.add_neighbour("Heavy", rate=1.0)  # 86,400 a day: the quota runs out
    await asyncio.sleep(1.5 * 86_400)
    assert fake.daily_quota_remaining() == 0
    assert neighbour.accepted == 60_000
    assert neighbour.refused == (86_400 - 30_000) + (43_201 - 30_000)
    async with client(fake) as http:
        r = await http.get("/phone/call_logs")  # the phone family's quota is untouched
        assert r.status_code == 200
        r = await http.get("/metrics/meetings", params={"from": "2025-08-22", "to": "2025-08-23"})
        assert r.status_code == 429 and r.headers["Retry-After"] == "2025-08-24T00:00:00Z"


@pytest.mark.looptime
async def test_enforce_limits_off_measures_a_client() -> None:
    fake = FakeZoom(enforce_limits=False)
    async with client(fake) as http:
        statuses = [(await http.get("/users/me")).status_code for _ in range(45)]
        assert set(statuses) == {200}
        await asyncio.sleep(1)
        for _ in range(10):
            await http.get("/users/me")
    assert fake.max_in_any_window("Light") == 45
    fake.reset_stats()
    assert fake.max_in_any_window("Light") == 0 and fake.requests == []
    assert fake.stats.requests == 0


@pytest.mark.looptime
async def test_latency_uplink_counts_before_arrival() -> None:
    fake = FakeZoom(latency=((1.0, 1.0), (2.0, 2.0)))
    loop = asyncio.get_running_loop()
    async with client(fake) as http:
        t0 = loop.time()
        await http.get("/users/me")
        assert loop.time() - t0 == pytest.approx(3.0)
        assert fake.requests[-1].arrival - t0 == pytest.approx(1.0)
    jitter = FakeZoom(latency=(0.1, 0.2), seed=7)
    async with client(jitter) as http:
        t0 = loop.time()
        await http.get("/users/me")
        assert 0.2 <= loop.time() - t0 <= 0.4


# -- faults --------------------------------------------------------------------------------------


async def test_scripted_faults() -> None:
    fake = FakeZoom()
    fault = fake.inject("GET", "/users", 503, count=2)
    async with client(fake) as http:
        r = await http.get("/users")
        assert r.status_code == 503 and "503 Service Unavailable" in r.text
        assert r.headers["content-type"].startswith("text/html")
        assert (await http.get("/users")).status_code == 503
        assert (await http.get("/users")).status_code == 200
        assert fault.fired == 2 and fake.faults == []

        # 502 (default after_apply=True): the meeting was created, its answer lost.
        fake.inject("POST", "/users/{userId}/meetings", 502)
        r = await http.post("/users/me/meetings", json={"topic": "reached"})
        assert r.status_code == 502 and len(fake.meetings) == 1
        assert fake.requests[-1].applied and fake.requests[-1].fault == "502"
        # 503 before applying: nothing created, nothing counted.
        fake.inject("POST", "/v2/users/*", 503, body={"code": 503, "message": "down"})
        r = await http.post("/users/me/meetings", json={})
        assert (r.status_code, r.json()) == (503, {"code": 503, "message": "down"})
        assert len(fake.meetings) == 1 and not fake.requests[-1].applied

        fake.inject(path="/oauth/token", status=500)
        assert (await http.post(fake.token_url, data=S2S, auth=CREDS)).status_code == 500
    assert fake.stats.faults == 5
    assert fake.stats.accepted_for("Light") == 1  # only the applied POST
    assert fake.stats.accepted_for("Medium") == 1


async def test_dropped_connection_through_asgi_transport() -> None:
    fake = FakeZoom()
    fake.inject("POST", "/users/{userId}/meetings", drop_connection=True, after_apply=True)
    fake.inject("GET", "/users/me", drop_connection=True)
    async with client(fake) as http:
        with pytest.raises(httpx.RemoteProtocolError) as info:
            await http.post("/users/me/meetings", json={})
        assert type(info.value) is httpx.RemoteProtocolError
        assert info.value.request.url == "http://zoom.fake/v2/users/me/meetings"
        assert len(fake.meetings) == 1 and fake.requests[-1].applied
        assert fake.requests[-1].dropped and fake.requests[-1].status is None
        with pytest.raises(httpx.TransportError):
            await http.get("/users/me")
        assert not fake.requests[-1].applied
    # A plain ASGITransport gets the same kind of error.
    fake.inject("GET", "/users/me", drop_connection=True)
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url=fake.base_url) as http:
        with pytest.raises(httpx.RemoteProtocolError) as info2:
            await http.get("/users/me")
        assert isinstance(info2.value, ConnectionDropped)
    assert fake.stats.dropped_connections == 3


@pytest.mark.looptime
async def test_delay_faults_and_random_errors() -> None:
    fake = FakeZoom(error_rate=1.0, error_statuses=(500,))
    loop = asyncio.get_running_loop()
    async with client(fake) as http:
        assert {(await http.get("/users/me")).status_code for _ in range(5)} == {500}
        fake.error_rate = 0.0
        fake.inject("GET", "/users/me", status=None, delay=30)
        t0 = loop.time()
        assert (await http.get("/users/me")).status_code == 200
        assert loop.time() - t0 == pytest.approx(30)
    flaky = FakeZoom(error_rate=0.3, seed=1)
    async with client(flaky) as http:
        statuses = [(await http.get("/users")).status_code for _ in range(100)]
    assert 10 <= sum(s >= 500 for s in statuses) <= 50
    assert flaky.stats.faults == sum(s >= 500 for s in statuses)


# -- a real port ---------------------------------------------------------------------------------


async def test_serve_on_a_real_port() -> None:
    fake = FakeZoom()
    async with fake.serve() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v2"
        assert server.token_url == f"http://127.0.0.1:{server.port}/oauth/token"
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            token = (await http.post(server.token_url, data=S2S, auth=CREDS)).json()
            assert token["api_url"] == server.origin
            http.headers["Authorization"] = f"Bearer {token['access_token']}"
            r = await http.get("/users/me")
            assert r.status_code == 200 and r.headers["X-RateLimit-Category"] == "Light"
            fake.inject("GET", "/users/me", drop_connection=True)
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get("/users/me")
            assert (await http.get("/users/me")).status_code == 200
    assert fake.stats.dropped_connections == 1
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(server.base_url + "/users/me")

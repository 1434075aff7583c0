"""ZoomClient against a respx-mocked Zoom: URLs, decoding, errors, retries, secrets."""

from __future__ import annotations

import asyncio
import logging

import anyio
import httpx
import pytest

from tests.conftest import ACCESS_TOKEN, API, CLIENT_SECRET
from zoom_async import (
    AuthError,
    BadRequestError,
    ConfigurationError,
    NotFoundError,
    ResponseDecodeError,
    ServerError,
    ZoomAPIError,
    ZoomClient,
    ZoomConnectionError,
    ZoomTimeoutError,
    encode_path_param,
)

pytestmark = pytest.mark.looptime


def client(credentials, **kwargs) -> ZoomClient:
    return ZoomClient(**credentials, **kwargs)


async def test_get_returns_decoded_json_with_bearer_token(zoom_api, credentials) -> None:
    route = zoom_api.get(f"{API}/users/me").mock(
        return_value=httpx.Response(200, json={"id": "u1", "email": "a@example.com"})
    )
    async with client(credentials) as zoom:
        assert await zoom.get("/users/me") == {"id": "u1", "email": "a@example.com"}
        assert await zoom.get("users/me") == {"id": "u1", "email": "a@example.com"}
        assert await zoom.get("/v2/users/me") == {"id": "u1", "email": "a@example.com"}
    assert route.calls[0].request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


async def test_credentials_fall_back_to_environment(zoom_api, monkeypatch) -> None:
    monkeypatch.setenv("ZOOM_ACCOUNT_ID", "env-acct")
    monkeypatch.setenv("ZOOM_CLIENT_ID", "env-client")
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "env-secret")
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={}))
    async with ZoomClient() as zoom:
        await zoom.get("/users/me")
    form = zoom_api["token"].calls[0].request.content.decode()
    assert "grant_type=account_credentials" in form and "account_id=env-acct" in form


async def test_missing_credentials_say_what_to_set(monkeypatch) -> None:
    for name in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="ZOOM_CLIENT_SECRET"):
        ZoomClient(account_id="a", client_id="b")


async def test_params_and_json_body_and_204(zoom_api, credentials) -> None:
    list_route = zoom_api.get(f"{API}/users").mock(
        return_value=httpx.Response(200, json={"users": []})
    )
    post_route = zoom_api.post(f"{API}/users/u1/meetings").mock(
        return_value=httpx.Response(201, json={"id": 5, "host_id": "u1"})
    )
    zoom_api.delete(f"{API}/meetings/5").mock(return_value=httpx.Response(204))
    async with client(credentials) as zoom:
        await zoom.get("/users", params={"page_size": 300, "status": None, "flag": True})
        created = await zoom.post("/users/u1/meetings", json={"topic": "Sync", "type": 2})
        assert created == {"id": 5, "host_id": "u1"}
        assert await zoom.delete("/meetings/5") is None
    assert list_route.calls[0].request.url.params["page_size"] == "300"
    assert list_route.calls[0].request.url.params["flag"] == "true"
    assert "status" not in list_route.calls[0].request.url.params
    assert post_route.calls[0].request.content == b'{"topic":"Sync","type":2}'


def test_uuid_double_encoding() -> None:
    assert encode_path_param("4444AAAiAAAAAiAiAiiAii==") == "4444AAAiAAAAAiAiAiiAii%3D%3D"
    assert encode_path_param("/ajXp112QmuoKj4854875==") == "%252FajXp112QmuoKj4854875%253D%253D"
    assert encode_path_param("ab//cd") == "ab%252F%252Fcd"
    assert encode_path_param(123) == "123"


async def test_path_params_are_encoded(zoom_api, credentials) -> None:
    route = zoom_api.get(url__regex=r".*/past_meetings/.*/participants").mock(
        return_value=httpx.Response(200, json={"participants": []})
    )
    async with client(credentials) as zoom:
        await zoom.get(
            "/past_meetings/{meetingId}/participants", path_params={"meetingId": "/a//b=="}
        )
        with pytest.raises(ConfigurationError, match="path_params"):
            await zoom.get("/past_meetings/{meetingId}/participants")
        with pytest.raises(ConfigurationError, match="meetingId"):
            await zoom.get("/past_meetings/{meetingId}/participants", path_params={"x": 1})
    raw = route.calls[0].request.url.raw_path.decode()
    assert raw == "/v2/past_meetings/%252Fa%252F%252Fb%253D%253D/participants"


async def test_non_json_body_gives_a_clear_error(zoom_api, credentials) -> None:
    zoom_api.get(f"{API}/users/me").mock(
        return_value=httpx.Response(
            200, text="<html>gateway</html>", headers={"content-type": "text/html"}
        )
    )
    async with client(credentials) as zoom:
        with pytest.raises(ResponseDecodeError, match="expected JSON") as info:
            await zoom.get("/users/me")
    assert info.value.status_code == 200


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (404, NotFoundError), (409, ZoomAPIError), (418, ZoomAPIError)],
)
async def test_error_statuses_map_to_typed_errors(zoom_api, credentials, status, cls) -> None:
    zoom_api.get(f"{API}/users/nobody").mock(
        return_value=httpx.Response(
            status, json={"code": 1001, "message": "User does not exist: nobody."}
        )
    )
    async with client(credentials) as zoom:
        with pytest.raises(cls) as info:
            await zoom.get("/users/nobody")
    err = info.value
    assert err.status_code == status and err.code == 1001
    assert err.message == "User does not exist: nobody."
    assert err.method == "GET" and err.url == f"{API}/users/nobody"
    assert "1001" in str(err)


async def test_cold_client_makes_exactly_one_token_request_for_500_callers(
    zoom_api, credentials
) -> None:
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={"id": "u"}))

    async def slow_token(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(0.2)  # a slow token endpoint widens the race
        return httpx.Response(200, json={"access_token": ACCESS_TOKEN, "expires_in": 3599})

    zoom_api["token"].mock(side_effect=slow_token)
    async with (
        client(credentials, plan="business_plus") as zoom,
        anyio.create_task_group() as tg,
    ):
        for _ in range(500):
            tg.start_soon(zoom.get, "/users/me")
    assert zoom_api["token"].call_count == 1


async def test_token_is_renewed_before_it_expires(zoom_api, credentials) -> None:
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={}))
    async with client(credentials) as zoom:
        await zoom.get("/users/me")
        await anyio.sleep(3599 - 200)
        await zoom.get("/users/me")
        assert zoom_api["token"].call_count == 1
        await anyio.sleep(100)  # now within the refresh margin of expiry
        await zoom.get("/users/me")
        assert zoom_api["token"].call_count == 2


async def test_401_renews_the_token_once_then_raises(zoom_api, credentials) -> None:
    route = zoom_api.get(f"{API}/users/me").mock(
        side_effect=[
            httpx.Response(401, json={"code": 124, "message": "Invalid access token."}),
            httpx.Response(200, json={"id": "u"}),
        ]
    )
    async with client(credentials) as zoom:
        assert await zoom.get("/users/me") == {"id": "u"}
        assert zoom_api["token"].call_count == 2
        route.mock(
            return_value=httpx.Response(401, json={"code": 124, "message": "Invalid access token."})
        )
        with pytest.raises(AuthError, match="even with a renewed token") as info:
            await zoom.get("/users/me")
    assert info.value.step == "request" and info.value.code == 124
    assert zoom_api["token"].call_count == 3


async def test_wrong_credentials_say_which_step_failed(zoom_api, credentials) -> None:
    zoom_api["token"].mock(
        return_value=httpx.Response(
            400, json={"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
        )
    )
    async with client(credentials) as zoom:
        with pytest.raises(AuthError) as info:
            await zoom.get("/users/me")
    err = info.value
    assert err.step == "token"
    assert "Invalid client_id or client_secret" in str(err)
    assert CLIENT_SECRET not in str(err) and CLIENT_SECRET not in repr(err)


async def test_post_answered_by_502_is_not_resent(zoom_api, credentials, fast_retry) -> None:
    route = zoom_api.post(f"{API}/users/u1/meetings").mock(
        return_value=httpx.Response(502, json={"code": 502, "message": "Bad gateway"})
    )
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(
            ServerError, match="not re-sent because it may have reached Zoom"
        ) as info:
            await zoom.post("/users/u1/meetings", json={"topic": "x"})
    assert route.call_count == 1
    assert info.value.retried is False and info.value.status_code == 502


async def test_patch_answered_by_503_is_not_resent(zoom_api, credentials, fast_retry) -> None:
    zoom_api.get(f"{API}/meetings/9").mock(
        return_value=httpx.Response(200, json={"id": 9, "host_id": "h"})
    )
    route = zoom_api.patch(f"{API}/meetings/9").mock(return_value=httpx.Response(503))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(ServerError):
            await zoom.patch("/meetings/9", json={"topic": "y"})
    assert route.call_count == 1


async def test_get_answered_by_503_is_retried(zoom_api, credentials, fast_retry) -> None:
    route = zoom_api.get(f"{API}/users/me").mock(
        side_effect=[httpx.Response(503), httpx.Response(500), httpx.Response(200, json={"ok": 1})]
    )
    async with client(credentials, retry=fast_retry) as zoom:
        assert await zoom.get("/users/me") == {"ok": 1}
    assert route.call_count == 3


async def test_get_gives_up_after_max_attempts(zoom_api, credentials, fast_retry) -> None:
    route = zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(503))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(ServerError, match="after 4 attempts") as info:
            await zoom.get("/users/me")
    assert route.call_count == 4 and info.value.retried


async def test_put_and_delete_are_retried_on_5xx(zoom_api, credentials, fast_retry) -> None:
    put = zoom_api.put(f"{API}/users/u1/status").mock(
        side_effect=[httpx.Response(500), httpx.Response(204)]
    )
    async with client(credentials, retry=fast_retry) as zoom:
        await zoom.put("/users/u1/status", json={"action": "activate"})
    assert put.call_count == 2


async def test_post_that_never_connected_is_retried(zoom_api, credentials, fast_retry) -> None:
    route = zoom_api.post(f"{API}/users").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(201, json={"id": "n"})]
    )
    async with client(credentials, retry=fast_retry) as zoom:
        assert await zoom.post("/users", json={"action": "create"}) == {"id": "n"}
    assert route.call_count == 2


async def test_post_read_timeout_is_not_resent(zoom_api, credentials, fast_retry) -> None:
    route = zoom_api.post(f"{API}/users").mock(side_effect=httpx.ReadTimeout("slow"))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(ZoomTimeoutError, match="may have reached Zoom") as info:
            await zoom.post("/users", json={})
    assert route.call_count == 1
    assert info.value.may_have_reached_zoom is True


async def test_get_connection_reset_is_retried_then_wrapped(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.get(f"{API}/users/me").mock(side_effect=httpx.RemoteProtocolError("reset"))
    async with client(credentials, retry=fast_retry) as zoom:
        with pytest.raises(ZoomConnectionError) as info:
            await zoom.get("/users/me")
    assert route.call_count == 4
    assert not isinstance(info.value, ZoomTimeoutError)


async def test_429_qps_is_retried_and_slows_the_category(zoom_api, credentials, fast_retry) -> None:
    qps = httpx.Response(
        429,
        headers={"X-RateLimit-Category": "Light", "X-RateLimit-Type": "QPS"},
        json={
            "code": 429,
            "message": "You have reached the maximum per-second rate limit for this API. "
            "Try again later.",
        },
    )
    route = zoom_api.post(f"{API}/users").mock(
        side_effect=[qps, httpx.Response(201, json={"id": "n"})]
    )
    async with client(credentials, retry=fast_retry, plan="business_plus") as zoom:
        assert await zoom.post("/users", json={}) == {"id": "n"}
        lane = (await zoom.limits.snapshot()).lane("Light")
    assert route.call_count == 2  # refused requests are safe to re-send, even a POST
    assert lane.rate_limited == 1 and lane.current_rate < 80


async def test_retry_after_seconds_is_honoured(zoom_api, credentials) -> None:
    busy = httpx.Response(
        429,
        headers={"Retry-After": "7", "X-RateLimit-Type": "QPS"},
        json={"code": 429, "message": "x"},
    )
    zoom_api.get(f"{API}/users/me").mock(side_effect=[busy, httpx.Response(200, json={})])
    async with client(credentials) as zoom:
        start = anyio.current_time()
        await zoom.get("/users/me")
        assert anyio.current_time() - start >= 7


async def test_cancellation_leaves_no_state_behind(zoom_api, credentials) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(100)
        return httpx.Response(200, json={})

    zoom_api.put(f"{API}/users/u1/settings").mock(side_effect=hang)
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={}))
    async with client(credentials, plan={"Medium": 1, "Light": 1}) as zoom:
        with anyio.move_on_after(1):
            await zoom.put("/users/u1/settings", json={})
        assert zoom._mutation_locks == {}
        # The slot was given back: a request in the same category goes through at once.
        await anyio.sleep(1.01)
        with anyio.fail_after(0.5):
            await zoom.get("/users/me")


async def test_closed_client_refuses(zoom_api, credentials) -> None:
    zoom = client(credentials)
    await zoom.aclose()
    with pytest.raises(ConfigurationError, match="closed"):
        await zoom.get("/users/me")


async def test_a_calls_errors_are_raised_when_it_is_awaited(zoom_api, credentials) -> None:
    """request() and the verbs check a call when they are called, but raise what they find
    only from the coroutine they return, as an ``async def`` would: a task made of a bad call
    fails, not its creator."""
    route = zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={}))
    zoom = client(credentials)
    bad_method = zoom.request("GE T", "/users/me")
    bad_retry = zoom.get("/users/me", retry=3)  # type: ignore[arg-type]
    bad_headers = zoom.get("/users/me", headers={"X-A": "b\r\nc"})
    made_while_open = zoom.get("/users/me")
    with pytest.raises(ConfigurationError, match="not an HTTP method"):
        await bad_method
    with pytest.raises(ConfigurationError, match="RetryPolicy"):
        await asyncio.create_task(bad_retry)
    with pytest.raises(ConfigurationError):
        await bad_headers
    # Closed after the call was made, before it was awaited: refused, never sent.
    await zoom.aclose()
    with pytest.raises(ConfigurationError, match="closed"):
        await made_while_open
    assert not route.called


async def test_injected_http_client_is_not_closed(zoom_api, credentials) -> None:
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={}))
    async with httpx.AsyncClient() as http:
        async with client(credentials, http_client=http) as zoom:
            await zoom.get("/users/me")
        assert not http.is_closed


async def test_no_secret_in_repr_logs_or_errors(zoom_api, credentials, caplog, fast_retry) -> None:
    caplog.set_level(logging.DEBUG)
    zoom_api.get(f"{API}/users/me").mock(
        return_value=httpx.Response(401, json={"code": 124, "message": "Invalid access token."})
    )
    zoom = client(credentials, retry=fast_retry)
    with pytest.raises(AuthError) as info:
        await zoom.get("/users/me")
    texts = [repr(zoom), repr(zoom.auth), str(info.value), repr(info.value), caplog.text]
    texts += [f"{k}={v}" for k, v in info.value.headers.items()]
    for text in texts:
        assert CLIENT_SECRET not in text
        assert ACCESS_TOKEN not in text
    await zoom.aclose()


async def test_mutations_of_one_resource_are_serialised(zoom_api, credentials) -> None:
    active = 0
    peak = 0

    async def update(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await anyio.sleep(0.05)
        active -= 1
        return httpx.Response(204)

    zoom_api.patch(f"{API}/users/u1/settings").mock(side_effect=update)
    async with (
        client(credentials, plan="business_plus") as zoom,
        anyio.create_task_group() as tg,
    ):
        for _ in range(5):
            tg.start_soon(lambda: zoom.patch("/users/u1/settings", json={}))
    assert peak == 1


async def test_unknown_paths_use_the_conservative_default(zoom_api, credentials) -> None:
    zoom_api.get(f"{API}/not/in/catalog").mock(return_value=httpx.Response(200, json={}))
    async with client(credentials) as zoom:
        await zoom.get("/not/in/catalog")
        snap = await zoom.limits.snapshot()
    assert snap.lane("Medium").requests == 1


async def test_full_urls_are_accepted(zoom_api, credentials) -> None:
    zoom_api.get(f"{API}/users/me").mock(return_value=httpx.Response(200, json={"id": 1}))
    async with client(credentials) as zoom:
        assert await zoom.get(f"{API}/users/me") == {"id": 1}


def test_endpoints_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOOM_BASE_URL", "http://127.0.0.1:8099/v2/")
    monkeypatch.setenv("ZOOM_TOKEN_URL", "http://127.0.0.1:8099/oauth/token")
    zoom = ZoomClient(account_id="a", client_id="c", client_secret="s")
    assert zoom.base_url == "http://127.0.0.1:8099/v2"
    assert zoom.auth.token_url == "http://127.0.0.1:8099/oauth/token"  # type: ignore[attr-defined]
    explicit = ZoomClient(
        account_id="a", client_id="c", client_secret="s", base_url="https://eu.example/v2"
    )
    assert explicit.base_url == "https://eu.example/v2"
    monkeypatch.delenv("ZOOM_BASE_URL")
    assert ZoomClient(account_id="a", client_id="c", client_secret="s").base_url == (
        "https://api.zoom.us/v2"
    )

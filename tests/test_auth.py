"""Server-to-server and user OAuth: PKCE, code exchange, refresh rotation, token stores."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import anyio
import httpx
import pytest

from tests.conftest import API, CLIENT_SECRET, TOKEN_URL
from zoom_async import (
    AuthError,
    InMemoryTokenStore,
    OAuthToken,
    ServerToServerAuth,
    StaticToken,
    SystemClock,
    UserOAuth,
    ZoomClient,
    ZoomConnectionError,
)

pytestmark = pytest.mark.looptime

REDIRECT = "https://app.example/zoom/callback"


def oauth(**kwargs) -> UserOAuth:
    kwargs.setdefault("clock", SystemClock(start=datetime(2026, 1, 1, tzinfo=UTC)))
    return UserOAuth("client-1", CLIENT_SECRET, REDIRECT, **kwargs)


def test_authorization_url_has_pkce_and_state() -> None:
    request = oauth().authorization_url()
    url = urlparse(request.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.netloc == "zoom.us" and url.path == "/oauth/authorize"
    assert query["response_type"] == "code"
    assert query["client_id"] == "client-1"
    assert query["redirect_uri"] == REDIRECT
    assert query["state"] == request.state and len(request.state) >= 20
    expected = base64.urlsafe_b64encode(hashlib.sha256(request.code_verifier.encode()).digest())
    assert query["code_challenge"] == expected.rstrip(b"=").decode()
    assert query["code_challenge_method"] == "S256"
    assert 43 <= len(request.code_verifier) <= 128
    assert request.code_verifier not in repr(request)
    assert oauth().authorization_url(state="mine").state == "mine"


async def test_exchange_refresh_and_rotation(zoom_api) -> None:
    zoom_api["token"].mock(
        side_effect=[
            httpx.Response(
                200, json={"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3599}
            ),
            httpx.Response(
                200, json={"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3599}
            ),
        ]
    )
    store = InMemoryTokenStore()
    app = oauth(store=store)
    token = await app.exchange_code("the-code", user_key="alice", code_verifier="v" * 50)
    assert token.access_token == "at-1" and (await store.get("alice")) == token
    form = parse_qs(zoom_api["token"].calls[0].request.content.decode())
    assert form == {
        "grant_type": ["authorization_code"],
        "code": ["the-code"],
        "redirect_uri": [REDIRECT],
        "code_verifier": ["v" * 50],
    }
    refreshed = await app.refresh("alice")
    assert refreshed.refresh_token == "rt-2"
    assert (await store.get("alice")).refresh_token == "rt-2"  # the rotated one is persisted
    form = parse_qs(zoom_api["token"].calls[1].request.content.decode())
    assert form == {"grant_type": ["refresh_token"], "refresh_token": ["rt-1"]}
    assert "at-2" not in repr(refreshed) and "rt-2" not in repr(refreshed)


async def test_user_client_refreshes_once_when_due_and_on_401(zoom_api) -> None:
    clock = SystemClock(start=datetime(2026, 1, 1, tzinfo=UTC))
    store = InMemoryTokenStore()
    await store.set(
        "bob",
        OAuthToken("old", expires_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC), refresh_token="rt-0"),
    )
    counter = iter(range(1, 100))

    def issue(request: httpx.Request) -> httpx.Response:
        n = next(counter)
        return httpx.Response(
            200, json={"access_token": f"at-{n}", "refresh_token": f"rt-{n}", "expires_in": 3599}
        )

    zoom_api["token"].mock(side_effect=issue)
    seen: list[str] = []

    def me(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={"id": "bob"})

    zoom_api.get(f"{API}/users/me").mock(side_effect=me)
    app = oauth(store=store, clock=clock)
    async with (
        ZoomClient(auth=app.for_user("bob"), clock=clock) as zoom,
        anyio.create_task_group() as tg,
    ):
        for _ in range(50):
            tg.start_soon(zoom.get, "/users/me")
    assert zoom_api["token"].call_count == 1  # the token was within the margin: one refresh
    assert set(seen) == {"Bearer at-1"}
    assert (await store.get("bob")).refresh_token == "rt-1"


async def test_refused_refresh_says_to_reauthorize(zoom_api) -> None:
    zoom_api["token"].mock(
        return_value=httpx.Response(
            400, json={"reason": "Invalid Token!", "error": "invalid_request"}
        )
    )
    store = InMemoryTokenStore()
    await store.set(
        "carol", OAuthToken("x", expires_at=datetime(2020, 1, 1, tzinfo=UTC), refresh_token="rt")
    )
    with pytest.raises(AuthError, match="authorize the app again") as info:
        await oauth(store=store).refresh("carol")
    assert info.value.step == "refresh"
    assert CLIENT_SECRET not in str(info.value)


async def test_unknown_user_needs_authorization() -> None:
    with pytest.raises(AuthError, match="complete the authorization flow"):
        await oauth().token_for("nobody")


async def test_s2s_token_endpoint_unreachable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    auth = ServerToServerAuth("a", "b", CLIENT_SECRET)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(ZoomConnectionError, match="token endpoint"):
            await auth.get_token(http)


async def test_s2s_retries_token_5xx(zoom_api) -> None:
    zoom_api["token"].mock(
        side_effect=[
            httpx.Response(503),
            httpx.Response(200, json={"access_token": "ok", "expires_in": 3599}),
        ]
    )
    auth = ServerToServerAuth("a", "b", CLIENT_SECRET, token_url=TOKEN_URL)
    async with httpx.AsyncClient() as http:
        assert await auth.get_token(http) == "ok"
    assert auth.token_requests == 1


async def test_s2s_uses_basic_auth_and_account_credentials(zoom_api) -> None:
    auth = ServerToServerAuth("acct", "cid", CLIENT_SECRET)
    async with httpx.AsyncClient() as http:
        await auth.get_token(http)
    request = zoom_api["token"].calls[0].request
    expected = base64.b64encode(f"cid:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["account_credentials"],
        "account_id": ["acct"],
    }
    assert CLIENT_SECRET not in repr(auth)


async def test_static_token() -> None:
    token = StaticToken("abc")
    async with httpx.AsyncClient() as http:
        assert await token.get_token(http) == "abc"
    assert "abc" not in repr(token)

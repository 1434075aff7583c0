"""Operations outside ``/v2``: SCIM2 lives at ``https://api.zoom.us/scim2/...`` (its spec's
server is the API root), and ZoomClient sends it there, typed or raw."""

from __future__ import annotations

import platform

import httpx
import pytest
import respx

import zoom_async
from tests.conftest import client_for
from zoom_async import ZoomClient, catalog
from zoom_async.errors import NotFoundError, ZoomAPIError
from zoom_async.plans import Category
from zoom_async.testing import FakeZoom

pytestmark = pytest.mark.looptime

ROOT = "https://api.zoom.us"


@pytest.mark.parametrize(
    ("base_url", "api_root"),
    [
        (None, "https://api.zoom.us"),
        ("https://api.zoom.us/v2/", "https://api.zoom.us"),
        ("http://127.0.0.1:8080/v2", "http://127.0.0.1:8080"),
        ("https://proxy.example/zoom/v2", "https://proxy.example/zoom"),
        # no /v2 to strip: every operation goes under base_url, SCIM2 included
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://proxy.example/zoom", "https://proxy.example/zoom"),
    ],
)
async def test_api_root_is_base_url_without_v2(
    base_url: str | None, api_root: str, credentials: dict[str, str]
) -> None:
    async with ZoomClient(**credentials, base_url=base_url) as zoom:
        assert zoom.api_root == api_root
        assert zoom.url_for("/scim2/Users") == f"{api_root}/scim2/Users"
        assert zoom.url_for("/users/me") == f"{zoom.base_url}/users/me"


async def test_url_for_routes_by_the_catalog(credentials: dict[str, str]) -> None:
    async with ZoomClient(**credentials) as zoom:
        assert zoom.url_for("/scim2/Users/{userId}", {"userId": "a/b"}) == (
            f"{ROOT}/scim2/Users/a%2Fb"
        )
        assert zoom.url_for(f"{ROOT}/scim2/Groups?startIndex=2") == (
            f"{ROOT}/scim2/Groups?startIndex=2"
        )
        # Clips is under /v2 (pyproject.toml [tool.codegen.servers] says why)
        assert zoom.url_for("/clips/c1") == f"{ROOT}/v2/clips/c1"
        # a path the catalog does not know stays under base_url
        assert zoom.url_for("/scim2/Nothing") == f"{ROOT}/v2/scim2/Nothing"


async def test_raw_verbs_reach_scim2_at_the_root(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    listed = zoom_api.get(f"{ROOT}/scim2/Users").mock(
        return_value=httpx.Response(
            200,
            content=b'{"totalResults":1,"Resources":[{"id":"u1","userName":"a@example.com"}]}',
            headers={"content-type": "application/scim+json;charset=UTF-8"},
        )
    )
    created = zoom_api.post(f"{ROOT}/scim2/Groups").mock(
        return_value=httpx.Response(
            201, json={"id": "g1"}, headers={"content-type": "application/scim+json"}
        )
    )
    async with ZoomClient(**credentials) as zoom:
        users = await zoom.get("/scim2/Users", params={"startIndex": 1, "count": 10})
        assert users["Resources"][0]["id"] == "u1"  # application/scim+json decodes as JSON
        group = await zoom.post(f"{ROOT}/scim2/Groups", json={"displayName": "Sales"})
        assert group == {"id": "g1"}
        # the typed method goes to the same URL
        typed = await zoom.scim2.get_users(start_index=1, count=10)
        assert typed.totalResults == 1 and typed.Resources
        assert typed.Resources[0].userName == "a@example.com"
    request = listed.calls.last.request
    assert request.url.params["startIndex"] == "1"
    # the SCIM2 spec: "set the value of the Accept header as application/scim+json"
    assert request.headers["Accept"] == "application/scim+json"
    assert request.headers["Authorization"].startswith("Bearer ")
    assert created.calls.last.request.headers["Accept"] == "application/scim+json"
    assert listed.call_count == 2


async def test_a_callers_accept_header_wins(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    route = zoom_api.get(f"{ROOT}/scim2/Groups").mock(return_value=httpx.Response(200, json={}))
    async with ZoomClient(**credentials) as zoom:
        await zoom.get("/scim2/Groups", headers={"accept": "application/json"})
    assert route.calls.last.request.headers["Accept"] == "application/json"


async def test_base_url_without_v2_keeps_scim2_under_it(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    scim = zoom_api.get("https://proxy.example/zoom/scim2/Users").mock(
        return_value=httpx.Response(200, json={"Resources": []})
    )
    users = zoom_api.get("https://proxy.example/zoom/users").mock(
        return_value=httpx.Response(200, json={"users": []})
    )
    async with ZoomClient(**credentials, base_url="https://proxy.example/zoom") as zoom:
        assert await zoom.get("/scim2/Users") == {"Resources": []}
        assert await zoom.get("/users", params={"page_size": 1}) == {"users": []}
    assert scim.called and users.called


async def test_scim2_errors_say_their_detail(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    zoom_api.get(f"{ROOT}/scim2/Users/nobody").mock(
        return_value=httpx.Response(
            404,
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "detail": "User does not exist: nobody",
                "status": "404",
            },
            headers={"content-type": "application/scim+json"},
        )
    )
    async with ZoomClient(**credentials) as zoom:
        with pytest.raises(NotFoundError, match="User does not exist: nobody") as caught:
            await zoom.scim2.get_user(user_id="nobody")
    assert isinstance(caught.value, ZoomAPIError)
    assert caught.value.url == f"{ROOT}/scim2/Users/nobody"


async def test_fake_zoom_serves_scim2_at_the_root_with_its_rate_limit() -> None:
    fake = FakeZoom()
    async with client_for(fake) as zoom:
        users = await zoom.get("/scim2/Users")
        assert isinstance(users, dict)
        group = await zoom.scim2.get_group(group_id="g1")
        response = await zoom.send("GET", "/scim2/Users/u1")
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.url == httpx.URL(fake.base_url.removesuffix("/v2") + "/scim2/Users/u1")
    assert group is not None
    paths = [(r.path, r.status, r.category) for r in fake.requests if r.path != "/oauth/token"]
    assert paths == [
        ("/scim2/Users", 200, Category.MEDIUM),
        ("/scim2/Groups/g1", 200, Category.LIGHT),
        ("/scim2/Users/u1", 200, Category.LIGHT),
    ]
    # the client paced them in the same categories as Zoom counts them
    snapshot = await zoom.limits.snapshot()
    assert snapshot.lane(Category.MEDIUM).requests == 1
    assert snapshot.lane(Category.LIGHT).requests == 2
    assert catalog.resolve("GET", "/scim2/Users/u1") is catalog.by_python_name("scim2.get_user")


async def test_fake_zoom_refuses_scim2_under_v2_and_v2_apis_at_the_root() -> None:
    fake = FakeZoom()
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url=fake.base_url.removesuffix("/v2"),
        headers={"Authorization": f"Bearer {fake.access_token()}"},
    ) as raw:
        assert (await raw.get("/v2/scim2/Users")).status_code == 404
        assert (await raw.get("/users/me")).status_code == 404
        assert (await raw.get("/scim2/Users")).status_code == 200
        assert (await raw.get("/v2/clips")).status_code == 200
        assert (await raw.get("/clips")).status_code == 404


async def test_the_sdks_own_client_says_who_it_is(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    route = zoom_api.get(f"{ROOT}/v2/users/me").mock(return_value=httpx.Response(200, json={}))
    async with ZoomClient(**credentials) as zoom:
        await zoom.get("/users/me")
    agent = f"zoom-async/{zoom_async.__version__} (Python {platform.python_version()})"
    assert route.calls.last.request.headers["User-Agent"] == agent
    assert zoom_api["token"].calls.last.request.headers["User-Agent"] == agent


async def test_an_http_client_passed_in_keeps_its_own_user_agent(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    route = zoom_api.get(f"{ROOT}/v2/users/me").mock(return_value=httpx.Response(200, json={}))
    async with (
        httpx.AsyncClient(headers={"User-Agent": "my-app/2.0"}) as http,
        ZoomClient(**credentials, http_client=http) as zoom,
    ):
        await zoom.get("/users/me")
    assert route.calls.last.request.headers["User-Agent"] == "my-app/2.0"

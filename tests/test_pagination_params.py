"""Paging parameters wherever users put them, tokens over counts, bounded empty pages,
collect()."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from tests.conftest import API
from zoom_async import ConfigurationError, ZoomClient
from zoom_async.pagination import Checkpoint, PaginationError

pytestmark = pytest.mark.looptime


def users(*ids: int) -> list[dict[str, Any]]:
    return [{"id": f"u{i}", "email": f"u{i}@example.com"} for i in ids]


def client(credentials) -> ZoomClient:
    return ZoomClient(**credentials)


def query(route, index: int = -1) -> dict[str, str]:
    return dict(route.calls[index].request.url.params.multi_items())


async def test_a_token_on_a_page_the_counts_call_last_is_followed(zoom_api, credentials) -> None:
    pages = {
        None: {"page_count": 1, "page_number": 1, "page_size": 2, "total_records": 6,
               "next_page_token": "t1", "users": users(1, 2)},
        "t1": {"page_count": 1, "page_number": 1, "page_size": 2, "total_records": 6,
               "next_page_token": "t2", "users": users(3, 4)},
        "t2": {"page_count": 1, "page_number": 1, "page_size": 2, "total_records": 6,
               "next_page_token": "", "users": users(5, 6)},
    }  # fmt: skip

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("next_page_token")])

    zoom_api.get(f"{API}/users").mock(side_effect=answer)
    async with client(credentials) as zoom:
        got = [u["id"] async for u in zoom.paginate("/users", page_size=2)]
    assert got == ["u1", "u2", "u3", "u4", "u5", "u6"]


async def test_the_last_numbered_page_hands_over_to_its_token(zoom_api, credentials) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("next_page_token")
        number = int(request.url.params.get("page_number", "1"))
        if token == "more":
            return httpx.Response(200, json={"users": users(5), "next_page_token": ""})
        body = {"page_count": 2, "page_number": number, "page_size": 2, "total_records": 4,
                "users": users(2 * number - 1, 2 * number),
                "next_page_token": "more" if number == 2 else f"n{number}"}  # fmt: skip
        return httpx.Response(200, json=body)

    zoom_api.get(f"{API}/users").mock(side_effect=answer)
    async with client(credentials) as zoom:
        got = [u["id"] async for u in zoom.paginate("/users", page_size=2)]
    assert got == ["u1", "u2", "u3", "u4", "u5"]


async def test_empty_pages_with_fresh_tokens_are_bounded(zoom_api, credentials) -> None:
    served = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal served
        served += 1
        return httpx.Response(200, json={"users": [], "next_page_token": f"t{served}"})

    zoom_api.get(f"{API}/users").mock(side_effect=answer)
    async with client(credentials) as zoom:
        with pytest.raises(PaginationError, match="empty pages in a row") as info:
            await zoom.paginate("/users", max_empty_pages=3).collect()
        assert served == 4
        assert info.value.checkpoint is not None
        served = 0
        with pytest.raises(PaginationError):
            await zoom.paginate("/users").collect()
        assert served == 11
        with pytest.raises(ConfigurationError, match="max_empty_pages"):
            zoom.paginate("/users", max_empty_pages=0)


async def test_an_empty_page_between_full_ones_is_fine(zoom_api, credentials) -> None:
    pages = {
        None: {"users": users(1), "next_page_token": "a"},
        "a": {"users": [], "next_page_token": "b"},
        "b": {"users": users(2), "next_page_token": ""},
    }
    zoom_api.get(f"{API}/users").mock(
        side_effect=lambda r: httpx.Response(200, json=pages[r.url.params.get("next_page_token")])
    )
    async with client(credentials) as zoom:
        assert len(await zoom.paginate("/users", max_empty_pages=1).collect()) == 2


async def test_ending_short_of_total_records_is_said(zoom_api, credentials, caplog) -> None:
    caplog.set_level(logging.WARNING, "zoom_async")
    zoom_api.get(f"{API}/report/users/me/meetings").mock(
        return_value=httpx.Response(
            200, json={"total_records": 5, "meetings": [{"id": 1}], "next_page_token": ""}
        )
    )
    async with client(credentials) as zoom:
        assert len(await zoom.paginate("/report/users/me/meetings").collect()) == 1
    assert "total_records said 5" in caplog.text


# -- where paging parameters come from -------------------------------------------------------


@pytest.fixture
def listing(zoom_api):
    return zoom_api.get(f"{API}/users").mock(
        return_value=httpx.Response(200, json={"users": users(1), "next_page_token": ""})
    )


async def test_a_query_string_in_the_path_is_never_dropped(listing, credentials) -> None:
    async with client(credentials) as zoom:
        await zoom.paginate("/users?status=inactive&page_size=50").collect()
        assert query(listing) == {"status": "inactive", "page_size": "50"}
        await zoom.paginate("/users?status=inactive", params={"role_id": "2"}).collect()
        assert query(listing) == {"status": "inactive", "role_id": "2", "page_size": "300"}


async def test_paging_params_in_params_are_honoured(listing, credentials) -> None:
    async with client(credentials) as zoom:
        await zoom.paginate("/users", params={"page_size": 100, "status": "pending"}).collect()
        assert query(listing) == {"page_size": "100", "status": "pending"}
        await zoom.paginate("/users", params={"next_page_token": "resume-here"}).collect()
        assert query(listing)["next_page_token"] == "resume-here"
        await zoom.paginate("/users?page_number=3", page_size=10).collect()
        assert query(listing) == {"page_number": "3", "page_size": "10"}
        await zoom.paginate("/users", params={"page_size": "20"}, page_size=20).collect()
        assert query(listing)["page_size"] == "20"


@pytest.mark.parametrize(
    ("path", "kwargs", "match"),
    [
        ("/users?page_size=50", {"page_size": 100}, "two page sizes"),
        ("/users?page_size=50", {"params": {"page_size": 60}}, "given twice"),
        ("/users?status=active", {"params": {"status": "inactive"}}, "given twice"),
        ("/users", {"params": {"next_page_token": "x", "page_number": 2}}, "page_number"),
        ("/users", {"params": {"page_size": "many"}}, "page_size"),
        ("/users", {"params": {"page_number": 0}}, "page_number"),
        ("/report/users/me/meetings?page_number=2", {}, "next_page_token only"),
        (
            "/users?next_page_token=x",
            {"checkpoint": Checkpoint(path="/users", page_size=300)},
            "checkpoint",
        ),
        ("/users", {"checkpoint": Checkpoint(path="/users", page_size=30), "page_size": 40}, "30"),
    ],
)
async def test_real_conflicts_are_configuration_errors(
    listing, credentials, path, kwargs, match
) -> None:
    async with client(credentials) as zoom:
        with pytest.raises(ConfigurationError, match=match):
            zoom.paginate(path, **kwargs)
    assert listing.call_count == 0


async def test_request_merges_a_path_query_with_params(listing, credentials) -> None:
    async with client(credentials) as zoom:
        await zoom.get("/users?status=inactive", params={"page_size": 10})
        assert query(listing) == {"status": "inactive", "page_size": "10"}
        await zoom.get(f"{API}/users?status=pending")
        assert query(listing) == {"status": "pending"}
        with pytest.raises(ConfigurationError, match="given twice"):
            await zoom.get("/users?status=a", params={"status": "b"})


# -- collect ---------------------------------------------------------------------------------


async def test_collect_all_or_a_limit(zoom_api, credentials) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("next_page_token") or 0)
        body = {
            "users": users(2 * n + 1, 2 * n + 2),
            "next_page_token": str(n + 1) if n < 4 else "",
        }
        return httpx.Response(200, json=body)

    route = zoom_api.get(f"{API}/users").mock(side_effect=answer)
    async with client(credentials) as zoom:
        assert len(await zoom.paginate("/users", page_size=2).collect()) == 10
        assert route.call_count == 5
        first = await zoom.paginate("/users", page_size=2, prefetch=1).collect(limit=3)
        assert [u["id"] for u in first] == ["u1", "u2", "u3"]
        assert route.call_count <= 5 + 3
        assert await zoom.paginate("/users").collect(limit=0) == []
        with pytest.raises(ConfigurationError, match="limit"):
            await zoom.paginate("/users").collect(limit=-1)

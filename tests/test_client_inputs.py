"""What a caller passes is checked before anything is sent: path parameters, query values,
headers, URLs."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest

from tests.conftest import API
from zoom_async import ConfigurationError, ZoomClient, ZoomConnectionError, ZoomError

pytestmark = pytest.mark.looptime


class Status(enum.Enum):
    ACTIVE = "active"


@pytest.fixture
def any_request(zoom_api):
    """Every request to the API answers 200: the test checks what was (not) sent."""
    return zoom_api.route(url__startswith=API).mock(return_value=httpx.Response(200, json={}))


@pytest.mark.parametrize("value", ["..", ".", "", "  ", None, ["a"], {"a": 1}, object(), 1.5, True])
async def test_bad_path_params_are_refused_before_sending(any_request, credentials, value) -> None:
    async with ZoomClient(**credentials) as zoom:
        for method, path, name in (
            ("GET", "/users/{userId}/meetings", "userId"),
            ("DELETE", "/meetings/{meetingId}", "meetingId"),
        ):
            with pytest.raises(ConfigurationError, match=name):
                await zoom.request(method, path, path_params={name: value})
    assert any_request.call_count == 0


async def test_good_path_params_still_work(any_request, credentials) -> None:
    async with ZoomClient(**credentials, lookup_meeting_hosts=False) as zoom:
        await zoom.get("/users/{userId}/meetings", path_params={"userId": "a@b.com"})
        await zoom.delete("/meetings/{meetingId}", path_params={"meetingId": 123})
        await zoom.get("/meetings/{meetingId}", path_params={"meetingId": "/ab..c=="})
    sent = [call.request.url.raw_path.decode() for call in any_request.calls]
    assert sent == [
        "/v2/users/a@b.com/meetings",
        "/v2/meetings/123",
        "/v2/meetings/%252Fab..c%253D%253D",
    ]


@pytest.mark.parametrize("path", ["/users/../meetings", "/meetings/%2E%2E", "/users/./me"])
async def test_dot_segments_in_a_written_path_are_refused(any_request, credentials, path) -> None:
    async with ZoomClient(**credentials) as zoom:
        with pytest.raises(ConfigurationError, match="segment"):
            await zoom.get(path)
    assert any_request.call_count == 0


@pytest.mark.parametrize("value", [object(), {"a": 1}, b"bytes", float("nan"), [object()]])
async def test_query_values_that_are_not_plain_are_refused(any_request, credentials, value) -> None:
    async with ZoomClient(**credentials) as zoom:
        with pytest.raises(ConfigurationError, match="query parameter 'x'"):
            await zoom.get("/users", params={"x": value})
    assert any_request.call_count == 0


async def test_query_values_are_sent_as_zoom_takes_them(any_request, credentials) -> None:
    params = {
        "status": Status.ACTIVE,
        "from": date(2026, 1, 2),
        "at": datetime(2026, 1, 2, 5, 0, tzinfo=timezone(timedelta(hours=2))),
        "flag": True,
        "n": 3,
        "ids": ["a", "b"],
        "skipped": None,
    }
    async with ZoomClient(**credentials) as zoom:
        await zoom.get("/users", params=params)
    query = dict(any_request.calls.last.request.url.params.multi_items())
    assert query == {
        "status": "active",
        "from": "2026-01-02",
        "at": "2026-01-02T03:00:00Z",
        "flag": "true",
        "n": "3",
        "ids": "b",
    }
    assert any_request.calls.last.request.url.params.get_list("ids") == ["a", "b"]


@pytest.mark.parametrize(
    "headers",
    [{"X-Trace": "a\r\nX-Evil: 1"}, {"X-Trace": "a\nb"}, {"Bad Name": "v"}, {"X-Trace": "\x00"}],
)
async def test_crlf_in_a_header_is_refused_at_once(
    any_request, credentials, fast_retry, headers
) -> None:
    async with ZoomClient(**credentials, retry=fast_retry) as zoom:
        with pytest.raises(ConfigurationError, match="header"):
            await zoom.post("/users", json={}, headers=headers)
    assert any_request.call_count == 0


async def test_a_local_protocol_error_is_never_sent_and_not_retried(
    zoom_api, credentials, fast_retry
) -> None:
    route = zoom_api.post(f"{API}/users").mock(side_effect=httpx.LocalProtocolError("bad"))
    async with ZoomClient(**credentials, retry=fast_retry) as zoom:
        with pytest.raises(ZoomConnectionError) as info:
            await zoom.post("/users", json={})
    assert info.value.may_have_reached_zoom is False
    assert route.call_count == 1


@pytest.mark.parametrize(
    "path", ["/users\r\nX: y", "/users/me\x00", "https://api.zoom.us/v2/users\r\n", "http://[::1"]
)
async def test_control_characters_in_a_path_raise_a_zoom_error(
    any_request, credentials, path
) -> None:
    async with ZoomClient(**credentials) as zoom:
        with pytest.raises(ZoomError):
            await zoom.get(path)
    assert any_request.call_count == 0


def test_path_checks_are_remembered_for_clean_paths_only_and_bounded() -> None:
    from zoom_async import _inputs

    # Only a path with a dot or a percent sign needs its segments read (and is remembered).
    _inputs.check_path("/users/jane.doe@example.com/meetings")
    assert "/users/jane.doe@example.com/meetings" in _inputs._CHECKED_PATHS
    _inputs.check_path("/users/{userId}/meetings")
    assert "/users/{userId}/meetings" not in _inputs._CHECKED_PATHS
    for _ in range(2):  # a refused path is refused again, never remembered
        with pytest.raises(ConfigurationError, match="segment"):
            _inputs.check_path("/users/%2e./meetings")
    assert "/users/%2e./meetings" not in _inputs._CHECKED_PATHS
    for i in range(_inputs._MAX_CHECKED_PATHS + 50):
        _inputs.check_path(f"/users/user.{i}@example.com")
    assert len(_inputs._CHECKED_PATHS) == _inputs._MAX_CHECKED_PATHS
    assert "/users/user-0" not in _inputs._CHECKED_PATHS


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "4096"])
def test_max_response_size_is_a_positive_int_or_none(credentials, bad) -> None:
    with pytest.raises(
        ConfigurationError, match=r"max_response_size must be a positive int \(bytes\)"
    ):
        ZoomClient(**credentials, max_response_size=bad)
    assert ZoomClient(**credentials, max_response_size=None).max_response_size is None
    assert ZoomClient(**credentials, max_response_size=1).max_response_size == 1

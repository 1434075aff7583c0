"""A call's URL from its server's URL parsed once: equal to httpx's parse of the whole."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoom_async import _request_url
from zoom_async._request_url import request_url

SERVERS = [
    "https://api.zoom.us/v2",
    "https://API.Zoom.us:443/v2",
    "http://127.0.0.1:8080/v2",
    "https://[::1]:8443/v2",
    "https://zoom.us",
    "https://api.zoom.us/v2/",
    "https://api.zoom.us/v2?x=1",  # (a path appended lands in its query: left to httpx)
]

_SEGMENT = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
    st.sampled_from([".", "..", "%40", "%4", "%zz", "%", "a%2Fb", "é", "ü%C3", "a b", "{id}"]),
)
_PARAMS = st.none() | st.dictionaries(
    st.text(max_size=6),
    st.one_of(
        st.text(max_size=8),
        st.integers(),
        st.booleans(),
        st.lists(st.text(max_size=4), max_size=3),
    ),
    max_size=4,
)


def _same(built: httpx.URL, expected: httpx.URL) -> None:
    assert str(built) == str(expected)
    assert built.raw_path == expected.raw_path
    assert built._uri_reference == expected._uri_reference  # every component


@settings(max_examples=600, deadline=None)
@given(
    server=st.sampled_from(SERVERS),
    segments=st.lists(_SEGMENT, min_size=1, max_size=5),
    params=_PARAMS,
)
def test_a_call_s_url_is_httpx_s_parse_of_the_whole(
    server: str, segments: list[str], params: dict[str, Any] | None
) -> None:
    path = "/" + "/".join(segments)
    try:
        expected = httpx.URL(server + path, params=params) if params else httpx.URL(server + path)
    except httpx.InvalidURL:
        with pytest.raises(httpx.InvalidURL):
            request_url(server, path, params)
        return
    _same(request_url(server, path, params), expected)


@pytest.mark.parametrize(
    ("path", "params", "parsed"),
    [
        ("/users/abc-DEF_123", None, False),
        ("/users/a%40b.com/meetings", {"page_size": 300, "type": "scheduled"}, False),
        ("/users/a b", None, True),  # quoted by httpx
        ("/users/../accounts", None, True),  # a dot segment, dropped by httpx
        ("/users/50%", None, True),  # a lone "%", quoted by httpx
        ("/users/x", {"q": "a b#c"}, False),  # (params are encoded before: nothing to quote)
    ],
)
def test_only_a_path_httpx_would_change_is_parsed_whole(
    monkeypatch: pytest.MonkeyPatch, path: str, params: dict[str, Any] | None, parsed: bool
) -> None:
    server = "https://api.zoom.us/v2"
    request_url(server, "/warm")  # (the server's URL, parsed once)
    calls = []
    real = httpx.URL

    class Counted(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            calls.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(_request_url.httpx, "URL", Counted)
    built = request_url(server, path, params)
    assert bool(calls) == parsed
    _same(built, real(server + path, params=params) if params else real(server + path))

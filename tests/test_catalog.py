"""The operation catalog (zoom_async.catalog) and its generator (codegen.catalog)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # codegen/ (and an uninstalled zoom_async) live at the root
    sys.path.insert(0, str(ROOT))

from codegen import catalog as gen  # noqa: E402
from tests.conftest import SPECS, needs_specs  # noqa: E402
from zoom_async import catalog  # noqa: E402
from zoom_async.catalog import (  # noqa: E402
    Operation,
    by_operation_id,
    match,
    operations,
    resolve,
)
from zoom_async.plans import Category  # noqa: E402


def _op(method: str, path: str) -> Operation:
    op = resolve(method, path)
    assert op is not None, f"{method} {path} not in the catalog"
    assert op.path == path, op
    return op


# --- coverage -----------------------------------------------------------------------------------


def test_catalog_has_every_operation_lower_bound() -> None:
    ops = operations()
    assert len(ops) > 1700
    assert len({(op.method, op.path) for op in ops}) == len(ops)
    assert len({(op.api, op.operation_id) for op in ops}) == len(ops)
    assert len({op.api for op in ops}) >= 31


@needs_specs
def test_catalog_matches_a_fresh_parse_of_the_specs() -> None:
    expected = set()
    for file in sorted((SPECS / "endpoints").glob("*/*.json")):
        doc = json.loads(file.read_text(encoding="utf-8"))
        for path, item in doc["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "patch", "delete", "head", "options"):
                    expected.add((file.stem, method.upper(), path))
    got = {(op.api, op.method, op.path) for op in operations()}
    assert got == expected


@needs_specs
def test_generated_file_is_up_to_date() -> None:
    text = gen.render(gen.build(gen.load_config()))
    committed = (ROOT / "zoom_async" / "_generated" / "catalog_data.py").read_text(encoding="utf-8")
    assert text == committed, "run: python -m codegen catalog"


def test_every_template_routes_to_itself() -> None:
    for op in operations():
        assert resolve(op.method, op.path) is op


def test_rows_are_consistent() -> None:
    for op in operations():
        assert op.method == op.method.upper()
        assert isinstance(op.category, Category)
        assert op.family == ("phone" if op.path.startswith("/phone/") else "general")
        assert op.pagination in ("next_page_token", "page_number", "both", "none")
        if op.pagination == "none":
            assert op.list_key is None
        assert op.max_page_size is None or op.max_page_size > 0
        assert op.base_path in ("/v2", "")
    ops = operations()
    assert ops == tuple(sorted(ops, key=lambda o: (o.area, o.api, o.path, o.method)))


# --- known operations ---------------------------------------------------------------------------


def test_known_labels_and_paging() -> None:
    user = _op("GET", "/users/{userId}")
    assert (user.api, user.area, user.operation_id) == ("users", "accounts", "user")
    assert user.category is Category.LIGHT and not user.category_defaulted

    meetings = _op("GET", "/users/{userId}/meetings")
    assert meetings.category is Category.MEDIUM
    assert meetings.list_key == "meetings"
    assert meetings.max_page_size == 300
    assert meetings.pagination in ("next_page_token", "both")
    assert meetings.family == "general"

    assert _op("GET", "/metrics/meetings").category is Category.RESOURCE_INTENSIVE

    report = _op("GET", "/report/meetings/{meetingId}/participants")
    assert report.category is Category.HEAVY
    assert report.list_key == "participants"

    calls = _op("GET", "/phone/call_logs")
    assert calls.category is Category.HEAVY
    assert calls.family == "phone"
    assert calls.list_key == "call_logs"

    # a deprecated array next to the real one does not make the list key ambiguous
    assert _op("GET", "/phone/call_history").list_key == "call_history"


def test_defaulted_and_overridden_labels() -> None:
    clip = _op("GET", "/clips/{clipId}")
    assert clip.category_defaulted and clip.category is Category.MEDIUM
    assert clip.base_path == "/v2"  # [tool.codegen.servers] fixes the Clips spec's server
    defaulted = [op for op in operations() if op.category_defaulted]
    assert 0 < len(defaulted) < 40
    assert all(op.category is Category.MEDIUM for op in defaulted)

    # labelled `1` in the spec; pyproject.toml's [tool.codegen.overrides] says Medium
    interaction = _op("POST", "/qm/interactions")
    assert interaction.category is Category.MEDIUM and not interaction.category_defaulted

    # two "Rate Limit Label" lines: the last one counts
    assert _op("POST", "/devices").category is Category.MEDIUM


def test_scim2_base_path() -> None:
    users = _op("GET", "/scim2/Users")
    assert users.base_path == ""
    assert resolve("GET", "https://api.zoom.us/scim2/Users?startIndex=1") is users
    assert _op("GET", "/users").base_path == "/v2"
    outside = {op.api for op in operations() if op.base_path != "/v2"}
    assert outside == {"scim2"}
    assert len([op for op in operations() if op.api == "scim2"]) == 11


# --- routing ------------------------------------------------------------------------------------


def test_literal_segments_win_over_parameters() -> None:
    assert _op("GET", "/users/me/zak").operation_id == "userZak"
    assert resolve("GET", "/users/summary") is by_operation_id("userSummary")
    assert resolve("GET", "/users/email") is by_operation_id("userEmail")
    assert resolve("GET", "/users/abc") is by_operation_id("user", api="users")


def test_parameter_when_the_literal_branch_has_no_route() -> None:
    found = match("GET", "/users/me/meetings")
    assert found is not None
    op, params = found
    assert op.path == "/users/{userId}/meetings"
    assert params == {"userId": "me"}
    # /users/summary has only GET: a DELETE there is the parameter route
    found = match("DELETE", "/users/summary")
    assert found is not None and found[0].path == "/users/{userId}"
    assert found[1] == {"userId": "summary"}


def test_the_direct_walk_finds_what_the_full_search_finds() -> None:
    """_locate() follows literals without recursion and searches only when that leads nowhere:
    for every template filled with values that are also literal segments elsewhere (the case
    where the first path tried is wrong), it agrees with the full backtracking search."""
    literals = ["me", "summary", "email", "settings", "x"]
    for op in catalog.operations():
        for value in literals:
            path = "/".join(value if seg.startswith("{") else seg for seg in op.path.split("/"))
            expected: list[str] = []
            segs = catalog._segments(path)
            found = catalog._walk(catalog._trie(), segs, 0, op.method, expected)
            got = catalog._locate(op.method, path)
            if found is None:
                assert got is None, path
            else:
                assert got == (found[0], found[1], expected), path


def test_parameter_names_belong_to_each_route() -> None:
    assert match("GET", "/phone/metrics/call_logs/abc") == (
        _op("GET", "/phone/metrics/call_logs/{call_id}"),
        {"call_id": "abc"},
    )
    assert match("GET", "/phone/metrics/call_logs/abc/qos") == (
        _op("GET", "/phone/metrics/call_logs/{callId}/qos"),
        {"callId": "abc"},
    )


@pytest.mark.parametrize(
    "path",
    [
        "/users/u1/meetings",
        "users/u1/meetings",
        "/users/u1/meetings/",
        "/v2/users/u1/meetings",
        "v2/users/u1/meetings",
        "/v2/users/u1/meetings/",
        "/users/u1/meetings?page_size=300&next_page_token=abc",
        "/users/u1/meetings/?type=scheduled",
        "/users/u1/meetings#frag",
        "https://api.zoom.us/v2/users/u1/meetings",
        "https://api.zoom.us/v2/users/u1/meetings/?next_page_token=x%2Fy",
        "http://localhost:8080/v2/users/u1/meetings",
    ],
)
def test_path_forms(path: str) -> None:
    found = match("GET", path)
    assert found is not None
    assert found[0] is _op("GET", "/users/{userId}/meetings")
    assert found[1] == {"userId": "u1"}


def test_method_is_case_insensitive() -> None:
    assert resolve("get", "/users/me") is resolve("GET", "/users/me")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/no/such/path"),
        ("GET", "/users/u1/meetings/extra/segments/here"),
        ("GET", ""),
        ("GET", "/"),
        ("GET", "/v2"),
        ("GET", "/users//meetings"),
        ("PUT", "/users/u1/meetings"),  # the route exists, not for PUT
        ("PATCH", "/users/me/zak"),
        ("GET", "https://api.zoom.us/v2/nothing"),
    ],
)
def test_unknown_gives_none(method: str, path: str) -> None:
    assert resolve(method, path) is None
    assert match(method, path) is None


def test_path_params_are_unquoted_once() -> None:
    found = match("GET", "/users/jo%40example.com/meetings")
    assert found is not None and found[1] == {"userId": "jo@example.com"}

    # a double-encoded meeting UUID keeps its %2F in one segment and decodes to the
    # single-encoded form that Zoom expects
    found = match("GET", "/past_meetings/%252FK5mzLhVQhSs%252F%252BAbcw%253D%253D/participants")
    assert found is not None
    op, params = found
    assert op.path == "/past_meetings/{meetingId}/participants"
    assert params == {"meetingId": "%2FK5mzLhVQhSs%2F%2BAbcw%3D%3D"}

    # single-encoded: the %2F still does not split the segment
    found = match("GET", "https://api.zoom.us/v2/past_meetings/a%2Fb%3D%3D/participants?x=1")
    assert found is not None and found[1] == {"meetingId": "a/b=="}

    found = match("DELETE", "/meetings/%2F%2Fabc==/recordings/rec1")
    assert found is not None
    assert found[1] == {"meetingId": "//abc==", "recordingId": "rec1"}


def test_router_is_built_once() -> None:
    catalog._trie.cache_clear()
    for _ in range(5):
        resolve("GET", "/users/me")
        match("GET", "/users/me/meetings")
    info = catalog._trie.cache_info()
    assert info.misses == 1
    assert info.hits >= 9
    assert operations() is operations()


# --- operation ids ------------------------------------------------------------------------------


def test_by_operation_id() -> None:
    assert by_operation_id("userZak").path == "/users/me/zak"
    with pytest.raises(KeyError):
        by_operation_id("noSuchOperation")
    with pytest.raises(KeyError):
        by_operation_id("userZak", api="phone")


def test_duplicate_operation_ids_pick_first_or_by_api() -> None:
    ids: dict[str, list[Operation]] = {}
    for op in operations():
        ids.setdefault(op.operation_id, []).append(op)
    duplicated = {k: v for k, v in ids.items() if len(v) > 1}
    assert "users" in duplicated
    for op_id, ops in duplicated.items():
        assert by_operation_id(op_id) is ops[0]
        for op in ops:
            assert by_operation_id(op_id, api=op.api) is op
    assert by_operation_id("users").path == "/users"
    assert by_operation_id("users", api="contact-center").path == "/contact_center/users"


def test_operation_is_frozen() -> None:
    op = operations()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.path = "/x"  # type: ignore[misc]
    assert not hasattr(op, "__dict__")


# --- the generator, on small synthetic specs -----------------------------------------------------


def _spec(paths: dict[str, object], server: str = "https://api.zoom.us/v2") -> dict[str, object]:
    return {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "2"},
        "servers": [{"url": server}],
        "paths": paths,
    }


def _label(label: str) -> str:
    return f"Does things.\n\n**[Rate Limit Label](https://example/):** `{label}`"


def _write(tmp_path: Path, area: str, api: str, doc: object) -> None:
    folder = tmp_path / "endpoints" / area
    folder.mkdir(parents=True, exist_ok=True)
    text = doc if isinstance(doc, str) else json.dumps(doc)
    (folder / f"{api}.json").write_text(text, encoding="utf-8")


def _config(tmp_path: Path, overrides: dict[str, Category] | None = None) -> gen.Config:
    return gen.Config(tmp_path, Category.MEDIUM, overrides or {})


def test_generator_small_spec(tmp_path: Path) -> None:
    list_schema = {
        "allOf": [
            {"type": "object", "properties": {"next_page_token": {"type": "string"}}},
            {"$ref": "#/components/schemas/Things"},
        ]
    }
    doc = _spec(
        {
            "/things": {
                "get": {
                    "operationId": "listThings",
                    "description": _label("HEAVY") + "\n\n" + _label("LIGHT"),
                    "parameters": [
                        {"in": "query", "name": "next_page_token", "schema": {"type": "string"}},
                        {"$ref": "#/components/parameters/PageSize"},
                    ],
                    "responses": {
                        "200": {"content": {"application/json": {"schema": list_schema}}}
                    },
                },
                "post": {"operationId": "addThing", "description": "No label."},
            },
            "/phone/things/{thingId}": {
                "delete": {"operationId": "delThing", "description": _label("Resource-intensive")}
            },
        }
    )
    doc["components"] = {
        "parameters": {
            "PageSize": {"in": "query", "name": "page_size", "schema": {"maximum": 300}}
        },
        "schemas": {
            "Things": {
                "type": "object",
                "properties": {
                    "things": {"type": "array", "items": {}},
                    "old": {"type": "array", "deprecated": True},
                },
            }
        },
    }
    _write(tmp_path, "workplace", "things", doc)
    result = gen.build(_config(tmp_path))
    rows = {(r.method, r.path): r for r in result.rows}
    listing = rows[("GET", "/things")]
    assert listing.category is Category.LIGHT  # the last label line
    assert (listing.pagination, listing.list_key, listing.max_page_size) == (
        "next_page_token",
        "things",
        300,
    )
    added = rows[("POST", "/things")]
    assert added.category_defaulted and added.category is Category.MEDIUM
    assert result.defaulted == [added]
    deleted = rows[("DELETE", "/phone/things/{thingId}")]
    assert deleted.family == "phone" and deleted.category is Category.RESOURCE_INTENSIVE

    text = gen.render(result)
    assert text.startswith(gen.HEADER + "\n")
    namespace: dict[str, object] = {}
    exec(compile(text, "_catalog_data.py", "exec"), namespace)
    specs = namespace["SPECS"]
    assert isinstance(specs, tuple) and specs[0][:3] == ("workplace", "things", "/v2")
    assert text == gen.render(gen.build(_config(tmp_path)))  # deterministic


def test_generator_fails_loudly(tmp_path: Path) -> None:
    _write(tmp_path, "workplace", "broken", "{not json")
    with pytest.raises(gen.SpecError, match=r"broken\.json"):
        gen.build(_config(tmp_path))


def test_generator_unknown_label_needs_override(tmp_path: Path) -> None:
    doc = _spec({"/qm/x": {"post": {"operationId": "addX", "description": _label("1")}}})
    _write(tmp_path, "business_services", "qm", doc)
    with pytest.raises(gen.SpecError, match="unknown rate limit label '1'"):
        gen.build(_config(tmp_path))
    for key in ("POST /qm/x", "addX"):
        result = gen.build(_config(tmp_path, {key: Category.HEAVY}))
        assert result.rows[0].category is Category.HEAVY
        assert not result.rows[0].category_defaulted
        assert result.overridden == [(result.rows[0], "1")]
    with pytest.raises(gen.SpecError, match="matches no operation"):
        gen.build(_config(tmp_path, {"addX": Category.HEAVY, "GET /nothing": Category.LIGHT}))


def test_generator_rejects_indistinguishable_routes(tmp_path: Path) -> None:
    _write(tmp_path, "a", "one", _spec({"/x/{a}": {"get": {"operationId": "one"}}}))
    _write(tmp_path, "a", "two", _spec({"/x/{b}": {"get": {"operationId": "two"}}}))
    with pytest.raises(gen.SpecError, match="same route"):
        gen.build(_config(tmp_path))


def test_generator_servers(tmp_path: Path) -> None:
    op = {"get": {"operationId": "listThings", "description": _label("Light")}}
    _write(tmp_path, "a", "root", _spec({"/root/things": op}, server="https://api.zoom.us"))
    _write(tmp_path, "a", "slash", _spec({"/slash/things": op}, server="https://api.zoom.us/"))
    _write(tmp_path, "a", "plain", _spec({"/things": op}))
    result = gen.build(_config(tmp_path))
    assert {r.api: r.base_path for r in result.rows} == {"root": "", "slash": "", "plain": "/v2"}
    assert result.servers == []
    assert "operations outside /v2: 2, root 1, slash 1" in gen.report(result, _config(tmp_path))

    fixed = dataclasses.replace(_config(tmp_path), servers={"slash": "https://api.zoom.us/v2"})
    result = gen.build(fixed)
    assert {r.api: r.base_path for r in result.rows} == {"root": "", "slash": "/v2", "plain": "/v2"}
    assert result.servers == [("slash", "https://api.zoom.us/", "https://api.zoom.us/v2")]
    text = gen.render(result)
    assert '("a", "slash", "/v2", (' in text and '("a", "root", "", (' in text

    for servers, error in (
        ({"nothing": "https://api.zoom.us"}, "names no spec"),
        ({"root": "https://api.zoom.us"}, "repeats the spec's own server"),
        ({"root": "https://fileapi.zoom.us/v2"}, "not https://api.zoom.us or"),
        ({"root": "https://api.zoom.us/v3"}, "not https://api.zoom.us or"),
    ):
        with pytest.raises(gen.SpecError, match=error):
            gen.build(dataclasses.replace(_config(tmp_path), servers=servers))
    # a spec's own server that the client cannot route fails too, naming the file
    _write(tmp_path, "a", "elsewhere", _spec({"/x": op}, server="https://zoom.example/v2"))
    with pytest.raises(gen.SpecError, match=r"elsewhere\.json: server"):
        gen.build(_config(tmp_path))


@pytest.mark.parametrize(
    ("description", "host"),
    [
        ("Upload.\n* Base URL: `https://fileapi.zoom.us/v2/`.  \n", "fileapi.zoom.us"),
        ("* The base URL for this API is `https://fileapi.zoom.us/v2/`. ", "fileapi.zoom.us"),
        ("**Note**: * Base URL: https://fileapi.zoom.us/v2.", "fileapi.zoom.us"),
        ("* The base URL for this API's is `https://file.zoom.us/v2/`. ", "file.zoom.us"),
        ("Note: * Base URL - `https://fileapi.zoom.us/v2/`.", "fileapi.zoom.us"),
        # the API host, a URL elsewhere in the text, or no base URL at all: not a file host
        ("All endpoints are at the base URL `https://api.zoom.us/v2/`.", None),
        ("The download URL: https://file.zoom.us/file/abc", None),
        ("Uploads a file. See https://fileapi.zoom.us/v2/fax/files", None),
        ("", None),
    ],
)
def test_file_host_rule(description: str, host: str | None) -> None:
    assert gen.file_host_of(description, "here") == host


def test_file_host_rule_refuses_what_the_client_cannot_route() -> None:
    with pytest.raises(gen.SpecError, match="here: description names base URL https://fileapi"):
        gen.file_host_of("Base URL: `https://fileapi.zoom.us/v3/`", "here")
    with pytest.raises(gen.SpecError, match="not one of the file hosts"):
        gen.file_host_of("Base URL: `https://upload.zoom.us/v2/`", "here")
    with pytest.raises(gen.SpecError, match="several base URLs"):
        gen.file_host_of(
            "Base URL: https://fileapi.zoom.us/v2\nor base URL: https://file.zoom.us/v2", "here"
        )


def test_generator_file_hosts(tmp_path: Path) -> None:
    base = "Upload.\n* Base URL: `https://fileapi.zoom.us/v2/`.\n" + _label("Medium")
    full = (
        "Please use `https://fileapi.zoom.us` instead of `https://api.zoom.us`, the full path is "
    )
    doc = _spec(
        {
            "/up/files": {"post": {"operationId": "upload", "description": base}},
            "/up/fax": {"post": {"operationId": "fax", "description": full + _label("Light")}},
            "/up/{id}": {"get": {"operationId": "get", "description": _label("Light")}},
        }
    )
    _write(tmp_path, "a", "up", doc)
    result = gen.build(_config(tmp_path))
    assert {r.path: r.file_host for r in result.rows} == {
        "/up/files": "fileapi.zoom.us",
        "/up/fax": None,
        "/up/{id}": None,
    }
    fixed = dataclasses.replace(_config(tmp_path), hosts={"POST /up/fax": "fileapi.zoom.us"})
    result = gen.build(fixed)
    assert {r.path: r.file_host for r in result.rows}["/up/fax"] == "fileapi.zoom.us"
    assert [(r.path, source) for r, source in result.file_hosts] == [
        ("/up/fax", "override"),
        ("/up/files", "rule"),
    ]
    lines = list(gen.report(result, fixed))
    assert "operations at a file host: 2" in lines
    assert any("POST /up/fax" in line and "[tool.codegen.hosts]" in line for line in lines)
    assert '"fileapi.zoom.us"),' in gen.render(result)
    # an override can also undo a misread mention
    undo = dataclasses.replace(_config(tmp_path), hosts={"POST /up/files": "api.zoom.us"})
    assert all(r.file_host is None for r in gen.build(undo).rows)
    for hosts, error in (
        ({"GET /nothing": "fileapi.zoom.us"}, "matches no operation"),
        ({"POST /up/files": "fileapi.zoom.us"}, "repeats what the rule reads"),
        ({"POST /up/fax": "upload.zoom.us"}, "unknown host"),
    ):
        with pytest.raises(gen.SpecError, match=error):
            gen.build(dataclasses.replace(_config(tmp_path), hosts=hosts))


def test_generator_no_specs(tmp_path: Path) -> None:
    with pytest.raises(gen.SpecError, match="no specs found"):
        gen.build(_config(tmp_path))


def test_config_from_pyproject() -> None:
    config = gen.load_config()
    assert config.default_category is Category.MEDIUM
    assert config.overrides.get("POST /qm/interactions") is Category.MEDIUM
    assert config.specs == SPECS
    assert config.servers == {"clips": "https://api.zoom.us/v2"}
    assert config.hosts == {
        "POST /fax/files": "fileapi.zoom.us",
        "POST /workspaces/settings/photos": "fileapi.zoom.us",
    }

"""Every operation of the catalog against FakeZoom: the spec's status and a body the spec's
response schema accepts; a request missing a required field gets Zoom's 400; strict mode."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator

from tests.conftest import client_for
from zoom_async import catalog
from zoom_async.errors import ZoomAPIError
from zoom_async.testing import FakeZoom
from zoom_async.testing._schema_answers import build_value, merged, rng_for
from zoom_async.testing._spec import OperationSpec, operation_spec

pytestmark = pytest.mark.looptime


def _fake() -> FakeZoom:
    # Generous limits: the walk is about answers, not pacing (looptime makes waits free anyway).
    return FakeZoom(plan="business_plus", enforce_limits=False)


async def _create(http: httpx.AsyncClient, path: str) -> dict[str, Any]:
    spec = operation_spec("POST", path)
    assert spec is not None
    concrete = path.replace("{userId}", "me")
    r = await http.post("/v2" + concrete, json=request_body(spec))
    assert r.status_code == spec.status, (path, r.text)
    answer: dict[str, Any] = r.json()
    return answer


async def path_values(
    fake: FakeZoom, http: httpx.AsyncClient, op: catalog.Operation
) -> dict[str, str]:
    """A value for each path parameter; real ids (made through the fake's API or its seeding
    helpers) where the fake keeps state for them."""
    values: dict[str, str] = {}
    names = [seg[1:-1] for seg in op.path.split("/") if seg.startswith("{")]
    parent = ""
    for name in names:
        if name == "userId" and op.method == "DELETE" and op.path == "/users/{userId}":
            values[name] = fake.add_user()["id"]
        elif name == "userId":
            values[name] = "me"
        elif name in ("meetingId", "meetingUUID"):
            meeting = fake.add_meetings("me", 1)[0]
            values[name] = str(meeting["id"])
            parent = f"/meetings/{meeting['id']}"
            if "/recordings" in op.path:
                recording = fake.add_recording(meeting["id"])
                if "{recordingId}" in op.path:
                    values["recordingId"] = recording["recording_files"][0]["id"]
        elif name == "webinarId":
            webinar = await _create(http, "/users/{userId}/webinars")
            values[name] = str(webinar["id"])
            parent = f"/webinars/{webinar['id']}"
        elif name == "registrantId" and parent:
            path = parent.split("/")[1] + "/{x}/registrants"
            spec = operation_spec(
                "POST", "/" + path.replace("{x}", "{" + parent.split("/")[1][:-1] + "Id}")
            )
            assert spec is not None
            r = await http.post(f"/v2{parent}/registrants", json=request_body(spec))
            values[name] = str(r.json()["registrant_id"])
        elif name == "groupId" and op.path.startswith("/groups"):
            values[name] = (await _create(http, "/groups"))["id"]
        elif name == "channelId" and op.path.startswith("/chat/"):
            values[name] = (await _create(http, "/chat/users/{userId}/channels"))["id"]
        elif name == "messageId" and op.path.startswith("/chat/users/"):
            values[name] = (await _create(http, "/chat/users/{userId}/messages"))["id"]
        elif name == "callQueueId":
            values[name] = (await _create(http, "/phone/call_queues"))["id"]
        elif name not in values:
            values[name] = f"x{name}"
    return values


def request_body(spec: OperationSpec) -> Any:
    if spec.body is None or spec.body.media_type != "application/json" or not spec.body.schema:
        return None
    return build_value(spec.body.schema, rng_for(1, spec.key, "body"))


def required_query(spec: OperationSpec) -> dict[str, str]:
    out = {}
    for q in spec.query:
        if q.required:
            value = build_value(q.schema, rng_for(1, spec.key, q.name))
            out[q.name] = json.dumps(value) if not isinstance(value, str) else value
            if isinstance(value, bool):
                out[q.name] = "true" if value else "false"
    return out


def response_errors(spec: OperationSpec, response: httpx.Response) -> list[str]:
    if spec.response is None or spec.media_type is not None or response.status_code == 204:
        return []
    try:
        body = response.json()
    except ValueError:
        return [f"not JSON: {response.text[:80]!r}"]
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in Draft7Validator(spec.response).iter_errors(body)
    ][:3]


async def test_every_operation_answers_like_the_spec() -> None:
    fake = _fake()
    statuses: Counter[str] = Counter()
    wrong: list[str] = []
    ops = catalog.operations()
    assert len(ops) == 1719
    origin = fake.base_url.removesuffix("/v2")
    async with (
        client_for(fake) as zoom,
        httpx.AsyncClient(
            transport=fake.transport(),
            base_url=origin,
            headers={"Authorization": f"Bearer {fake.access_token()}"},
        ) as raw,
    ):
        for op in ops:
            spec = operation_spec(op.method, op.path)
            assert spec is not None, op
            url = op.path.format_map(await path_values(fake, raw, op))
            body, params = request_body(spec), required_query(spec)
            try:  # SCIM2 too: ZoomClient sends it to the root, outside /v2
                response = await zoom.send(op.method, url, params=params, json=body)
            except ZoomAPIError as exc:
                wrong.append(f"{op.method} {op.path}: {exc}")
                continue
            assert response.url.path == op.base_path + url
            statuses[fake.requests[-1].answered_by or "?"] += 1
            if response.status_code != spec.status:
                wrong.append(f"{op.method} {op.path}: {response.status_code} {response.text[:200]}")
                continue
            errors = response_errors(spec, response)
            if errors:
                wrong.append(f"{op.method} {op.path}: body {errors}")
    assert not wrong, f"{len(wrong)} operations answer unlike their spec:\n" + "\n".join(wrong[:40])
    assert sum(statuses.values()) == 1719
    assert fake.stats.answered_by["schema"] == statuses["schema"]
    assert sum(fake.stats.schema_only.values()) == statuses["schema"]


def _without_required(spec: OperationSpec) -> tuple[dict[str, str], Any, str] | None:
    """The request with one required thing left out, and what; ``None`` if nothing is required."""
    params = required_query(spec)
    body = request_body(spec)
    if params:
        name = sorted(params)[0]
        return {k: v for k, v in params.items() if k != name}, body, name
    if spec.body is not None and spec.body.media_type == "application/json":
        required = merged(spec.body.schema).get("required") or []
        if required and isinstance(body, dict):
            return params, {k: v for k, v in body.items() if k != required[0]}, required[0]
        if spec.body.required:
            return params, None, "body"
    return None


async def test_a_request_missing_a_required_field_gets_400() -> None:
    fake = _fake()
    checked = 0
    wrong = []
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url=fake.base_url.removesuffix("/v2"),
        headers={"Authorization": f"Bearer {fake.access_token()}"},
    ) as http:
        for op in catalog.operations():
            spec = operation_spec(op.method, op.path)
            assert spec is not None
            cut = _without_required(spec)
            if cut is None:
                continue
            params, body, missing = cut
            url = op.base_path + op.path.format_map(await path_values(fake, http, op))
            response = await http.request(op.method, url, params=params, json=body)
            checked += 1
            answer = response.json() if response.content else None
            if (
                response.status_code != 400
                or not isinstance(answer, dict)
                or answer.get("code") != 300
            ):
                wrong.append(f"{op.method} {op.path} without {missing}: {response.status_code}")
                continue
            fields = [e.get("field", "") for e in answer.get("errors", [])]
            if missing != "body" and not any(f.split(".")[-1] == missing for f in fields):
                wrong.append(f"{op.method} {op.path} without {missing}: errors {fields}")
    assert not wrong, f"{len(wrong)} of {checked}:\n" + "\n".join(wrong[:40])
    assert checked >= 380  # operations with a required query parameter or body field


async def test_strict_mode_answers_501_for_unsimulated_operations() -> None:
    fake = FakeZoom(strict=True)
    async with httpx.AsyncClient(
        transport=fake.transport(),
        base_url=fake.base_url,
        headers={"Authorization": f"Bearer {fake.access_token()}"},
    ) as http:
        r = await http.get("/users/me/settings")
        assert r.status_code == 501
        assert "GET /users/{userId}/settings" in r.json()["message"]
        assert "userSettings" in r.json()["message"]
        assert fake.requests[-1].schema_only and not fake.requests[-1].applied
        assert (await http.get("/users/me")).status_code == 200
        fake.fixture("userSettings", {"feature": {"meeting_capacity": 300}})
        r = await http.get("/users/me/settings")
        assert r.status_code == 200 and r.json()["feature"]["meeting_capacity"] == 300
        assert fake.requests[-1].answered_by == "custom"
    assert fake.stats.schema_only == Counter({"GET /users/{userId}/settings": 1})
    assert fake.stats.answered_by == Counter({"strict": 1, "stateful": 1, "custom": 1})


# -- through the typed methods -------------------------------------------------------------------


def _norm(name: str) -> str:
    return name.replace("_", "").replace("-", "").replace(".", "").lower()


def typed_method(zoom: Any, op: catalog.Operation) -> Any:
    target = zoom
    for part in op.python_name.split("."):
        target = getattr(target, part)
    return target


def typed_kwargs(
    method: Any, path: dict[str, str], query: dict[str, Any], body: Any
) -> tuple[dict[str, Any], list[str]]:
    """Keyword arguments of ``method`` for the raw path/query/body values; the raw names that
    found no parameter."""
    import inspect

    params = [
        p
        for p in inspect.signature(method._method._fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    by_norm = {_norm(p.name.rstrip("_")): p.name for p in params}
    names = {p.name for p in params}
    kwargs: dict[str, Any] = {}
    unmatched: list[str] = []
    for name, value in {**path, **query}.items():
        target = by_norm.get(_norm(name))
        if target is None:
            unmatched.append(name)
        else:
            kwargs[target] = value
    if isinstance(body, dict) and "json_body" not in names:
        # Fields of another anyOf branch than the method's keywords: sent with extra_body=.
        kwargs.update({by_norm[_norm(k)]: v for k, v in body.items() if _norm(k) in by_norm})
        extra = {k: v for k, v in body.items() if _norm(k) not in by_norm}
        if extra:
            kwargs["extra_body"] = extra
    elif body is not None:
        if "json_body" in names:
            kwargs["json_body"] = body
        elif "body" in names:  # a JSON array body
            kwargs["body"] = body
        else:
            unmatched.append("<body>")
    for p in params:  # uploads: file parameters get a small file, form fields a value
        if p.name in kwargs:
            continue
        if "FileContent" in str(p.annotation):
            kwargs[p.name] = ("a.png", b"\x89PNG fake", "image/png")
        elif p.default is inspect.Parameter.empty:
            kwargs[p.name] = 1 if "int" in str(p.annotation) else "1"
    return kwargs, unmatched


TYPED_LAYER_GAPS = {
    # Gaps of the typed layer (issue 12), not of the fake: reported on the team board.
    # The spec's list key is ambiguous, and the paginated method does not choose one.
    "revenue_accelerator.iq.list_conversation_content_analysis": "several lists",
    "revenue_accelerator.conversations.list_content_analysis": "several lists",
    "phone.call_history.list_for_user": "several lists",
    "team_chat.reports.chat_session": "several lists",
}


async def test_every_typed_method_parses_the_fakes_answer() -> None:
    """Each of the 1,719 typed methods, called with the spec's required values, gets the spec's
    status from the fake and parses its answer into the method's response model."""
    fake = _fake()
    wrong: list[str] = []
    calls = 0
    origin = fake.base_url.removesuffix("/v2")
    async with (
        client_for(fake) as zoom,
        httpx.AsyncClient(
            transport=fake.transport(),
            base_url=origin,
            headers={"Authorization": f"Bearer {fake.access_token()}"},
        ) as raw,
    ):
        for op in catalog.operations():
            spec = operation_spec(op.method, op.path)
            assert spec is not None
            method = typed_method(zoom, op)
            query = required_query(spec)
            kwargs, unmatched = typed_kwargs(
                method, await path_values(fake, raw, op), query, request_body(spec)
            )
            if op.python_name in TYPED_LAYER_GAPS:
                continue
            if unmatched:
                wrong.append(f"{op.python_name}: no parameter for {unmatched}")
                continue
            before = len(fake.requests)
            try:
                result = method(**kwargs)
                if hasattr(result, "first_page"):
                    await result.first_page()
                else:
                    await result
            except Exception as exc:
                problem = f"{type(exc).__name__}: {exc}"
                wrong.append(f"{op.python_name} ({op.method} {op.path}): {problem}"[:300])
                continue
            calls += 1
            seen = fake.requests[before:]
            if seen and not seen[-1].path.startswith(op.base_path + op.path.split("{")[0]):
                wrong.append(f"{op.python_name}: sent to {seen[-1].path}")
            elif not seen or seen[-1].status != spec.status:
                wrong.append(f"{op.python_name}: status {seen[-1].status if seen else None}")
    assert not wrong, f"{len(wrong)} typed methods:\n" + "\n".join(wrong[:40])
    assert calls == 1719 - len(TYPED_LAYER_GAPS)
    outside = {r.path.split("/")[1] for r in fake.requests if not r.path.startswith("/v2/")}
    assert outside == {"oauth", "scim2"}  # the token, and SCIM2 at the API root


def test_docs_coverage_table_matches_the_fake() -> None:
    from pathlib import Path

    from zoom_async.testing._handlers import HANDLERS

    keys = {(op.method, op.path) for op in catalog.operations()}
    stateful = len(set(HANDLERS) & keys)
    assert set(HANDLERS) <= keys  # every handler is for a real operation
    text = (Path(__file__).parent.parent / "docs" / "testing.md").read_text()
    assert f"| stateful | {stateful} |" in text
    assert f"| schema-only | {len(keys) - stateful:,} |" in text

"""The typed API: one method per operation, names, calls on the wire, models, pagination."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from conftest import API, SPECS, client_for, needs_specs
from zoom_async import Paginator, ZoomClient, catalog
from zoom_async._generated.api import NAMESPACES
from zoom_async._namespaces import BoundApiMethod, BoundListMethod
from zoom_async.testing import FakeZoom

ROOT = Path(__file__).resolve().parent.parent

# Team Chat file uploads go to the file host their docs name (docs/client.md "Base URLs").
CHAT_FILES = "https://file.zoom.us/v2"
for extra in (ROOT, ROOT / "tests" / "typing"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


def _resolve(zoom: ZoomClient, python_name: str) -> Any:
    target: Any = zoom
    for part in python_name.split("."):
        target = getattr(target, part)
    return target


def _spec_operations() -> list[tuple[str, str, str]]:
    found = []
    for file in sorted((SPECS / "endpoints").glob("*/*.json")):
        doc = json.loads(file.read_text(encoding="utf-8"))
        for path, item in doc["paths"].items():
            for method in item:
                if method in ("get", "post", "put", "patch", "delete"):
                    found.append((file.stem, method.upper(), path))
    return found


# --- one method per operation ----------------------------------------------------------------


@needs_specs
def test_one_typed_method_per_operation_in_the_specs() -> None:
    in_specs = _spec_operations()
    assert len(in_specs) == 1719
    ops = {(op.api, op.method, op.path): op for op in catalog.operations()}
    assert set(ops) == set(in_specs)
    names = Counter(op.python_name for op in ops.values())
    assert len(names) == 1719, [n for n, c in names.items() if c > 1]
    zoom = ZoomClient(account_id="a", client_id="b", client_secret="c")
    methods = set()
    for key in in_specs:
        op = ops[key]
        method = _resolve(zoom, op.python_name)
        assert isinstance(method, BoundApiMethod | BoundListMethod), op.python_name
        assert method.operation is op
        assert method.operation.python_name == op.python_name
        methods.add(id(method._method))
    assert len(methods) == 1719


def test_namespaces_are_listed_and_methods_do_not_hide_them() -> None:
    zoom = ZoomClient(account_id="a", client_id="b", client_secret="c")
    for path in NAMESPACES:
        ns = _resolve(zoom, path)
        assert type(ns).__module__ == NAMESPACES[path]
    assert zoom.phone.call_queues is zoom.phone.call_queues  # created once per client


def test_names_a_person_would_choose() -> None:
    expect = {
        ("POST", "/users/{userId}/meetings"): "meetings.create",
        ("GET", "/users/{userId}/meetings"): "meetings.list",
        ("GET", "/meetings/{meetingId}"): "meetings.get",
        ("PATCH", "/meetings/{meetingId}"): "meetings.update",
        ("DELETE", "/meetings/{meetingId}"): "meetings.delete",
        ("GET", "/users"): "users.list",
        ("GET", "/users/{userId}"): "users.get",
        ("GET", "/users/{userId}/webinars"): "webinars.list",
        ("GET", "/users/{userId}/recordings"): "cloud_recordings.list",
        ("GET", "/meetings/{meetingId}/recordings"): "cloud_recordings.get",
        ("GET", "/report/meetings/{meetingId}/participants"): "reports.meeting_participants",
        ("GET", "/phone/call_queues"): "phone.call_queues.list",
        ("GET", "/phone/call_queues/{callQueueId}"): "phone.call_queues.get",
        ("GET", "/chat/channels/{channelId}"): "team_chat.channels.get",
        ("POST", "/chat/users/{userId}/messages"): "team_chat.messages.send",
        ("GET", "/contact_center/queues"): "contact_center.queues.list",
    }
    for (method, path), name in expect.items():
        op = catalog.resolve(method, path)
        assert op is not None and op.path == path
        assert op.python_name == name, (method, path, op.python_name)
        assert catalog.by_python_name(name) is op


def test_operation_ids_repeated_across_specs_get_distinct_names() -> None:
    by_id: dict[str, list[catalog.Operation]] = {}
    for op in catalog.operations():
        by_id.setdefault(op.operation_id, []).append(op)
    repeated = {k: v for k, v in by_id.items() if len(v) > 1}
    assert len(repeated) >= 20
    for ops in repeated.values():
        assert len({op.python_name for op in ops}) == len(ops)


def test_every_operation_has_a_summary() -> None:
    missing = [op for op in catalog.operations() if not op.summary]
    assert len(missing) < 10, missing[:5]
    assert catalog.by_python_name("meetings.create").summary == "Create a meeting"


def test_method_carries_operation_and_docstring() -> None:
    zoom = ZoomClient(account_id="a", client_id="b", client_secret="c")
    create = zoom.meetings.create
    assert create.operation.category.value == "Light"
    assert create.operation.operation_id == "meetingCreate"
    assert create.__doc__ is not None and create.__doc__.startswith("Create a meeting.")
    assert "POST /users/{userId}/meetings" in create.__doc__
    assert repr(create) == "<typed method zoom.meetings.create>"
    # The unbound descriptor has it too.
    from zoom_async._generated.api.meetings import Meetings

    assert Meetings.create.operation is create.operation


@needs_specs
def test_generated_code_is_up_to_date() -> None:
    from codegen import api as gen

    assert gen.main(["--check"]) == 0, "run: python -m codegen api"


# --- end to end against FakeZoom ---------------------------------------------------------------


async def test_users_and_meetings_crud_through_typed_methods() -> None:
    fake = FakeZoom()
    fake.add_users(3)
    async with client_for(fake) as zoom:
        me = await zoom.users.get(user_id="me")
        assert me.email and me.id
        users = [u async for u in zoom.users.list(page_size=2)]
        assert len(users) == 4
        assert all(u.email for u in users)

        meeting = await zoom.meetings.create(user_id="me", topic="Sync", type=2, duration=30)
        assert meeting.id is not None and meeting.topic == "Sync"
        assert meeting.join_url and meeting.join_url.startswith("https://")
        got = await zoom.meetings.get(meeting_id=meeting.id)
        assert got.topic == "Sync" and got.duration == 30

        await zoom.meetings.update(meeting_id=meeting.id, topic="Sync (moved)")
        assert (await zoom.meetings.get(meeting_id=meeting.id)).topic == "Sync (moved)"

        first = await zoom.meetings.list(user_id="me")
        assert [m.id for m in first.items] == [meeting.id]
        assert first.items[0].topic == "Sync (moved)"
        listed = [m async for m in zoom.meetings.list(user_id="me", type="scheduled")]
        assert [m.id for m in listed] == [meeting.id]

        raw = await zoom.meetings.get.with_raw_response(meeting_id=meeting.id)
        assert isinstance(raw, httpx.Response) and raw.json()["topic"] == "Sync (moved)"
        raw_items = [m async for m in zoom.meetings.list.with_raw_response(user_id="me")]
        assert isinstance(raw_items[0], dict)

        assert await zoom.meetings.delete(meeting_id=meeting.id) is None
        assert [m async for m in zoom.meetings.list(user_id="me")] == []


async def test_report_through_typed_methods() -> None:
    fake = FakeZoom()
    async with client_for(fake) as zoom:
        me = await zoom.users.get(user_id="me")
        assert me.id is not None
        # An hour apart from midnight: all three on today's date whatever the time of day
        # (from now, the third fell on tomorrow after 22:00 UTC).
        midnight = fake.clock.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        fake.add_meetings(me.id, 3, start=midnight)
        today = midnight.date()
        pager = zoom.reports.user_meetings(user_id="me", from_=today, to=today, page_size=2)
        assert isinstance(pager, Paginator)
        rows = [row async for row in pager]
        assert len(rows) == 3
        assert all(row.topic for row in rows)


# --- the wire: names, values, bodies, uploads, downloads ------------------------------------


async def test_python_names_go_out_as_zoom_names(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    route = zoom_api.get(f"{API}/users/me/recordings").mock(
        return_value=httpx.Response(
            200,
            json={
                "from": "2026-11-01",
                "to": "2026-11-30",
                "next_page_token": "",
                "meetings": [
                    {
                        "uuid": "abc==",
                        "topic": "Sync",
                        "recording_files": [{"id": "f1", "file_size": 12, "file_type": "MP4"}],
                        "a_field_zoom_adds_tomorrow": {"x": 1},
                    }
                ],
            },
        )
    )
    async with ZoomClient(**credentials) as zoom:
        page = await zoom.cloud_recordings.list(user_id="me", from_=date(2026, 11, 1), trash=True)
    request = route.calls.last.request
    assert request.url.params["from"] == "2026-11-01"
    assert request.url.params["trash"] == "true"
    assert "from_" not in request.url.params
    recording = page.items[0]
    assert recording.topic == "Sync"
    assert recording.recording_files is not None
    assert recording.recording_files[0].file_size == 12
    assert recording.model_extra == {"a_field_zoom_adds_tomorrow": {"x": 1}}
    assert page.raw["meetings"][0]["uuid"] == "abc=="


async def test_phone_call_with_path_query_and_body(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    route = zoom_api.patch(f"{API}/phone/call_queues/cq1").mock(return_value=httpx.Response(204))
    listing = zoom_api.get(f"{API}/phone/call_queues").mock(
        return_value=httpx.Response(
            200,
            json={
                "call_queues": [{"id": "cq1", "name": "Support", "extension_number": 100}],
                "next_page_token": "",
                "total_records": 1,
            },
        )
    )
    async with ZoomClient(**credentials) as zoom:
        queues = [q async for q in zoom.phone.call_queues.list(site_id="s1")]
        assert queues[0].name == "Support" and queues[0].id == "cq1"
        assert listing.calls.last.request.url.params["site_id"] == "s1"
        result = await zoom.phone.call_queues.update(
            call_queue_id="cq1", name="Support (EU)", extra_body={"undocumented": True}
        )
    assert result is None
    assert json.loads(route.calls.last.request.content) == {
        "name": "Support (EU)",
        "undocumented": True,
    }


async def test_typed_calls_skip_the_catalog_lookup(
    zoom_api: respx.MockRouter, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typed method hands its operation to the client (and a typed listing to its paginator
    and each page): nothing looks the path up in the catalog."""
    looked_up: list[tuple[str, str]] = []

    def no_lookup(method: str, path: str) -> None:
        looked_up.append((method, path))
        raise AssertionError(f"catalog lookup of {method} {path}")

    zoom_api.get(f"{API}/users/u1").mock(return_value=httpx.Response(200, json={"id": "u1"}))
    update = zoom_api.patch(f"{API}/phone/call_queues/cq1").mock(return_value=httpx.Response(204))
    zoom_api.get(f"{API}/phone/call_queues").mock(
        side_effect=[
            httpx.Response(200, json={"call_queues": [{"id": "a"}], "next_page_token": "t2"}),
            httpx.Response(200, json={"call_queues": [{"id": "b"}], "next_page_token": ""}),
        ]
    )
    async with ZoomClient(**credentials, serialize_mutations=True) as zoom:
        monkeypatch.setattr(catalog, "match", no_lookup)
        monkeypatch.setattr(catalog, "resolve", no_lookup)
        assert (await zoom.users.get(user_id="u1")).id == "u1"
        assert await zoom.phone.call_queues.update(call_queue_id="cq1", name="EU") is None
        pager = zoom.phone.call_queues.list(page_size=1)
        assert [q.id async for q in pager] == ["a", "b"]
        assert pager.operation is zoom.phone.call_queues.list.operation
    assert looked_up == []
    assert update.called


async def test_team_chat_message_and_file_upload(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    sent = zoom_api.post(f"{API}/chat/users/me/messages").mock(
        return_value=httpx.Response(201, json={"id": "msg-1"})
    )
    upload = zoom_api.post(f"{CHAT_FILES}/chat/users/me/files").mock(
        return_value=httpx.Response(201, json={"id": "file-1"})
    )
    async with ZoomClient(**credentials) as zoom:
        message = await zoom.team_chat.messages.send(
            user_id="me", message="hello", to_channel="ch1"
        )
        assert message.id == "msg-1"
        file = await zoom.team_chat.files.upload(user_id="me", file=("notes.txt", b"hi there"))
        assert file.id == "file-1"
    assert json.loads(sent.calls.last.request.content) == {"message": "hello", "to_channel": "ch1"}
    request = upload.calls.last.request
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'filename="notes.txt"' in request.content and b"hi there" in request.content


async def test_binary_download_returns_bytes(
    zoom_api: respx.MockRouter, credentials: dict[str, str]
) -> None:
    op = catalog.by_python_name("clips.get_download")
    assert op.base_path == "/v2"
    zoom_api.get("https://api.zoom.us/v2/clips/c1/download").mock(
        return_value=httpx.Response(
            200, content=b"\x00\x01mp4", headers={"content-type": "application/octet-stream"}
        )
    )
    async with ZoomClient(**credentials) as zoom:
        data = await zoom.clips.get_download(clip_id="c1")
    assert data == b"\x00\x01mp4"


async def test_the_typed_user_file_runs() -> None:
    from typed_calls import main  # tests/typing/typed_calls.py, type-checked by mypy

    assert await main() == ["Sync", "Sync", "Light"]


def test_namespaces_and_models_import_lazily() -> None:
    code = """
import sys, zoom_async
loaded = lambda prefix: sorted(m for m in sys.modules if m.startswith(prefix))
print(loaded("zoom_async._generated."))
zoom = zoom_async.ZoomClient(account_id="a", client_id="b", client_secret="c")
zoom.phone.call_queues
print(loaded("zoom_async._generated."))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    at_import, after_use = done.stdout.splitlines()
    assert at_import == "['zoom_async._generated.api']"
    assert after_use == str(
        [
            "zoom_async._generated.api",
            "zoom_async._generated.api.phone",
            "zoom_async._generated.api.phone.call_queues",
        ]
    )


def test_public_models_path_is_lazy_and_gives_the_same_classes() -> None:
    code = """
import sys
loaded = lambda: sorted(m for m in sys.modules if ".models" in m and m.startswith("zoom_async."))
import zoom_async
print(loaded())
import zoom_async.models
print(loaded())
from zoom_async.models.meetings import MeetingsGetResponse
print(loaded())
print(zoom_async.models.phone.call_queues.__name__)
from zoom_async._generated.models import meetings
from zoom_async._namespaces import response_model
print(MeetingsGetResponse is meetings.MeetingsGetResponse is response_model("meetings.get"))
print(zoom_async.models.ZoomModel.__name__, "meetings" in dir(zoom_async.models))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    at_import, package, one, nested, same, base = done.stdout.splitlines()
    assert at_import == "[]"
    assert package == "['zoom_async.models']"
    assert one == str(
        [
            "zoom_async._generated.models",
            "zoom_async._generated.models.meetings",
            "zoom_async.models",
            "zoom_async.models.meetings",
        ]
    )
    assert nested == "zoom_async.models.phone.call_queues"
    assert same == "True"
    assert base == "ZoomModel True"


def test_every_namespace_has_a_public_models_module() -> None:
    import importlib

    import zoom_async.models

    for path in NAMESPACES:
        public = importlib.import_module(f"zoom_async.models.{path}")
        generated = importlib.import_module(f"zoom_async._generated.models.{path}")
        assert public.__all__ == generated.__all__
        assert all(getattr(public, name) is getattr(generated, name) for name in public.__all__)
    with pytest.raises(AttributeError):
        _ = zoom_async.models.no_such_namespace


def test_from_an_operation_to_its_method_and_models() -> None:
    from zoom_async._generated.models.meetings import (
        MeetingsCreateResponse,
        MeetingsListItem,
        MeetingsListPage,
    )
    from zoom_async._namespaces import ListMethod, method_for, response_model

    op = catalog.by_python_name("meetings.create")
    assert method_for(op.python_name).operation is op
    assert response_model("meetings.create") is MeetingsCreateResponse
    assert response_model("meetings.create", item=True) is None
    assert isinstance(method_for("meetings.list"), ListMethod)
    assert response_model("meetings.list") is MeetingsListPage
    assert response_model("meetings.list", item=True) is MeetingsListItem
    assert response_model("meetings.delete") is None
    with pytest.raises(KeyError):
        method_for("meetings.nope")


async def test_recordings_phone_and_team_chat_against_fakezoom() -> None:
    fake = FakeZoom()
    async with client_for(fake) as zoom:
        meeting = await zoom.meetings.create(user_id="me", topic="Recorded", type=2)
        assert meeting.id is not None
        fake.add_recording(meeting.id, files=2)
        recording = await zoom.cloud_recordings.get(meeting_id=meeting.id)
        assert recording.topic == "Recorded"
        assert recording.recording_files is not None and len(recording.recording_files) == 2
        assert all(f.download_url for f in recording.recording_files)
        today = fake.clock.utcnow().date()
        listed = [r async for r in zoom.cloud_recordings.list(user_id="me", from_=today)]
        assert [r.topic for r in listed] == ["Recorded"]

        queue = await zoom.phone.call_queues.create(name="Support", site_id="s1")
        assert queue.id and queue.name == "Support"
        assert (await zoom.phone.call_queues.get(call_queue_id=queue.id)).name == "Support"
        await zoom.phone.call_queues.update(call_queue_id=queue.id, name="Support (EU)")
        names = [q.name async for q in zoom.phone.call_queues.list()]
        assert "Support (EU)" in names
        assert zoom.phone.call_queues.list.operation.family == "phone"

        channel = await zoom.team_chat.channels.create(user_id="me", name="general", type=1)
        assert channel.id and channel.name == "general"
        got = await zoom.team_chat.channels.get(channel_id=channel.id)
        assert got.name == "general"
        sent = await zoom.team_chat.messages.send(
            user_id="me", message="hello", to_channel=channel.id
        )
        assert sent.id
        message = await zoom.team_chat.messages.get(
            user_id="me", message_id=sent.id, to_channel=channel.id
        )
        assert message.message == "hello"


def test_every_generated_module_says_do_not_edit() -> None:
    generated = ROOT / "zoom_async" / "_generated"
    files = sorted(generated.rglob("*.py")) + sorted((ROOT / "zoom_async" / "models").rglob("*.py"))
    assert len(files) > 720
    for path in files:
        head = path.read_text(encoding="utf-8")[:300]
        assert "DO NOT EDIT" in head, path


async def test_typed_list_resumes_from_its_own_checkpoint_and_takes_page_size_from_params(
    credentials: dict[str, str],
) -> None:
    # The typed methods and paginate() are one mechanism: a page size the endpoint caps below
    # 300 (contacts groups: 50) is the checkpoint's, and a page_size in extra_query is honoured.
    async with ZoomClient(**credentials) as zoom:
        first = zoom.contacts.list_groups()
        resumed = zoom.contacts.list_groups(checkpoint=first.checkpoint)
        assert resumed.page_size == first.page_size == first.checkpoint.page_size
        assert zoom.users.list(extra_query={"page_size": 50}).page_size == 50

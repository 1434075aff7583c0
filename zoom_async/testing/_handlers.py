"""The endpoints the fake implements with real data; every other catalog operation answers
``200 {}``.

Handlers are keyed by the catalog's ``(method, path template)`` and get the path parameters the
catalog matched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from ._paging import PageTokens, paginate
from ._recording_files import PLACEHOLDER_ORIGIN, with_origin
from ._resources import resource_handlers
from ._responses import Reply, ZoomHTTPError, json_reply, validation_error
from ._store import Store, check_meeting_body

__all__ = ["HANDLERS", "MEETING_MUTATIONS", "Call", "Handler", "meeting_host"]

T = TypeVar("T")


@dataclass
class Call:
    """One API request, as the handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: bytes
    me: str
    """The token's user id; ``""`` for Server-to-Server tokens (the account owner)."""
    now: float
    utc: datetime
    store: Store
    tokens: PageTokens
    max_page_size: int
    origin: str = PLACEHOLDER_ORIGIN
    """Scheme and host the client reached the fake at (``http://127.0.0.1:PORT``)."""

    def json(self) -> Any:
        """The JSON body; Zoom's 400/300 when it is not JSON."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ZoomHTTPError(400, 300, "Request Body should be a valid JSON object.") from None


Handler = Callable[[Call], Reply]


def _page(
    call: Call,
    name: str,
    key: str,
    items: Sequence[tuple[int, T]],
    *,
    numbers: bool,
    head: dict[str, Any] | None = None,
    render: Callable[[T], dict[str, Any]] | None = None,
) -> Reply:
    """One page of ``items`` under ``key``, with the paging fields (``page_number`` if
    ``numbers``: the endpoint also pages by number). ``render`` turns the served items into
    answer objects, so a listing of records copies one page, not the whole account."""
    page = paginate(
        call.query,
        items,
        tokens=call.tokens,
        listing=name,
        now=call.now,
        max_page_size=call.max_page_size,
        page_numbers=numbers,
    )
    fields = dict(page.fields)
    if not numbers:
        del fields["page_number"]
    served = page.items if render is None else [render(item) for item in page.items]
    return Reply(200, {**(head or {}), **fields, key: served})


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = query.get(name) or default
    if value not in allowed:
        raise validation_error(name)
    return value


def _date_range(query: Mapping[str, str]) -> tuple[date, date]:
    out = []
    for name in ("from", "to"):
        raw = query.get(name)
        if not raw:
            raise validation_error(name, f"The {name} field is required.")
        out.append(_report_date(name, raw))
    start, end = out
    if end < start:
        raise validation_error("to", "The to date must not be before the from date.")
    if end - start > timedelta(days=31):
        raise ZoomHTTPError(400, 300, "The date range must be one month or less.")
    return start, end


def _report_date(name: str, raw: str) -> date:
    """A report's ``from``/``to``: ``2025-08-01``, as Zoom documents, or a date and time
    (``2025-08-01 10:00:00``, ``2025-08-01T10:00:00Z``), which Zoom accepts and cuts to the day."""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
    except ValueError:
        raise validation_error(name, f"The {name} field must be a date (yyyy-mm-dd).") from None


# -- users -------------------------------------------------------------------------------------


def list_users(call: Call) -> Reply:
    status = _choice(call.query, "status", ("active", "inactive", "pending"), "active")
    role = call.query.get("role_id") or None
    users = [
        (u.seq, u)
        for u in call.store.users_in_order()
        if u.data["status"] == status and (role is None or u.data["role_id"] == role)
    ]
    return _page(
        call, f"users:{status}:{role}", "users", users, numbers=True, render=call.store.user_summary
    )


def create_user(call: Call) -> Reply:
    body = call.json()
    if not isinstance(body, dict):
        raise ZoomHTTPError(400, 300, "Request Body should be a valid JSON object.")
    action = body.get("action")
    if action not in ("create", "autoCreate", "custCreate", "ssoCreate"):
        raise validation_error("action")
    info = body.get("user_info")
    if not isinstance(info, dict):
        raise validation_error("user_info")
    email = info.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 128:
        raise validation_error("user_info.email")
    user_type = info.get("type")
    if user_type not in (1, 2, 4, 99):
        raise validation_error("user_info.type")
    for name in ("first_name", "last_name"):
        if name in info and (not isinstance(info[name], str) or len(info[name]) > 64):
            raise validation_error(f"user_info.{name}")
    if call.store.email_taken(email):
        raise ZoomHTTPError(409, 1005, f"User already in the account: {email}")
    rec = call.store.new_user(
        call.utc,
        email=email,
        first_name=info.get("first_name", ""),
        last_name=info.get("last_name", ""),
        user_type=user_type,
        status="pending" if action == "create" else "active",
    )
    data = rec.data
    call.store.emit("user.created", call.store.user_summary(rec))
    return Reply(201, {k: data[k] for k in ("id", "first_name", "last_name", "email", "type")})


def get_user(call: Call) -> Reply:
    return json_reply(200, call.store.user_or_404(call.params["userId"], call.me).data)


_USER_FIELDS_READ_ONLY = frozenset({"id", "email", "account_id", "created_at", "status"})


def update_user(call: Call) -> Reply:
    rec = call.store.user_or_404(call.params["userId"], call.me)
    body = call.json()
    if not isinstance(body, dict):
        raise ZoomHTTPError(400, 300, "Request Body should be a valid JSON object.")
    changes = {k: v for k, v in body.items() if k not in _USER_FIELDS_READ_ONLY}
    old = {k: rec.data.get(k) for k in changes}
    rec.data.update(changes)
    if ("first_name" in changes or "last_name" in changes) and "display_name" not in changes:
        name = f"{rec.data['first_name']} {rec.data['last_name']}".strip()
        old["display_name"], rec.data["display_name"] = rec.data["display_name"], name
        changes["display_name"] = name
    call.store.emit("user.updated", {"id": rec.id, **changes}, old={"id": rec.id, **old})
    return Reply(204)


def delete_user(call: Call) -> Reply:
    rec = call.store.user_or_404(call.params["userId"], call.me)
    if rec.id == call.store.owner_id:
        raise ZoomHTTPError(400, 1107, "The account owner cannot be deleted.")
    action = _choice(call.query, "action", ("disassociate", "delete"), "disassociate")
    call.store.delete_user(rec)
    event = "user.deleted" if action == "delete" else "user.disassociated"
    call.store.emit(event, call.store.user_summary(rec))
    return Reply(204)


# -- meetings ----------------------------------------------------------------------------------


def create_meeting(call: Call) -> Reply:
    host = call.store.user_or_404(call.params["userId"], call.me)
    body = check_meeting_body(call.json())
    rec = call.store.new_meeting(host, body, call.utc)
    call.store.emit("meeting.created", call.store.meeting_detail(rec))
    return Reply(201, call.store.meeting_detail(rec))


def get_meeting(call: Call) -> Reply:
    return json_reply(200, call.store.meeting_or_404(call.params["meetingId"]).data)


def update_meeting(call: Call) -> Reply:
    rec = call.store.meeting_or_404(call.params["meetingId"])
    body = check_meeting_body(call.json())
    old = call.store.meeting_detail(rec)
    call.store.update_meeting(rec, body)
    changed = {k: rec.data[k] for k in body if k in rec.data}
    call.store.emit(
        "meeting.updated",
        {"id": rec.id, "uuid": rec.data["uuid"], **changed},
        old={"id": rec.id, "uuid": rec.data["uuid"], **{k: old.get(k) for k in changed}},
    )
    return Reply(204)


def delete_meeting(call: Call) -> Reply:
    rec = call.store.meeting_or_404(call.params["meetingId"])
    call.store.delete_meeting(rec)
    call.store.emit("meeting.deleted", call.store.meeting_summary(rec))
    return Reply(204)


def list_meetings(call: Call) -> Reply:
    host = call.store.user_or_404(call.params["userId"], call.me)
    kind = _choice(
        call.query,
        "type",
        ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"),
        "scheduled",
    )
    meetings = call.store.meetings_in_order(host.id)
    if kind == "live":
        meetings = []
    elif kind in ("upcoming", "upcoming_meetings"):
        meetings = [m for m in meetings if m.start >= call.utc]
    elif kind == "previous_meetings":
        meetings = [m for m in meetings if m.start < call.utc]
    items = [(m.seq, call.store.meeting_summary(m)) for m in meetings]
    return _page(call, f"meetings:{host.id}:{kind}", "meetings", items, numbers=True)


def past_participants(call: Call) -> Reply:
    rec = call.store.meeting_or_404(call.params["meetingId"])
    return _page(
        call, f"participants:{rec.id}", "participants", list(rec.participants), numbers=False
    )


def past_meeting(call: Call) -> Reply:
    rec = call.store.meeting_or_404(call.params["meetingId"])
    return Reply(200, call.store.report_entry(rec))


# -- cloud recordings --------------------------------------------------------------------------


def _recording_or_404(call: Call) -> tuple[Any, dict[str, Any]]:
    meeting = call.store.find_meeting(call.params["meetingId"])
    recording = None if meeting is None else call.store.recordings.get(meeting.id)
    if meeting is None or recording is None:
        raise ZoomHTTPError(404, 3301, "There is no recording for this meeting.")
    return meeting, recording


def get_recording(call: Call) -> Reply:
    return Reply(200, with_origin(_recording_or_404(call)[1], call.origin))


def delete_recording(call: Call) -> Reply:
    meeting, recording = _recording_or_404(call)
    action = _choice(call.query, "action", ("trash", "delete"), "trash")
    del call.store.recordings[meeting.id]
    call.store.emit("recording.trashed" if action == "trash" else "recording.deleted", recording)
    return Reply(204)


def delete_recording_file(call: Call) -> Reply:
    _, recording = _recording_or_404(call)
    files = recording.get("recording_files") or []
    kept = [f for f in files if f.get("id") != call.params["recordingId"]]
    if len(kept) == len(files):
        raise ZoomHTTPError(404, 3301, "There is no recording for this meeting.")
    recording["recording_files"] = kept
    recording["recording_count"] = len(kept)
    return Reply(204)


def list_recordings(call: Call) -> Reply:
    host = call.store.user_or_404(call.params["userId"], call.me)
    today = call.utc.date()
    start = _report_date("from", call.query["from"]) if call.query.get("from") else today
    end = _report_date("to", call.query["to"]) if call.query.get("to") else today
    if end < start:
        raise validation_error("to", "The to date must not be before the from date.")
    items = []
    for m in call.store.meetings_in_order(host.id):
        recording = call.store.recordings.get(m.id)
        if recording is not None and start <= m.start.date() <= end:
            items.append((m.seq, with_origin(recording, call.origin)))
    head = {"from": start.isoformat(), "to": end.isoformat()}
    name = f"recordings:{host.id}:{start}:{end}"
    return _page(call, name, "meetings", items, numbers=False, head=head)


# -- Zoom Phone users --------------------------------------------------------------------------


def list_phone_users(call: Call) -> Reply:
    users = [(u.seq, u) for u in call.store.users_in_order() if u.data["status"] == "active"]
    return _page(call, "phone_users", "users", users, numbers=False, render=call.store.phone_user)


def get_phone_user(call: Call) -> Reply:
    user = call.store.user_or_404(call.params["userId"], call.me)
    return Reply(200, call.store.phone_user(user))


def update_phone_user(call: Call) -> Reply:
    user = call.store.user_or_404(call.params["userId"], call.me)
    body = call.json()
    if not isinstance(body, dict):
        raise ZoomHTTPError(400, 300, "Request Body should be a valid JSON object.")
    profile = call.store.phone_profile(user)
    for key, value in body.items():
        if key in ("id", "email"):
            continue
        if isinstance(profile.get(key), int) and isinstance(value, str) and value.isdigit():
            value = int(value)  # sent as a string, read back as Zoom stores it
        profile[key] = value
    return Reply(204)


# -- reports and dashboards --------------------------------------------------------------------


def report_meetings(call: Call) -> Reply:
    host = call.store.user_or_404(call.params["userId"], call.me)
    start, end = _date_range(call.query)
    kind = _choice(call.query, "type", ("past", "pastOne", "pastJoined"), "past")
    items = [
        (m.seq, call.store.report_entry(m))
        for m in call.store.meetings_in_order(host.id)
        if start <= m.start.date() <= end
    ]
    head = {"from": start.isoformat(), "to": end.isoformat()}
    name = f"report:{host.id}:{start}:{end}:{kind}"
    return _page(call, name, "meetings", items, numbers=False, head=head)


def dashboard_meetings(call: Call) -> Reply:
    start, end = _date_range(call.query)
    kind = _choice(call.query, "type", ("live", "past", "pastOne", "pastJoined"), "live")
    items = [
        (m.seq, call.store.metrics_entry(m))
        for m in call.store.meetings_in_order()
        if start <= m.start.date() <= end
    ]
    head = {"from": start.isoformat(), "to": end.isoformat()}
    name = f"metrics:{start}:{end}:{kind}"
    return _page(call, name, "meetings", items, numbers=False, head=head)


HANDLERS: dict[tuple[str, str], Handler] = {
    ("GET", "/users"): list_users,
    ("POST", "/users"): create_user,
    ("GET", "/users/{userId}"): get_user,
    ("GET", "/users/{userId}/meetings"): list_meetings,
    ("POST", "/users/{userId}/meetings"): create_meeting,
    ("GET", "/meetings/{meetingId}"): get_meeting,
    ("PATCH", "/meetings/{meetingId}"): update_meeting,
    ("DELETE", "/meetings/{meetingId}"): delete_meeting,
    ("GET", "/past_meetings/{meetingId}/participants"): past_participants,
    ("GET", "/report/users/{userId}/meetings"): report_meetings,
    ("GET", "/metrics/meetings"): dashboard_meetings,
    ("PATCH", "/users/{userId}"): update_user,
    ("DELETE", "/users/{userId}"): delete_user,
    ("GET", "/past_meetings/{meetingId}"): past_meeting,
    ("GET", "/meetings/{meetingId}/recordings"): get_recording,
    ("DELETE", "/meetings/{meetingId}/recordings"): delete_recording,
    ("DELETE", "/meetings/{meetingId}/recordings/{recordingId}"): delete_recording_file,
    ("GET", "/users/{userId}/recordings"): list_recordings,
    ("GET", "/phone/users"): list_phone_users,
    ("GET", "/phone/users/{userId}"): get_phone_user,
    ("PATCH", "/phone/users/{userId}"): update_phone_user,
    **resource_handlers(),
}
"""Implemented endpoints by ``(method, catalog path template)``."""

MEETING_MUTATIONS = frozenset(
    {
        ("POST", "/users/{userId}/meetings"),
        ("PATCH", "/meetings/{meetingId}"),
        ("DELETE", "/meetings/{meetingId}"),
    }
)
"""Operations that draw from the host's daily meeting create/update/delete quota."""


def meeting_host(store: Store, key: tuple[str, str], params: dict[str, str], me: str) -> str | None:
    """The host user id a meeting mutation counts against; ``None`` if it will 404."""
    if key[1] == "/users/{userId}/meetings":
        user = store.find_user(params.get("userId", ""), me)
        return user.id if user else None
    meeting = store.find_meeting(params.get("meetingId", ""))
    return meeting.host_id if meeting else None

"""The fake account's data: users, meetings and past-meeting participants, as Zoom shapes them.

Records keep a creation sequence number, which orders listings and anchors page tokens.
"""

from __future__ import annotations

import base64
import copy
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._copies import copied
from ._resources import ResourceStore
from ._responses import ZoomHTTPError, iso_z, validation_error

__all__ = ["MeetingRecord", "Store", "UserRecord"]

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_USER_TYPES = {1: "Basic", 2: "Licensed", 4: "Unassigned without Meetings Basic", 99: "None"}
_MEETING_TYPES = (1, 2, 3, 8)
_USER_SUMMARY_KEYS = (
    "id",
    "first_name",
    "last_name",
    "display_name",
    "email",
    "type",
    "pmi",
    "timezone",
    "verified",
    "dept",
    "created_at",
    "user_created_at",
    "last_login_time",
    "last_client_version",
    "language",
    "phone_number",
    "status",
    "role_id",
)
_MEETING_SUMMARY_KEYS = (
    "uuid",
    "id",
    "host_id",
    "topic",
    "type",
    "start_time",
    "duration",
    "timezone",
    "agenda",
    "created_at",
    "join_url",
)
_ROLE_NAMES = {"0": "Owner", "1": "Admin", "2": "Member"}

_DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "voip",
    "auto_recording": "none",
    "waiting_room": True,
    "meeting_authentication": False,
    "continuous_meeting_chat": {"enable": False},
}


@dataclass
class UserRecord:
    """A user of the fake account; ``data`` is Zoom's ``GET /users/{userId}`` object."""

    seq: int
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])


@dataclass
class MeetingRecord:
    """A meeting; ``data`` is Zoom's ``GET /meetings/{meetingId}`` object."""

    seq: int
    data: dict[str, Any]
    start: datetime
    participants: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def host_id(self) -> str:
        return str(self.data["host_id"])


def _parse_start(value: Any, tz: str | None) -> datetime:
    if not isinstance(value, str):
        raise validation_error("start_time")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise validation_error("start_time") from None
    if dt.tzinfo is None:
        try:
            dt = dt.replace(tzinfo=ZoneInfo(tz)) if tz else dt.replace(tzinfo=UTC)
        except (ZoneInfoNotFoundError, ValueError):
            dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0)


def check_meeting_body(body: Any) -> dict[str, Any]:
    """Validate a meeting create/update body as Zoom does (400, code 300)."""
    if not isinstance(body, dict):
        raise ZoomHTTPError(400, 300, "Request Body should be a valid JSON object.")
    if "topic" in body and (not isinstance(body["topic"], str) or len(body["topic"]) > 200):
        raise validation_error("topic")
    if "type" in body and body["type"] not in _MEETING_TYPES:
        raise validation_error("type")
    if "duration" in body and (
        not isinstance(body["duration"], int)
        or isinstance(body["duration"], bool)
        or body["duration"] < 0
    ):
        raise validation_error("duration")
    for name, limit in (("agenda", 2000), ("timezone", 100), ("password", 10)):
        if name in body and (not isinstance(body[name], str) or len(body[name]) > limit):
            raise validation_error(name)
    if "settings" in body and not isinstance(body["settings"], dict):
        raise validation_error("settings")
    if "start_time" in body:
        _parse_start(body["start_time"], body.get("timezone"))
    return body


class Store:
    """Users and meetings of one account."""

    def __init__(self, rng: random.Random, account_id: str) -> None:
        self._rng = rng
        self.account_id = account_id
        self.account_number = rng.randint(10_000_000, 99_999_999)
        self._seq = 0
        self.users: dict[str, UserRecord] = {}
        self._emails: dict[str, str] = {}
        self.meetings: dict[int, MeetingRecord] = {}
        # Per host, in creation order: listing one host's meetings must not scan the account.
        self._by_host: dict[str, dict[int, MeetingRecord]] = {}
        self.owner_id = ""
        self.seed: int | None = None
        """Seed of answers built from schemas."""
        self.resources = ResourceStore()
        """Webinars, registrants, groups, channels... (see ``_resources``)."""
        self.recordings: dict[int, dict[str, Any]] = {}
        """Cloud recordings by meeting id: ``GET /meetings/{meetingId}/recordings`` objects."""
        self.recording_content: dict[str, bytes] = {}
        """Content given to ``add_recording`` by file id (other files: ``file_bytes``)."""
        self.phone_users: dict[str, dict[str, Any]] = {}
        """Zoom Phone profiles by user id, made on first use."""
        self.pending_events: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        """State changes not yet handed to the webhook sender: ``(event, object, old)``."""

    @property
    def rng(self) -> random.Random:
        return self._rng

    def next_seq(self) -> int:
        return self._next_seq()

    def emit(self, event: str, obj: dict[str, Any], *, old: dict[str, Any] | None = None) -> None:
        """Record a state change for webhook subscribers."""
        self.pending_events.append((event, copy.deepcopy(obj), copy.deepcopy(old)))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _rand_id(self, n: int = 22) -> str:
        return "".join(self._rng.choices(_ID_ALPHABET, k=n))

    def _password(self) -> str:
        return "".join(self._rng.choices(string.ascii_letters + string.digits, k=6))

    # -- users -----------------------------------------------------------------------------

    def email_taken(self, email: str) -> bool:
        return email.lower() in self._emails

    def new_user(
        self,
        now: datetime,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        user_type: int = 1,
        status: str = "active",
        role_id: str = "2",
    ) -> UserRecord:
        """Create a user (no validation: callers check)."""
        seq = self._next_seq()
        uid = self._rand_id()
        while uid in self.users:
            uid = self._rand_id()
        first = first_name if first_name is not None else _FIRST[seq % len(_FIRST)]
        last = last_name if last_name is not None else _LAST[seq % len(_LAST)]
        email = email or f"{first.lower()}.{last.lower()}.{seq}@example.com"
        created = iso_z(now)
        pmi = self._rng.randint(1_000_000_000, 9_999_999_999)
        data: dict[str, Any] = {
            "id": uid,
            "first_name": first,
            "last_name": last,
            "display_name": f"{first} {last}".strip(),
            "email": email,
            "type": user_type,
            "role_name": _ROLE_NAMES.get(role_id, "Member"),
            "pmi": pmi,
            "use_pmi": False,
            "personal_meeting_url": f"https://zoom.us/j/{pmi}",
            "timezone": "UTC",
            "verified": 1,
            "dept": "",
            "created_at": created,
            "user_created_at": created,
            "last_login_time": created,
            "last_client_version": "6.0.0.0000(mac)",
            "language": "en-US",
            "phone_number": "",
            "status": status,
            "role_id": role_id,
            "account_id": self.account_id,
            "account_number": self.account_number,
            "cluster": "us06",
            "jid": f"{uid.lower()}@xmpp.zoom.us",
            "group_ids": [],
            "im_group_ids": [],
            "login_types": [100],
        }
        rec = UserRecord(seq, data)
        self.users[uid] = rec
        self._emails[email.lower()] = uid
        if not self.owner_id:
            self.owner_id = uid
        return rec

    def find_user(self, key: str, me: str) -> UserRecord | None:
        """A user by id, email, or ``me`` (the caller ``me``)."""
        if key == "me":
            key = me or self.owner_id
        rec = self.users.get(key)
        if rec is None and "@" in key:
            uid = self._emails.get(key.lower())
            rec = self.users.get(uid) if uid else None
        return rec

    def user_or_404(self, key: str, me: str) -> UserRecord:
        rec = self.find_user(key, me)
        if rec is None:
            raise ZoomHTTPError(404, 1001, f"User does not exist: {key}.")
        return rec

    @staticmethod
    def user_summary(rec: UserRecord) -> dict[str, Any]:
        """A ``GET /users`` list entry."""
        return {k: copied(rec.data[k]) for k in _USER_SUMMARY_KEYS}

    @staticmethod
    def user_detail(rec: UserRecord) -> dict[str, Any]:
        return copied(rec.data)

    def delete_user(self, rec: UserRecord) -> None:
        """Remove a user; their meetings go with them."""
        self.users.pop(rec.id, None)
        self._emails.pop(str(rec.data["email"]).lower(), None)
        for meeting in list(self._by_host.get(rec.id, {}).values()):
            self.delete_meeting(meeting)
        self.phone_users.pop(rec.id, None)

    def phone_profile(self, user: UserRecord) -> dict[str, Any]:
        """The user's Zoom Phone profile (the stored object: changes stick)."""
        profile = self.phone_users.get(user.id)
        if profile is None:
            from ._schema_answers import built

            profile = built("GET /phone/users/{userId}", self.seed, user.seq)
            profile.update(
                id=user.id,
                email=user.data["email"],
                name=user.data["display_name"],
                status="activate",
            )
            self.phone_users[user.id] = profile
        return profile

    def phone_user(self, user: UserRecord) -> dict[str, Any]:
        return copy.deepcopy(self.phone_profile(user))

    def add_recording(
        self,
        rec: MeetingRecord,
        files: int,
        now: datetime,
        contents: list[bytes | None] | None = None,
        file_size: int | None = None,
    ) -> dict[str, Any]:
        """A cloud recording of the meeting's last instance, with ``files`` files (whose
        content is ``contents[i]`` when given)."""
        from ._recording_files import PLACEHOLDER_ORIGIN
        from ._schema_answers import built

        recording = built("GET /meetings/{meetingId}/recordings", self.seed, rec.seq)
        template = (recording.get("recording_files") or [{}])[0]
        duration = int(rec.data.get("duration", 60))
        recording_files = []
        for i in range(files):
            item = copy.deepcopy(template)
            file_id = self._rand_id(36)
            kind = ("MP4", "M4A", "TRANSCRIPT", "CHAT")[i % 4]
            item.update(
                id=file_id,
                meeting_id=rec.data["uuid"],
                recording_start=iso_z(rec.start),
                recording_end=iso_z(rec.start + timedelta(minutes=duration)),
                file_type=kind,
                file_extension={"TRANSCRIPT": "VTT", "CHAT": "TXT"}.get(kind, kind),
                file_size=1024 * (i + 1) if file_size is None else file_size,
                status="completed",
                download_url=f"{PLACEHOLDER_ORIGIN}/rec/download/{file_id}",
                play_url=f"{PLACEHOLDER_ORIGIN}/rec/play/{file_id}",
            )
            content = contents[i] if contents is not None and i < len(contents) else None
            if content is not None:
                self.recording_content[file_id] = content
                item["file_size"] = len(content)
            item.pop("deleted_time", None)
            recording_files.append(item)
        recording.update(
            uuid=rec.data["uuid"],
            id=rec.id,
            account_id=self.account_id,
            host_id=rec.host_id,
            topic=rec.data["topic"],
            type=str(rec.data["type"]),
            start_time=iso_z(rec.start),
            duration=duration,
            recording_count=files,
            total_size=sum(f["file_size"] for f in recording_files),
            recording_files=recording_files,
        )
        self.recordings[rec.id] = recording
        return copy.deepcopy(recording)

    def users_in_order(self) -> list[UserRecord]:
        return sorted(self.users.values(), key=lambda r: r.seq)

    # -- meetings --------------------------------------------------------------------------

    def new_meeting(self, host: UserRecord, body: dict[str, Any], now: datetime) -> MeetingRecord:
        """Create a meeting from a validated body."""
        mid = self._rng.randint(10_000_000_000, 99_999_999_999)
        while mid in self.meetings:
            mid = self._rng.randint(10_000_000_000, 99_999_999_999)
        mtype = int(body.get("type", 2))
        tz = body.get("timezone") or host.data.get("timezone") or "UTC"
        start = (
            _parse_start(body["start_time"], body.get("timezone"))
            if "start_time" in body
            else now.replace(microsecond=0)
        )
        password = body.get("password")
        if password is None:
            password = self._password()
        encrypted = self._rand_id(32)
        uuid = base64.b64encode(self._rng.randbytes(16)).decode()
        settings = copy.deepcopy(_DEFAULT_SETTINGS)
        settings.update(copy.deepcopy(body.get("settings") or {}))
        data: dict[str, Any] = {
            "uuid": uuid,
            "id": mid,
            "host_id": host.id,
            "host_email": host.data["email"],
            "assistant_id": "",
            "topic": body.get("topic", "Zoom meeting"),
            "type": mtype,
            "status": "waiting",
            "start_time": iso_z(start),
            "duration": int(body.get("duration", 60)),
            "timezone": tz,
            "agenda": body.get("agenda", ""),
            "created_at": iso_z(now),
            "start_url": f"https://zoom.us/s/{mid}?zak={self._rand_id(40)}",
            "join_url": f"https://zoom.us/j/{mid}?pwd={encrypted}",
            "password": password,
            "h323_password": password,
            "pstn_password": password,
            "encrypted_password": encrypted,
            "settings": settings,
            "pre_schedule": False,
        }
        if mtype == 3:
            del data["start_time"]
        rec = MeetingRecord(self._next_seq(), data, start)
        self.meetings[mid] = rec
        self._by_host.setdefault(rec.host_id, {})[mid] = rec
        return rec

    def meeting_or_404(self, meeting_id: str) -> MeetingRecord:
        rec = self.find_meeting(meeting_id)
        if rec is None:
            raise ZoomHTTPError(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return rec

    def find_meeting(self, meeting_id: str) -> MeetingRecord | None:
        try:
            return self.meetings.get(int(meeting_id))
        except ValueError:
            return next((m for m in self.meetings.values() if m.data["uuid"] == meeting_id), None)

    def update_meeting(self, rec: MeetingRecord, body: dict[str, Any]) -> None:
        """Apply a validated PATCH body."""
        data = rec.data
        for key in ("topic", "type", "duration", "timezone", "agenda"):
            if key in body:
                data[key] = body[key]
        if "password" in body:
            for key in ("password", "h323_password", "pstn_password"):
                data[key] = body["password"]
        if "start_time" in body:
            rec.start = _parse_start(body["start_time"], body.get("timezone"))
            data["start_time"] = iso_z(rec.start)
        if "settings" in body:
            data["settings"].update(copy.deepcopy(body["settings"]))

    def delete_meeting(self, rec: MeetingRecord) -> None:
        self.meetings.pop(rec.id, None)
        self.recordings.pop(rec.id, None)
        self._by_host.get(rec.host_id, {}).pop(rec.id, None)

    def meetings_in_order(self, host_id: str | None = None) -> list[MeetingRecord]:
        # Dicts keep insertion order, and records are inserted in sequence order.
        if host_id is None:
            return list(self.meetings.values())
        return list(self._by_host.get(host_id, {}).values())

    @staticmethod
    def meeting_detail(rec: MeetingRecord) -> dict[str, Any]:
        return copied(rec.data)

    @staticmethod
    def meeting_summary(rec: MeetingRecord) -> dict[str, Any]:
        """A ``GET /users/{userId}/meetings`` list entry."""
        return {k: rec.data[k] for k in _MEETING_SUMMARY_KEYS if k in rec.data}

    def report_entry(self, rec: MeetingRecord) -> dict[str, Any]:
        """A ``GET /report/users/{userId}/meetings`` entry: the meeting, as if it took place."""
        host = self.users.get(rec.host_id)
        duration = int(rec.data.get("duration", 0))
        return {
            "uuid": rec.data["uuid"],
            "id": rec.id,
            "host_id": rec.host_id,
            "type": rec.data["type"],
            "topic": rec.data["topic"],
            "user_name": host.data["display_name"] if host else "",
            "user_email": rec.data["host_email"],
            "start_time": iso_z(rec.start),
            "end_time": iso_z(rec.start + timedelta(minutes=duration)),
            "duration": duration,
            "total_minutes": duration * max(1, len(rec.participants)),
            "participants_count": len(rec.participants),
            "source": "Zoom",
            "tracking_fields": [],
        }

    def metrics_entry(self, rec: MeetingRecord) -> dict[str, Any]:
        """A ``GET /metrics/meetings`` (dashboard) entry."""
        host = self.users.get(rec.host_id)
        duration = int(rec.data.get("duration", 0))
        return {
            "uuid": rec.data["uuid"],
            "id": rec.id,
            "topic": rec.data["topic"],
            "host": host.data["display_name"] if host else "",
            "email": rec.data["host_email"],
            "user_type": _USER_TYPES.get(int(host.data["type"]), "Basic") if host else "Basic",
            "start_time": iso_z(rec.start),
            "end_time": iso_z(rec.start + timedelta(minutes=duration)),
            "duration": f"{duration // 60:02d}:{duration % 60:02d}:00",
            "participants": len(rec.participants),
            "has_pstn": False,
            "has_voip": True,
            "has_3rd_party_audio": False,
            "has_video": True,
            "has_screen_share": False,
            "has_recording": False,
            "has_sip": False,
            "has_archiving": False,
            "in_room_participants": 0,
            "dept": host.data["dept"] if host else "",
        }

    def add_participants(self, rec: MeetingRecord, n: int) -> list[dict[str, Any]]:
        """Record ``n`` participants of a past instance of the meeting."""
        out = []
        duration = int(rec.data.get("duration", 60)) * 60
        for _ in range(n):
            seq = self._next_seq()
            first, last = _FIRST[seq % len(_FIRST)], _LAST[seq % len(_LAST)]
            join = rec.start + timedelta(seconds=self._rng.randint(0, max(0, duration // 4)))
            stay = self._rng.randint(60, max(60, duration))
            item: dict[str, Any] = {
                "id": self._rand_id(),
                "name": f"{first} {last}",
                "user_id": str(16_778_240 + seq),
                "registrant_id": "",
                "user_email": f"guest{seq}@example.org",
                "join_time": iso_z(join),
                "leave_time": iso_z(join + timedelta(seconds=stay)),
                "duration": stay,
                "failover": False,
                "status": "in_meeting",
                "internal_user": False,
            }
            rec.participants.append((seq, item))
            out.append(copy.deepcopy(item))
        return out

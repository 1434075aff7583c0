"""Stateful resources described by data: which operations create, list, read, update and delete
them. Each record starts as the operation's spec answer (built from its schema, as for any
unsimulated operation), takes the fields the create request sent, and then changes with every
update, so reads see writes, deletes are final and a missing id is Zoom's 404.

To make another resource stateful, add a :class:`Resource` to :data:`RESOURCES`.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._copies import copied
from ._paging import paginate
from ._responses import Reply, ZoomHTTPError, iso_z, json_reply
from ._schema_answers import built, object_properties
from ._spec import operation_spec

if TYPE_CHECKING:
    from ._handlers import Call, Handler

__all__ = ["RESOURCES", "Resource", "ResourceRecord", "engine", "resource_handlers"]

_ID_ALPHABET = string.ascii_letters + string.digits + "-_"


@dataclass(frozen=True)
class Resource:
    """A kind of object the fake keeps, and the operations on it.

    Paths are catalog templates. ``items`` lists the item paths (the last ``{param}`` is the
    id); ``parent`` names the path parameter of the owner (``userId``, ``meetingId``, or another
    resource's id parameter) and ``parent_kind`` what it refers to.
    """

    name: str
    create: str | None
    list: str | None
    items: tuple[str, ...]
    methods: tuple[str, ...] = ("GET", "PATCH", "DELETE")
    parent: str | None = None
    parent_kind: str | None = None
    """``"user"``, ``"meeting"`` or another resource's name."""
    int_ids: bool = False
    not_found: tuple[int, str] = (404, "Not found: {id}.")
    events: Mapping[str, str] = field(default_factory=dict)
    """Webhook event per change: ``{"created": "webinar.created", ...}``."""
    list_filters: tuple[str, ...] = ()
    """Query parameters of the list operation that must equal the record's body field."""
    id_in_create: str = "id"
    """The field of the create answer holding the new id (registrants: ``registrant_id``, the
    answer's ``id`` being the meeting's)."""


@dataclass
class ResourceRecord:
    seq: int
    id: str
    parent: str
    data: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    """Create-request fields the list operation filters on (``to_channel``...)."""


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "webinar",
        create="/users/{userId}/webinars",
        list="/users/{userId}/webinars",
        items=("/webinars/{webinarId}",),
        parent="userId",
        parent_kind="user",
        int_ids=True,
        not_found=(3001, "Webinar does not exist: {id}."),
        events={
            "created": "webinar.created",
            "updated": "webinar.updated",
            "deleted": "webinar.deleted",
        },
    ),
    Resource(
        "meeting_registrant",
        create="/meetings/{meetingId}/registrants",
        list="/meetings/{meetingId}/registrants",
        items=("/meetings/{meetingId}/registrants/{registrantId}",),
        methods=("GET", "DELETE"),
        parent="meetingId",
        parent_kind="meeting",
        not_found=(3043, "Registrant does not exist: {id}."),
        events={"created": "meeting.registration_created"},
        id_in_create="registrant_id",
    ),
    Resource(
        "webinar_registrant",
        create="/webinars/{webinarId}/registrants",
        list="/webinars/{webinarId}/registrants",
        items=("/webinars/{webinarId}/registrants/{registrantId}",),
        methods=("GET", "DELETE"),
        parent="webinarId",
        parent_kind="webinar",
        not_found=(3043, "Registrant does not exist: {id}."),
        events={"created": "webinar.registration_created"},
        id_in_create="registrant_id",
    ),
    Resource(
        "group",
        create="/groups",
        list="/groups",
        items=("/groups/{groupId}",),
        not_found=(4130, "Group does not exist: {id}."),
        events={"created": "group.created", "updated": "group.updated", "deleted": "group.deleted"},
    ),
    Resource(
        "chat_channel",
        create="/chat/users/{userId}/channels",
        list="/chat/users/{userId}/channels",
        items=("/chat/channels/{channelId}", "/chat/users/{userId}/channels/{channelId}"),
        parent="userId",
        parent_kind="user",
        not_found=(4130, "Channel does not exist: {id}."),
        events={
            "created": "chat_channel.created",
            "updated": "chat_channel.updated",
            "deleted": "chat_channel.deleted",
        },
    ),
    Resource(
        "chat_message",
        create="/chat/users/{userId}/messages",
        list="/chat/users/{userId}/messages",
        items=("/chat/users/{userId}/messages/{messageId}",),
        methods=("GET", "PUT", "DELETE"),
        parent="userId",
        parent_kind="user",
        not_found=(5301, "Message does not exist: {id}."),
        events={
            "created": "chat_message.sent",
            "updated": "chat_message.updated",
            "deleted": "chat_message.deleted",
        },
        list_filters=("to_channel", "to_contact"),
    ),
    Resource(
        "call_queue",
        create="/phone/call_queues",
        list="/phone/call_queues",
        items=("/phone/call_queues/{callQueueId}",),
        not_found=(404, "Call queue does not exist: {id}."),
    ),
)
"""The resources kept by the generic engine (users, meetings, recordings and phone users have
handlers of their own in ``_handlers``)."""


class ResourceStore:
    """Records of every :class:`Resource`, by resource name and id."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, ResourceRecord]] = {r.name: {} for r in RESOURCES}

    def find(self, kind: str, rid: str) -> ResourceRecord | None:
        return self.records.get(kind, {}).get(rid)


def _deep_merge(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def project(data: Mapping[str, Any], schema: Any) -> dict[str, Any]:
    """``data`` cut to the top-level properties of ``schema`` (all of it if it names none)."""
    props = object_properties(schema) if isinstance(schema, Mapping) else {}
    if not props:
        return copy.deepcopy(dict(data))
    return {k: copy.deepcopy(v) for k, v in data.items() if k in props}


def _schema(method: str, path: str) -> Any:
    spec = operation_spec(method, path)
    return None if spec is None else spec.response


def _status(method: str, path: str, default: int) -> int:
    spec = operation_spec(method, path)
    return default if spec is None else spec.status


class _Engine:
    """The handlers of one :class:`Resource`."""

    def __init__(self, res: Resource) -> None:
        self.res = res
        self.item_param = res.items[0].rsplit("{", 1)[1].rstrip("}")
        self.get_path = res.items[0]

    # -- lookups --------------------------------------------------------------------------

    def _parent(self, call: Call) -> str:
        res = self.res
        if res.parent is None:
            return ""
        raw = call.params[res.parent]
        if res.parent_kind == "user":
            return call.store.user_or_404(raw, call.me).id
        if res.parent_kind == "meeting":
            return str(call.store.meeting_or_404(raw).id)
        owner = _ENGINES[str(res.parent_kind)]
        return owner.record_or_404(call, raw).id

    def record_or_404(self, call: Call, rid: str) -> ResourceRecord:
        rec = call.store.resources.find(self.res.name, rid)
        if rec is None:
            code, message = self.res.not_found
            raise ZoomHTTPError(404, code, message.format(id=rid))
        return rec

    def _item(self, call: Call) -> ResourceRecord:
        rid = call.params[self.item_param]
        rec = self.record_or_404(call, rid)
        parent = self.res.parent
        if parent is not None and parent in call.params and self._parent(call) != rec.parent:
            code, message = self.res.not_found
            raise ZoomHTTPError(404, code, message.format(id=rid))
        return rec

    # -- operations -----------------------------------------------------------------------

    def create(self, call: Call) -> Reply:
        res, store = self.res, call.store
        parent = self._parent(call)
        body = call.json() or {}
        seq = store.next_seq()
        data = (
            built(f"GET {self.get_path}", store.seed, seq) if _schema("GET", self.get_path) else {}
        )
        if not isinstance(data, dict):
            data = {}
        known = object_properties(_schema("GET", self.get_path) or {})
        if isinstance(body, Mapping):
            _deep_merge(data, {k: v for k, v in body.items() if not known or k in known})
        rid: str
        if res.int_ids:
            rid = str(store.rng.randint(10_000_000_000, 99_999_999_999))
            data["id"] = int(rid)
        else:
            rid = "".join(store.rng.choices(_ID_ALPHABET, k=22))
            data["id"] = rid
        for stamp in ("created_at", "create_time", "date_time"):
            if stamp in data or stamp in known:
                data[stamp] = iso_z(call.utc)
        if res.parent_kind == "user":
            host = store.users[parent]
            for key, value in (("host_id", host.id), ("host_email", host.data["email"])):
                if key in known:
                    data[key] = value
        if res.parent_kind in ("meeting", "webinar"):
            for key in ("meeting_id", "webinar_id"):
                if key in known:
                    data[key] = int(parent)
        tags = {
            f: str(body[f]) for f in res.list_filters if isinstance(body, Mapping) and body.get(f)
        }
        store.resources.records[res.name][rid] = ResourceRecord(seq, rid, parent, data, tags)
        if "created" in res.events:
            store.emit(res.events["created"], data)
        assert res.create is not None
        status = _status("POST", res.create, 201)
        schema = _schema("POST", res.create)
        if schema is None:
            return Reply(status)
        answer = project(data, schema)
        if res.id_in_create != "id":
            answer[res.id_in_create] = rid
            answer["id"] = int(parent) if parent.isdigit() else parent
        return Reply(status, answer)

    def list(self, call: Call) -> Reply:
        res = self.res
        parent = self._parent(call)
        assert res.list is not None
        records = [
            r
            for r in call.store.resources.records[res.name].values()
            if (res.parent is None or r.parent == parent)
            and all(
                not call.query.get(f) or r.tags.get(f) == call.query[f] for f in res.list_filters
            )
        ]
        schema = _schema("GET", res.list) or {}
        props = object_properties(schema)
        from .. import catalog

        op = catalog.resolve("GET", res.list)
        key = op.list_key if op is not None and op.list_key else res.name + "s"
        item_schema = (props.get(key) or {}).get("items")
        numbers = op is not None and op.pagination in ("page_number", "both")
        page = paginate(
            call.query,
            [(r.seq, r) for r in records],
            tokens=call.tokens,
            listing=f"{res.name}:{parent}:{call.query.get('to_channel', '')}",
            now=call.now,
            max_page_size=call.max_page_size,
            page_numbers=numbers,
        )
        body = dict(page.fields)
        if not numbers:
            body.pop("page_number", None)
        body[key] = [project(r.data, item_schema) for r in page.items]
        return Reply(200, body)

    def get(self, call: Call) -> Reply:
        return json_reply(200, self._item(call).data)

    def update(self, call: Call) -> Reply:
        rec = self._item(call)
        body = call.json() or {}
        old = copy.deepcopy(rec.data)
        if isinstance(body, Mapping):
            _deep_merge(rec.data, {k: v for k, v in body.items() if k != "id"})
        if "updated" in self.res.events:
            changed = (
                {k: rec.data[k] for k in body if k in rec.data} if isinstance(body, Mapping) else {}
            )
            call.store.emit(
                self.res.events["updated"],
                {"id": rec.data.get("id"), **changed},
                old={"id": old.get("id"), **{k: old.get(k) for k in changed}},
            )
        method = call.method.upper()
        status = _status(method, self._template(call), 204)
        return Reply(status, None if status == 204 else copied(rec.data))

    def delete(self, call: Call) -> Reply:
        rec = self._item(call)
        del call.store.resources.records[self.res.name][rec.id]
        for child in RESOURCES:  # registrants go with their webinar
            if child.parent_kind == self.res.name:
                kids = call.store.resources.records[child.name]
                for kid in [k for k in kids.values() if k.parent == rec.id]:
                    del kids[kid.id]
        if "deleted" in self.res.events:
            call.store.emit(self.res.events["deleted"], rec.data)
        return Reply(_status("DELETE", self._template(call), 204))

    def _template(self, call: Call) -> str:
        for path in self.res.items:
            if all(f"{{{p}}}" in path for p in call.params):
                return path
        return self.res.items[0]


_ENGINES: dict[str, _Engine] = {r.name: _Engine(r) for r in RESOURCES}


def engine(kind: str) -> _Engine:
    """The handlers of resource ``kind``; ``KeyError`` naming the known kinds otherwise."""
    try:
        return _ENGINES[kind]
    except KeyError:
        known = ", ".join(sorted(_ENGINES))
        raise KeyError(f"no stateful resource {kind!r}; known: {known}") from None


def resource_handlers() -> dict[tuple[str, str], Handler]:
    """Handlers by ``(method, catalog path)`` for every resource."""
    out: dict[tuple[str, str], Callable[[Call], Reply]] = {}
    for res in RESOURCES:
        engine = _ENGINES[res.name]
        if res.create:
            out[("POST", res.create)] = engine.create
        if res.list:
            out[("GET", res.list)] = engine.list
        for path in res.items:
            for method in res.methods:
                if method == "GET":
                    out[(method, path)] = engine.get
                elif method == "DELETE":
                    out[(method, path)] = engine.delete
                else:
                    out[(method, path)] = engine.update
    return out

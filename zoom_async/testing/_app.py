"""The fake's ASGI application: one request's way through the fake Zoom.

uplink delay -> arrival -> fault before the API (optional) -> token check -> routing (the
catalog) -> rate limits -> the endpoint -> fault after the API (optional) -> downlink delay ->
answer. Requests are counted where Zoom counts them: on arrival, after the uplink delay.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
from starlette.datastructures import URL, Headers
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from .. import catalog
from ._custom import FakeRequest, FakeResponse
from ._faults import Fault, normalize_path
from ._handlers import HANDLERS, MEETING_MUTATIONS, Call, meeting_host
from ._paging import paginate
from ._ratelimits import Refusal
from ._recording_files import is_file_path, serve_file
from ._responses import (
    JSON_TYPE,
    SCIM_TYPE,
    Reply,
    ZoomHTTPError,
    rate_limit_reply,
    validation_error,
)
from ._schema_answers import built, object_properties
from ._spec import OperationSpec, operation_spec
from ._stats import RequestRecord
from ._transport import DROP_MESSAGE, ConnectionDropped
from ._validation import check_request

if TYPE_CHECKING:
    from ._fake import FakeZoom

__all__ = ["CLOSE_CONNECTION_EXTENSION", "FakeZoomApp"]

CLOSE_CONNECTION_EXTENSION = "zoom_async.fake.close_connection"
"""Scope extension set by :meth:`FakeZoom.serve`'s server: closes the TCP connection."""

_MUTATIONS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_NOT_FOUND = Reply(404, {"code": 404, "message": "Not found"})
_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_ALWAYS_PAGING_FIELDS = ("page_size", "next_page_token", "total_records")


@dataclass
class _Exchange:
    """Per-request state that outlives the processing (released after the downlink delay)."""

    record: RequestRecord | None = None
    inflight: str | None = None


@dataclass
class _Routed:
    """An API request that passed authentication, routing and the rate limits."""

    key: tuple[str, str]
    op: catalog.Operation
    params: dict[str, str]
    me: str
    max_page_size: int
    headers: dict[str, str]


class FakeZoomApp:
    """The ASGI callable behind :attr:`FakeZoom.app`."""

    def __init__(self, fake: FakeZoom) -> None:
        self._fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, query, origin = _url_parts(scope)
        body = await _request_body(receive)
        reply = await self.handle(scope["method"], path, query, Headers(scope=scope), body, origin)
        if reply is None:
            close = scope.get("extensions", {}).get(CLOSE_CONNECTION_EXTENSION)
            if close is None:
                lost = httpx.Request(scope["method"], str(URL(scope=scope)))
                raise ConnectionDropped(DROP_MESSAGE, request=lost)
            close()
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        content, media_type = reply.encode()
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": _raw_headers(reply.status, reply.headers, content, media_type),
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        origin: str,
    ) -> Reply | None:
        """Answer one request; ``None`` means: drop the connection without an answer."""
        fake = self._fake
        await fake._sleep_range(fake._uplink)
        exchange = _Exchange()
        try:
            reply = await self._process(exchange, method, path, query, headers, body, origin)
            await fake._sleep_range(fake._downlink)
        finally:
            if exchange.inflight is not None:
                fake._release(exchange.inflight)
        record = exchange.record
        if reply is None:
            fake.stats.dropped_connections += 1
            if record is not None:
                record.dropped = True
        else:
            fake.stats.status_codes[reply.status] += 1
            if record is not None:
                record.status = reply.status
        return reply

    async def _fault_reply(self, fault: Fault, record: RequestRecord) -> Reply | None:
        fake = self._fake
        if fault.delay:
            await fake.clock.sleep(fault.delay)
        record.fault = fault.label
        fake.stats.faults += 1
        return fault.reply()

    async def _process(
        self,
        exchange: _Exchange,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        origin: str,
    ) -> Reply | None:
        fake = self._fake
        norm = normalize_path(path)
        is_token = norm == "/oauth/token"
        is_file = is_file_path(norm)
        before = fake._faults.take(method, norm, after_apply=False)
        if before is not None and before.label == "delay":
            await fake.clock.sleep(before.delay or 0.0)  # only a slower way in
            before = None
        now, utc = fake.clock.monotonic(), fake.clock.utcnow()
        record = exchange.record = RequestRecord(method, path, query, now)
        fake.requests.append(record)
        if is_token:
            fake.stats.token_requests += 1
        elif is_file:
            fake.stats.file_requests += 1
        else:
            fake.stats.requests += 1
        pending: Fault | None = None
        if before is None and not is_token:
            rolled = fake._faults.roll()
            if rolled is not None and rolled.after_apply:
                pending = rolled
            else:
                before = rolled
        if before is not None:
            return await self._fault_reply(before, record)

        if is_token:
            if method != "POST":
                return _NOT_FOUND
            form = dict(parse_qsl(query))
            form.update(parse_qsl(body.decode("latin-1")))
            reply = fake._oauth.token_request(form, headers.get("authorization"), now, origin)
            record.applied = True
        elif is_file:
            reply = self._file(record, method, norm, query, headers, now)
        else:
            routed = self._admit(exchange, record, method, path, norm, headers, now, utc)
            if isinstance(routed, Reply):
                return routed
            content_type = headers.get("content-type", "")
            reply = await self._endpoint(
                routed, record, method, path, query, body, content_type, origin
            )
        after = fake._faults.take(method, norm, after_apply=True) or pending
        if after is not None:
            faulty = await self._fault_reply(after, record)
            if faulty is not None or after.drop_connection:
                return faulty
        return reply

    def _file(
        self,
        record: RequestRecord,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        now: float,
    ) -> Reply:
        """A recording file: Zoom's download host, token required, no rate limit."""
        fake = self._fake

        def authenticate(authorization: str | None) -> None:
            me = fake._oauth.authenticate(authorization, now)
            record.user_id = me or fake._store.owner_id

        try:
            reply = serve_file(fake._store, method, path, query, headers, authenticate)
        except ZoomHTTPError as exc:
            return exc.reply()
        record.applied = True
        return reply

    def _admit(
        self,
        exchange: _Exchange,
        record: RequestRecord,
        method: str,
        path: str,
        norm: str,
        headers: Mapping[str, str],
        now: float,
        utc: datetime,
    ) -> Reply | _Routed:
        """Authentication, routing and rate limits; a reply if the request stops there."""
        fake = self._fake
        try:
            me = fake._oauth.authenticate(headers.get("authorization"), now)
        except ZoomHTTPError as exc:
            return exc.reply()
        record.user_id = me or fake._store.owner_id
        found = catalog.match(method, path)
        under_v2 = path == "/v2" or path.startswith("/v2/")
        if found is None or (found[0].base_path == "/v2") != under_v2:
            allowed = [m for m in _METHODS if m != method and catalog.match(m, path) is not None]
            if allowed and found is None:
                return Reply(
                    405,
                    {"code": 405, "message": f"Method {method} is not allowed for this path."},
                    {"Allow": ", ".join(allowed)},
                )
            return _NOT_FOUND
        op, params = found
        record.category, record.family, record.operation_id = (
            op.category,
            op.family,
            op.operation_id,
        )
        key = (op.method, op.path)
        host = meeting_host(fake._store, key, params, me) if key in MEETING_MUTATIONS else None
        mutation = method in _MUTATIONS
        conflict = mutation and fake.concurrency_conflicts and norm in fake._inflight
        result = fake._limiter.admit(
            op.family, op.category, now, utc, meeting_host=host, conflict=conflict
        )
        if isinstance(result, Refusal):
            record.rate_limit_type = result.kind
            return rate_limit_reply(result, fake.plan.meeting_quota_per_user)
        if mutation:
            fake._inflight[norm] = fake._inflight.get(norm, 0) + 1
            exchange.inflight = norm
        rate_headers = {"X-RateLimit-Category": op.category.value}
        if result.daily_limit is not None:
            rate_headers["X-RateLimit-Type"] = "Daily-limit"
            rate_headers["X-RateLimit-Limit"] = str(result.daily_limit)
            rate_headers["X-RateLimit-Remaining"] = str(result.daily_remaining)
        return _Routed(key, op, params, me, op.max_page_size or 300, rate_headers)

    async def _endpoint(
        self,
        routed: _Routed,
        record: RequestRecord,
        method: str,
        path: str,
        query: str,
        body: bytes,
        content_type: str,
        origin: str,
    ) -> Reply:
        """Validate the request, then answer from a user's handler, the fake's state, or the
        spec's schema (in that order of preference)."""
        fake = self._fake
        await fake._sleep_range(fake._processing)
        args = dict(parse_qsl(query, keep_blank_values=True))
        spec = operation_spec(*routed.key)
        custom = fake._handlers.get(routed.key)
        handler = HANDLERS.get(routed.key)
        source = "custom" if custom else "stateful" if handler else "schema"
        record.answered_by = source
        try:
            if spec is not None and fake.validate_requests:
                check_request(spec, args, body, content_type)
                if args.get("page_number") and routed.op.pagination == "next_page_token":
                    # Zoom retired page_number on these: a client relying on it would loop
                    # over page 1 forever in production.
                    raise validation_error(
                        "page_number",
                        "This API pages by next_page_token only; page_number is not supported.",
                    )
            if source == "schema":
                fake.stats.schema_only[f"{routed.op.method} {routed.op.path}"] += 1
                if fake.strict:
                    record.applied = False
                    reply = Reply(
                        501,
                        {
                            "code": 501,
                            "message": (
                                f"FakeZoom does not simulate {routed.op.method} {routed.op.path} "
                                f"({routed.op.operation_id}) and strict=True: register an "
                                "answer with fake.handle() or fake.fixture()."
                            ),
                        },
                    )
                    reply.headers = {**routed.headers, **reply.headers}
                    fake.stats.answered_by["strict"] += 1
                    return reply
            fake.stats.answered_by[source] += 1
            record.applied = True
            if custom is not None:
                reply = await self._custom(custom, routed, spec, method, path, args, body)
            elif handler is not None:
                call = Call(
                    method=method,
                    path=path,
                    params=routed.params,
                    query=args,
                    body=body,
                    me=routed.me,
                    now=fake.clock.monotonic(),
                    utc=fake.clock.utcnow(),
                    store=fake._store,
                    tokens=fake._pages,
                    max_page_size=routed.max_page_size,
                    origin=origin,
                )
                reply = handler(call)
            else:
                reply = self._schema_reply(routed, spec, args)
        except ZoomHTTPError as exc:
            reply = exc.reply()
        reply.headers = {**routed.headers, **reply.headers}
        if routed.op.api == "scim2" and reply.media_type is None and reply.body is not None:
            # Zoom's SCIM2 API answers application/scim+json (JSON under SCIM's media type).
            reply.media_type = SCIM_TYPE
        fake._flush_events()
        return reply

    async def _custom(
        self,
        custom: Any,
        routed: _Routed,
        spec: OperationSpec | None,
        method: str,
        path: str,
        args: dict[str, str],
        body: bytes,
    ) -> Reply:
        request = FakeRequest(
            operation=routed.op,
            method=method,
            path=path,
            path_params=dict(routed.params),
            query=args,
            body=body,
            user_id=routed.me or self._fake._store.owner_id,
        )
        result = custom(request)
        if inspect.isawaitable(result):
            result = await result
        status = spec.status if spec is not None else 200
        if isinstance(result, FakeResponse):
            return Reply(
                result.status if result.status is not None else status,
                result.body,
                dict(result.headers),
            )
        return Reply(status, result)

    def _schema_reply(
        self, routed: _Routed, spec: OperationSpec | None, args: dict[str, str]
    ) -> Reply:
        """An answer made from the spec: its status, and a body built from its schema."""
        fake = self._fake
        if spec is None:
            return Reply(200, {})
        if spec.media_type is not None:
            return Reply(spec.status, b"FakeZoom " + spec.key.encode(), media_type=spec.media_type)
        if spec.response is None:
            return Reply(spec.status, None if spec.status == 204 else {})
        op = routed.op
        list_key = op.list_key
        props = object_properties(spec.response) if list_key else {}
        if not list_key or list_key not in props:
            value = built(spec.key, fake.seed)
            if isinstance(value, dict | list):
                return Reply(spec.status, value)
            return Reply(spec.status, json.dumps(value).encode(), media_type=JSON_TYPE)
        base = built(spec.key, fake.seed)
        items = [
            (i + 1, built(spec.key, fake.seed, i, list_key)) for i in range(fake.schema_list_size)
        ]
        size_schema = props.get("page_size") or {}
        page = paginate(
            args,
            items,
            tokens=fake._pages,
            listing=spec.key,
            now=fake.clock.monotonic(),
            max_page_size=min(routed.max_page_size, size_schema.get("maximum", 1 << 30)),
            page_numbers=op.pagination in ("page_number", "both"),
        )
        for name, value in page.fields.items():
            if name in props or name in _ALWAYS_PAGING_FIELDS:
                base[name] = _as_schema_type(value, props.get(name))
        base[list_key] = page.items
        return Reply(spec.status, base)


def _as_schema_type(value: Any, schema: Any) -> Any:
    """A paging field in the type its schema gives it (a few specs make them strings)."""
    if isinstance(schema, dict) and schema.get("type") == "string" and not isinstance(value, str):
        return str(value)
    return value


# What Starlette's Request and Response would do for the app, without building them: per
# request they cost more than the rest of a simple answer.

_URL_PARTS_KEPT = 1024
_url_parts_seen: dict[tuple[Any, ...], tuple[str, str, str]] = {}


def _url_parts(scope: Scope) -> tuple[str, str, str]:
    """``(path, query, origin)`` of the request, as ``starlette.requests.Request.url`` gives
    them (``url.path``, ``url.query``, ``f"{url.scheme}://{url.netloc}"``).

    The same request line and ``Host`` give the same parts, so they are kept for the
    ``_URL_PARTS_KEPT`` most recent distinct ones (a client asks for the same paths again).
    """
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    server = scope.get("server")
    key = (
        scope["path"],
        scope.get("query_string", b""),
        host,
        scope.get("scheme", "http"),
        tuple(server) if server is not None else None,
    )
    parts = _url_parts_seen.get(key)
    if parts is None:
        url = URL(scope=scope)
        parts = (url.path, url.query, f"{url.scheme}://{url.netloc}")
        if len(_url_parts_seen) >= _URL_PARTS_KEPT:
            _url_parts_seen.clear()
        _url_parts_seen[key] = parts
    return parts


async def _request_body(receive: Receive) -> bytes:
    """The whole request body, as ``starlette.requests.Request.body()`` reads it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _raw_headers(
    status: int, headers: Mapping[str, str], content: bytes, media_type: str | None
) -> list[tuple[bytes, bytes]]:
    """The answer's header list, as ``starlette.responses.Response(content, status, headers,
    media_type)`` makes it."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    names = [name for name, _ in raw]
    if b"content-length" not in names and not (status < 200 or status in (204, 304)):
        raw.append((b"content-length", str(len(content)).encode("latin-1")))
    if media_type is not None and b"content-type" not in names:
        if media_type.startswith("text/") and "charset=" not in media_type.lower():
            media_type += "; charset=utf-8"
        raw.append((b"content-type", media_type.encode("latin-1")))
    return raw

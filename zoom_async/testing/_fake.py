"""``FakeZoom``: the fake account, its settings, and the helpers tests drive it with."""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from ..clock import Clock, SystemClock
from ..plans import Category, Family, RateLimitTable, resolve_plan
from ._app import FakeZoomApp
from ._custom import CustomHandler, OperationRef, fixture_handler, resolve_operation
from ._faults import Fault, FaultInjector
from ._oauth import OAuthServer
from ._paging import PageTokens
from ._ratelimits import Neighbour, RateLimiter
from ._recording_files import PLACEHOLDER_ORIGIN, with_origin
from ._responses import ZoomHTTPError
from ._server import FakeZoomServer, serve
from ._stats import FakeZoomStats, RequestRecord
from ._store import Store, UserRecord
from ._transport import FakeZoomTransport
from ._webhook_sender import (
    ZOOM_RETRY_DELAYS,
    ZOOM_TIMEOUT,
    Subscription,
    WebhookSender,
)

__all__ = ["FakeZoom", "Latency"]

Range: TypeAlias = tuple[float, float]
Latency: TypeAlias = float | Range | tuple[Range, Range]
"""A delay: ``0.05`` (fixed), ``(0.02, 0.08)`` (uniform jitter), or for :class:`FakeZoom`'s
``latency`` also ``((up_lo, up_hi), (down_lo, down_hi))`` to give each direction its own range."""

ORIGIN = PLACEHOLDER_ORIGIN
_ACCOUNT_CREATED = datetime(2020, 1, 1, tzinfo=UTC)
"""The owner's ``created_at`` (fixed: constructing the fake does not read the clock)."""


def _range(value: float | Sequence[float], name: str) -> Range:
    if isinstance(value, int | float):
        lo = hi = float(value)
    else:
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a (low, high) pair, not {value!r}")
        lo, hi = float(value[0]), float(value[1])
    if lo < 0 or hi < lo:
        raise ValueError(f"{name} must satisfy 0 <= low <= high, got {value!r}")
    return lo, hi


def _latency(value: Latency) -> tuple[Range, Range]:
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, tuple) for v in value):
        up, down = value
        return _range(up, "uplink latency"), _range(down, "downlink latency")
    both = _range(value, "latency")  # type: ignore[arg-type]
    return both, both


class FakeZoom:
    """An in-process fake of the Zoom REST API and its OAuth server, with Zoom's rate limits.

    Args:
        plan: ``"pro"``, ``"business_plus"`` (or any name :func:`zoom_async.plans.resolve_plan`
            knows), or a :class:`~zoom_async.plans.RateLimitTable`.
        client_id, client_secret: the app credentials the token endpoint accepts.
        account_id: the account of Server-to-Server OAuth.
        clock: time source (default :class:`~zoom_async.clock.SystemClock`, which follows a
            ``looptime`` virtual loop); windows use ``clock.monotonic()``, daily quotas
            ``clock.utcnow()``.
        token_ttl: access-token lifetime in seconds (``expires_in``).
        latency: network delay per request: a number, a ``(low, high)`` uniform range applied
            to each direction, or ``((up_low, up_high), (down_low, down_high))``. The uplink
            delay passes before the request counts as arrived, the downlink delay after.
        processing_time: server time between arrival and answer (number or range).
        seed: seed of the random generator behind ids, tokens, jitter and random errors
            (``None``: unseeded).
        count_refused: whether requests refused with 429 also occupy the window.
        enforce_limits: refuse over-limit requests with 429; with ``False`` everything is
            accepted and still counted (see :meth:`max_in_any_window`).
        concurrency_conflicts: answer 429 "Too many concurrent requests" to a mutation of a
            path while another mutation of the same path is in flight.
        error_rate: probability of a random error answer per API request.
        error_statuses: the statuses random errors draw from (a 502 is applied first).
        page_token_ttl: seconds a ``next_page_token`` stays valid.
        owner_email: email of the account owner, the user Server-to-Server tokens act as.
        strict: answer operations the fake does not simulate (see ``docs/testing.md``) with
            ``501`` naming the operation, instead of an answer built from the spec's schema.
            Off by default: a schema answer has Zoom's status and shape, so code that only
            needs a well-formed answer is tested, and ``stats.schema_only`` lists what was
            made up. Turn it on when a test must not pass on made-up values.
        validate_requests: check every request against the spec (required parameters and
            body fields, types, enums) and answer Zoom's 400 ``Validation Failed.``.
        schema_list_size: how many made-up items a list operation answered from its schema
            holds (paged by ``page_size`` like any listing).

    Example::

        fake = FakeZoom(plan="pro")
        fake.add_users(50)
        async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
            ...
    """

    def __init__(
        self,
        *,
        plan: str | RateLimitTable = "pro",
        client_id: str = "test-client-id",
        client_secret: str = "test-client-secret",
        account_id: str = "test-account",
        clock: Clock | None = None,
        token_ttl: float = 3599,
        latency: Latency = (0.0, 0.0),
        processing_time: float | Range = 0.0,
        seed: int | None = 0,
        count_refused: bool = False,
        enforce_limits: bool = True,
        concurrency_conflicts: bool = False,
        error_rate: float = 0.0,
        error_statuses: Sequence[int] = (500, 502, 503),
        page_token_ttl: float = 900.0,
        owner_email: str = "owner@example.com",
        strict: bool = False,
        validate_requests: bool = True,
        schema_list_size: int = 3,
    ) -> None:
        self.plan: RateLimitTable = resolve_plan(plan)
        """The rate-limit table in force."""
        self.clock: Clock = clock if clock is not None else SystemClock()
        """The fake's time source."""
        self.client_id = client_id
        self.client_secret = client_secret
        self.account_id = account_id
        self.concurrency_conflicts = concurrency_conflicts
        """Answer concurrent mutations of one path with 429 (may be toggled at any time)."""
        self.stats = FakeZoomStats()
        """Counters; see :class:`FakeZoomStats`."""
        self.requests: list[RequestRecord] = []
        """Every request received, in arrival order."""
        self.base_url = f"{ORIGIN}/v2"
        """API base URL for :meth:`transport` clients."""
        self.token_url = f"{ORIGIN}/oauth/token"
        """Token endpoint URL for :meth:`transport` clients."""
        self.seed = seed
        """Seed of ids, tokens, jitter and of the values of schema-built answers."""
        self.strict = strict
        """``True``: operations the fake does not simulate answer 501 (may be toggled)."""
        self.validate_requests = validate_requests
        """Check requests against the spec (may be toggled)."""
        if schema_list_size < 0:
            raise ValueError("schema_list_size must be >= 0")
        self.schema_list_size = schema_list_size
        """Items in a list answered from the schema."""
        self._handlers: dict[tuple[str, str], CustomHandler] = {}
        self._webhooks = WebhookSender(self)
        self._rng = random.Random(seed)
        self._uplink, self._downlink = _latency(latency)
        self._processing = _range(processing_time, "processing_time")
        self._limiter = RateLimiter(
            self.plan, self.stats, count_refused=count_refused, enforce=enforce_limits
        )
        self._oauth = OAuthServer(
            client_id=client_id,
            client_secret=client_secret,
            account_id=account_id,
            token_ttl=token_ttl,
            rng=self._rng,
        )
        self._oauth.epoch = lambda: self.clock.utcnow().timestamp()
        self._oauth.owner_id = lambda: self._store.owner_id
        self._store = Store(self._rng, account_id)
        self._store.seed = seed
        self._pages = PageTokens(self._rng, page_token_ttl)
        if not 0 <= error_rate <= 1:
            raise ValueError("error_rate must be between 0 and 1")
        self._faults = FaultInjector(self._rng, error_rate, tuple(error_statuses))
        self._inflight: dict[str, int] = {}
        self._origin = ORIGIN
        """Where the fake is reached: its served origin while :meth:`serve` runs."""
        self._store.new_user(
            _ACCOUNT_CREATED,
            email=owner_email,
            first_name="Account",
            last_name="Owner",
            user_type=2,
            role_id="0",
        )
        self.app = FakeZoomApp(self)
        """The ASGI application (Starlette requests and responses)."""

    def __repr__(self) -> str:
        return f"<FakeZoom plan={self.plan.name!r} users={len(self._store.users)}>"

    # -- settings ------------------------------------------------------------------------------

    @property
    def latency(self) -> tuple[Range, Range]:
        """``((up_low, up_high), (down_low, down_high))``; assign any :data:`Latency`."""
        return self._uplink, self._downlink

    @latency.setter
    def latency(self, value: Latency) -> None:
        self._uplink, self._downlink = _latency(value)

    @property
    def processing_time(self) -> Range:
        """Server time per request, ``(low, high)``; assign a number or a range."""
        return self._processing

    @processing_time.setter
    def processing_time(self, value: float | Range) -> None:
        self._processing = _range(value, "processing_time")

    @property
    def enforce_limits(self) -> bool:
        """Whether over-limit requests are refused (may be toggled at any time)."""
        return self._limiter.enforce

    @enforce_limits.setter
    def enforce_limits(self, value: bool) -> None:
        self._limiter.enforce = value

    @property
    def count_refused(self) -> bool:
        """Whether 429-refused requests occupy the window too."""
        return self._limiter.count_refused

    @count_refused.setter
    def count_refused(self, value: bool) -> None:
        self._limiter.count_refused = value

    @property
    def error_rate(self) -> float:
        """Probability of a random error answer per API request."""
        return self._faults.error_rate

    @error_rate.setter
    def error_rate(self, value: float) -> None:
        if not 0 <= value <= 1:
            raise ValueError("error_rate must be between 0 and 1")
        self._faults.error_rate = value

    @property
    def page_token_ttl(self) -> float:
        """Seconds a ``next_page_token`` stays valid."""
        return self._pages.ttl

    @page_token_ttl.setter
    def page_token_ttl(self, value: float) -> None:
        self._pages.ttl = value

    # -- transports ----------------------------------------------------------------------------

    def transport(self) -> FakeZoomTransport:
        """An ``httpx.ASGITransport`` to this fake (use with :attr:`base_url`, :attr:`token_url`).

        A fault that drops the connection raises ``httpx.RemoteProtocolError`` in the client.
        """
        return FakeZoomTransport(app=self.app)

    def serve(
        self, host: str = "127.0.0.1", port: int = 0
    ) -> AbstractAsyncContextManager[FakeZoomServer]:
        """Serve the fake over real HTTP with uvicorn, as a task of the running event loop.

        ``port=0`` picks a free port. ``async with fake.serve() as server:`` gives
        ``server.base_url`` (``http://127.0.0.1:PORT/v2``) and ``server.token_url``; leaving
        the block shuts the server down.
        """
        return serve(self, host, port)

    # -- OAuth ---------------------------------------------------------------------------------

    def issue_authorization_code(
        self,
        user_id: str | None = None,
        *,
        redirect_uri: str | None = None,
        code_challenge: str | None = None,
        code_challenge_method: str = "S256",
    ) -> str:
        """An authorization code, as Zoom's consent screen would give, for ``user_id`` (id or
        email; default the owner). Exchange it at the token endpoint with
        ``grant_type=authorization_code``; ``redirect_uri`` and a PKCE ``code_challenge`` are
        then checked if given here. Codes are single-use and last ten minutes.
        """
        user = self._user(user_id)
        return self._oauth.issue_code(
            user.id,
            self.clock.monotonic(),
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
        )

    def access_token(self, user_id: str | None = None) -> str:
        """A valid access token for ``user_id`` (default: a Server-to-Server token acting as
        the owner), without a token request."""
        uid = "" if user_id is None else self._user(user_id).id
        return self._oauth.new_access_token(uid, self.clock.monotonic())

    def expire_tokens(self) -> int:
        """Expire every access token issued so far (refresh tokens stay valid); the next API
        call with one gets 401 ``{"code": 124, "message": "Access token is expired."}``.
        Returns how many tokens were still valid."""
        return self._oauth.expire_all(self.clock.monotonic())

    def expire_page_tokens(self) -> None:
        """Invalidate every ``next_page_token`` issued so far."""
        self._pages.expire_all()

    # -- data ----------------------------------------------------------------------------------

    def _user(self, user_id: str | None) -> UserRecord:
        rec = self._store.find_user(user_id or "me", "")
        if rec is None:
            raise KeyError(f"no user {user_id!r} in the fake account")
        return rec

    @property
    def owner(self) -> dict[str, Any]:
        """The account owner (a copy of ``GET /users/me`` for Server-to-Server tokens)."""
        return self._store.user_detail(self._user(None))

    @property
    def users(self) -> list[dict[str, Any]]:
        """All users (copies), owner first, in creation order."""
        return [self._store.user_detail(u) for u in self._store.users_in_order()]

    @property
    def meetings(self) -> list[dict[str, Any]]:
        """All meetings (copies), in creation order."""
        return [self._store.meeting_detail(m) for m in self._store.meetings_in_order()]

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        """A user by id or email (a copy), or ``None``."""
        rec = self._store.find_user(user_id, "")
        return None if rec is None else self._store.user_detail(rec)

    def get_meeting(self, meeting_id: int | str) -> dict[str, Any] | None:
        """A meeting by id (a copy), or ``None``."""
        rec = self._store.find_meeting(str(meeting_id))
        return None if rec is None else self._store.meeting_detail(rec)

    def add_user(
        self,
        email: str | None = None,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        user_type: int = 1,
        status: str = "active",
    ) -> dict[str, Any]:
        """Add one user (no rate limits apply to seeding); returns its ``GET /users/{id}``."""
        if email is not None and self._store.email_taken(email):
            raise ValueError(f"email {email!r} is taken")
        rec = self._store.new_user(
            self.clock.utcnow(),
            email=email,
            first_name=first_name,
            last_name=last_name,
            user_type=user_type,
            status=status,
        )
        return self._store.user_detail(rec)

    def add_users(
        self, n: int, *, user_type: int = 1, status: str = "active"
    ) -> list[dict[str, Any]]:
        """Add ``n`` users with generated names and emails; returns them."""
        return [self.add_user(user_type=user_type, status=status) for _ in range(n)]

    def add_meetings(
        self,
        user_id: str,
        n: int,
        *,
        start: datetime | None = None,
        spacing: timedelta = timedelta(hours=1),
        duration: int = 60,
        topic: str = "Meeting {i}",
    ) -> list[dict[str, Any]]:
        """Add ``n`` scheduled meetings hosted by ``user_id`` (id, email or ``"me"``).

        They start at ``start`` (default: the current hour, UTC) and every ``spacing`` after;
        ``topic`` is formatted with ``i`` (1-based). The report and dashboard endpoints list
        meetings by their start date, as if they had taken place.
        """
        host = self._user(user_id)
        now = self.clock.utcnow()
        first = start if start is not None else now.replace(minute=0, second=0, microsecond=0)
        out = []
        for i in range(n):
            body = {
                "topic": topic.format(i=i + 1),
                "type": 2,
                "start_time": (first + i * spacing).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "duration": duration,
                "timezone": "UTC",
            }
            out.append(self._store.meeting_detail(self._store.new_meeting(host, body, now)))
        return out

    def add_participants(self, meeting_id: int | str, n: int) -> list[dict[str, Any]]:
        """Give meeting ``meeting_id`` ``n`` past participants (for
        ``GET /past_meetings/{meetingId}/participants`` and the reports)."""
        rec = self._store.find_meeting(str(meeting_id))
        if rec is None:
            raise KeyError(f"no meeting {meeting_id!r} in the fake account")
        return self._store.add_participants(rec, n)

    def add_recording(
        self,
        meeting_id: int | str,
        files: int = 2,
        *,
        content: bytes | Sequence[bytes] | None = None,
        file_size: int | None = None,
    ) -> dict[str, Any]:
        """Give meeting ``meeting_id`` a cloud recording with ``files`` files, as if it had just
        ended and been recorded (``recording.completed`` goes to webhook subscribers). Returns
        its ``GET /meetings/{meetingId}/recordings``.

        The fake serves the files at their ``download_url``/``play_url`` (its own host, Zoom's
        ``/rec/download/{fileId}`` path; the access token required, ``Range`` honoured), with
        ``content`` (one ``bytes`` for every file, or one per file, which sets ``files``) or
        else deterministic bytes of ``file_size`` (default 1 KiB times the file's position).
        """
        rec = self._store.find_meeting(str(meeting_id))
        if rec is None:
            raise KeyError(f"no meeting {meeting_id!r} in the fake account")
        if file_size is not None and file_size < 0:
            raise ValueError("file_size must be >= 0")
        contents: list[bytes | None] | None = None
        if isinstance(content, bytes | bytearray | memoryview):
            contents = [bytes(content)] * files
        elif content is not None:
            contents = [bytes(c) for c in content]
            files = len(contents)
        recording = self._store.add_recording(rec, files, self.clock.utcnow(), contents, file_size)
        recording = with_origin(recording, self._origin)
        self._store.emit("recording.completed", recording)
        self._flush_events()
        return recording

    def add_resource(
        self,
        kind: str,
        fields: Mapping[str, Any] | None = None,
        *,
        parent: str | int | None = None,
    ) -> dict[str, Any]:
        """Seed one record of a stateful resource without a request (no rate limits, no
        validation; webhook subscribers are told, as for a create through the API).

        ``kind``: ``"webinar"``, ``"meeting_registrant"``, ``"webinar_registrant"``,
        ``"group"``, ``"chat_channel"``, ``"chat_message"`` or ``"call_queue"``. ``parent``: the
        owner (a user id or email, a meeting id, a webinar id) for the kinds that have one.
        ``fields``: what a create request would send. Returns the record as a ``GET`` answers
        it (its ``id`` included).
        """
        from ._handlers import Call
        from ._resources import engine

        eng = engine(kind)
        params: dict[str, str] = {}
        if eng.res.parent is not None:
            if parent is None:
                raise ValueError(f"a {kind} needs parent= ({eng.res.parent})")
            params[eng.res.parent] = str(parent)
        call = Call(
            method="POST",
            path=str(eng.res.create),
            params=params,
            query={},
            body=json.dumps(dict(fields or {})).encode(),
            me="",
            now=self.clock.monotonic(),
            utc=self.clock.utcnow(),
            store=self._store,
            tokens=self._pages,
            max_page_size=300,
        )
        try:
            eng.create(call)
        except ZoomHTTPError as exc:
            raise KeyError(exc.message) from None
        self._flush_events()
        kept = self._store.resources.records[kind]
        return copy.deepcopy(next(reversed(kept.values())).data)

    def get_resource(self, kind: str, resource_id: str | int) -> dict[str, Any] | None:
        """A record of a stateful resource (a copy), or ``None``."""
        from ._resources import engine

        engine(kind)
        rec = self._store.resources.find(kind, str(resource_id))
        return None if rec is None else copy.deepcopy(rec.data)

    def resources(self, kind: str) -> list[dict[str, Any]]:
        """All records of a stateful resource (copies), in creation order."""
        from ._resources import engine

        engine(kind)
        return [copy.deepcopy(r.data) for r in self._store.resources.records[kind].values()]

    # -- rate limits ---------------------------------------------------------------------------

    def _sync(self) -> tuple[float, datetime]:
        now, utc = self.clock.monotonic(), self.clock.utcnow()
        self._limiter.advance(now, utc)
        return now, utc

    def add_neighbour(
        self,
        category: Category | str,
        rate: float,
        family: Family = "general",
        *,
        start: float | None = None,
    ) -> Neighbour:
        """Another app on the account, sending ``rate`` requests/s of ``category``.

        Its virtual arrivals come at ``start + k / rate`` (``start`` defaults to now, on
        ``clock.monotonic()``), occupy the same window as yours, are refused when it is full,
        and count against the daily quota when Heavy or Resource-intensive. No HTTP is involved.
        """
        self._sync()
        begin = self.clock.monotonic() if start is None else start
        return self._limiter.add_neighbour(Category(category), rate, family, begin)

    def remove_neighbour(
        self, neighbour: Neighbour | Category | str | None = None, family: Family = "general"
    ) -> int:
        """Stop a neighbour (the object :meth:`add_neighbour` returned), all neighbours of a
        category (in ``family``), or all (``None``). Returns how many stopped."""
        self._sync()
        if neighbour is None or isinstance(neighbour, Neighbour):
            return self._limiter.remove_neighbours(neighbour)
        return self._limiter.remove_neighbours((family, Category(neighbour)))

    @property
    def neighbours(self) -> list[Neighbour]:
        """The running neighbours."""
        self._sync()
        return self._limiter.neighbours

    def spend_daily_quota(self, family: Family = "general", n: int = 1) -> None:
        """Count ``n`` Heavy/Resource-intensive requests of another app against today's quota."""
        _, utc = self._sync()
        self._limiter.spend_daily(family, n, utc.date())

    def spend_meeting_quota(self, user_id: str, n: int = 1) -> None:
        """Count ``n`` meeting create/update/delete requests of another app against the daily
        quota of ``user_id`` (id, email or ``"me"``)."""
        _, utc = self._sync()
        self._limiter.spend_meeting(self._user(user_id).id, n, utc.date())

    def daily_quota_remaining(self, family: Family = "general") -> int | None:
        """Today's remaining Heavy + Resource-intensive requests (``None``: no quota)."""
        _, utc = self._sync()
        quota = self.plan.daily_quota_for(family)
        if quota is None:
            return None
        return max(0, quota - self._limiter.daily_used(family, utc.date()))

    def meeting_quota_remaining(self, user_id: str) -> int:
        """Today's remaining meeting create/update/delete requests of ``user_id``."""
        _, utc = self._sync()
        used = self._limiter.meeting_used(self._user(user_id).id, utc.date())
        return max(0, self.plan.meeting_quota_per_user - used)

    def window_usage(self, category: Category | str, family: Family = "general") -> int:
        """Arrivals occupying the category's window right now (yours and neighbours')."""
        now, _ = self._sync()
        return self._limiter.occupancy(family, Category(category), now)

    def max_in_any_window(
        self,
        category: Category | str,
        family: Family = "general",
        *,
        include_neighbours: bool = True,
    ) -> int:
        """The most accepted arrivals seen within any window of the category's length (1 s, or
        60 s for Resource-intensive) since creation or :meth:`reset_stats`.

        With limits enforced it never exceeds the limit; with ``enforce_limits=False`` it tells
        whether a client's own limiter would have stayed within Zoom's limits.
        """
        self._sync()
        return self._limiter.max_in_any_window(
            family, Category(category), include_neighbours=include_neighbours
        )

    def reset_stats(self) -> None:
        """Zero :attr:`stats`, empty :attr:`requests` and forget :meth:`max_in_any_window`
        maxima. Windows and quotas are untouched (see :meth:`reset_limits`)."""
        self._sync()
        self.stats.clear()
        self.requests.clear()
        self._limiter.reset_maxima()

    def reset_limits(self) -> None:
        """Empty every window, daily quota and meeting quota, as at a new day."""
        self._sync()
        self._limiter.reset()

    # -- webhooks ------------------------------------------------------------------------------

    async def subscribe(
        self,
        url: str,
        secret_token: str,
        events: Sequence[str] | None = None,
        *,
        app: Any = None,
        response_timeout: float = ZOOM_TIMEOUT,
        retry_delays: Sequence[float] = ZOOM_RETRY_DELAYS,
    ) -> Subscription:
        """Send webhooks to ``url``, as Zoom sends them to an app's event subscription.

        First the ``endpoint.url_validation`` handshake (raises
        :class:`WebhookValidationFailed` if the endpoint does not answer it correctly); then,
        on every state change of the fake (``meeting.created``, ``meeting.updated``,
        ``user.updated``, ``recording.completed``...) in ``events`` (``None``: all), a POST
        signed with ``secret_token``, retried after each of ``retry_delays`` (Zoom: 5, 30 and
        90 minutes) while the endpoint does not answer 200/204 within ``response_timeout``
        seconds (Zoom: 3).
        Deliveries run in the background on the fake's clock; ``await fake.drain_webhooks()``
        waits for them, and ``subscription.deliveries`` records each one.

        ``app``: an ASGI app to deliver to in-process (``url`` then only gives the path);
        without it ``url`` is reached over the network (e.g. a uvicorn server on 127.0.0.1).
        """
        import httpx

        transport = httpx.ASGITransport(app=app) if app is not None else None
        sub = Subscription(
            url=url,
            events=None if events is None else frozenset(events),
            timeout=response_timeout,
            retry_delays=tuple(float(d) for d in retry_delays),
            _secret=secret_token,
            _client=httpx.AsyncClient(transport=transport),
        )
        try:
            await self._webhooks.validate(sub)
        except BaseException:
            assert sub._client is not None
            await sub._client.aclose()
            raise
        self._webhooks.subscriptions.append(sub)
        return sub

    async def unsubscribe(self, subscription: Subscription | None = None) -> None:
        """Stop sending to one subscription (``None``: all); pending retries are dropped."""
        subs = self._webhooks.subscriptions
        for sub in [s for s in subs if subscription is None or s is subscription]:
            sub.active = False
            subs.remove(sub)
            if sub._client is not None:
                await sub._client.aclose()

    @property
    def subscriptions(self) -> list[Subscription]:
        """The active webhook subscriptions."""
        return list(self._webhooks.subscriptions)

    async def drain_webhooks(self) -> None:
        """Wait until every webhook delivery has been answered 200/204 or run out of retries."""
        await self._webhooks.drain()

    # -- custom answers --------------------------------------------------------------------------

    def handle(self, operation: OperationRef, handler: CustomHandler | None = None) -> Any:
        """Answer ``operation`` with ``handler(request)`` (also usable as a decorator).

        ``operation`` is ``"GET /users/{userId}/settings"``, an operationId, or a
        :class:`zoom_async.catalog.Operation`. The handler gets a :class:`FakeRequest` (after
        authentication, rate limits and validation) and returns a JSON-able body, answered with
        the spec's status, or a :class:`FakeResponse` to choose status and headers; it may be
        ``async``. It replaces the fake's own answer, stateful or not. Returns the handler.
        """
        op = resolve_operation(operation)

        def register(fn: CustomHandler) -> CustomHandler:
            self._handlers[(op.method, op.path)] = fn
            return fn

        return register if handler is None else register(handler)

    def fixture(
        self,
        operation: OperationRef,
        body: Any,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``operation`` with a copy of ``body`` (status: the spec's, unless given)."""
        self.handle(operation, fixture_handler(body, status, headers or {}))

    def remove_handler(self, operation: OperationRef | None = None) -> None:
        """Forget the handler or fixture of ``operation`` (``None``: all of them)."""
        if operation is None:
            self._handlers.clear()
            return
        op = resolve_operation(operation)
        self._handlers.pop((op.method, op.path), None)

    # -- faults --------------------------------------------------------------------------------

    def inject(
        self,
        method: str | None = None,
        path: str | None = None,
        status: int | None = 503,
        *,
        count: int | None = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        drop_connection: bool = False,
        delay: float | None = None,
        after_apply: bool | None = None,
    ) -> Fault:
        """Script a fault for the next ``count`` matching requests (``None``: until removed).

        Args:
            method: HTTP method to match (``None``: any).
            path: path template (``/meetings/{meetingId}``) or glob (``/report/*``), with or
                without ``/v2``; ``/oauth/token`` targets the token endpoint; ``None``: any.
            status: the answer's status; ``None`` with ``delay`` only slows the request.
            body: the answer's body (dict/list: JSON, str: HTML, bytes); default: an HTML
                gateway page for 502/503/504, Zoom's JSON error otherwise.
            headers: extra answer headers (e.g. ``Retry-After``).
            drop_connection: close the connection without any answer.
            delay: seconds to wait before the fault answers.
            after_apply: whether the request reaches the API first (counted against the rate
                limits; a mutation takes effect) and only its answer is replaced or lost.
                Default: ``True`` for 502 ("reached Zoom"), else ``False``.

        Faults are tried in the order injected; the first matching one fires.
        """
        if after_apply is None:
            after_apply = status == 502 and not drop_connection
        if status is None and delay is None and not drop_connection:
            raise ValueError("a fault needs a status, a delay or drop_connection=True")
        fault = Fault(
            method=method,
            path=path,
            status=status,
            count=count,
            body=body,
            headers=dict(headers or {}),
            drop_connection=drop_connection,
            delay=delay,
            after_apply=after_apply,
        )
        return self._faults.add(fault)

    @property
    def faults(self) -> list[Fault]:
        """The scripted faults that will still fire."""
        return [f for f in self._faults.faults if f.active]

    def clear_faults(self, fault: Fault | None = None) -> None:
        """Remove one scripted fault, or all of them."""
        self._faults.remove(fault)

    # -- internals used by the app -------------------------------------------------------------

    def _flush_events(self) -> None:
        """Hand the state changes of the last request to the webhook sender."""
        pending = self._store.pending_events
        if pending and self._webhooks.subscriptions:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # seeded outside the event loop: delivered with the next request
            self._webhooks.publish(list(pending))
        pending.clear()

    async def _sleep_range(self, bounds: Range) -> None:
        lo, hi = bounds
        if hi <= 0:
            return
        await self.clock.sleep(lo if lo == hi else self._rng.uniform(lo, hi))

    def _release(self, path: str) -> None:
        left = self._inflight.get(path, 0) - 1
        if left > 0:
            self._inflight[path] = left
        else:
            self._inflight.pop(path, None)

"""Webhooks the fake sends: ``endpoint.url_validation`` first, then signed event deliveries on
every state change, retried as Zoom retries them.

Zoom's rules, as its webhook documentation gives them: the endpoint must answer
``endpoint.url_validation`` with ``{"plainToken", "encryptedToken"}`` (HMAC-SHA256 of the plain
token, keyed by the secret token) before it gets events; a delivery counts as received when the
endpoint answers 200 or 204 within 3 seconds; otherwise Zoom tries again, three more times, 5,
30 and 90 minutes later. Every request carries ``x-zm-request-timestamp`` and ``x-zm-signature``
(``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``). Timings are settings of the subscription, and
waits run on the fake's clock, so tests under ``looptime`` do not wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from ..webhooks import sign

if TYPE_CHECKING:
    from ._fake import FakeZoom

__all__ = ["Delivery", "Subscription", "WebhookSender", "WebhookValidationFailed"]

ZOOM_RETRY_DELAYS = (300.0, 1800.0, 5400.0)
"""Zoom's retries after a failed delivery: 5, 30 and 90 minutes later."""
ZOOM_TIMEOUT = 3.0
"""Seconds Zoom waits for the endpoint's 200/204."""


class WebhookValidationFailed(Exception):
    """The endpoint did not answer ``endpoint.url_validation`` as Zoom requires."""


@dataclass
class Delivery:
    """One event sent (or being sent) to a subscription."""

    event: str
    body: bytes
    """The exact JSON bytes posted (the same on every attempt)."""
    attempts: list[int | None] = field(default_factory=list)
    """Status of each attempt; ``None`` for a timeout or a connection error."""
    delivered: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(eq=False)
class Subscription:
    """An endpoint subscribed with :meth:`FakeZoom.subscribe`."""

    url: str
    events: frozenset[str] | None
    """Event names delivered (``None``: all)."""
    timeout: float = ZOOM_TIMEOUT
    retry_delays: tuple[float, ...] = ZOOM_RETRY_DELAYS
    deliveries: list[Delivery] = field(default_factory=list)
    active: bool = True
    _secret: str = field(default="", repr=False)
    _client: httpx.AsyncClient | None = field(default=None, repr=False)

    def wants(self, event: str) -> bool:
        return self.active and (self.events is None or event in self.events)


class WebhookSender:
    """Turns the fake's state changes into deliveries for its subscriptions."""

    def __init__(self, fake: FakeZoom) -> None:
        self._fake = fake
        self.subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- requests -------------------------------------------------------------------------

    def _headers(self, sub: Subscription, body: bytes) -> dict[str, str]:
        timestamp = int(self._fake.clock.utcnow().timestamp())
        return {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Zoom Marketplace/1.0a",
            "x-zm-request-timestamp": str(timestamp),
            "x-zm-signature": sign(sub._secret, timestamp, body),
        }

    async def _post(self, sub: Subscription, body: bytes) -> httpx.Response | None:
        assert sub._client is not None
        try:
            async with asyncio.timeout(sub.timeout):
                return await sub._client.post(
                    sub.url, content=body, headers=self._headers(sub, body)
                )
        except (TimeoutError, httpx.HTTPError):
            return None

    async def validate(self, sub: Subscription) -> None:
        """Zoom's ``endpoint.url_validation`` handshake; raises if the endpoint fails it."""
        plain = secrets.token_urlsafe(16)
        body = self._encode(
            {
                "payload": {"plainToken": plain},
                "event_ts": self._now_ms(),
                "event": "endpoint.url_validation",
            }
        )
        response = await self._post(sub, body)
        expected = hmac.new(sub._secret.encode(), plain.encode(), hashlib.sha256).hexdigest()
        if response is None or response.status_code != 200:
            status = "no answer" if response is None else f"status {response.status_code}"
            raise WebhookValidationFailed(f"{sub.url} failed endpoint.url_validation: {status}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if (
            not isinstance(answer, dict)
            or answer.get("plainToken") != plain
            or not hmac.compare_digest(str(answer.get("encryptedToken", "")), expected)
        ):
            raise WebhookValidationFailed(
                f"{sub.url} answered endpoint.url_validation without the right encryptedToken"
            )

    # -- events ---------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._fake.clock.utcnow().timestamp() * 1000)

    @staticmethod
    def _encode(payload: dict[str, Any]) -> bytes:
        return json.dumps(payload, separators=(",", ":")).encode()

    def payload(self, event: str, obj: dict[str, Any], old: dict[str, Any] | None) -> bytes:
        """The delivery body: Zoom's envelope around ``obj``, cut to what the event's model
        types correctly (fields the generated model would refuse are left out)."""
        from ..events import model_for

        store = self._fake._store
        owner = store.users.get(store.owner_id)
        inner: dict[str, Any] = {
            "account_id": store.account_id,
            "operator": owner.data["email"] if owner else "",
            "operator_id": store.owner_id,
            "object": obj,
        }
        if old is not None:
            inner["old_object"] = old
        if event.endswith(".updated"):
            inner["time_stamp"] = self._now_ms()
        envelope = {"event": event, "event_ts": self._now_ms(), "payload": inner}
        model = model_for(event)
        for _ in range(50):
            try:
                model.model_validate(envelope)
                break
            except Exception as exc:  # pydantic.ValidationError: drop the fields it names
                errors: list[dict[str, Any]] = getattr(exc, "errors", list)()
                if not errors:
                    raise
                for error in errors:
                    _drop(envelope, list(error.get("loc", ())))
        return self._encode(envelope)

    def publish(self, changes: Sequence[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> None:
        """Queue a delivery of each change to every subscription that wants it."""
        for event, obj, old in changes:
            targets = [s for s in self.subscriptions if s.wants(event)]
            if not targets:
                continue
            body = self.payload(event, obj, old)
            for sub in targets:
                delivery = Delivery(event, body)
                sub.deliveries.append(delivery)
                task = asyncio.get_running_loop().create_task(self._deliver(sub, delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sub: Subscription, delivery: Delivery) -> None:
        delays = (0.0, *sub.retry_delays)
        for delay in delays:
            if delay:
                await self._fake.clock.sleep(delay)
            if not sub.active:
                return
            response = await self._post(sub, delivery.body)
            delivery.attempts.append(None if response is None else response.status_code)
            if response is not None and response.status_code in (200, 204):
                delivery.delivered = True
                return

    async def drain(self) -> None:
        """Wait until every delivery has succeeded or run out of retries."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for sub in self.subscriptions:
            if sub._client is not None:
                await sub._client.aclose()
        self.subscriptions.clear()


def _drop(node: Any, loc: list[Any]) -> None:
    """Remove the value at ``loc`` (pydantic's error location) from ``node``."""
    path = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    while path:
        target = node
        try:
            for part in path[:-1]:
                target = target[part]
            if isinstance(target, dict) and path[-1] in target:
                del target[path[-1]]
                return
            if isinstance(target, list) and isinstance(path[-1], int) and path[-1] < len(target):
                del target[path[-1]]
                return
        except (KeyError, IndexError, TypeError):
            pass
        path = path[:-1]  # a union member's name or a bad container: drop the parent

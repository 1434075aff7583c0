"""The options every command shares, and the client they describe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from .._client import DEFAULT_BASE_URL, ZoomClient
from ..auth import DEFAULT_TOKEN_URL
from ..errors import ConfigurationError
from ..plans import RateLimitTable, resolve_plan
from ._errors import ExitCode, fail

__all__ = ["Settings"]


@dataclass
class Settings:
    """What ``zoom-async [OPTIONS] COMMAND`` was given (flags, else ``ZOOM_*`` variables)."""

    account_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    plan: str = "pro"
    budget_share: float = 1.0
    base_url: str | None = None
    token_url: str | None = None
    redis_url: str | None = field(default=None, repr=False)
    redis_cluster: bool = False

    def table(self) -> RateLimitTable:
        """The rate-limit table the client applies (plan scaled by the budget share)."""
        try:
            return resolve_plan(self.plan, budget_share=self.budget_share)
        except ConfigurationError as exc:
            fail(str(exc))

    @asynccontextmanager
    async def client(self, **kwargs: Any) -> AsyncIterator[ZoomClient]:
        """An open client for these settings (and the Redis store behind it, if any).

        Missing credentials are a clear one-line error, before anything is sent.
        """
        missing = [
            flag
            for flag, value in (
                ("--account-id / ZOOM_ACCOUNT_ID", self.account_id),
                ("--client-id / ZOOM_CLIENT_ID", self.client_id),
                ("--client-secret / ZOOM_CLIENT_SECRET", self.client_secret),
            )
            if not value
        ]
        if missing:
            fail(
                "missing credentials: set " + ", ".join(missing) + " (a Server-to-Server OAuth "
                "app's Account ID, Client ID and Client Secret, from the Zoom App Marketplace)",
                ExitCode.CREDENTIALS,
            )
        if self.redis_cluster and not self.redis_url:
            fail("--redis-cluster needs --redis URL (a node of the cluster)")
        store = _redis_store(self.redis_url, self.redis_cluster) if self.redis_url else None
        try:
            async with ZoomClient(
                account_id=self.account_id,
                client_id=self.client_id,
                client_secret=self.client_secret,
                plan=self.table(),
                base_url=self.base_url or DEFAULT_BASE_URL,
                token_url=self.token_url or DEFAULT_TOKEN_URL,
                store=store,
                **kwargs,
            ) as zoom:
                yield zoom
        finally:
            if store is not None:
                await store.aclose()


def _redis_store(url: str, cluster: bool) -> Any:
    """A ``RedisStore`` for ``--redis``: the limits shared with every process using ``url``
    (with ``--redis-cluster``, a node of a Redis Cluster)."""
    try:
        from .. import redis_store  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        fail("--redis needs the redis extra: pip install 'zoom-async[redis]'")
    try:
        return redis_store.RedisStore.from_url(url, cluster=cluster)
    except (ConfigurationError, ValueError) as exc:  # redis-py: ValueError for a bad URL
        fail(f"--redis: {exc}")  # not the URL itself: it may hold the Redis password

"""Shared fixtures: credentials, a respx-mocked Zoom, and quick retry policies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from zoom_async import ExponentialBackoff, RetryPolicy, ZoomClient
from zoom_async.testing import FakeZoom

CLIENT_SECRET = "s3cr3t-client-secret-value"
ACCESS_TOKEN = "eyJ-access-token-value-0001"
API = "https://api.zoom.us/v2"
TOKEN_URL = "https://zoom.us/oauth/token"


@pytest.fixture
def credentials() -> dict[str, str]:
    return {"account_id": "acct-1", "client_id": "client-1", "client_secret": CLIENT_SECRET}


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Retries without real waiting (backoff of at most 1 ms)."""
    return RetryPolicy(backoff=ExponentialBackoff(initial=0.001, maximum=0.001))


@pytest.fixture
def zoom_api() -> Iterator[respx.MockRouter]:
    """respx router for api.zoom.us with a working token endpoint."""
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL, name="token").mock(
            return_value=httpx.Response(
                200, json={"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3599}
            )
        )
        yield router


JITTER = ((0.005, 0.025), (0.005, 0.025))
"""10-50 ms round trips, jittered independently on the way there and back."""


def client_for(fake: FakeZoom, **kwargs: Any) -> ZoomClient:
    """A ZoomClient talking to ``fake`` in-process, on the fake's clock and plan."""
    kwargs.setdefault("plan", fake.plan)
    kwargs.setdefault("transport", fake.transport())
    return ZoomClient(
        account_id=fake.account_id,
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        base_url=fake.base_url,
        token_url=fake.token_url,
        clock=fake.clock,
        **kwargs,
    )

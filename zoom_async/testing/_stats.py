"""What the fake saw: counters for assertions and benchmarks, and the request log."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..plans import Category, Family

__all__ = ["FakeZoomStats", "RequestRecord"]

LimitKey = tuple[Family, Category]


@dataclass
class RequestRecord:
    """One request the fake received (API call or token request), in arrival order.

    ``arrival`` is ``clock.monotonic()`` when the request arrived, i.e. after the uplink delay.
    ``status`` is ``None`` while the request is in flight and when the connection was dropped.
    ``applied`` tells whether the API logic ran (a POST's mutation took effect), which a test of
    a fault can use to tell "never reached Zoom" from "reached Zoom, answer lost".
    """

    method: str
    path: str
    query: str
    arrival: float
    category: Category | None = None
    family: Family | None = None
    operation_id: str | None = None
    status: int | None = None
    rate_limit_type: str | None = None
    """``"QPS"``, ``"Daily-limit"``, ``"Meeting-quota"`` or ``"Concurrent"`` on a 429."""
    fault: str | None = None
    """``"502"``, ``"drop"``... when an injected or random fault answered."""
    applied: bool = False
    dropped: bool = False
    user_id: str | None = None
    """The user the access token belongs to (API calls with a valid token)."""
    answered_by: str | None = None
    """Who made the answer of an API call that passed the rate limits: ``"stateful"`` (the
    fake's simulated account), ``"custom"`` (a handler or fixture registered with
    :meth:`FakeZoom.handle` / :meth:`FakeZoom.fixture`) or ``"schema"`` (built from the spec's
    schema only: the shape is Zoom's, the values are made up)."""

    @property
    def schema_only(self) -> bool:
        """Whether the answer was built from the spec's schema alone (see ``answered_by``)."""
        return self.answered_by == "schema"


@dataclass
class FakeZoomStats:
    """Counters since the fake was created or since :meth:`FakeZoom.reset_stats`.

    Keys of the per-limit counters are ``(family, category)``, e.g. ``("general",
    Category.LIGHT)``; ``rate_limited`` is keyed by limit type (``"QPS"``, ``"Daily-limit"``,
    ``"Meeting-quota"``, ``"Concurrent"``).
    """

    requests: int = 0
    """API requests that arrived (token requests excluded)."""
    token_requests: int = 0
    """Requests to ``POST /oauth/token``, successful or not."""
    file_requests: int = 0
    """Requests for recording files (``/rec/download/...``, ``/rec/play/...``): not API
    requests, so no rate limit counts them."""
    accepted: Counter[LimitKey] = field(default_factory=Counter)
    """API requests that passed every rate limit, per ``(family, category)``."""
    rate_limited: Counter[str] = field(default_factory=Counter)
    """429 answers by limit type."""
    rate_limited_by: Counter[tuple[Family, Category, str]] = field(default_factory=Counter)
    """429 answers per ``(family, category, limit type)``."""
    neighbour_accepted: Counter[LimitKey] = field(default_factory=Counter)
    """Virtual arrivals of neighbour apps that the windows accepted."""
    neighbour_refused: Counter[LimitKey] = field(default_factory=Counter)
    """Virtual arrivals of neighbour apps that the windows (or the daily quota) refused."""
    status_codes: Counter[int] = field(default_factory=Counter)
    """Answers by HTTP status (token requests included)."""
    faults: int = 0
    """Requests answered by an injected or random fault (dropped connections included)."""
    dropped_connections: int = 0
    """Connections closed without an answer."""
    answered_by: Counter[str] = field(default_factory=Counter)
    """Answers by source: ``"stateful"``, ``"custom"``, ``"schema"``, and ``"strict"`` for the
    501s of ``strict=True``."""
    schema_only: Counter[str] = field(default_factory=Counter)
    """Requests per operation (``"GET /users/{userId}/settings"``) that the fake could answer
    only from the spec's schema (or refused with 501 under ``strict=True``): what a test relies
    on that the fake does not simulate."""

    def accepted_for(self, category: Category | str, family: Family = "general") -> int:
        """Accepted API requests of one category."""
        return self.accepted[(family, Category(category))]

    @property
    def total_rate_limited(self) -> int:
        """All 429 answers."""
        return sum(self.rate_limited.values())

    def clear(self) -> None:
        """Zero every counter in place."""
        self.requests = 0
        self.token_requests = 0
        self.file_requests = 0
        self.faults = 0
        self.dropped_connections = 0
        for counter in (
            self.accepted,
            self.rate_limited,
            self.rate_limited_by,
            self.neighbour_accepted,
            self.neighbour_refused,
            self.status_codes,
            self.answered_by,
            self.schema_only,
        ):
            counter.clear()

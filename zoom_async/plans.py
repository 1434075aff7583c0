"""Zoom's published rate limits, per account plan.

The numbers are those of Zoom's rate-limit page (``docs/rate-limits.md`` quotes it): requests per
second for Light, Medium and Heavy APIs, requests per minute for Resource-intensive APIs, a daily
quota shared by Heavy and Resource-intensive APIs, and Zoom Phone's own table. Accounts with
negotiated limits pass their own :class:`RateLimitTable` as ``plan=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

from .errors import ConfigurationError

__all__ = [
    "BUSINESS_PLUS",
    "MEETING_QUOTA_PER_USER",
    "PRO",
    "Category",
    "CategoryLimit",
    "Family",
    "PlanName",
    "RateLimitTable",
    "resolve_plan",
]


class Category(StrEnum):
    """Zoom's rate-limit label of an operation."""

    LIGHT = "Light"
    MEDIUM = "Medium"
    HEAVY = "Heavy"
    RESOURCE_INTENSIVE = "Resource-intensive"

    @classmethod
    def parse(cls, label: str) -> Category:
        """Parse a label as written in Zoom's specs (``LIGHT``, ``Resource-intensive``...)."""
        norm = label.strip().strip("`").replace("_", "-").replace(" ", "-").lower()
        for member in cls:
            if member.value.lower() == norm:
                return member
        raise ValueError(f"unknown rate limit label {label!r}")

    @property
    def uses_daily_quota(self) -> bool:
        """Heavy and Resource-intensive requests draw from the account's daily quota."""
        return self in (Category.HEAVY, Category.RESOURCE_INTENSIVE)


Family = Literal["general", "phone"]
"""Zoom Phone APIs (``/phone/...``) have a table of their own."""

PlanName = Literal["pro", "business_plus"]

MEETING_QUOTA_PER_USER = 100
"""Meeting create/update/delete requests one user may make per UTC day."""


@dataclass(frozen=True, slots=True)
class CategoryLimit:
    """``limit`` requests in any window of ``window`` seconds."""

    limit: int
    window: float = 1.0

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.limit / self.window


@dataclass(frozen=True, slots=True)
class RateLimitTable:
    """Every limit of one account plan.

    ``general`` and ``phone`` map each category to its window limit; ``daily_quota`` is the
    number of Heavy + Resource-intensive requests a day per family (``None``: no daily quota).

    Example, an account with negotiated limits::

        table = PRO.with_overrides(general={Category.LIGHT: CategoryLimit(50)})
    """

    name: str
    general: Mapping[Category, CategoryLimit]
    phone: Mapping[Category, CategoryLimit]
    daily_quota: Mapping[str, int | None] = field(default_factory=dict)
    meeting_quota_per_user: int = MEETING_QUOTA_PER_USER

    def limit_for(self, family: Family, category: Category) -> CategoryLimit:
        """The window limit of ``category`` in ``family``.

        Zoom Phone documents no Resource-intensive row; such an operation gets Phone's Heavy
        limit scaled to a minute window, the conservative choice.
        """
        table = self.phone if family == "phone" else self.general
        if category in table:
            return table[category]
        if category is Category.RESOURCE_INTENSIVE and Category.HEAVY in table:
            return CategoryLimit(limit=table[Category.HEAVY].limit, window=60.0)
        return self.general[category]

    def daily_quota_for(self, family: Family) -> int | None:
        """The daily Heavy + Resource-intensive quota of ``family``, if any."""
        return self.daily_quota.get(family)

    def with_overrides(
        self,
        *,
        name: str | None = None,
        general: Mapping[Category, CategoryLimit] | None = None,
        phone: Mapping[Category, CategoryLimit] | None = None,
        daily_quota: Mapping[str, int | None] | None = None,
    ) -> RateLimitTable:
        """A copy with some limits replaced."""
        return replace(
            self,
            name=name or f"{self.name}+custom",
            general={**self.general, **(general or {})},
            phone={**self.phone, **(phone or {})},
            daily_quota={**self.daily_quota, **(daily_quota or {})},
        )

    def scaled(self, share: float) -> RateLimitTable:
        """This table with every limit multiplied by ``share`` (0 < share <= 1), rounded down.

        Other apps on the account draw from the same budget; ``budget_share`` gives this client
        only its part of it.
        """
        if not 0 < share <= 1:
            raise ConfigurationError(f"budget_share must be in (0, 1], got {share!r}")
        if share == 1:
            return self

        def scale(table: Mapping[Category, CategoryLimit]) -> dict[Category, CategoryLimit]:
            return {
                c: CategoryLimit(max(1, int(v.limit * share)), v.window) for c, v in table.items()
            }

        return replace(
            self,
            name=f"{self.name}*{share:g}",
            general=scale(self.general),
            phone=scale(self.phone),
            daily_quota={
                k: (None if v is None else max(1, int(v * share)))
                for k, v in self.daily_quota.items()
            },
        )


PRO = RateLimitTable(
    name="pro",
    general={
        Category.LIGHT: CategoryLimit(30),
        Category.MEDIUM: CategoryLimit(20),
        Category.HEAVY: CategoryLimit(10),
        Category.RESOURCE_INTENSIVE: CategoryLimit(10, 60.0),
    },
    phone={
        Category.LIGHT: CategoryLimit(20),
        Category.MEDIUM: CategoryLimit(10),
        Category.HEAVY: CategoryLimit(5),
    },
    daily_quota={"general": 30_000, "phone": 30_000},
)
"""Pro accounts."""

BUSINESS_PLUS = RateLimitTable(
    name="business_plus",
    general={
        Category.LIGHT: CategoryLimit(80),
        Category.MEDIUM: CategoryLimit(60),
        Category.HEAVY: CategoryLimit(40),
        Category.RESOURCE_INTENSIVE: CategoryLimit(20, 60.0),
    },
    phone={
        Category.LIGHT: CategoryLimit(40),
        Category.MEDIUM: CategoryLimit(20),
        Category.HEAVY: CategoryLimit(10),
    },
    daily_quota={"general": 60_000, "phone": 30_000},
)
"""Business, Education, Enterprise and Partner accounts."""

_PLANS: dict[str, RateLimitTable] = {
    "pro": PRO,
    "business_plus": BUSINESS_PLUS,
    "business": BUSINESS_PLUS,
    "business+": BUSINESS_PLUS,
    "enterprise": BUSINESS_PLUS,
    "education": BUSINESS_PLUS,
    "partner": BUSINESS_PLUS,
}


def resolve_plan(
    plan: str | RateLimitTable | Mapping[str, object], *, budget_share: float = 1.0
) -> RateLimitTable:
    """Turn ``plan=`` into a table: ``"pro"``, ``"business_plus"``, a table, or a mapping.

    A mapping may name categories by label, e.g. ``{"Light": 50, "Medium": 30}`` (requests per
    second; ``"Resource-intensive"`` is per minute) and optionally ``"base": "pro"`` and
    ``"daily_quota": 40000``; unnamed categories keep the base plan's limits.
    """
    if isinstance(plan, RateLimitTable):
        table = plan
    elif isinstance(plan, str):
        try:
            table = _PLANS[plan.strip().lower().replace("-", "_").replace(" ", "_")]
        except KeyError:
            raise ConfigurationError(
                f"unknown plan {plan!r}: use 'pro', 'business_plus', or a RateLimitTable"
            ) from None
    elif isinstance(plan, Mapping):
        table = _table_from_mapping(plan)
    else:
        raise ConfigurationError(
            f"plan must be a name, a mapping or a RateLimitTable, not {plan!r}"
        )
    return table.scaled(budget_share)


def _table_from_mapping(spec: Mapping[str, object]) -> RateLimitTable:
    base_name = spec.get("base", "pro")
    if not isinstance(base_name, str) or base_name not in _PLANS:
        raise ConfigurationError(
            f"plan mapping 'base' must be 'pro' or 'business_plus', not {base_name!r}"
        )
    base = _PLANS[base_name]
    general: dict[Category, CategoryLimit] = {}
    daily: dict[str, int | None] = {}
    for key, value in spec.items():
        if key == "base":
            continue
        if key == "daily_quota":
            if not isinstance(value, int) or value < 1:
                raise ConfigurationError("daily_quota must be a positive integer")
            daily["general"] = value
            continue
        try:
            category = Category.parse(key)
        except ValueError:
            raise ConfigurationError(
                f"unknown key {key!r} in plan mapping: use Light, Medium, Heavy, "
                "Resource-intensive, daily_quota or base"
            ) from None
        if not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"limit for {key} must be a positive integer, got {value!r}")
        window = 60.0 if category is Category.RESOURCE_INTENSIVE else 1.0
        general[category] = CategoryLimit(value, window)
    return base.with_overrides(name="custom", general=general, daily_quota=daily)

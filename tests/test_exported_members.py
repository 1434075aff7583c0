"""Pins the public surface: everything exported exists, is documented, and nothing leaks."""

from __future__ import annotations

import inspect

import zoom_async
from zoom_async import (
    auth,
    catalog,
    clock,
    downloads,
    errors,
    fan_out,
    limits,
    pagination,
    plans,
    progress,
    retries,
    webhooks,
)

EXPECTED = {
    "BUSINESS_PLUS",
    "DEFAULT_BASE_URL",
    "DEFAULT_FILE_BASE_URL",
    "PRO",
    "AuthError",
    "BadRequestError",
    "Category",
    "CategoryLimit",
    "Clock",
    "ConcurrentRequestsError",
    "ConfigurationError",
    "ConflictError",
    "DailyLimitExceeded",
    "ExponentialBackoff",
    "ForbiddenError",
    "InMemoryStore",
    "InMemoryTokenStore",
    "LimitEvent",
    "LimiterStore",
    "LimiterUnavailable",
    "LimitsSnapshot",
    "MeetingQuotaExceeded",
    "NotFoundError",
    "OAuthToken",
    "PageTokenExpired",
    "RateLimitError",
    "RateLimitTable",
    "RateLimiter",
    "RedisStore",
    "ResponseDecodeError",
    "ResponseTooLarge",
    "RetryPolicy",
    "ServerError",
    "ServerToServerAuth",
    "StaticToken",
    "SystemClock",
    "TokenSource",
    "TokenStore",
    "UserOAuth",
    "WebhookVerificationError",
    "ZoomAPIError",
    "ZoomClient",
    "ZoomConnectionError",
    "ZoomError",
    "ZoomTimeoutError",
    "__version__",
    "encode_path_param",
    "DownloadError",
    "DownloadResult",
    "FanOutError",
    "Result",
    "Checkpoint",
    "Page",
    "PaginationError",
    "PaginationLoopError",
    "Paginator",
    "WebhookPayloadError",
    "Webhooks",
}


def test_exported_members_are_pinned() -> None:
    assert set(zoom_async.__all__) == EXPECTED


def test_every_export_exists_and_public_classes_are_documented() -> None:
    for module in (
        zoom_async,
        auth,
        catalog,
        clock,
        downloads,
        errors,
        fan_out,
        limits,
        pagination,
        plans,
        progress,
        retries,
        webhooks,
    ):
        for name in module.__all__:
            member = getattr(module, name)
            if inspect.isclass(member) or inspect.isfunction(member):
                assert member.__doc__, f"{module.__name__}.{name} has no docstring"


def test_every_error_derives_from_zoom_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ZoomError)


def test_rate_limit_errors_are_importable_from_the_top_level() -> None:
    assert issubclass(zoom_async.MeetingQuotaExceeded, zoom_async.RateLimitError)
    assert issubclass(zoom_async.DailyLimitExceeded, zoom_async.RateLimitError)


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("zoom_async").joinpath("py.typed").is_file()

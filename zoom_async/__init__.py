"""zoom-async: an asyncio SDK for the whole Zoom REST API.

It never sends a request that Zoom's rate limits would refuse, and still uses every request per
second the account's plan allows::

    from zoom_async import ZoomClient

    async with ZoomClient(plan="business_plus") as zoom:
        me = await zoom.get("/users/me")
"""

from ._client import DEFAULT_BASE_URL, DEFAULT_FILE_BASE_URL, ZoomClient, encode_path_param
from ._version import __version__
from .auth import (
    InMemoryTokenStore,
    OAuthToken,
    ServerToServerAuth,
    StaticToken,
    TokenSource,
    TokenStore,
    UserOAuth,
)
from .clock import Clock, SystemClock
from .downloads import DownloadError, DownloadResult
from .errors import (
    AuthError,
    BadRequestError,
    ConcurrentRequestsError,
    ConfigurationError,
    ConflictError,
    DailyLimitExceeded,
    ForbiddenError,
    LimiterUnavailable,
    MeetingQuotaExceeded,
    NotFoundError,
    PageTokenExpired,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLarge,
    ServerError,
    WebhookVerificationError,
    ZoomAPIError,
    ZoomConnectionError,
    ZoomError,
    ZoomTimeoutError,
)
from .fan_out import FanOutError, Result
from .limits import InMemoryStore, LimiterStore, LimitEvent, LimitsSnapshot, RateLimiter
from .pagination import Checkpoint, Page, PaginationError, PaginationLoopError, Paginator
from .plans import BUSINESS_PLUS, PRO, Category, CategoryLimit, RateLimitTable
from .redis_store import RedisStore
from .retries import ExponentialBackoff, RetryPolicy
from .webhooks import WebhookPayloadError, Webhooks

__all__ = [
    "BUSINESS_PLUS",
    "DEFAULT_BASE_URL",
    "DEFAULT_FILE_BASE_URL",
    "PRO",
    "AuthError",
    "BadRequestError",
    "Category",
    "CategoryLimit",
    "Checkpoint",
    "Clock",
    "ConcurrentRequestsError",
    "ConfigurationError",
    "ConflictError",
    "DailyLimitExceeded",
    "DownloadError",
    "DownloadResult",
    "ExponentialBackoff",
    "FanOutError",
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
    "Page",
    "PageTokenExpired",
    "PaginationError",
    "PaginationLoopError",
    "Paginator",
    "RateLimitError",
    "RateLimitTable",
    "RateLimiter",
    "RedisStore",
    "ResponseDecodeError",
    "ResponseTooLarge",
    "Result",
    "RetryPolicy",
    "ServerError",
    "ServerToServerAuth",
    "StaticToken",
    "SystemClock",
    "TokenSource",
    "TokenStore",
    "UserOAuth",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "Webhooks",
    "ZoomAPIError",
    "ZoomClient",
    "ZoomConnectionError",
    "ZoomError",
    "ZoomTimeoutError",
    "__version__",
    "encode_path_param",
]

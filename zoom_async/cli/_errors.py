"""Exit codes, and expected failures as one clear line instead of a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from enum import IntEnum
from typing import Any, NoReturn

from ..errors import (
    AuthError,
    ConfigurationError,
    LimiterUnavailable,
    NotFoundError,
    RateLimitError,
    ZoomAPIError,
    ZoomConnectionError,
    ZoomError,
)

__all__ = ["CommandError", "ExitCode", "fail", "run"]


class ExitCode(IntEnum):
    """What ``zoom-async`` exits with.

    ====  ===========================================================================
    code  meaning
    ====  ===========================================================================
    0     success
    1     Zoom answered with another error (400, 403, 409, 5xx, an unreadable answer)
    2     usage: a bad option, argument or input file
    3     credentials missing, or refused by Zoom
    4     not found (404)
    5     rate limit or quota: the daily limit, a user's meeting quota, 429 after retries
    6     network: Zoom (or ``ZOOM_BASE_URL``) unreachable, timeout, shared store down
    130   interrupted (Ctrl-C); ``export`` resumes where it stopped
    ====  ===========================================================================
    """

    OK = 0
    API_ERROR = 1
    USAGE = 2
    CREDENTIALS = 3
    NOT_FOUND = 4
    RATE_LIMITED = 5
    NETWORK = 6
    INTERRUPTED = 130


class CommandError(Exception):
    """An expected failure: printed as one line, exits with ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> NoReturn:
    raise CommandError(message, code)


def classify(exc: ZoomError) -> ExitCode:
    """The exit code for a library error."""
    if isinstance(exc, AuthError):
        return ExitCode.CREDENTIALS
    if isinstance(exc, NotFoundError):
        return ExitCode.NOT_FOUND
    if isinstance(exc, RateLimitError):
        return ExitCode.RATE_LIMITED
    if isinstance(exc, ZoomConnectionError | LimiterUnavailable):
        return ExitCode.NETWORK
    if isinstance(exc, ConfigurationError):
        return ExitCode.USAGE
    return ExitCode.API_ERROR


def _root_cause(exc: BaseException) -> BaseException:
    """Pagination and fan-out wrap the request's error: report the request's error."""
    seen = 0
    while exc.__cause__ is not None and not isinstance(exc, ZoomAPIError) and seen < 5:
        if isinstance(exc.__cause__, ZoomError):
            exc = exc.__cause__
        else:
            break
        seen += 1
    return exc


def run(coro: Coroutine[Any, Any, int]) -> int:
    """Run a command's coroutine; expected failures become one line on stderr and an exit code."""
    try:
        return asyncio.run(coro)
    except CommandError as exc:
        print(f"zoom-async: {exc}", file=sys.stderr)
        return int(exc.code)
    except KeyboardInterrupt:
        print("zoom-async: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except ZoomError as exc:
        cause = _root_cause(exc)
        assert isinstance(cause, ZoomError)
        message = " ".join(str(cause).split())
        print(f"zoom-async: {message}", file=sys.stderr)
        return int(classify(cause))

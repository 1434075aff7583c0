"""Fault injection: scripted errors, slow answers and dropped connections, plus random errors.

A fault fires either before the request reaches the API logic (``after_apply=False``: nothing
is counted against rate limits, no mutation happens) or after it (``after_apply=True``: the
request was counted and applied, then its answer was replaced or lost), which is what a client
must assume of a 502 or of a connection lost while waiting for the answer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ._responses import Reply

__all__ = ["Fault", "FaultInjector", "normalize_path"]


def normalize_path(path: str) -> str:
    """A request path without the ``/v2`` prefix and trailing slash."""
    if path == "/v2" or path.startswith("/v2/"):
        path = path[3:] or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path


def _compile(pattern: str) -> re.Pattern[str]:
    pattern = normalize_path(pattern if pattern.startswith("/") else "/" + pattern)
    out = []
    for token in re.split(r"(\{[^}/]*\}|\*|\?)", pattern):
        if token == "*":
            out.append(".*")
        elif token == "?":
            out.append("[^/]")
        elif token.startswith("{") and token.endswith("}"):
            out.append("[^/]+")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


def default_fault_body(status: int) -> Any:
    """What a failing gateway or Zoom sends: HTML for 502/503/504, Zoom's JSON otherwise."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status in (502, 503, 504):
        return (
            f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
        )
    return {"code": status, "message": phrase}


@dataclass(eq=False)
class Fault:
    """One scripted fault; returned by :meth:`FakeZoom.inject`.

    It applies to requests matching ``method`` (``None``: any) and ``path`` (``None``: any; a
    template such as ``/meetings/{meetingId}`` or a glob such as ``/report/*``, with or without
    the ``/v2`` prefix; ``/oauth/token`` targets the token endpoint), ``count`` times (``None``:
    until removed). ``fired`` counts how often it fired.
    """

    method: str | None = None
    path: str | None = None
    status: int | None = 503
    count: int | None = 1
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_connection: bool = False
    delay: float | None = None
    after_apply: bool = False
    fired: int = 0
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method is not None:
            self.method = self.method.upper()
        if self.path is not None:
            self._regex = _compile(self.path)

    @property
    def active(self) -> bool:
        """Whether the fault will fire again."""
        return self.count is None or self.fired < self.count

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is targeted (``path`` already normalized)."""
        if self.method is not None and self.method != method:
            return False
        return self._regex is None or self._regex.fullmatch(path) is not None

    def reply(self) -> Reply | None:
        """The answer it gives (``None`` for a delay-only fault or a dropped connection)."""
        if self.drop_connection or self.status is None:
            return None
        body = default_fault_body(self.status) if self.body is None else self.body
        return Reply(self.status, body, dict(self.headers))

    @property
    def label(self) -> str:
        """``"drop"``, the status, or ``"delay"``."""
        if self.drop_connection:
            return "drop"
        return str(self.status) if self.status is not None else "delay"


class FaultInjector:
    """Scripted faults, first match wins, plus an optional random error rate."""

    def __init__(
        self, rng: random.Random, error_rate: float, error_statuses: tuple[int, ...]
    ) -> None:
        self._rng = rng
        self.faults: list[Fault] = []
        self.error_rate = error_rate
        self.error_statuses = error_statuses

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def remove(self, fault: Fault | None = None) -> None:
        """Remove one fault, or all (``None``)."""
        if fault is None:
            self.faults.clear()
        else:
            self.faults = [f for f in self.faults if f is not fault]

    def take(self, method: str, path: str, *, after_apply: bool) -> Fault | None:
        """The first active fault of this phase matching the request; it counts as fired."""
        for fault in self.faults:
            if fault.after_apply == after_apply and fault.active and fault.matches(method, path):
                fault.fired += 1
                return fault
        return None

    def roll(self) -> Fault | None:
        """A random fault with probability ``error_rate`` (502s fire after applying)."""
        if self.error_rate <= 0 or not self.error_statuses:
            return None
        if self._rng.random() >= self.error_rate:
            return None
        status = self._rng.choice(self.error_statuses)
        return Fault(status=status, after_apply=status == 502, fired=1)

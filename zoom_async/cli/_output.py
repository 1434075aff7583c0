"""Printing JSON: pretty and coloured on a terminal, compact (one line) when piped."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

__all__ = ["err_console", "print_json"]


def err_console() -> Console:
    """Progress, tables and messages go to stderr, so stdout stays data."""
    return Console(stderr=True)


def print_json(value: Any, *, pretty: bool | None = None) -> None:
    """Print ``value`` as JSON on stdout (``pretty=None``: pretty if stdout is a terminal)."""
    if pretty is None:
        pretty = sys.stdout.isatty()
    if pretty:
        Console(soft_wrap=True).print_json(data=value, ensure_ascii=False)
    else:
        sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")
        sys.stdout.flush()

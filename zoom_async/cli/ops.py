"""``zoom-async ops search WORDS``: find an operation among Zoom's 1,719."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..catalog import Operation, operations
from ._errors import ExitCode
from ._output import print_json

__all__ = ["search"]


def _haystack(op: Operation) -> str:
    parts = [op.method, op.path, op.operation_id, op.api, op.category.value, op.area]
    return " ".join([*parts, op.python_name, op.summary]).lower()


def _python_name(op: Operation) -> str:
    """The typed method, as called: ``zoom.users.get_zak``."""
    return f"zoom.{op.python_name}" if op.python_name else ""


def _score(op: Operation, needles: list[str]) -> int:
    """How well ``op`` matches: words in its typed name or path count more than in its summary."""
    name = _python_name(op).lower()
    path, op_id = op.path.lower(), op.operation_id.lower()
    return sum(
        3 * (n in name) + 3 * (n in path) + 2 * (n in op_id) + (n == op.method.lower())
        for n in needles
    )


def find(words: list[str]) -> list[Operation]:
    """Operations whose method, path, operationId, api, typed name or summary contain every
    word, best matches first (words in the typed name or the path, then shorter paths)."""
    needles = [w.lower() for w in words]
    found = [op for op in operations() if all(n in _haystack(op) for n in needles)]
    return sorted(found, key=lambda op: (-_score(op, needles), len(op.path), op.method))


_TABLE_WIDTH = 120
"""Narrower terminals get two lines an operation instead of a table whose cells would fold."""


def _category(op: Operation) -> str:
    return op.category.value + (" (phone)" if op.family == "phone" else "")


def _table(found: list[Operation], title: str, caption: str | None) -> Table:
    table = Table(title=title, caption=caption)
    for column in ("method", "path", "category", "pagination", "operationId", "typed method"):
        table.add_column(column, overflow="fold", no_wrap=column in ("method", "category"))
    for op in found:
        table.add_row(
            op.method,
            op.path,
            _category(op),
            str(op.pagination),
            op.operation_id,
            _python_name(op),
        )
    return table


def _listing(found: list[Operation], title: str, caption: str | None) -> Group:
    """``GET /users/{userId}/meetings`` then, indented, the typed method and the facts."""
    lines: list[RenderableType] = [Text(title, style="bold")]
    for op in found:
        head = Text.assemble((op.method, "bold"), " ", (op.path, "cyan"))
        facts = [_python_name(op) or op.operation_id, _category(op)]
        if op.pagination != "none":
            facts.append(f"pages: {op.pagination}")
        lines += [head, Text("    " + " · ".join(facts), style="dim")]
    if caption:
        lines.append(Text(caption, style="italic"))
    return Group(*lines)


def search(
    words: Annotated[list[str], typer.Argument(help="words of the name, path or summary")],
    limit: Annotated[int, typer.Option(min=1, help="show at most this many")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Find operations by words of their name, path or summary (all words must match)."""
    found = find(words)
    if as_json:
        print_json(
            [
                {
                    "method": op.method,
                    "path": op.path,
                    "operation_id": op.operation_id,
                    "api": op.api,
                    "category": op.category.value,
                    "family": op.family,
                    "pagination": op.pagination,
                    "python_name": _python_name(op) or None,
                }
                for op in found[:limit]
            ]
        )
    else:
        console = Console()
        title = f"{len(found)} operation(s) matching {' '.join(words)!r}"
        more = f"{len(found) - limit} more: narrow the words or raise --limit"
        shown = found[:limit]
        if console.width >= _TABLE_WIDTH:
            console.print(_table(shown, title, more if len(found) > limit else None))
        else:
            console.print(_listing(shown, title, more if len(found) > limit else None))
    if not found:
        raise typer.Exit(int(ExitCode.NOT_FOUND))

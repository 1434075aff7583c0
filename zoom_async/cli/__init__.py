"""The ``zoom-async`` command: call any endpoint, export lists, find operations, show limits.

Built on typer (click) and rich, installed by the ``cli`` extra::

    pip install 'zoom-async[cli]'

Exit codes (scripts can rely on them) are listed in :class:`~zoom_async.cli._errors.ExitCode`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zoom-async`` console script; returns the exit code."""
    try:
        import typer.main

        from ._app import app
    except ImportError as exc:  # pragma: no cover - depends on the install
        print(
            f"zoom-async: the command needs the cli extra ({exc.name} is missing): "
            "pip install 'zoom-async[cli]'",
            file=sys.stderr,
        )
        return 2
    from ._errors import CommandError

    command = typer.main.get_command(app)
    try:  # click's standalone mode: usage errors printed, with exit code 2
        command.main(
            args=list(sys.argv[1:] if argv is None else argv),
            prog_name="zoom-async",
            standalone_mode=True,
        )
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CommandError as exc:  # an option check before anything ran
        print(f"zoom-async: {exc}", file=sys.stderr)
        return int(exc.code)
    return 0

"""What every generator's command line shares: its options and the write-or-check step."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .catalog import PYPROJECT


def argument_parser(
    name: str, doc: str | None, output: Path, output_help: str
) -> argparse.ArgumentParser:
    """The options of ``python -m codegen NAME``: --pyproject, --specs, --output, --check."""
    parser = argparse.ArgumentParser(
        prog=f"python -m codegen {name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT, help="configuration file")
    parser.add_argument("--specs", type=Path, help="override [tool.codegen] specs")
    parser.add_argument("--output", type=Path, default=output, help=output_help)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    return parser


def write_or_check(name: str, output: Path, text: str, *, check: bool) -> int:
    """Write ``text`` to ``output``, or with ``check`` only say whether it is already there."""
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            print(f"{output} is out of date: run python -m codegen {name}", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output} ({len(text.encode()) // 1024} KiB)")
    return 0

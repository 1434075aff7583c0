"""``python -m codegen <generator> [options]``: run one of the code generators.

Generators: ``catalog`` (see :mod:`codegen.catalog`), ``api`` (see :mod:`codegen.api`),
``fake`` (see :mod:`codegen.fake`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# Modules, imported only when their generator runs (the api generator is the heavy one).
GENERATORS: dict[str, str] = {
    "catalog": "codegen.catalog",
    "api": "codegen.api",
    "fake": "codegen.fake",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the generator named by the first argument."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in GENERATORS:
        names = ", ".join(sorted(GENERATORS))
        print(f"usage: python -m codegen {{{names}}} [options]", file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    generator: Callable[[Sequence[str]], int] = importlib.import_module(GENERATORS[args[0]]).main
    return generator(args[1:])


if __name__ == "__main__":
    raise SystemExit(main())

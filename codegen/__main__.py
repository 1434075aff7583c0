"""``python -m codegen <generator> [options]``: run one of the code generators.

Generators: ``catalog`` (see :mod:`codegen.catalog`), ``api`` (see :mod:`codegen.api`),
``fake`` (see :mod:`codegen.fake`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _catalog(argv: Sequence[str]) -> int:
    from .catalog import main

    return main(argv)


def _fake(argv: Sequence[str]) -> int:
    from .fake import main

    return main(argv)


def _api(argv: Sequence[str]) -> int:
    from .api import main

    return main(argv)


GENERATORS: dict[str, Callable[[Sequence[str]], int]] = {
    "catalog": _catalog,
    "api": _api,
    "fake": _fake,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to the generator named by the first argument."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in GENERATORS:
        names = ", ".join(sorted(GENERATORS))
        print(f"usage: python -m codegen {{{names}}} [options]", file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    return GENERATORS[args[0]](args[1:])


if __name__ == "__main__":
    raise SystemExit(main())

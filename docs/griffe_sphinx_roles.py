"""A griffe extension for the docs site: Sphinx roles in docstrings shown as code.

The docstrings use ``:class:`~zoom_async.plans.RateLimitTable``` and the like (readable in
``help()`` and IDEs); mkdocstrings would print the role literally. This turns each into inline
code with the name a reader expects (``RateLimitTable`` for ``~``-prefixed targets, the full path
otherwise). Loaded by mkdocs.yml (``extensions:``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|data|attr|mod|exc|obj|const):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).strip()
    if "<" in target and target.endswith(">"):  # :class:`title <target>`
        return f"`{target.split('<', 1)[0].strip()}`"
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ":`" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(_code, obj.docstring.value)

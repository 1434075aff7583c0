"""Runs every Python code block of README.md and docs/ as a test (Sybil).

Each ```python (or ```py) block is a complete script: it runs in a fresh namespace with
``__name__ == "__main__"``, while a fresh FakeZoom is served on 127.0.0.1 and the environment a
real deployment would have points at it (``ZOOM_ACCOUNT_ID``, ``ZOOM_CLIENT_ID``,
``ZOOM_CLIENT_SECRET``, ``ZOOM_BASE_URL``, ``ZOOM_TOKEN_URL``, ``ZOOM_WEBHOOK_SECRET_TOKEN``). So
``async with ZoomClient() as zoom:`` in a documented script talks to the fake, and so does any
script that builds its own in-process ``FakeZoom``.

A block that cannot run standalone is marked on the line before its fence with
``<!-- skip: next "the reason" -->`` (tests/test_docs.py rejects a marker without a reason).
Blocks starting with ``>>>`` are doctests. Sybil was chosen over pytest-examples because its
markers are HTML comments (invisible on GitHub and in the MkDocs site) and its evaluators are
pluggable, which the served-fake environment needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.evaluators.doctest import DocTestEvaluator
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.markdown import CodeBlockParser, SkipParser

if TYPE_CHECKING:
    from zoom_async.testing import FakeZoom

collect_ignore = ["docs/examples"]  # example apps: their own tests import them

DOCS_USERS = 20
"""Users (besides the owner, ``me``) in the fake served to each documented script."""
DOCS_MEETINGS_PER_USER = 3
DOCS_WEBHOOK_SECRET = "docs-webhook-secret-token"


def docs_fake() -> FakeZoom:
    """The account documented scripts see: the owner and 20 users, 3 meetings each; the
    owner's first meeting has a cloud recording."""
    from zoom_async.testing import FakeZoom

    fake = FakeZoom(plan="business_plus", seed=14)
    for user in [fake.owner, *fake.add_users(DOCS_USERS)]:
        meetings = fake.add_meetings(user["id"], DOCS_MEETINGS_PER_USER)
        fake.add_participants(meetings[0]["id"], 30)
        if user["id"] == fake.owner["id"]:
            fake.add_recording(meetings[0]["id"], files=2)  # served at its download_url
    return fake


@contextmanager
def zoom_environment(fake: FakeZoom) -> Iterator[FakeZoom]:
    """Serve ``fake`` from a thread of its own and point the ``ZOOM_*`` variables at it.

    For code that runs its own event loop (scripts, the CLI): ``ZoomClient()`` and
    ``zoom-async`` then talk to the fake on 127.0.0.1 with its credentials.
    """
    ready = threading.Event()
    urls: dict[str, str] = {}
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def run() -> None:
        try:
            async with fake.serve() as server:
                urls.update(base_url=server.base_url, token_url=server.token_url)
                ready.set()
                await stop.wait()
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    ready.wait(30)
    if failure or not urls:
        raise RuntimeError("FakeZoom did not start") from (failure[0] if failure else None)
    env = {
        "ZOOM_ACCOUNT_ID": fake.account_id,
        "ZOOM_CLIENT_ID": fake.client_id,
        "ZOOM_CLIENT_SECRET": fake.client_secret,
        "ZOOM_BASE_URL": urls["base_url"],
        "ZOOM_TOKEN_URL": urls["token_url"],
        "ZOOM_WEBHOOK_SECRET_TOKEN": DOCS_WEBHOOK_SECRET,
    }
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield fake
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


@pytest.fixture
def served_zoom() -> Iterator[FakeZoom]:
    """A FakeZoom (owner + 20 users, 3 meetings each) on 127.0.0.1, with ``ZOOM_*`` set to it."""
    with zoom_environment(docs_fake()) as fake:
        yield fake


def run_script(example: Example) -> None:
    """Run one code block as ``python block.py`` would, against the served fake."""
    __tracebackhide__ = True
    source = "\n" * (example.line + example.parsed.line_offset) + example.parsed
    code = compile(source, example.path, "exec", dont_inherit=True)
    # In a scratch directory: scripts that write files (downloads, exports) leave nothing behind.
    with (
        zoom_environment(docs_fake()),
        tempfile.TemporaryDirectory() as scratch,
        contextlib.chdir(scratch),
    ):
        exec(code, {"__name__": "__main__", "__file__": example.path})


class ScriptOrDocTestParser:
    """```python / ```py blocks: ``>>>`` blocks as doctests, everything else as a script."""

    def __init__(self) -> None:
        self.code_blocks = [CodeBlockParser(lang, run_script) for lang in ("python", "py")]
        self.doctests = DocTestStringParser(DocTestEvaluator())

    def __call__(self, document: Document) -> Iterable[Region]:
        for parser in self.code_blocks:
            for region in parser(document):
                source = region.parsed
                if source.startswith(">>>"):
                    for doctest_region in self.doctests(source, document.path):
                        doctest_region.adjust(region, source)
                        yield doctest_region
                else:
                    yield region


DOCS = Sybil(
    parsers=[ScriptOrDocTestParser(), SkipParser()],
    patterns=["README.md", "docs/*.md", "docs/**/*.md"],
)
pytest_collect_file = DOCS.pytest()

"""The docs' code blocks are all executed (conftest.py), and the few skipped ones say why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^[ \t]*```(\w*)", flags=re.M)
SKIP = re.compile(r"<!--\s*skip:\s*(\w+)(.*?)-->", flags=re.S)
PYTHON_FENCES = {"python", "py"}


def python_blocks(text: str) -> int:
    fences = [m.group(1) for m in FENCE.finditer(text)]
    return sum(lang in PYTHON_FENCES for lang in fences[::2])


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_skip_markers_say_why(page: Path) -> None:
    for action, rest in SKIP.findall(page.read_text(encoding="utf-8")):
        assert action == "next", f'{page.name}: use one `skip: next "reason"` per block'
        assert re.fullmatch(r'\s*"[^"]{10,}"\s*', rest), (
            f"{page.name}: `<!-- skip: next -->` needs a reason in double quotes, got {rest!r}"
        )


def test_skipped_blocks_are_a_small_minority() -> None:
    total = sum(python_blocks(p.read_text(encoding="utf-8")) for p in PAGES)
    skipped = sum(len(SKIP.findall(p.read_text(encoding="utf-8"))) for p in PAGES)
    assert total >= 30
    assert skipped <= total // 5, f"{skipped} of {total} Python blocks are skipped"


def test_the_collector_sees_every_python_block(pytestconfig: pytest.Config) -> None:
    root_conftest = pytestconfig.pluginmanager.get_plugin(str(ROOT / "conftest.py"))
    assert root_conftest is not None, "conftest.py at the repository root collects the docs"
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        examples = list(root_conftest.DOCS.parse(page))
        run = {e.region.start for e in examples if e.region.evaluator is root_conftest.run_script}
        doctests = len(re.findall(r"^[ \t]*```py(?:thon)?\n[ \t]*>>>", text, flags=re.M))
        seen, total = len(run) + doctests, python_blocks(text)
        assert seen == total, f"{page.name}: {seen} of {total} Python blocks collected"


def test_every_page_is_in_the_site_navigation() -> None:
    """A page added to docs/ must be added to mkdocs.yml's nav (the site would hide it)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:", 1)[1]
    listed = set(re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.M))
    pages = {
        str(p.relative_to(ROOT / "docs"))
        for p in (ROOT / "docs").rglob("*.md")
        if "examples" not in p.parts
    }
    missing = sorted(pages - listed)
    assert not missing, f"add these pages to the nav in mkdocs.yml: {missing}"
    assert not listed - pages, f"mkdocs.yml lists pages that do not exist: {listed - pages}"

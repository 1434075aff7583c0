"""``zoom_async.testing`` without its extra says which extra to install."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["starlette"] = None  # as if it were not installed
try:
    from zoom_async.testing import FakeZoom
except ModuleNotFoundError as exc:
    print(exc.name, "|", exc)
"""


def test_missing_extra_names_the_extra() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.startswith("starlette |")
    assert "needs the 'testing' extra" in out
    assert "pip install 'zoom-async[testing]'" in out

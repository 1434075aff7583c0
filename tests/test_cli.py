"""``zoom-async demo``: the batch job against the embedded FakeZoom on a real local port."""

from __future__ import annotations

import pytest

from zoom_async.cli import main


def test_demo_runs_a_batch_without_429s(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--users", "40", "--meetings-per-user", "1", "--latency-ms", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "listed 41 users and 40 meetings" in out  # 40 seeded + the account owner
    assert "created 100 meetings for 'me'; the next one was refused locally" in out
    assert "0 answered 429 by the server" in out
    assert "general Medium" in out and "general Heavy" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "zoom-async" in capsys.readouterr().out

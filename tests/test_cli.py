"""The ``zoom-async`` command, run in-process against FakeZoom served on 127.0.0.1.

``served_zoom`` (conftest.py at the root) serves a fake with the owner and 20 users (3 meetings
each, 30 participants in each user's first meeting) and points ZOOM_* at it.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from zoom_async.cli import main
from zoom_async.cli._errors import ExitCode
from zoom_async.testing import FakeZoom

Capture = pytest.CaptureFixture[str]


def run(capsys: Capture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- call --------------------------------------------------------------------------------------


def test_call_prints_compact_json_when_piped(served_zoom: FakeZoom, capsys: Capture) -> None:
    code, out, err = run(capsys, "call", "GET", "/users/me")
    assert code == 0, err
    assert out.count("\n") == 1
    assert json.loads(out)["email"] == "owner@example.com"


def test_call_is_pretty_on_a_terminal(
    served_zoom: FakeZoom, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, err = run(capsys, "call", "GET", "/users/me")
    assert code == 0, err
    assert out.count("\n") > 5 and '"email"' in out  # indented, one field a line


def test_call_pretty_and_query_parameters(served_zoom: FakeZoom, capsys: Capture) -> None:
    code, out, err = run(
        capsys, "call", "GET", "/users", "-p", "page_size=5", "-p", "status=active", "--pretty"
    )
    assert code == 0, err
    assert out.count("\n") > 10  # indented
    page = json.loads(out)
    assert len(page["users"]) == 5 and page["total_records"] == 21


def test_call_all_pages_as_json_lines(served_zoom: FakeZoom, capsys: Capture) -> None:
    code, out, err = run(
        capsys, "call", "GET", "/users?status=active", "--all", "-p", "page_size=4"
    )
    assert code == 0, err
    users = [json.loads(line) for line in out.splitlines()]
    assert len(users) == 21 and len({u["id"] for u in users}) == 21  # 6 pages of at most 4
    listing = [r.query for r in served_zoom.requests if r.path.endswith("/users")]
    assert len(listing) == 6 and all("page_size=4" in q and "status=active" in q for q in listing)
    code, _, err = run(capsys, "call", "POST", "/users", "--all")
    assert code == ExitCode.USAGE and "--all" in err


def test_call_posts_a_body_from_a_file(
    served_zoom: FakeZoom, capsys: Capture, tmp_path: Path
) -> None:
    body = tmp_path / "meeting.json"
    body.write_text('{"topic": "Réunion", "type": 2}', encoding="utf-8")
    code, out, err = run(capsys, "call", "post", "/users/me/meetings", "--json", f"@{body}")
    assert code == 0, err
    created = json.loads(out)
    assert created["topic"] == "Réunion"
    assert served_zoom.get_meeting(created["id"]) is not None


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["call", "GET", "/users/nobody@example.com"], ExitCode.NOT_FOUND, "404"),
        (
            ["--client-secret", "wrong", "call", "GET", "/users/me"],
            ExitCode.CREDENTIALS,
            "client secret",
        ),
        (["call", "GET", "/users", "--json", "{not json"], ExitCode.USAGE, "not JSON"),
        (["call", "GET", "/users", "-p", "page_size"], ExitCode.USAGE, "key=value"),
        (["call", "FETCH", "/users"], ExitCode.USAGE, "unknown method"),
        (["call", "GET", "/users", "--json", "@/nonexistent.json"], ExitCode.USAGE, "cannot read"),
        (["--plan", "gold", "call", "GET", "/users/me"], ExitCode.USAGE, "unknown plan"),
    ],
)
def test_expected_failures_are_one_line_and_an_exit_code(
    served_zoom: FakeZoom, capsys: Capture, argv: list[str], code: int, words: str
) -> None:
    got, out, err = run(capsys, *argv)
    assert got == code
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("zoom-async: ") and words in err, err
    assert "Traceback" not in err


def test_missing_credentials(capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "call", "GET", "/users/me")
    assert code == ExitCode.CREDENTIALS
    assert "ZOOM_ACCOUNT_ID" in err and "ZOOM_CLIENT_SECRET" in err


def test_unreachable_endpoint_is_a_network_error(
    served_zoom: FakeZoom, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOOM_TOKEN_URL", "http://127.0.0.1:9/oauth/token")  # discard port
    code, _, err = run(capsys, "call", "GET", "/users/me")
    assert code == ExitCode.NETWORK, err
    assert err.count("\n") == 1


def test_usage_errors_exit_2(capsys: Capture) -> None:
    assert main(["demo", "--users", "-5"]) == ExitCode.USAGE
    assert main(["export", "users"]) == ExitCode.USAGE  # no --output
    assert main(["--budget-share", "2", "limits"]) == ExitCode.USAGE


def test_redis_shares_the_limits(served_zoom: FakeZoom, capsys: Capture, redis_server: Any) -> None:
    import redis

    url = f"redis://127.0.0.1:{redis_server.port}/0"
    code, out, err = run(capsys, "--redis", url, "call", "GET", "/users/me")
    assert code == 0, err
    assert json.loads(out)["email"] == "owner@example.com"
    keys = redis.Redis(port=redis_server.port).keys("zoom-async*")
    assert keys, "the limiter's state went to Redis"

    code, _, err = run(capsys, "--redis", "nonsense://x", "call", "GET", "/users/me")
    assert code == ExitCode.USAGE and "--redis" in err
    secret_url = "redis://:hunter2@127.0.0.1:notaport/0"
    code, _, err = run(capsys, "--redis", secret_url, "call", "GET", "/users/me")
    assert code == ExitCode.USAGE and "--redis" in err and "hunter2" not in err, err
    code, _, err = run(capsys, "--redis", "redis://127.0.0.1:9/0", "call", "GET", "/users/me")
    assert code == ExitCode.NETWORK and err.count("\n") == 1, err


def test_redis_cluster_shares_the_limits_through_a_cluster(
    served_zoom: FakeZoom, capsys: Capture, redis_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.cluster import RedisCluster

    node = redis_cluster.nodes[-1]  # any node: the client discovers the others
    url = f"redis://127.0.0.1:{node.port}/0"
    code, out, err = run(capsys, "--redis", url, "--redis-cluster", "call", "GET", "/users/me")
    assert code == 0, err
    assert json.loads(out)["email"] == "owner@example.com"
    cluster = RedisCluster(host="127.0.0.1", port=node.port)
    try:
        keys = cluster.keys("zoom-async*", target_nodes=RedisCluster.PRIMARIES)
        assert any(b":lane:" in key for key in keys), "the limiter's state went to the cluster"
    finally:
        cluster.close()

    monkeypatch.setenv("ZOOM_REDIS_CLUSTER", "1")
    monkeypatch.setenv("ZOOM_REDIS_URL", url)
    code, _, err = run(capsys, "call", "GET", "/users/me")
    assert code == 0, err
    monkeypatch.delenv("ZOOM_REDIS_URL")
    code, _, err = run(capsys, "call", "GET", "/users/me")
    assert code == ExitCode.USAGE and "--redis-cluster needs --redis" in err, err


def test_redis_sentinel_url(served_zoom: FakeZoom, capsys: Capture, redis_sentinel: Any) -> None:
    import redis

    url = redis_sentinel.url  # redis+sentinel://127.0.0.1:<port>/zoom/0
    code, out, err = run(capsys, "--redis", url, "call", "GET", "/users/me")
    assert code == 0, err
    assert json.loads(out)["email"] == "owner@example.com"
    keys = redis.Redis(port=redis_sentinel.primary_port()).keys("zoom-async*")
    assert keys, "the limiter's state went to the primary Sentinel names"
    bad = "redis+sentinel://:hunter2@127.0.0.1:26379"  # no service name
    code, _, err = run(capsys, "--redis", bad, "call", "GET", "/users/me")
    assert code == ExitCode.USAGE and "service" in err and "hunter2" not in err, err


# -- ops, limits -------------------------------------------------------------------------------


def test_ops_search(capsys: Capture) -> None:
    code, out, _ = run(capsys, "ops", "search", "users", "meetings", "get", "--json")
    assert code == 0
    found = {(o["method"], o["path"]): o for o in json.loads(out)}
    op = found[("GET", "/users/{userId}/meetings")]
    assert op["category"] == "Medium" and op["pagination"] in ("both", "next_page_token")
    assert op["python_name"] == "zoom.meetings.list"
    code, out, _ = run(capsys, "ops", "search", "zak", "--json")
    assert code == 0
    [zak] = json.loads(out)
    assert (zak["path"], zak["operation_id"], zak["python_name"]) == (
        "/users/me/zak",
        "userZak",
        "zoom.users.get_zak",
    )
    code, out, _ = run(capsys, "ops", "search", "list", "meetings", "--limit", "3", "--json")
    assert ("GET", "/users/{userId}/meetings") in [
        (o["method"], o["path"]) for o in json.loads(out)
    ]
    code, _, _ = run(capsys, "ops", "search", "no-such-words-anywhere")
    assert code == ExitCode.NOT_FOUND


@pytest.mark.parametrize("columns", [80, 160])
def test_ops_search_fits_the_terminal(
    capsys: Capture, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = run(capsys, "ops", "search", "list", "meetings", "--limit", "3")
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    # Nothing folded: each path and typed method stays whole on one line.
    assert any("/users/{userId}/meetings" in line for line in lines)
    assert any("zoom.meetings.list " in line + " " for line in lines)
    assert ("┃" in out) == (columns >= 120)  # a table only where it fits
    assert lines[-1].strip().endswith("narrow the words or raise --limit")


def test_limits(capsys: Capture) -> None:
    code, out, _ = run(capsys, "limits", "--plan", "business_plus", "--json")
    assert code == 0
    table = json.loads(out)
    light = next(r for r in table["limits"] if r == r | {"family": "general", "category": "Light"})
    assert light["limit"] == 80 and table["meeting_quota_per_user"] == 100
    code, out, _ = run(capsys, "--budget-share", "0.5", "limits", "--plan", "business_plus")
    assert code == 0 and "Light" in out and " 40 " in out and "Heavy" in out


# -- export ------------------------------------------------------------------------------------


def test_export_users_jsonl_and_csv(served_zoom: FakeZoom, capsys: Capture, tmp_path: Path) -> None:
    out_file = tmp_path / "users.jsonl"
    code, _, err = run(capsys, "export", "users", "-o", str(out_file))
    assert code == 0, err
    users = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert len(users) == 21 and len({u["id"] for u in users}) == 21
    assert not Path(str(out_file) + ".checkpoint.json").exists()
    assert "wrote 21 users" in err

    csv_file = tmp_path / "users.csv"
    code, _, err = run(
        capsys, "export", "users", "-f", "csv", "-o", str(csv_file), "--columns", "id,email,type"
    )
    assert code == 0, err
    rows = list(csv.DictReader(csv_file.open(encoding="utf-8")))
    assert len(rows) == 21 and set(rows[0]) == {"id", "email", "type"}
    assert rows[0]["email"] == "owner@example.com"

    # a finished export is not overwritten by accident
    code, _, err = run(capsys, "export", "users", "-o", str(out_file))
    assert code == ExitCode.USAGE and "--restart" in err


def test_export_meetings_resumes_after_a_failure_without_loss_or_duplicates(
    served_zoom: FakeZoom, capsys: Capture, tmp_path: Path
) -> None:
    third_user = served_zoom.users[2]["id"]
    served_zoom.inject("GET", f"/users/{third_user}/meetings", status=400, count=1)
    out_file = tmp_path / "meetings.csv"
    argv = ["export", "meetings", "-f", "csv", "-o", str(out_file), "--concurrency", "1"]

    code, _, err = run(capsys, *argv)
    assert code == ExitCode.API_ERROR
    assert "run the same command again to resume" in err
    checkpoint = json.loads(Path(str(out_file) + ".checkpoint.json").read_text())
    assert len(checkpoint["done"]) == 2 and checkpoint["items"] == 6
    with out_file.open("a", encoding="utf-8") as f:
        f.write("half a row written when the process died")  # beyond the checkpoint

    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert "resuming" in err
    rows = list(csv.DictReader(out_file.open(encoding="utf-8")))
    assert len(rows) == 63 and len({r["id"] for r in rows}) == 63
    assert all(r["host_email"] for r in rows)
    assert not Path(str(out_file) + ".checkpoint.json").exists()


def test_export_checkpoint_of_another_export_is_refused(
    served_zoom: FakeZoom, capsys: Capture, tmp_path: Path
) -> None:
    out_file = tmp_path / "m.jsonl"
    third_user = served_zoom.users[2]["id"]
    served_zoom.inject("GET", f"/users/{third_user}/meetings", status=400, count=1)
    run(capsys, "export", "meetings", "-o", str(out_file), "--concurrency", "1")
    code, _, err = run(capsys, "export", "meetings", "-o", str(out_file), "--type", "live")
    assert code == ExitCode.USAGE and "another export" in err
    code, _, err = run(capsys, "export", "meetings", "-o", str(out_file), "--restart")
    assert code == 0, err
    assert len(out_file.read_text().splitlines()) == 63


def test_export_participants_and_recordings(
    served_zoom: FakeZoom, capsys: Capture, tmp_path: Path
) -> None:
    meeting = served_zoom.meetings[0]
    served_zoom.add_recording(meeting["id"], files=3)
    parts = tmp_path / "p.jsonl"
    code, _, err = run(capsys, "export", "participants", "-m", str(meeting["id"]), "-o", str(parts))
    assert code == 0, err
    rows = [json.loads(line) for line in parts.read_text().splitlines()]
    assert len(rows) == 30 and {r["meeting_id"] for r in rows} == {str(meeting["id"])}

    recs = tmp_path / "r.csv"
    code, _, err = run(
        capsys, "export", "recordings", "-u", "owner@example.com", "-f", "csv", "-o", str(recs)
    )
    assert code == 0, err
    files = list(csv.DictReader(recs.open(encoding="utf-8")))
    assert len(files) == 3 and {f["host_email"] for f in files} == {"owner@example.com"}
    assert all(f["download_url"] for f in files)


def test_export_option_checks(capsys: Capture, tmp_path: Path) -> None:
    out = str(tmp_path / "x.jsonl")
    assert main(["export", "participants", "-o", out]) == ExitCode.USAGE
    assert main(["export", "users", "-m", "1", "-o", out]) == ExitCode.USAGE
    assert main(["export", "recordings", "--from", "yesterday", "-o", out]) == ExitCode.USAGE
    assert "--meeting" in capsys.readouterr().err


# -- demo, version -----------------------------------------------------------------------------


def test_demo_runs_a_batch_without_429s(capsys: Capture) -> None:
    code = main(["demo", "--users", "40", "--meetings-per-user", "1", "--latency-ms", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "listed 41 users and 40 meetings" in out  # 40 seeded + the account owner
    assert "created 100 meetings for owner@example.com; the next one was refused locally" in out
    assert "0 answered 429 by the server" in out
    # The per-step table fits 80 columns: one line per step, nine cells each, no name folded.
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "÷ most" in line)
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[header + 2 : header + 5]]
    assert [cells[:2] for cells in rows] == [
        ["users + meetings", "Medium"],
        ["reports", "Heavy"],
        ["create meetings", "Light"],
    ], out
    assert all(len(cells) == 9 and cells[7].endswith(" ms") for cells in rows), out
    # The ÷ most column: never above what the plan lets arrive in the step's span.
    assert all(0 < float(cells[6]) <= 1 for cells in rows), out


def test_version(capsys: Capture) -> None:
    assert main(["--version"]) == 0
    assert "zoom-async" in capsys.readouterr().out


def test_the_documented_exit_codes_are_the_real_ones() -> None:

    page = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    table = page[page.index("## Exit codes") :]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, flags=re.M)}
    assert documented == {int(code) for code in ExitCode}


def test_quotas_are_exit_code_5(served_zoom: FakeZoom, capsys: Capture) -> None:
    served_zoom.spend_meeting_quota(served_zoom.owner["id"], 100)
    code, out, err = run(
        capsys, "call", "POST", "/users/me/meetings", "--json", '{"topic": "one more"}'
    )
    assert (code, out) == (ExitCode.RATE_LIMITED, "")
    assert err.count("\n") == 1 and "429" in err, err

    served_zoom.spend_daily_quota("general", served_zoom.daily_quota_remaining() or 0)
    code, _, err = run(
        capsys, "call", "GET", "/report/users/me/meetings", "-p", "from=2026-01-01",
        "-p", "to=2026-01-31",
    )  # fmt: skip
    assert code == ExitCode.RATE_LIMITED
    assert err.count("\n") == 1 and "daily" in err.lower(), err

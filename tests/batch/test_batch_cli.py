"""``decaudit batch``, ``diff`` and ``history`` end to end, against the sandbox served on loopback
by ``decaudit sandbox serve`` in another process (real sockets, real DNS): exit codes, gates,
summary formats, resume, and a ``kill -9`` in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from tests.sandbox.test_serve import clean_environment
from tests.support.served import served_sandbox

pytestmark = pytest.mark.network
BULK = 30


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The sandbox (two scenarios and BULK ordinary accounts), served until the module ends."""
    with served_sandbox(
        tmp_path_factory.mktemp("served"),
        "--scenarios", "bsky-default,unresolvable-handle", "--bulk", str(BULK), "--rtt", "0.02",
    ) as state:  # fmt: skip
        yield state


def network_args(state: dict[str, Any]) -> list[str]:
    return list(state["check_args"])


def handles(state: dict[str, Any], *, bulk_only: bool = True) -> list[str]:
    return [
        a["handle"] for a in state["accounts"] if not bulk_only or a["scenario"].startswith("bulk-")
    ]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def write_targets(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_batch_summarises_gates_and_exits_by_the_rules(
    served: dict[str, Any], tmp_path: Path
) -> None:
    targets = write_targets(
        tmp_path / "targets.txt",
        ["# ten accounts, one twice, one bad line", *handles(served)[:10], handles(served)[0],
         "not a handle!"],
    )  # fmt: skip
    out, summary = tmp_path / "reports.jsonl", tmp_path / "summary.json"
    result = invoke(
        "batch", str(targets), "-o", str(out), "--summary", str(summary), "--format", "json",
        "--concurrency", "4", *network_args(served),
    )  # fmt: skip
    assert result.exit_code == 3, result.output  # the bad line counts as a target not audited
    assert "line 13: 'not a handle!'" in result.stderr
    data = json.loads(summary.read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == data
    assert data["sandbox"] is True
    assert data["accounts"]["audited"] == 10
    assert data["accounts"]["invalid_lines"] == 1
    assert data["accounts"]["duplicates"] == 1
    pds = data["layers"]["pds_operator"]
    assert pds["total"] == 10
    assert sum(s["count"] for s in pds["shares"]) == 10
    assert pds["needed"]["50"] >= 1
    assert data["nakamoto"]["value"] >= 1
    assert len(out.read_text(encoding="utf-8").splitlines()) == 10

    gated = invoke(
        "batch", str(targets), "-o", str(out), "--max-hhi", "100",
        "--require", "rotation-key-custody=pass", *network_args(served),
    )  # fmt: skip
    assert gated.exit_code == 1
    assert "gate failed: hosting-operator HHI is" in gated.stderr
    assert "rotation-key-custody is fail, required rotation-key-custody=pass" in gated.stderr
    assert "Accounts audited: 10" in gated.stdout  # resumed: nothing audited twice
    assert len(out.read_text(encoding="utf-8").splitlines()) == 10


def test_unresolvable_accounts_exit_3_and_usage_errors_exit_2(
    served: dict[str, Any], tmp_path: Path
) -> None:
    all_accounts = write_targets(tmp_path / "t.txt", handles(served, bulk_only=False)[:2])
    result = invoke(
        "batch", str(all_accounts), "-o", str(tmp_path / "o.jsonl"), *network_args(served)
    )
    assert result.exit_code == 3
    foreign = tmp_path / "mine.csv"
    foreign.write_text("a,b\n1,2\n", encoding="utf-8")
    refused = invoke("batch", str(all_accounts), "-o", str(foreign), *network_args(served))
    assert refused.exit_code == 2
    assert "is not JSON: this is not a decaudit batch output" in refused.stderr
    assert foreign.read_text(encoding="utf-8") == "a,b\n1,2\n"
    bad_gate = invoke("batch", str(all_accounts), "-o", str(tmp_path / "x"), "--require", "x=y")
    assert bad_gate.exit_code == 2
    assert "unknown check id 'x'" in bad_gate.stderr


def test_markdown_html_badge_diff_and_history(served: dict[str, Any], tmp_path: Path) -> None:
    targets = write_targets(tmp_path / "t.txt", handles(served)[:6])
    out = tmp_path / "r.jsonl"
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    result = invoke(
        "batch", str(targets), "-o", str(out), "--summary", str(first), "--format", "md",
        "--badge", str(tmp_path / "badge.json"), *network_args(served),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("## decaudit batch summary")
    assert "| PDS operator |" in result.stdout
    badge = json.loads((tmp_path / "badge.json").read_text(encoding="utf-8"))
    assert badge["schemaVersion"] == 1 and badge["label"] == "hosting concentration"
    more = write_targets(tmp_path / "more.txt", handles(served)[:12])
    invoke("batch", str(more), "-o", str(out), "--summary", str(second), *network_args(served))
    diffed = invoke("diff", str(first), str(second))
    assert diffed.exit_code == 0
    assert "accounts audited: 6 -> 12" in diffed.stdout
    history = tmp_path / "history.jsonl"
    assert invoke("history", "add", str(history), str(first)).exit_code == 0
    assert invoke("history", "add", str(history), str(second)).exit_code == 0
    page = tmp_path / "history.html"
    shown = invoke("history", "show", str(history), "--format", "html", "-o", str(page))
    assert shown.exit_code == 0
    assert page.read_text(encoding="utf-8").count("<svg") == 3
    regress = invoke(
        "batch", str(targets), "-o", str(tmp_path / "again.jsonl"), "--baseline", str(second),
        "--min-operators-for-50", "1", *network_args(served),
    )  # fmt: skip
    assert regress.exit_code in (0, 1)  # fewer accounts may or may not move a metric...
    for line in regress.stderr.splitlines():  # ...but any failure names the metric and movement
        if "gate failed" in line:
            assert "regressed from" in line


def test_a_kill_9_mid_run_loses_nothing_finished_and_resume_completes(
    served: dict[str, Any], tmp_path: Path
) -> None:
    targets = write_targets(tmp_path / "t.txt", handles(served))
    out = tmp_path / "r.jsonl"
    argv = [
        sys.executable, "-m", "auditor", "batch", str(targets), "-o", str(out),
        "--concurrency", "2", *network_args(served),
    ]  # fmt: skip
    process = subprocess.Popen(argv, env=clean_environment(), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not out.exists() or out.read_bytes().count(b"\n") < 3:
        assert process.poll() is None, "the batch finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    survived = out.read_bytes()
    finished = survived.count(b"\n")
    assert 3 <= finished < BULK
    with out.open("ab") as handle:  # simulate the worst case: a write cut short by the kill
        handle.write(b'{"schema_version": "1", "target": "u1')
    result = subprocess.run(argv, env=clean_environment(), capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    lines = out.read_text(encoding="utf-8").splitlines()
    reports = [json.loads(line) for line in lines]  # every line is whole JSON
    assert len(reports) == BULK
    assert sorted(r["handle"] for r in reports) == sorted(handles(served))
    assert out.read_bytes().startswith(survived)  # what was finished before the kill is kept


def census_args(state: dict[str, Any]) -> list[str]:
    """The served sandbox's PLC directory, relays, DNS and addresses (census has no mirrors,
    AppViews or labelers)."""
    args = state["check_args"]
    keep = {"--plc-url", "--nameserver", "--connect-to", "--relay"}
    picked = [v for i, v in enumerate(args) if v in keep or (i and args[i - 1] in keep)]
    return [*picked, "--allow-private"]


def test_census_of_the_served_sandbox_is_incremental_and_gated(
    served: dict[str, Any], tmp_path: Path
) -> None:
    db, first = tmp_path / "census.sqlite", tmp_path / "census.json"
    result = invoke(
        "census", "--db", str(db), "--summary", str(first), "--format", "json",
        *census_args(served),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(first.read_text(encoding="utf-8"))
    assert data["kind"] == "decaudit-census-summary"
    assert data["sandbox"] is True
    assert data["accounts"]["dids"] >= BULK
    pds = data["layers"]["pds_operator"]
    assert pds["total"] >= BULK and pds["needed"]["50"] >= 1
    assert data["census"]["this_run"]["complete"] is True
    cursor = data["census"]["cursor"]
    again = invoke("census", "--db", str(db), "--format", "md", *census_args(served))
    assert again.exit_code == 0
    assert again.stdout.startswith("## decaudit census summary")
    assert "DIDs:" in again.stdout
    gated = invoke(
        "census", "--db", str(db), "--measure-only", "--max-hhi", "1", "--baseline", str(first),
    )  # fmt: skip
    assert gated.exit_code == 1
    assert "gate failed: PDS-operator HHI is" in gated.stderr
    second = tmp_path / "census2.json"
    invoke("census", "--db", str(db), "--measure-only", "--summary", str(second))
    assert json.loads(second.read_text(encoding="utf-8"))["census"]["cursor"] == cursor
    assert invoke("diff", str(first), str(second)).exit_code == 0
    foreign = tmp_path / "not-a-census.sqlite"
    foreign.write_text("hello", encoding="utf-8")
    refused = invoke("census", "--db", str(foreign), "--measure-only")
    assert refused.exit_code == 2

"""Fediverse and Matrix audits through the installed CLI, against the sandbox served on loopback
by ``decaudit sandbox serve`` in another process: real sockets, real DNS (SRV included), the
same command lines a person would type. ``check``, ``compare`` and a mixed ``batch``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from tests.support.served import served_sandbox

pytestmark = pytest.mark.network
SCENARIOS = (
    "bsky-default,fedi-flagship,fedi-own-domain,fedi-non-federating,fedi-limited-federation,"
    "fedi-impostor,"
    "matrix-flagship,matrix-own-domain,matrix-delegated,matrix-non-federating"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with served_sandbox(tmp_path_factory.mktemp("served"), "--scenarios", SCENARIOS) as state:
        yield state


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.mark.parametrize(
    ("target", "band", "statuses"),
    [
        ("@alice@mastodon.social", "hybrid", {"fediverse-federation": "pass"}),
        ("@carol@carol.test", "decentralized", {"fediverse-instance-operator": "pass"}),
        ("@frank@intranet.test", "centralized", {"fediverse-federation": "fail"}),
        ("@gus@lodge.test", "hybrid", {"fediverse-discovery": "partial"}),
        # found by DNS SRV through the served nameserver
        ("@hal:hal.test", "decentralized", {"matrix-federation": "pass"}),
        ("@ivy:ivy.test", "hybrid", {"matrix-homeserver-operator": "partial"}),
        ("@jo:corp.test", "centralized", {"matrix-federation": "fail"}),
    ],
)
def test_check_over_sockets(
    served: dict[str, Any], target: str, band: str, statuses: dict[str, str]
) -> None:
    result = invoke("check", target, "--format", "json", *served["check_args"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["band"] == band and report["sandbox"] is True
    found = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses.items() <= found.items()
    assert report["evidence"]["protocol"] == report["protocol"] != "atproto"


def test_an_impostor_is_exit_3_with_the_reason(served: dict[str, Any]) -> None:
    result = invoke("check", "@mallory@evil.test", *served["check_args"])
    assert result.exit_code == 3
    assert "a claim on another server's user, not trusted" in result.stderr


def test_compare_three_networks(served: dict[str, Any], tmp_path: Path) -> None:
    targets = ["alice.bsky.social", "@alice@mastodon.social", "@alice:matrix.org"]
    page = tmp_path / "compare.html"
    result = invoke("compare", *targets, "-f", "html", "-o", str(page), *served["check_args"])
    assert result.exit_code == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    assert html.count('class="band band-') == 3 and "<script" not in html
    result = invoke("compare", *targets, "-f", "json", *served["check_args"])
    comparison = json.loads(result.stdout)
    assert comparison["kind"] == "decaudit-comparison"
    assert [r["band"] for r in comparison["reports"]] == ["centralized", "hybrid", "hybrid"]
    assert [r["protocol"] for r in comparison["reports"]] == ["atproto", "activitypub", "matrix"]


def test_compare_says_which_target_was_not_found(served: dict[str, Any]) -> None:
    result = invoke(
        "compare", "@alice@mastodon.social", "@mallory@evil.test", *served["check_args"]
    )
    assert result.exit_code == 3
    assert "@mallory@evil.test:" in result.stderr
    assert "no verdict" in result.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "@alice@mastodon.social"], "give between 2 and 12 targets"),
        (["compare", "@alice@mastodon.social", "@bad@"], "invalid target '@bad@'"),
    ],
)
def test_compare_usage_errors(argv: list[str], message: str) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2 and message in result.stderr


def test_a_mixed_batch_counts_every_network(served: dict[str, Any], tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    lines = [
        "alice.bsky.social",
        "@alice@mastodon.social",
        "acct:alice@mastodon.social",
        "@carol@carol.test",
        "@alice:matrix.org",
        "@hal:hal.test",
        "@mallory@evil.test",
    ]
    targets.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, summary = tmp_path / "reports.jsonl", tmp_path / "summary.json"
    result = invoke(
        "batch", str(targets), "-o", str(out), "--summary", str(summary), *served["check_args"]
    )
    assert result.exit_code == 3, result.stderr  # the impostor could not be audited
    data = json.loads(summary.read_text(encoding="utf-8"))
    assert data["accounts"]["audited"] == 6  # the acct: line names the same account twice

    def counts(layer: str) -> dict[str, int]:
        return {s["name"]: s["count"] for s in data["layers"][layer]["shares"]}

    assert counts("network") == {"atproto": 1, "activitypub": 2, "matrix": 2}
    # self-hosted servers are each their own operator, never one "you"
    assert counts("hosting_operator") == {
        "Bluesky Social PBC": 1,
        "Mastodon gGmbH": 1,
        "carol.test": 1,
        "hal.test": 1,
        "The Matrix.org Foundation C.I.C.": 1,
    }
    assert counts("name_domain") == {"the holder's own domain": 2, "an operator's domain": 3}
    assert counts("pds_operator") == {"Bluesky Social PBC": 1}  # AT Protocol's own layer


def test_saved_evidence_of_each_network_renders_offline(
    served: dict[str, Any], tmp_path: Path
) -> None:
    for target in ("@alice@mastodon.social", "@hal:hal.test"):
        saved = tmp_path / "evidence.json"
        checked = invoke(
            "check", target, "-f", "json", "--save-evidence", str(saved), *served["check_args"]
        )
        assert checked.exit_code == 0, checked.stderr
        again = invoke("render", str(saved), "-f", "json")
        assert again.exit_code == 0, again.stderr
        before, after = json.loads(checked.stdout), json.loads(again.stdout)
        assert (after["protocol"], after["band"], after["score"]) == (
            before["protocol"],
            before["band"],
            before["score"],
        )
        html = invoke("render", str(saved), "-f", "html")
        assert html.exit_code == 0 and "<script" not in html.stdout

"""The command line through typer's runner: options, formats, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor import defaults
from auditor.cli import app
from auditor.crypto import PrivateKey
from auditor.models.report import SCHEMA_VERSION
from auditor.sandbox.identities import PlcIdentity
from auditor.settings import AuditSettings
from tests.support.fakenet import FakeNet

runner = CliRunner()


@pytest.fixture
def account(fakenet: FakeNet, monkeypatch: pytest.MonkeyPatch) -> PlcIdentity:
    """A resolvable account; the CLI's resolver is replaced by the fake network's."""
    identity = PlcIdentity(
        "alice.example.com", "https://pds.example.com", [PrivateKey.generate("k256")]
    )
    fakenet.account(identity)
    monkeypatch.setattr("auditor.session.DnspythonResolver", lambda *a, **k: fakenet.resolver)
    quiet_defaults(monkeypatch)
    return identity


def quiet_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """No default relays, mirrors, AppViews or labelers, and no export: the fake net has none."""
    for name in ("RELAYS", "PLC_MIRRORS", "APPVIEWS", "LABELERS"):
        monkeypatch.setenv(f"DECAUDIT_{name}", "")
    monkeypatch.setenv("DECAUDIT_SKIP_EXPORT", "1")


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("decaudit 0.")


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_startup_does_not_import_heavy_modules(argv: list[str]) -> None:
    # (A subcommand's --help builds typer's parameter coercion, which since typer 0.2x is pydantic:
    # that cost is typer's own and only paid when a subcommand is parsed.)
    code = (
        "import sys\n"
        "from auditor.cli import app\n"
        f"try:\n    app({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = {'httpx', 'dns', 'pydantic', 'jinja2'} & {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("target", "rule"),
    [
        ("alice_bsky.social", "'_'"),
        ("did:foo:abc", "not a method AT Protocol supports"),
        ("did:plc:short", "did:plc"),
        ("https://example.com/profile/alice", "bsky.app"),
        ("", "empty"),
    ],
)
def test_invalid_target_is_exit_2_with_one_line(target: str, rule: str) -> None:
    result = runner.invoke(app, ["check", target])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("decaudit: invalid target")
    assert rule in lines[0]
    assert "Traceback" not in result.output


def test_check_text_report(account: PlcIdentity) -> None:
    result = runner.invoke(app, ["check", "alice.example.com"])
    assert result.exit_code == 0, result.output
    assert "alice.example.com (verified both ways)" in result.output
    assert "rotation-key-custody" in result.output


def test_check_json_report_contract(account: PlcIdentity) -> None:
    result = runner.invoke(app, ["check", "alice.example.com", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["schema_version"] == SCHEMA_VERSION
    assert report["did"] == account.did
    assert report["handle"] == "alice.example.com"
    assert report["handle_verified"] is True
    assert 0 <= report["score"] <= 100
    assert report["band"] in {"centralized", "hybrid", "decentralized"}
    # the export was skipped (--skip-export): its checks did not run and coverage says so
    assert report["coverage"] < 1.0
    assert "repo-export not run: skipped (--skip-export)" in report["warnings"]
    assert "repo-export" not in [c["id"] for c in report["checks"]]
    errors = [c["id"] for c in report["checks"] if c["status"] == "error"]
    assert errors == [], errors
    custody = next(c for c in report["checks"] if c["id"] == "rotation-key-custody")
    assert set(custody["data"]) >= {"rotation_keys", "operator_keys", "other_keys"}
    history = next(c for c in report["checks"] if c["id"] == "identity-history")
    assert set(history["data"]) >= {"handles", "pds_endpoints"}
    for check in report["checks"]:
        assert set(check) >= {
            "id",
            "category",
            "status",
            "score",
            "summary",
            "findings",
            "remediation",
            "data",
        }
        for finding in check["findings"]:
            assert finding["evidence"].startswith("/")
    assert report["evidence"]["did"] == account.did


def test_select_narrows_and_coverage_says_so(account: PlcIdentity) -> None:
    result = runner.invoke(
        app, ["check", "alice.example.com", "-f", "json", "--select", "handle-domain,did-method"]
    )
    report = json.loads(result.stdout)
    assert [c["id"] for c in report["checks"]] == ["handle-domain", "did-method"]
    assert report["selected_checks"] == ["handle-domain", "did-method"]
    assert 0 < report["coverage"] < 1


def test_environment_variables_mirror_options(account: PlcIdentity) -> None:
    result = runner.invoke(
        app,
        ["check", "alice.example.com"],
        env={"DECAUDIT_FORMAT": "json", "DECAUDIT_SKIP": "identity-history,did-method"},
    )
    report = json.loads(result.stdout)
    assert "did-method" not in [c["id"] for c in report["checks"]]
    assert "identity-history" not in [c["id"] for c in report["checks"]]


def test_unknown_check_id_is_usage_error_before_any_request(fakenet: FakeNet) -> None:
    result = runner.invoke(app, ["check", "alice.example.com", "--select", "no-such-check"])
    assert result.exit_code == 2
    assert "unknown check id no-such-check" in result.output
    assert fakenet.router.calls.call_count == 0


def test_fail_under(account: PlcIdentity) -> None:
    assert runner.invoke(app, ["check", "alice.example.com", "--fail-under", "0"]).exit_code == 0
    result = runner.invoke(app, ["check", "alice.example.com", "--fail-under", "100"])
    assert result.exit_code == 1
    assert "below --fail-under 100" in result.output


def test_require_gates_a_single_check_and_badge_is_written(
    account: PlcIdentity, tmp_path: Path
) -> None:
    badge = tmp_path / "badge.json"
    ok = runner.invoke(
        app,
        ["check", "alice.example.com", "--require", "did-document=pass", "--badge", str(badge)],
    )
    assert ok.exit_code == 0, ok.output
    shown = json.loads(badge.read_text(encoding="utf-8"))
    assert shown["schemaVersion"] == 1 and shown["label"] == "decentralization"
    assert shown["message"].split()[0] in ("centralized", "hybrid", "decentralized")
    gated = runner.invoke(
        app, ["check", "alice.example.com", "--require", "did-document=fail|partial"]
    )
    assert gated.exit_code == 1
    assert "did-document is pass, required did-document=fail|partial" in gated.output
    bad = runner.invoke(app, ["check", "alice.example.com", "--require", "did-document=ok"])
    assert bad.exit_code == 2
    assert "'ok' is not one of" in bad.output


def test_unresolvable_handle_is_exit_3_with_a_null_band(
    fakenet: FakeNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("auditor.session.DnspythonResolver", lambda *a, **k: fakenet.resolver)
    fakenet.handle_https("ghost.example.com", "nope", status=404)
    result = runner.invoke(app, ["check", "ghost.example.com", "--format", "json"])
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["band"] is None and report["score"] is None
    assert "did not resolve" in report["unresolved_reason"]
    assert report["checks"] == []


def test_save_evidence_then_render_offline(account: PlcIdentity, tmp_path: Path) -> None:
    saved = tmp_path / "evidence.json"
    report_file = tmp_path / "report.json"
    first = runner.invoke(
        app,
        [
            "check",
            "alice.example.com",
            "-f",
            "json",
            "-o",
            str(report_file),
            "--save-evidence",
            str(saved),
        ],
    )
    assert first.exit_code == 0, first.output
    original = json.loads(report_file.read_text())
    # evidence file and JSON report both re-render to the same report
    for source in (saved, report_file):
        again = runner.invoke(app, ["render", str(source), "-f", "json"])
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout) == original


def test_render_rejects_a_file_that_is_not_evidence(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text(json.dumps({"hello": "world"}))
    result = runner.invoke(app, ["render", str(bogus)])
    assert result.exit_code == 2
    assert "is not a decaudit evidence file or JSON report" in result.output
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{")
    assert runner.invoke(app, ["render", str(garbage)]).exit_code == 2
    assert runner.invoke(app, ["render", str(tmp_path / "missing.json")]).exit_code == 2


def test_bad_connect_to_is_usage_error() -> None:
    result = runner.invoke(app, ["check", "alice.example.com", "--connect-to", "nonsense"])
    assert result.exit_code == 2
    assert "HOST[:PORT]=BASE_URL" in result.output


def test_bad_nameserver_is_usage_error() -> None:
    result = runner.invoke(app, ["check", "alice.example.com", "--nameserver", "not-an-ip"])
    assert result.exit_code == 2
    assert "nameserver" in result.output.lower()


def test_checks_lists_every_check() -> None:
    result = runner.invoke(app, ["checks"])
    assert result.exit_code == 0
    for check_id in ("handle-resolution", "rotation-key-custody", "identity-history"):
        assert check_id in result.output


def test_schema_is_json_schema_of_the_report() -> None:
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    assert schema["title"] == "Report"
    assert {"schema_version", "score", "band", "coverage", "checks", "evidence"} <= set(
        schema["properties"]
    )


def test_demo_audits_the_sandbox_and_writes_every_report(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["demo", "--out", str(tmp_path), "--scenarios", "bsky-default,self-sovereign"]
    )
    assert result.exit_code == 0, result.output
    assert "SANDBOX DATA" in result.output
    assert {p.name for p in tmp_path.iterdir()} == {
        f"{scenario}.{suffix}"
        for scenario in ("bsky-default", "self-sovereign")
        for suffix in ("json", "html", "txt", "md")
    }
    report = json.loads((tmp_path / "bsky-default.json").read_text())
    assert report["sandbox"] is True and report["band"] == "centralized"


def test_demo_writes_alices_three_networks_side_by_side(tmp_path: Path) -> None:
    scenarios = "bsky-default,fedi-flagship,matrix-flagship"
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--scenarios", scenarios])
    assert result.exit_code == 0, result.output
    assert "matrix-flagship" in result.output and "fedi-flagship" in result.output
    comparison = json.loads((tmp_path / "compare-alice.json").read_text())
    assert [r["protocol"] for r in comparison["reports"]] == ["atproto", "activitypub", "matrix"]
    assert {p.suffix for p in tmp_path.glob("compare-alice.*")} == {".json", ".html", ".txt", ".md"}


def test_demo_rejects_unknown_scenarios(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--scenarios", "nope"])
    assert result.exit_code == 2
    assert "unknown scenario nope" in result.output
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenarios", "nope"], "unknown scenario nope"),
        (["--host-faults", "plc.directory=rtt:fast"], "rtt"),
        (["--host-faults", "no-such-host.test=down"], "no-such-host.test"),
        (["--error-rate", "2"], "error-rate"),
    ],
)
def test_sandbox_serve_rejects_bad_input_with_exit_2(argv: list[str], message: str) -> None:
    result = runner.invoke(app, ["sandbox", "serve", *argv])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def _settings(**options: object) -> AuditSettings:
    from auditor.cli.options import network_settings

    base: dict[str, object] = {
        "plc_url": defaults.PLC_URL,
        "nameserver": None,
        "connect_to": None,
        "relay": None,
        "plc_mirror": None,
        "appview": None,
        "labeler": None,
        "skip_export": True,
        "save_export": None,
        "max_export_size": 64,
        "blobs": "3",
        "timeout": 5.0,
        "deadline": 30.0,
        "allow_private": False,
        "ca_bundle": None,
    }
    return network_settings(**{**base, **options})  # type: ignore[arg-type]


def test_default_plc_mirrors_are_only_asked_about_the_default_directory() -> None:
    assert _settings().plc_mirrors == list(defaults.PLC_MIRRORS)
    assert _settings(plc_url=defaults.PLC_URL + "/").plc_mirrors == list(defaults.PLC_MIRRORS)
    # Another directory: mirrors of plc.directory would answer for a different directory.
    assert _settings(plc_url="https://plc.example.net").plc_mirrors == []
    named = _settings(plc_url="https://plc.example.net", plc_mirror=["https://m.example.net"])
    assert named.plc_mirrors == ["https://m.example.net"]

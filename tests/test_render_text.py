"""The terminal renderer: spectrum, single points of failure, checks; inert hostile strings;
NO_COLOR, ``--no-color`` and the terminal width.

Exact strings are rendered on rich's own test pattern: a ``Console`` on a ``StringIO`` with a
fixed width and no colour system.
"""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from auditor.cli import app
from auditor.crypto import PrivateKey
from auditor.models.report import (
    SCHEMA_VERSION,
    Band,
    Capability,
    CheckResult,
    Dependency,
    Finding,
    Report,
    Status,
)
from auditor.render import OutputFormat, render
from auditor.render.text import (
    checks_table,
    colour_disabled,
    inert,
    print_report,
    spectrum,
    terminal_console,
)
from auditor.sandbox.demo import audit_scenarios
from auditor.sandbox.identities import PlcIdentity
from tests.support.fakenet import FakeNet

runner = CliRunner()
SCENARIOS = ("hostile-markup", "unresolvable-handle", "bsky-default", "self-sovereign")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PAYLOAD = (
    "\x1b[31mred\x1b[0m \x9b2J \u202egnp.exe\u202c \u2066iso\u2069 \u200fmark \u061c "
    "zw\u200bsp a\u200db \ufeffbom \U000e0041tag \ud800 \r\x07\x08 [bold red]markup[/] "
    "<script>alert(1)</script> | *em* `tick` @mention https://evil.example/x :smile:\n"
    "# heading\n- item"
)
"""Terminal escapes (7- and 8-bit), bidi overrides/isolates/marks, zero-width and tag
characters, a lone surrogate, rich markup and Markdown/HTML: every kind of hostile string."""
HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    """Real sandbox reports, audited in process."""
    results = asyncio.run(audit_scenarios(SCENARIOS, stable=True))
    return {result.scenario: result.report for result in results}


def poisoned(report: Report, payload: str = PAYLOAD) -> Report:
    """``report`` with every server-controllable string replaced by ``payload``."""
    check = CheckResult(
        id=f"id-{payload}",
        title=payload,
        category=report.checks[0].category,
        weight=1,
        status=Status.ERROR,
        score=None,
        summary=payload,
        findings=[Finding(message=payload, evidence=f"/{payload}")],
        remediation=payload,
        error=payload,
    )
    dependency = Dependency(
        party=payload,
        label=payload,
        third_party=True,
        roles=[payload, payload],
        can_break_alone=[Capability.SERVE_DATA],
        single_point_of_failure=True,
        if_offline=payload,
        evidence=[payload],
    )
    bystander = dependency.model_copy(update={"single_point_of_failure": False})
    holder = dependency.model_copy(update={"third_party": False})
    # (a lone surrogate cannot reach the evidence: JSON refuses it, and the digest needs UTF-8)
    evidence = report.evidence.model_copy(update={"tool_version": payload.replace("\ud800", "")})
    return report.model_copy(
        update={
            "target": payload,
            "handle": payload,
            "did": payload,
            "tool_version": payload,
            "scoring_version": payload,
            "schema_version": payload,
            "band_basis": [payload, payload],
            "dependencies": [dependency, bystander, holder],
            "checks": [check, *report.checks],
            "warnings": [payload],
            "evidence": evidence,
        }
    )


def hidden_characters(text: str) -> set[str]:
    """Characters that could act on a terminal or reorder/hide text (newline excepted)."""
    return {ch for ch in text if ch != "\n" and unicodedata.category(ch) in HIDDEN}


def console(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)


def printed(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


# --- inert ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x07\r", "␛[2J␇␍"),
        ("a\nb\tc", "a\nb\tc"),
        ("\x7f\x00", "␡␀"),
        ("\x9b2J", "<U+009B>2J"),
        ("\u202egnp.exe\u202c", "<U+202E>gnp.exe<U+202C>"),
        ("\u2066x\u2069\u2067\u2068", "<U+2066>x<U+2069><U+2067><U+2068>"),
        ("\u200e\u200f\u061c", "<U+200E><U+200F><U+061C>"),
        ("pay\u200bpal\u2060\u00ad", "pay<U+200B>pal<U+2060><U+00AD>"),
        ("\ufeff\U000e0041\u2028\u2029", "<U+FEFF><U+E0041><U+2028><U+2029>"),
        ("\ud800", "<U+D800>"),
        ("\u3164\U000e0100", "<U+3164><U+E0100>"),
        ("a\u200db", "a<U+200D>b"),
        ("👩\u200d💻", "👩\u200d💻"),
        ("café 日本 ✓", "café 日本 ✓"),
    ],
)
def test_inert(raw: str, shown: str) -> None:
    assert inert(raw) == shown


def test_inert_one_line_shows_newlines_and_tabs() -> None:
    assert inert("a\nb\tc", one_line=True) == "a␊b␉c"
    assert inert("é\nb", one_line=True) == "é␊b"  # the slow path agrees with the ASCII one


# --- exact renderings ------------------------------------------------------------------------


def test_spectrum_marks_the_band_and_shows_the_score(reports: dict[str, Report]) -> None:
    report = reports["bsky-default"].model_copy(update={"band": Band.HYBRID, "score": 50.0})
    out = console(58)
    out.print(spectrum(report, 58))
    assert printed(out) == (
        "    centralized         ▶ HYBRID ◀       decentralized\n"
        "───────────────────━━━━━━━━━━━━━━━━━━━────────────────────\n"
        "score 50/100 ██████████████████████░░░░░░░░░░░░░░░░░░░░░░░\n"
        "The band comes from gates (below), not from the score.\n"
    )


def test_checks_table_row(reports: dict[str, Report]) -> None:
    check = CheckResult(
        id="handle-domain",
        title="Handle domain",
        category=reports["bsky-default"].checks[0].category,
        weight=1,
        status=Status.FAIL,
        score=0.0,
        summary="[bold]alice.example[/] is a name \x1b[31mit\x1b[0m gives out",
    )
    report = reports["bsky-default"].model_copy(update={"checks": [check]})
    out = console(60)
    out.print(checks_table(report, verbose=False, width=100))
    assert printed(out) == (
        "┏━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┓\n"
        "┃ Status  ┃ Score ┃ Check         ┃ Summary                ┃\n"
        "┡━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━┩\n"
        "│ FAIL    │  0.00 │ handle-domain │ [bold]alice.example[/] │\n"
        "│         │       │               │ is a name ␛[31mit␛[0m  │\n"
        "│         │       │               │ gives out              │\n"
        "└─────────┴───────┴───────────────┴────────────────────────┘\n"
    )


def test_single_points_of_failure_and_what_if(reports: dict[str, Report]) -> None:
    text = render(reports["bsky-default"], OutputFormat.TEXT)
    assert (
        "Single points of failure\n  ● Bluesky Social PBC (PLC directory, rotation key #0" in text
    )
    assert "can break alone: serving the data, publishing to the network" in text
    assert "If Bluesky Social PBC went offline tomorrow, this account could no longer" in text
    assert "○ microcosm (PLC mirror)" in text


def test_report_sections_in_order(reports: dict[str, Report]) -> None:
    text = render(reports["hostile-markup"], OutputFormat.TEXT)
    sections = ["SANDBOX DATA", "Verdict", "Where it stands", "Why this band"]
    sections += ["Single points of failure", "Checks", "What you can do"]
    positions = [text.index(section) for section in sections]
    assert positions == sorted(positions)
    assert " HYBRID   score 71/100, coverage 100%" in text
    assert "▶ HYBRID ◀" in text and "━━━" in text
    assert "not decentralized: markup.test controls the identity" in text
    assert f"report schema {SCHEMA_VERSION}" in text


def test_no_single_point_of_failure_is_said(reports: dict[str, Report]) -> None:
    report = reports["self-sovereign"]
    alone = [d.model_copy(update={"single_point_of_failure": False}) for d in report.dependencies]
    text = render(report.model_copy(update={"dependencies": alone}), OutputFormat.TEXT)
    assert "None: no third party can, alone, break anything for this account." in text
    assert "Held by you: rotation key #0" in text


def test_unresolved_report_says_what_failed(reports: dict[str, Report]) -> None:
    text = render(reports["unresolvable-handle"], OutputFormat.TEXT)
    assert "NO VERDICT" in text and "What failed" in text
    assert "NXDOMAIN" in text and "HTTP 404" in text
    assert "Where it stands" not in text


def test_verbose_shows_findings_and_their_evidence(reports: dict[str, Report]) -> None:
    report = reports["bsky-default"]
    finding = report.checks[0].findings[0]
    quiet = render(report, OutputFormat.TEXT)
    loud = render(report, OutputFormat.TEXT, verbose=True)
    assert finding.evidence not in quiet
    assert f"({finding.evidence})" in loud


# --- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [100, 60, 40])
@pytest.mark.parametrize("scenario", ["hostile-markup", "bsky-default"])
def test_hostile_strings_stay_inert(reports: dict[str, Report], scenario: str, width: int) -> None:
    for report in (reports[scenario], poisoned(reports[scenario])):
        text = render(report, OutputFormat.TEXT, verbose=True, width=width)
        assert "\x1b" not in text and "\x9b" not in text
        assert hidden_characters(text) == set()
        text.encode("utf-8")  # no lone surrogate left to crash the terminal's encoder


def test_hostile_strings_are_shown_not_interpreted(reports: dict[str, Report]) -> None:
    text = render(poisoned(reports["bsky-default"]), OutputFormat.TEXT, verbose=True, width=200)
    assert "[bold red]markup[/]" in text
    assert "<U+202E>gnp.exe<U+202C>" in text
    assert "␛[31mred␛[0m" in text
    assert "<U+D800>" in text
    # one-line fields cannot forge a line of the report
    assert "␊# heading␊- item" in text


def test_long_values_are_cut_with_an_ellipsis(reports: dict[str, Report]) -> None:
    report = poisoned(reports["bsky-default"], "x" * 5000)
    assert max(len(row) for row in render(report, OutputFormat.TEXT).splitlines()) <= 100
    text = render(report, OutputFormat.TEXT, verbose=True, width=20_000)  # nothing wraps
    runs = [len(run) for run in re.findall("x+", text)]
    assert max(runs) == 1999  # free text outside tables (remediation) is cut at 2000
    table_rows = [row for row in text.splitlines() if row.startswith("│")]
    assert table_rows and all("x" * 300 not in row for row in table_rows)
    assert "x" * 299 + "…" in text


# --- colour and width ----------------------------------------------------------------------------


def test_colour_disabled_by_flag_or_non_empty_no_color() -> None:
    assert colour_disabled(True, {})
    assert colour_disabled(False, {"NO_COLOR": "1"})
    assert colour_disabled(False, {"NO_COLOR": "false"})  # any non-empty value
    assert not colour_disabled(False, {"NO_COLOR": ""})
    assert not colour_disabled(False, {})


def test_terminal_console_without_colour_writes_no_escape_codes(
    reports: dict[str, Report], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")
    plain = terminal_console()
    assert plain.color_system is None
    monkeypatch.delenv("NO_COLOR")
    assert terminal_console().color_system is not None
    assert terminal_console(no_color=True).color_system is None
    buffer = io.StringIO()
    plain.file = buffer
    print_report(reports["hostile-markup"], plain)
    assert "\x1b" not in buffer.getvalue()


def _report_file(report: Report, tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(report.model_dump_json(), encoding="utf-8")
    return path


TERMINAL = {"FORCE_COLOR": "1", "TTY_COMPATIBLE": None, "NO_COLOR": None, "COLUMNS": "100"}


def test_cli_forced_terminal_gets_colour(reports: dict[str, Report], tmp_path: Path) -> None:
    path = _report_file(reports["bsky-default"], tmp_path)
    result = runner.invoke(app, ["render", str(path)], env=TERMINAL)
    assert result.exit_code == 0, result.output
    assert ANSI.search(result.stdout)


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--no-color"], {}),
        ([], {"NO_COLOR": "1"}),
        ([], {"DECAUDIT_NO_COLOR": "1"}),
    ],
    ids=["flag", "NO_COLOR", "DECAUDIT_NO_COLOR"],
)
def test_cli_no_color(
    reports: dict[str, Report], tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    path = _report_file(reports["bsky-default"], tmp_path)
    result = runner.invoke(app, ["render", str(path), *args], env={**TERMINAL, **env})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "▶ CENTRALIZED ◀" in result.stdout  # the verdict still reads without colour


@pytest.mark.parametrize("columns", [60, 140])
def test_cli_terminal_width_is_honoured(
    reports: dict[str, Report], tmp_path: Path, columns: int
) -> None:
    path = _report_file(reports["hostile-markup"], tmp_path)
    env = {**TERMINAL, "COLUMNS": str(columns)}
    result = runner.invoke(app, ["render", str(path), "--verbose"], env=env)
    assert result.exit_code == 0, result.output
    rows = ANSI.sub("", result.stdout).splitlines()
    assert max(len(row) for row in rows) == columns


def test_cli_pipe_gets_plain_text_at_fixed_width(
    reports: dict[str, Report], tmp_path: Path
) -> None:
    path = _report_file(reports["bsky-default"], tmp_path)
    env = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "COLUMNS": "60"}
    result = runner.invoke(app, ["render", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == render(reports["bsky-default"], OutputFormat.TEXT)


def test_cli_render_unresolved_says_what_failed(reports: dict[str, Report], tmp_path: Path) -> None:
    path = _report_file(reports["unresolvable-handle"], tmp_path)
    result = runner.invoke(app, ["render", str(path), "--no-color"], env=TERMINAL)
    assert result.exit_code == 3
    assert "What failed" in result.stdout and "NXDOMAIN" in result.stdout


@pytest.fixture
def account(fakenet: FakeNet, monkeypatch: pytest.MonkeyPatch) -> PlcIdentity:
    """A resolvable account on the fake network (as in test_cli.py)."""
    identity = PlcIdentity(
        "alice.example.com", "https://pds.example.com", [PrivateKey.generate("k256")]
    )
    fakenet.account(identity)
    monkeypatch.setattr("auditor.session.DnspythonResolver", lambda *a, **k: fakenet.resolver)
    for name in ("RELAYS", "PLC_MIRRORS", "APPVIEWS", "LABELERS"):
        monkeypatch.setenv(f"DECAUDIT_{name}", "")
    monkeypatch.setenv("DECAUDIT_SKIP_EXPORT", "1")
    return identity


def test_cli_check_no_color_on_a_terminal(account: PlcIdentity) -> None:
    result = runner.invoke(app, ["check", "alice.example.com", "--no-color"], env=TERMINAL)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "Where it stands" in result.stdout and "alice.example.com" in result.stdout

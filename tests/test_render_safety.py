"""Hostile strings from the network stay inert in every output format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.models.report import CheckResult, Finding, Report, Status
from auditor.render import OutputFormat, render

SAMPLE = Path(__file__).resolve().parents[1] / "sample_reports" / "bsky-default.json"
HOSTILE = "<script>alert(1)</script>\"'&\x1b[31mRED\x1b[0m\x07"


@pytest.fixture
def hostile_report() -> Report:
    report = Report.model_validate_json(SAMPLE.read_text())
    check = report.checks[0]
    poisoned = CheckResult.model_validate(
        {
            **check.model_dump(),
            "status": Status.FAIL,
            "summary": f"body was {HOSTILE}",
            "findings": [Finding(message=HOSTILE, evidence="/x")],
            "remediation": HOSTILE,
        }
    )
    return report.model_copy(update={"checks": [poisoned, *report.checks[1:]], "target": HOSTILE})


def test_html_escapes_everything(hostile_report: Report) -> None:
    html = render(hostile_report, OutputFormat.HTML)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # self-contained: no external fetches, no scripts
    assert "<script" not in html.lower()
    assert 'http-equiv="Content-Security-Policy"' in html
    for needle in ('src="http', 'href="http', "@import", "url("):
        assert needle not in html


def test_text_strips_terminal_control_sequences(hostile_report: Report) -> None:
    text = render(hostile_report, OutputFormat.TEXT, verbose=True)
    assert "\x1b" not in text and "\x07" not in text
    assert "<script>alert(1)</script>" in text  # shown literally, not interpreted


def test_hostile_fields_of_a_hand_edited_evidence_file_stay_inert(hostile_report: Report) -> None:
    # A saved evidence file is input too: tool version, DID and handle are not trusted either.
    evidence = hostile_report.evidence.model_copy(update={"tool_version": "[red]x\x1b[2J"})
    report = hostile_report.model_copy(
        update={
            "evidence": evidence,
            "tool_version": "9[bold]\x1b]0;title\x07",
            "did": "did:plc:\x1b[31mx",
            "handle": "h\x1b[1m.test",
        }
    )
    text = render(report, OutputFormat.TEXT)
    assert "\x1b" not in text and "\x07" not in text
    assert "9[bold]" in text and "[red]x" in text


def test_rich_markup_in_data_is_not_interpreted(hostile_report: Report) -> None:
    check = hostile_report.checks[0].model_copy(update={"summary": "[bold red]not markup[/]"})
    report = hostile_report.model_copy(update={"checks": [check]})
    assert "[bold red]not markup[/]" in render(report, OutputFormat.TEXT)


def test_json_round_trips_hostile_strings(hostile_report: Report) -> None:
    raw = render(hostile_report, OutputFormat.JSON)
    assert json.loads(raw)["target"] == HOSTILE
    assert Report.model_validate_json(raw) == hostile_report

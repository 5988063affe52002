"""The sandbox's scenario accounts, audited in process, in every format == ``sample_reports/``.

Measured durations are zeroed (``without_timings``) and renderers never read the clock, so these
are byte-for-byte. ``pytest --update-goldens`` (``make goldens``) rewrites them from the current
code; review the diff like any other change.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from auditor.models.report import Report
from auditor.render import OutputFormat, render
from auditor.render.compare import render_comparison
from auditor.sandbox.demo import (
    COMPARISON_NAME,
    SUFFIXES,
    DemoResult,
    audit_scenarios,
    comparison,
    default_scenarios,
)

SAMPLES = Path(__file__).resolve().parents[1] / "sample_reports"


@pytest.fixture(scope="module")
def results() -> dict[str, DemoResult]:
    return {r.scenario: r for r in asyncio.run(audit_scenarios(stable=True))}


def _compare(path: Path, text: str, update: bool) -> None:
    if update:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run make goldens"
    assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run make goldens"


@pytest.mark.parametrize("scenario", default_scenarios())
@pytest.mark.parametrize("fmt", list(OutputFormat), ids=[f.value for f in OutputFormat])
def test_golden(
    results: dict[str, DemoResult], scenario: str, fmt: OutputFormat, update_goldens: bool
) -> None:
    report = results[scenario].report
    _compare(SAMPLES / f"{scenario}.{SUFFIXES[fmt]}", render(report, fmt), update_goldens)


@pytest.mark.parametrize("fmt", list(OutputFormat), ids=[f.value for f in OutputFormat])
def test_golden_comparison(
    results: dict[str, DemoResult], fmt: OutputFormat, update_goldens: bool
) -> None:
    compared = comparison(list(results.values()))
    assert compared is not None
    assert [r.target for r in compared.reports] == [
        "alice.bsky.social",
        "@alice@mastodon.social",
        "@alice:matrix.org",
    ]
    text = render_comparison(compared, fmt)
    _compare(SAMPLES / f"{COMPARISON_NAME}.{SUFFIXES[fmt]}", text, update_goldens)


def test_no_stale_sample_files() -> None:
    expected = {f"{s}.{suffix}" for s in default_scenarios() for suffix in SUFFIXES.values()}
    expected |= {f"{COMPARISON_NAME}.{suffix}" for suffix in SUFFIXES.values()}
    present = {p.name for p in SAMPLES.iterdir()} - {"report.schema.json", "README.md"}
    assert present == expected


def test_committed_schema_matches_the_models(update_goldens: bool) -> None:
    schema = json.dumps(Report.model_json_schema(), indent=2, sort_keys=True) + "\n"
    _compare(SAMPLES / "report.schema.json", schema, update_goldens)


def _resolve(document: Any, pointer: str) -> Any:
    """RFC 6901 lookup."""
    for token in pointer.lstrip("/").split("/") if pointer != "/" else []:
        token = token.replace("~1", "/").replace("~0", "~")
        document = document[int(token)] if isinstance(document, list) else document[token]
    return document


def test_every_finding_points_at_existing_evidence(results: dict[str, DemoResult]) -> None:
    for result in results.values():
        evidence = json.loads(result.report.evidence.model_dump_json())
        for check in result.report.checks:
            for finding in check.findings:
                try:
                    _resolve(evidence, finding.evidence)
                except (KeyError, IndexError, ValueError, TypeError):
                    pytest.fail(f"{result.scenario} {check.id}: {finding.evidence} is not there")


def test_sandbox_reports_say_so(results: dict[str, DemoResult]) -> None:
    for result in results.values():
        report = result.report
        assert report.sandbox, result.scenario
        assert "SANDBOX DATA" in render(report, OutputFormat.TEXT)
        assert "Sandbox data." in render(report, OutputFormat.HTML)

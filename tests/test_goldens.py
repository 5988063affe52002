"""Recorded evidence -> report in every format == the committed ``sample_reports/`` files.

Renderers never read the clock, so these are byte-for-byte. ``pytest --update-goldens`` rewrites
them from the current code; review the diff like any other change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.api import rescore
from auditor.models.evidence import Evidence
from auditor.models.report import Report
from auditor.render import OutputFormat, render

SAMPLES = Path(__file__).resolve().parents[1] / "sample_reports"
EVIDENCE = sorted((SAMPLES / "evidence").glob("*.json"))
SUFFIX = {OutputFormat.TEXT: "txt", OutputFormat.JSON: "json", OutputFormat.HTML: "html"}


def _compare(path: Path, text: str, update: bool) -> None:
    if update:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run pytest --update-goldens"
    assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run pytest --update-goldens"


def test_there_are_samples() -> None:
    assert {p.stem for p in EVIDENCE} >= {"bsky-app", "self-hosted", "unresolvable"}


@pytest.mark.parametrize("evidence_file", EVIDENCE, ids=[p.stem for p in EVIDENCE])
@pytest.mark.parametrize("fmt", list(OutputFormat), ids=[f.value for f in OutputFormat])
def test_golden(evidence_file: Path, fmt: OutputFormat, update_goldens: bool) -> None:
    evidence = Evidence.model_validate_json(evidence_file.read_text())
    report = rescore(evidence, strict=True)
    _compare(SAMPLES / f"{evidence_file.stem}.{SUFFIX[fmt]}", render(report, fmt), update_goldens)


def test_committed_schema_matches_the_models(update_goldens: bool) -> None:
    schema = json.dumps(Report.model_json_schema(), indent=2, sort_keys=True) + "\n"
    _compare(SAMPLES / "report.schema.json", schema, update_goldens)


REPORTS = sorted(p for p in SAMPLES.glob("*.json") if p.name != "report.schema.json")


@pytest.mark.parametrize("report_file", REPORTS, ids=[p.stem for p in REPORTS])
def test_sample_json_reports_parse_as_reports(report_file: Path) -> None:
    report = Report.model_validate_json(report_file.read_text())
    assert report.schema_version == "1.0"

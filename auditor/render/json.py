"""JSON: the versioned report contract, evidence included."""

from __future__ import annotations

from auditor.models.report import Report


def render_json(report: Report) -> str:
    """The report as indented JSON with a trailing newline."""
    return report.model_dump_json(indent=2) + "\n"

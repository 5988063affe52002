"""History snapshots, trends, and diffs of reports and summaries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditor.batch import SUMMARY_KIND, history
from auditor.batch.diff import Change, DiffInputError, diff
from auditor.batch.render import render_diff_markdown, render_diff_text, render_history

GOLDENS = Path(__file__).parents[2] / "sample_reports"


def summary(when: str, shannon: float, hhi: float, scoring: str = "0.2") -> dict[str, Any]:
    return {
        "kind": SUMMARY_KIND,
        "generated_at": when,
        "tool_version": "0.1.0",
        "scoring_version": scoring,
        "accounts": {"audited": 10},
        "mean_score": 50.0,
        "bands": {"centralized": 10},
        "layers": {
            "pds_operator": {
                "shannon": shannon,
                "hhi_points": hhi,
                "effective_shannon": 2**shannon,
                "needed": {"50": 1},
                "shares": [{"name": "huge list not kept"}],
            }
        },
    }


def test_history_keeps_compact_snapshots_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "h" / "history.jsonl"
    history.add(path, summary("2026-11-20T00:00:00+00:00", 1.0, 6000))
    history.add(path, summary("2026-11-10T00:00:00+00:00", 0.5, 8000))
    entries, skipped = history.load(path)
    assert skipped == []
    assert [e["generated_at"][:10] for e in entries] == ["2026-11-10", "2026-11-20"]
    assert "shares" not in entries[0]["layers"]["pds_operator"]  # snapshots stay small
    assert entries[0]["layers"]["pds_operator"]["hhi_points"] == 8000


def test_history_skips_lines_that_are_not_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history.add(path, summary("2026-11-20T00:00:00+00:00", 1.0, 6000))
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"cut short\n[1]\n')
    entries, skipped = history.load(path)
    assert len(entries) == 1
    assert skipped == [
        f"{path}: line 2 is not JSON (skipped)",
        f"{path}: line 3 is not a snapshot (skipped)",
    ]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (1.0, 1.02, "decentralizing"),
        (1.0, 0.98, "centralizing"),
        (1.0, 1.005, "steady"),
        (0.0, 0.0, "steady"),
        (0.0, 0.5, "decentralizing"),
    ],
)
def test_trend_follows_a_one_percent_shannon_rule(
    before: float, after: float, expected: str
) -> None:
    old = history.snapshot(summary("2026-11-01T00:00:00+00:00", before, 0))
    new = history.snapshot(summary("2026-11-08T00:00:00+00:00", after, 0))
    assert history.trend(old, new, "pds_operator") == expected


def test_history_output_marks_comparisons_across_scoring_versions() -> None:
    entries = [
        history.snapshot(summary("2026-11-01T00:00:00+00:00", 1.0, 6000, scoring="0.1")),
        history.snapshot(summary("2026-11-08T00:00:00+00:00", 1.1, 5500)),
    ]
    assert history.cross_version(entries)
    text = render_history(entries, "pds_operator", "text")
    assert "Trend (PDS operator): decentralizing" in text
    assert "more than one scoring version" in text
    html = render_history(entries, "pds_operator", "html")
    assert html.count("<svg") == 3
    assert "more than one scoring version" in html


def test_a_report_diff_lists_band_score_and_check_changes_in_order() -> None:
    before = json.loads((GOLDENS / "bsky-default.json").read_text(encoding="utf-8"))
    after = json.loads(json.dumps(before))
    after["band"], after["score"] = "hybrid", 61.0
    custody = next(c for c in after["checks"] if c["id"] == "rotation-key-custody")
    custody["status"] = "pass"
    after["checks"] = [c for c in after["checks"] if c["id"] != "identity-history"]
    result = diff(before, after)
    assert result.kind == "report"
    assert not result.cross_version
    assert result.changes == [
        Change("band", "centralized", "hybrid"),
        Change("score", before["score"], 61.0),
        Change("check rotation-key-custody", "fail", "pass"),
        Change("check identity-history", "info", "not run"),
    ]
    assert "band: centralized -> hybrid" in render_diff_text(result)


def test_a_summary_diff_and_cross_version_marking() -> None:
    before = summary("2026-11-01T00:00:00+00:00", 1.0, 6000, scoring="0.1")
    after = summary("2026-11-08T00:00:00+00:00", 1.0, 5000)
    result = diff(before, after)
    assert result.kind == "summary"
    assert result.cross_version
    assert result.changes == [Change("pds_operator hhi_points", 6000, 5000)]
    assert "not directly comparable" in render_diff_markdown(result)


def test_diff_refuses_what_it_cannot_compare() -> None:
    report = json.loads((GOLDENS / "bsky-default.json").read_text(encoding="utf-8"))
    with pytest.raises(DiffInputError, match="report with a summary"):
        diff(report, summary("2026-11-01T00:00:00+00:00", 1.0, 1))
    with pytest.raises(DiffInputError, match="not a decaudit report or summary"):
        diff({"hello": 1}, report)


def test_hostile_names_are_inert_in_diff_text_and_escaped_in_markdown() -> None:
    before = summary("2026-11-01T00:00:00+00:00", 1.0, 6000)
    after = summary("2026-11-08T00:00:00+00:00", 1.0, 6000)
    after["layers"]["\x1b[31mevil|layer*"] = {"total": 1}
    text = render_diff_text(diff(before, after))
    assert "\x1b" not in text
    markdown = render_diff_markdown(diff(before, after))
    assert "\\|layer\\*" in markdown

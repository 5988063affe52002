"""``decaudit compare``'s renderers: the same rows in every format, hostile values inert, and a
comparison that parses back."""

from __future__ import annotations

import asyncio
import json

import pytest
from markdown_it import MarkdownIt

from auditor.compare import Comparison, comparison_of
from auditor.models.report import LayerControl, Report
from auditor.render import OutputFormat
from auditor.render.compare import render_comparison, rows
from auditor.sandbox.demo import audit_scenarios

HOSTILE = "<script>alert(1)</script>\x1b[31m|**x**|[l](javascript:x)\u202e"


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    results = asyncio.run(
        audit_scenarios(["bsky-default", "fedi-own-domain", "matrix-delegated"], stable=True)
    )
    return {r.scenario: r.report for r in results}


@pytest.fixture
def hostile(reports: dict[str, Report]) -> Comparison:
    fediverse = reports["fedi-own-domain"]
    poisoned = fediverse.model_copy(
        update={
            "account": HOSTILE,
            "control": [LayerControl(layer="hosting", label=HOSTILE, yours=False)],
        }
    )
    return comparison_of([reports["bsky-default"], poisoned])


def test_rows_say_the_same_in_every_format(reports: dict[str, Report]) -> None:
    compared = comparison_of(list(reports.values()))
    table = {row.title: row.cells for row in rows(compared)}
    assert table["Verdict"] == ("centralized", "decentralized", "hybrid")
    assert table["Who hosts the account"] == ("Bluesky Social PBC", "you", "Matrixhost (sandbox)")
    assert table["Single points of failure"][1] == "none"
    text = render_comparison(compared, OutputFormat.TEXT)
    markdown = render_comparison(compared, OutputFormat.MD)
    html = render_comparison(compared, OutputFormat.HTML)
    for cell in ("Matrixhost (sandbox)", "No single third party can take this account offline."):
        assert cell in markdown and cell in html
    assert "Matrixhost" in text and "SANDBOX DATA" in text
    parsed = Comparison.model_validate_json(render_comparison(compared, OutputFormat.JSON))
    assert parsed == compared


def test_hostile_values_stay_inert(hostile: Comparison) -> None:
    html = render_comparison(hostile, OutputFormat.HTML)
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    assert "\u202e" not in html and "\x1b" not in html
    text = render_comparison(hostile, OutputFormat.TEXT)
    assert "\x1b" not in text and "\u202e" not in text
    markdown = render_comparison(hostile, OutputFormat.MD)
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(markdown)
    inline = [t for block in tokens if block.children for t in block.children]
    kinds = [t.type for t in inline]
    assert "link_open" not in kinds and "html_inline" not in kinds
    ours = len(rows(hostile)) + 1  # each row title, and "Sandbox data."; none of theirs
    assert kinds.count("strong_open") == ours
    header = next(line for line in markdown.splitlines() if line.startswith("|"))
    body = [line for line in markdown.splitlines() if line.startswith("| **Network")]
    assert header.count(" | ") == body[0].count(" | ")
    assert json.loads(render_comparison(hostile, OutputFormat.JSON))["reports"][1]["account"] == (
        HOSTILE
    )


def test_a_comparison_needs_reports() -> None:
    with pytest.raises(ValueError, match="at least one report"):
        comparison_of([])

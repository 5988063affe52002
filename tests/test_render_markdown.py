"""The Markdown renderer: content, escaping of hostile strings, tables that stay tables, the CLI.

Rendered Markdown is parsed back with markdown-it-py (CommonMark plus GFM tables, raw HTML on,
as GitHub parses it; it comes with rich) to check its structure: no HTML, no link, no extra
column, whatever the servers said.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from typer.testing import CliRunner

from auditor.cli import app
from auditor.models.report import SCHEMA_VERSION, CheckResult, Report, Status
from auditor.render import OutputFormat, render
from auditor.render.digest import evidence_digest
from auditor.render.markdown import code, prose, render_markdown
from auditor.sandbox.identities import PlcIdentity
from auditor.scoring import SCORING_VERSION
from tests.test_render_text import PAYLOAD, account, hidden_characters, poisoned, reports

__all__ = ["account", "reports"]  # fixtures shared with the terminal renderer's tests

runner = CliRunner()
PARSER = MarkdownIt("commonmark", {"html": True}).enable("table")
CHECK_COLUMNS = 4


def tokens(markdown: str) -> list[Token]:
    """Every token, inline children included."""
    flat: list[Token] = []
    for token in PARSER.parse(markdown):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def table_rows(markdown: str) -> list[int]:
    """The number of cells of each row of every table."""
    rows, cells = [], 0
    for token in PARSER.parse(markdown):
        if token.type == "tr_open":
            cells = 0
        elif token.type in ("td_open", "th_open"):
            cells += 1
        elif token.type == "tr_close":
            rows.append(cells)
    return rows


def assert_inert(markdown: str) -> None:
    """No raw HTML, no link of any kind, every table row as wide as its header."""
    kinds = {token.type for token in tokens(markdown)}
    assert not kinds & {"html_inline", "html_block", "link_open", "image"}, kinds
    assert set(table_rows(markdown)) <= {CHECK_COLUMNS}
    assert hidden_characters(markdown) == set()


# --- escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<script>alert(1)</script>", r"\<script\>alert(1)\</script\>"),
        ("*a* _b_ [x](y) ![i](j)", r"\*a\* \_b\_ \[x\](y) !\[i\](j)"),
        ("a | b ~c~ &amp; $x$ #1 {y}", r"a \| b \~c\~ \&amp; \$x\$ \#1 \{y\}"),
        ("back\\slash", r"back\\slash"),
        ("- item", r"\- item"),
        ("+ item", r"\+ item"),
        ("1. item", r"1\. item"),
        ("2) item", r"2\) item"),
        ("0.1.0 and a-b+c", "0.1.0 and a-b+c"),
        ("see https://evil.example/x.", "see `https://evil.example/x`."),
        ("www.evil.example", "`www.evil.example`"),
        ("mail me@evil.example or @someone", "mail `me@evil.example` or `@someone`"),
        ("run `goat key generate` now", "run `goat key generate` now"),
        ("a `lone backtick", r"a \`lone backtick"),
        ("  padded  ", "padded"),
        ("\u202egnp.exe", r"\<U+202E\>gnp.exe"),
        ("\x1b[31mred", r"␛\[31mred"),
        ("two\nlines", "two␊lines"),
    ],
)
def test_prose(raw: str, escaped: str) -> None:
    assert prose(raw) == escaped


def test_prose_free_text_joins_lines_and_tables_escape_pipes_in_code() -> None:
    assert prose("two\nlines\there", multi_line=True) == "two lines here"
    assert prose("x `a|b` y", table=True) == r"x `a\|b` y"
    assert prose("x `a|b` y") == "x `a|b` y"


def test_prose_cuts_before_escaping() -> None:
    assert prose("*" * 10, limit=4) == r"\*\*\*…"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("did:plc:abc", "`did:plc:abc`"),
        ("a`b", "``a`b``"),
        ("`x", "`` `x ``"),
        ("a|b", "`a|b`"),
        ("", "(empty)"),
        ("<b>\u202e", "`<b><U+202E>`"),
    ],
)
def test_code(raw: str, shown: str) -> None:
    assert code(raw) == shown


def test_code_in_a_table_escapes_pipes() -> None:
    assert code("a|b", table=True) == r"`a\|b`"


# --- content -------------------------------------------------------------------------------------


def test_dispatch(reports: dict[str, Report]) -> None:
    report = reports["bsky-default"]
    assert render(report, OutputFormat.MD) == render_markdown(report)
    assert OutputFormat("md") is OutputFormat.MD


def test_verdict_spectrum_and_sections(reports: dict[str, Report]) -> None:
    markdown = render_markdown(reports["bsky-default"])
    assert markdown.startswith("# How decentralized is `alice.bsky.social`?\n\n> ⚠️ **Sandbox")
    assert "**Verdict: 🔴 centralized** · score **45**/100 · coverage 100%" in markdown
    assert "Spectrum: **▶ CENTRALIZED ◀** → hybrid → decentralized" in markdown
    sections = ["## Why this band", "## Single points of failure", "## Checks"]
    sections += ["## What you can do", "## Evidence"]
    positions = [markdown.index(section) for section in sections]
    assert positions == sorted(positions)
    assert "\n- **Bluesky Social PBC** (PLC directory, rotation key \\#0" in markdown
    assert "\n  - Can break alone: serving the data, publishing to the network" in markdown
    assert "\n  - If Bluesky Social PBC went offline tomorrow, this account could no" in markdown
    assert "\n- microcosm (PLC mirror)\n" in markdown


def test_checks_table(reports: dict[str, Report]) -> None:
    markdown = render_markdown(reports["bsky-default"])
    assert "| Status | Score | Check | Summary |\n| --- | ---: | --- | --- |\n" in markdown
    assert "| ❌ fail | 0.00 | `handle-domain` | alice.bsky.social is a name Bluesky" in markdown
    assert "| ℹ️ info | — | `hosting-network` |" in markdown
    rows = table_rows(markdown)
    assert rows == [CHECK_COLUMNS] * (len(reports["bsky-default"].checks) + 1)


def test_evidence_versions_and_date(reports: dict[str, Report]) -> None:
    report = reports["hostile-markup"]
    markdown = render_markdown(report)
    assert f"- DID: `{report.did}`" in markdown
    assert (
        "- Handle `mallory.test`:\n  - DNS TXT `_atproto.mallory.test`: `did=did:plc:" in markdown
    )
    assert "  - HTTPS `https://mallory.test/.well-known/atproto-did`: HTTP 200, body `" in markdown
    assert f"- Evidence digest: `{evidence_digest(report)}`" in markdown
    assert markdown.endswith(
        f"decaudit 0.1.0 · scoring {SCORING_VERSION} · report schema {SCHEMA_VERSION} · evidence "
        "collected 2026-11-01 12:00:00 UTC by decaudit 0.1.0\n"
    )


def test_unresolved_report_says_what_failed(reports: dict[str, Report]) -> None:
    markdown = render_markdown(reports["unresolvable-handle"])
    assert "**No verdict**: the target could not be resolved." in markdown
    assert "## What failed" in markdown and "NXDOMAIN" in markdown
    assert "  - DNS TXT `_atproto.nobody.test`: failed: TXT \\_atproto.nobody.test: NXDOMAIN" in (
        markdown
    )
    assert "## Checks" not in markdown and "Spectrum" not in markdown
    assert_inert(markdown)


def test_no_single_point_of_failure_is_said(reports: dict[str, Report]) -> None:
    report = reports["self-sovereign"]
    alone = [d.model_copy(update={"single_point_of_failure": False}) for d in report.dependencies]
    markdown = render_markdown(report.model_copy(update={"dependencies": alone}))
    assert "None: no third party can, alone, break anything for this account." in markdown


# --- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["hostile-markup", "bsky-default", "unresolvable-handle"])
def test_hostile_reports_stay_inert(reports: dict[str, Report], scenario: str) -> None:
    assert_inert(render_markdown(reports[scenario]))


def test_every_server_string_is_escaped(reports: dict[str, Report]) -> None:
    markdown = render_markdown(poisoned(reports["bsky-default"]))
    assert_inert(markdown)
    text = "".join(t.content for t in tokens(markdown) if t.type in ("text", "code_inline"))
    assert "<script>alert(1)</script>" in text  # shown literally
    assert "[bold red]markup[/]" in text
    assert "<U+202E>gnp.exe<U+202C>" in text
    kinds = [t.type for t in tokens(markdown)]
    assert kinds.count("em_open") == 0
    headings = [t for t in PARSER.parse(markdown) if t.type == "heading_open"]
    assert [h.tag for h in headings].count("h1") == 1  # "# heading" in a value made none


def test_hostile_markup_body_in_the_evidence_is_code(reports: dict[str, Report]) -> None:
    markdown = render_markdown(reports["hostile-markup"])
    body = next(row for row in markdown.splitlines() if row.startswith("  - HTTPS"))
    assert "<script>" in body and "␛[31;1mRED" in body
    spans = [t for t in tokens(body) if t.type == "code_inline"]
    assert any("<script>" in span.content for span in spans)


def test_pipes_and_newlines_cannot_add_columns_or_rows(reports: dict[str, Report]) -> None:
    report = reports["bsky-default"]
    check = CheckResult(
        id="x|y",
        title="t",
        category=report.checks[0].category,
        weight=1,
        status=Status.FAIL,
        score=0.0,
        summary="a | b | c\n| --- | --- |\n| d | e |`f|g`",
    )
    markdown = render_markdown(report.model_copy(update={"checks": [check]}))
    assert table_rows(markdown) == [CHECK_COLUMNS, CHECK_COLUMNS]
    row = next(line for line in markdown.splitlines() if "x\\|y" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == CHECK_COLUMNS + 1


def test_long_values_are_cut_with_an_ellipsis_in_tables(reports: dict[str, Report]) -> None:
    markdown = render_markdown(poisoned(reports["bsky-default"], "x" * 5000))
    row = next(line for line in markdown.splitlines() if line.startswith("| ❓ error"))
    assert "x" * 299 + "…" in row and "x" * 300 not in row
    assert markdown.startswith("# How decentralized is `" + "x" * 299 + "…`?")
    assert max(len(run) for run in re.findall("x+", markdown)) == 1999  # remediation: 2000
    assert_inert(markdown)


def test_payload_everywhere_has_one_line_per_value(reports: dict[str, Report]) -> None:
    markdown = render_markdown(poisoned(reports["bsky-default"], PAYLOAD))
    assert "\n# heading" not in markdown and "\n- item" not in markdown


# --- CLI -----------------------------------------------------------------------------------------


def _report_file(report: Report, tmp_path: Path) -> Path:
    path = tmp_path / "report.json"
    path.write_text(report.model_dump_json(), encoding="utf-8")
    return path


def test_cli_render_format_md(reports: dict[str, Report], tmp_path: Path) -> None:
    path = _report_file(reports["hostile-markup"], tmp_path)
    result = runner.invoke(app, ["render", str(path), "--format", "md"], env={"FORCE_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert result.stdout == render_markdown(reports["hostile-markup"])
    assert "\x1b" not in result.stdout  # a terminal does not make Markdown colourful


def test_cli_render_md_to_a_file(reports: dict[str, Report], tmp_path: Path) -> None:
    path = _report_file(reports["unresolvable-handle"], tmp_path)
    out = tmp_path / "summary.md"
    result = runner.invoke(app, ["render", str(path), "-f", "md", "-o", str(out)])
    assert result.exit_code == 3  # unresolved, yet rendered
    assert "## What failed" in out.read_text(encoding="utf-8")


def test_cli_check_format_md(account: PlcIdentity) -> None:
    result = runner.invoke(app, ["check", "alice.example.com", "--format", "md"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# How decentralized is `alice.example.com`?")
    assert f"- DID: `{account.did}`" in result.stdout
    assert_inert(result.stdout)

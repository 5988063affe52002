"""Renderers of a :class:`~auditor.compare.Comparison`: text, JSON, Markdown and HTML.

The four formats show the same rows, built once here (:func:`rows`), so they cannot disagree:
the network, the verdict, who controls each layer, the single points of failure and the outage
what-if of the most critical one. Every value came from a server and is made inert exactly as in
single reports (the same ``inert``, ``prose``/``code`` and autoescaping).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup
from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditor.compare import Comparison
from auditor.models.report import Report
from auditor.render.formats import OutputFormat
from auditor.render.identity import display_name
from auditor.render.markdown import gfm_table, prose
from auditor.render.text import inert, plain_text

NETWORKS = {
    "atproto": "AT Protocol (Bluesky)",
    "activitypub": "Fediverse (ActivityPub)",
    "matrix": "Matrix",
}
LAYERS = ("identity", "name", "hosting", "distribution")
LAYER_TITLES = {
    "identity": "Who controls the identity",
    "name": "Who controls the name",
    "hosting": "Who hosts the account",
    "distribution": "Who carries it to the network",
}


@dataclass(frozen=True, slots=True)
class Row:
    title: str
    cells: tuple[str, ...]


def _layer(report: Report, layer: str) -> str:
    found = next((c for c in report.control if c.layer == layer), None)
    if found is None:
        return "not judged" if report.band is not None else "-"
    return f"{found.label} (yours)" if found.yours and found.label != "you" else found.label


def _spofs(report: Report) -> str:
    names = [d.label for d in report.dependencies if d.single_point_of_failure and d.third_party]
    return ", ".join(names) if names else "none"


def _what_if(report: Report) -> str:
    worst = next(
        (d for d in report.dependencies if d.single_point_of_failure and d.third_party), None
    )
    if worst is not None:
        return worst.if_offline
    if report.band is None:
        return report.unresolved_reason or "-"
    return "No single third party can take this account offline."


def _score(report: Report) -> str:
    if report.score is None:
        return "-"
    return f"{report.score:.0f}/100 (coverage {report.coverage:.0%})"


def rows(comparison: Comparison) -> list[Row]:
    reports = comparison.reports

    def row(title: str, value: Callable[[Report], str]) -> Row:
        return Row(title, tuple(value(r) for r in reports))

    return [
        row("Network", lambda r: NETWORKS.get(r.protocol, r.protocol)),
        row("Account", display_name),
        row("Verdict", lambda r: r.band.value if r.band else "no verdict"),
        row("Score", _score),
        *(Row(LAYER_TITLES[layer], tuple(_layer(r, layer) for r in reports)) for layer in LAYERS),
        row("Single points of failure", _spofs),
        row("If the first of them went offline", _what_if),
    ]


# --- text -----------------------------------------------------------------------------------------


def render_text(comparison: Comparison, *, width: int = 100) -> str:
    """The comparison as a plain-text table at ``width`` columns."""
    table = Table(title="decaudit: accounts compared", show_lines=True, expand=True)
    table.add_column("", style="bold", ratio=1)
    for report in comparison.reports:
        table.add_column(inert(display_name(report), one_line=True), overflow="fold", ratio=2)
    for item in rows(comparison):
        table.add_row(item.title, *(Text(inert(cell)) for cell in item.cells))

    def draw(console: Console) -> None:
        if comparison.sandbox:
            console.print(Text("SANDBOX DATA: simulated accounts, not real people."))
        console.print(table)
        console.print(Text(_footer(comparison)))

    return plain_text(draw, width)


def _footer(comparison: Comparison) -> str:
    return (
        f"decaudit {comparison.tool_version} · scoring {comparison.scoring_version} · evidence "
        f"collected from {comparison.generated_at:%Y-%m-%d %H:%M:%S} UTC; each column is a whole "
        "report (decaudit check TARGET)."
    )


# --- Markdown and JSON ----------------------------------------------------------------------------


def render_markdown(comparison: Comparison) -> str:
    header = [" ", *(prose(display_name(r), table=True) for r in comparison.reports)]
    lines = ["# Accounts compared", ""]
    if comparison.sandbox:
        lines += ["> ⚠️ **Sandbox data.** Simulated accounts, not real people.", ""]
    body = [
        [f"**{item.title}**", *(prose(c, table=True) for c in item.cells)]
        for item in rows(comparison)
    ]
    lines += gfm_table(header, body)
    return "\n".join([*lines, "", _footer(comparison), ""])


def render_json(comparison: Comparison) -> str:
    return json.dumps(comparison.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


# --- HTML ---------------------------------------------------------------------------------------


def render_html(comparison: Comparison) -> str:
    from auditor.render.html import environment

    env = environment()
    assert env.loader is not None
    css, _, _ = env.loader.get_source(env, "compare.css")
    return env.get_template("compare.html.j2").render(
        comparison=comparison,
        rows=rows(comparison),
        css=Markup(css),  # our own file, inside <style>
        footer=_footer(comparison),
        names=[display_name(r) for r in comparison.reports],
    )


def render_comparison(comparison: Comparison, fmt: OutputFormat, *, width: int = 100) -> str:
    if fmt is OutputFormat.JSON:
        return render_json(comparison)
    if fmt is OutputFormat.MD:
        return render_markdown(comparison)
    if fmt is OutputFormat.HTML:
        return render_html(comparison)
    return render_text(comparison, width=width)

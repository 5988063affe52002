"""The batch (or census) summary and the history as one self-contained HTML page with SVG charts.

Sees only the summary or history dicts. Sections are built here as plain data (titles, metric
cells, table rows, charts) so the template stays a layout and every number is formatted once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from auditor.batch import charts
from auditor.batch.history import cross_version, trend
from auditor.batch.render import LAYER_TITLES, headline, summary_title
from auditor.render.html import environment

TOP_ROWS = 25
METRICS = (
    ("total", "counted", "{:d}"),
    ("providers", "operators", "{:d}"),
    ("hhi_points", "HHI (x10,000)", "{:.0f}"),
    ("band", "HHI band", "{}"),
    ("shannon", "Shannon H (nats)", "{:.3f}"),
    ("evenness", "evenness", "{:.3f}"),
    ("effective_shannon", "effective (e^H)", "{:.2f}"),
    ("effective_hhi", "effective (1/HHI)", "{:.2f}"),
    ("simpson", "Simpson", "{:.3f}"),
    ("largest_share", "largest share", "{:.1%}"),
)
NEEDED = ("25", "50", "75", "90", "99")


def _format(value: object, pattern: str) -> str:
    if value is None or isinstance(value, bool):
        return "-"
    try:
        return pattern.format(value)
    except (ValueError, TypeError):
        return str(value)


def _metrics(layer: Mapping[str, Any]) -> list[tuple[str, str]]:
    cells = [(label, _format(layer.get(key), fmt)) for key, label, fmt in METRICS if key in layer]
    guideline = layer.get("band_guideline")
    if isinstance(guideline, dict):
        cells.insert(4, ("HHI bands from", f"{guideline.get('name')} ({guideline.get('year')})"))
    needed = layer.get("needed")
    if isinstance(needed, dict):
        cells += [
            (f"operators for {p}%", _format(needed.get(p), "{}")) for p in NEEDED if p in needed
        ]
    return cells


def _layer_section(name: str, layer: Mapping[str, Any]) -> dict[str, Any]:
    title = LAYER_TITLES.get(name, name)
    shares = [s for s in layer.get("shares") or [] if isinstance(s, dict)]
    chart_list = [
        {
            "svg": charts.share_bars(shares, f"{title}: shares"),
            "caption": f"{title}: share of what is counted, largest first.",
        }
    ]
    if len(shares) > 1:
        chart_list.append(
            {
                "svg": charts.concentration_curve(shares, f"{title}: concentration curve"),
                "caption": "Cumulative share held by the largest operators; where the curve "
                "crosses the dashed line is how many operators hold half.",
            }
        )
    rows = [
        (str(s.get("name")), _format(s.get("count"), "{}"), _format(s.get("share"), "{:.2%}"))
        for s in shares[:TOP_ROWS]
    ]
    more = f"{len(shares) - TOP_ROWS} more not shown." if len(shares) > TOP_ROWS else ""
    return {
        "title": title,
        "metrics": _metrics(layer),
        "charts": chart_list,
        "columns": ("name", "count", "share"),
        "rows": rows,
        "more": more,
    }


def render_summary_html(summary: Mapping[str, Any]) -> str:
    """The summary page: headline, bands, then each layer's metrics, charts and table."""
    layers = summary.get("layers") or {}
    sections = [
        _layer_section(name, layer)
        for name, layer in layers.items()
        if isinstance(layer, dict) and layer.get("total") and name != "band"
    ]
    bands = summary.get("bands") or {}
    return (
        environment()
        .get_template("summary.html.j2")
        .render(
            title=summary_title(summary),
            subtitle=f"Generated {summary.get('generated_at')}.",
            sandbox=bool(summary.get("sandbox")),
            warnings=[],
            headline=[line for line in headline(summary) if not line.startswith("SANDBOX")],
            band_chart=charts.band_bar(bands, "Accounts by band") if bands else None,
            band_caption="Accounts by band (resolved accounts only): "
            + ", ".join(f"{band} {bands.get(band, 0)}" for band in charts.BAND_COLOURS)
            + ".",
            sections=sections,
            footer=_versions(summary),
        )
    )


def _versions(document: Mapping[str, Any]) -> str:
    return (
        f"decaudit {document.get('tool_version')}, scoring version "
        f"{document.get('scoring_version')}"
    )


def _value(entry: Mapping[str, Any], layer: str, key: str) -> float | None:
    data = (entry.get("layers") or {}).get(layer) or {}
    value = data.get("needed", {}).get("50") if key == "needed_50" else data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def render_history_html(entries: Sequence[Mapping[str, Any]], layer: str) -> str:
    """Snapshots over time: one layer's HHI, effective number and operators-for-half."""
    title = LAYER_TITLES.get(layer, layer)
    dates = [str(e.get("generated_at")) for e in entries]
    chart_list = [
        {
            "svg": charts.trend_line(
                list(zip(dates, (_value(e, layer, key) for e in entries), strict=True)), caption
            ),
            "caption": caption,
        }
        for key, caption in (
            ("hhi_points", f"{title}: HHI over time (lower is less concentrated)"),
            ("effective_shannon", f"{title}: effective number of operators (e^H)"),
            ("needed_50", f"{title}: operators needed for half"),
        )
    ]
    rows = [
        (
            date,
            _format(e.get("scoring_version"), "{}"),
            _format(e.get("accounts"), "{}"),
            _format(_value(e, layer, "hhi_points"), "{:.0f}"),
            _format(_value(e, layer, "effective_shannon"), "{:.2f}"),
            _format(_value(e, layer, "needed_50"), "{:.0f}"),
        )
        for date, e in zip(dates, entries, strict=True)
    ]
    warnings = []
    if cross_version(list(entries)):
        warnings.append(
            "These snapshots span more than one scoring version: scores and bands are not "
            "directly comparable across them."
        )
    direction = trend(entries[-2], entries[-1], layer) if len(entries) > 1 else "one snapshot"
    section = {
        "title": title,
        "metrics": [],
        "charts": chart_list,
        "columns": ("snapshot", "scoring", "accounts", "HHI", "e^H", "for 50%"),
        "rows": rows,
        "more": "",
    }
    return (
        environment()
        .get_template("summary.html.j2")
        .render(
            title="decaudit history",
            subtitle=f"{len(entries)} snapshots; latest trend on this layer: {direction}.",
            sandbox=any(e.get("sandbox") for e in entries),
            warnings=warnings,
            headline=[],
            band_chart=None,
            band_caption="",
            sections=[section],
            footer=_versions(entries[-1]),
        )
    )

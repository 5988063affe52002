"""The batch summary in text, JSON and Markdown (the HTML page with charts lives in templates/).

Like report renderers, these see only the summary dict, never the network or the clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from auditor.batch import CENSUS_KIND
from auditor.batch.diff import Diff
from auditor.render.markdown import prose
from auditor.render.text import inert

LAYER_TITLES = {
    "network": "Network",
    "hosting_operator": "Hosting operator (PDS, fediverse server, Matrix homeserver)",
    "name_domain": "Name on",
    "pds_operator": "PDS operator",
    "relay_operators": "Relay operators carrying accounts",
    "appview_operators": "AppView operators indexing accounts",
    "identity_directory": "Identity directory",
    "did_method": "DID method",
    "handle_domain": "Handle domain",
    "custody": "Rotation-key custody",
    "band": "Band",
}


def _by_network(summary: Mapping[str, Any]) -> str:
    """`` (atproto 45.0, matrix 38.0)`` when the batch spans several networks."""
    means = summary.get("mean_score_by_network")
    if not isinstance(means, dict) or len(means) < 2:
        return ""
    return " (" + ", ".join(f"{inert(str(k))} {_num(v, 1)}" for k, v in means.items()) + ")"


def _pct(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else "-"


def _num(value: object, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _rows(summary: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    layers = summary.get("layers") or {}
    return [
        (LAYER_TITLES.get(name, name), layer)
        for name, layer in layers.items()
        if isinstance(layer, dict) and layer.get("total")
    ]


def render_summary_json(summary: Mapping[str, Any]) -> str:
    return json.dumps(summary, indent=2, sort_keys=True) + "\n"


def _needed(layer: Mapping[str, Any], share: str) -> str:
    needed = layer.get("needed") or {}
    return _num(needed.get(share))


def summary_title(summary: Mapping[str, Any]) -> str:
    kind = "census" if summary.get("kind") == CENSUS_KIND else "batch"
    return f"decaudit {kind} summary"


def headline(summary: Mapping[str, Any]) -> list[str]:
    accounts = summary.get("accounts") or {}
    nakamoto = summary.get("nakamoto") or {}
    if summary.get("kind") == CENSUS_KIND:
        counts = (
            f"DIDs: {accounts.get('audited', 0)} live ({accounts.get('tombstoned', 0)} "
            f"tombstoned, {accounts.get('without_pds', 0)} without a PDS, "
            f"{accounts.get('bridged', 0)} on bridges)"
        )
    else:
        counts = (
            f"Accounts audited: {accounts.get('audited', 0)} ({accounts.get('unresolved', 0)} "
            f"unresolved, {accounts.get('bridged', 0)} bridged)"
        )
    lines = [
        counts,
        f"Counted: {summary.get('counted')}",
        f"Mean score: {_num(summary.get('mean_score'), 1)}{_by_network(summary)}",
        "Bands: "
        + ", ".join(
            f"{band} {count}" for band, count in sorted((summary.get("bands") or {}).items())
        ),
    ]
    if nakamoto:
        lines.append(
            f"Nakamoto coefficient: {nakamoto.get('value')} ({nakamoto.get('layer')}: the fewest "
            "operators that together hold more than half of a critical layer)"
        )
    if summary.get("sandbox"):
        lines.insert(0, "SANDBOX DATA: simulated accounts, not real people.")
    return lines


def render_summary_html(summary: Mapping[str, Any]) -> str:
    from auditor.batch.html import render_summary_html as html

    return html(summary)


def render_summary_text(summary: Mapping[str, Any]) -> str:
    out = [f"{summary_title(summary)} ({summary.get('generated_at')})", *headline(summary), ""]
    header = f"{'layer':38} {'HHI':>6} {'band':>22} {'e^H':>7} {'for 50%':>8} {'largest':>8}"
    out.append(header)
    for title, layer in _rows(summary):
        band = str(layer.get("band") or "")
        out.append(
            f"{title[:38]:38} {_num(layer.get('hhi_points')):>6} {band[:22]:>22} "
            f"{_num(layer.get('effective_shannon'), 2):>7} {_needed(layer, '50'):>8} "
            f"{_pct(layer.get('largest_share')):>8}"
        )
        for share in (layer.get("shares") or [])[:5]:
            if isinstance(share, dict):
                out.append(
                    f"    {inert(str(share.get('name')))[:50]:50} {share.get('count'):>8} "
                    f"{_pct(share.get('share')):>8}"
                )
    return "\n".join(out) + "\n"


def render_summary_markdown(summary: Mapping[str, Any]) -> str:
    out = [f"## {summary_title(summary)}", ""]
    out += [f"- {prose(line)}" for line in headline(summary)]
    out += [
        "",
        "| layer | HHI | concentration | effective operators (e^H) | operators for 50% | largest |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for title, layer in _rows(summary):
        band = prose(str(layer.get("band") or ""), table=True)
        out.append(
            f"| {prose(title, table=True)} | {_num(layer.get('hhi_points'))} | {band} | "
            f"{_num(layer.get('effective_shannon'), 2)} | {_needed(layer, '50')} | "
            f"{_pct(layer.get('largest_share'))} |"
        )
    versions = f"decaudit {summary.get('tool_version')}, scoring {summary.get('scoring_version')}"
    out += ["", f"_{prose(versions)}_", ""]
    return "\n".join(out)


def _value(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return "-" if value is None else str(value)


def _diff_lines(result: Diff) -> list[str]:
    lines = [f"{result.kind} diff: {result.subject}"]
    if result.cross_version:
        before, after = result.scoring_versions
        lines.append(
            f"Scoring versions differ ({before} -> {after}): scores and bands are not directly "
            "comparable."
        )
    if not result.changes:
        lines.append("No changes.")
    return lines


def render_diff_text(result: Diff) -> str:
    out = [inert(line) for line in _diff_lines(result)]
    for change in result.changes:
        out.append(
            f"  {inert(change.what)}: {inert(_value(change.before))} -> "
            f"{inert(_value(change.after))}"
        )
    return "\n".join(out) + "\n"


def render_diff_json(result: Diff) -> str:
    return json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n"


def render_diff_markdown(result: Diff) -> str:
    out = [f"- {prose(line)}" for line in _diff_lines(result)]
    if result.changes:
        out += ["", "| what | before | after |", "|---|---|---|"]
        out += [
            f"| {prose(c.what, table=True)} | {prose(_value(c.before), table=True)} | "
            f"{prose(_value(c.after), table=True)} |"
            for c in result.changes
        ]
    return "\n".join(["## decaudit diff", "", *out, ""])


def render_history(entries: Sequence[Mapping[str, Any]], layer: str, fmt: str) -> str:
    """The history in ``text``, ``json``, ``md`` or ``html`` (oldest snapshot first)."""
    from auditor.batch.history import cross_version, trend

    if fmt == "json":
        return json.dumps(list(entries), indent=2, sort_keys=True) + "\n"
    if fmt == "html":
        from auditor.batch.html import render_history_html

        return render_history_html(entries, layer)
    rows = []
    for entry in entries:
        data = (entry.get("layers") or {}).get(layer) or {}
        rows.append(
            (
                str(entry.get("generated_at")),
                str(entry.get("scoring_version")),
                _num(entry.get("accounts")),
                _num(data.get("hhi_points")),
                _num(data.get("effective_shannon"), 2),
                _needed(data, "50"),
            )
        )
    notes = []
    if len(entries) > 1:
        notes.append(
            f"Trend ({LAYER_TITLES.get(layer, layer)}): {trend(entries[-2], entries[-1], layer)}"
        )
    if cross_version(list(entries)):
        notes.append("Snapshots span more than one scoring version: not directly comparable.")
    header = ("snapshot", "scoring", "accounts", "HHI", "e^H", "for 50%")
    if fmt == "md":
        out = ["## decaudit history", ""]
        out += ["| " + " | ".join(header) + " |", "|---|---|---:|---:|---:|---:|"]
        out += [
            "| " + " | ".join(prose(str(cell), table=True) for cell in row) + " |" for row in rows
        ]
        out += ["", *(f"- {prose(str(note))}" for note in notes), ""]
        return "\n".join(out)
    widths = (32, 8, 9, 7, 7, 8)
    out = [
        " ".join(
            f"{h:>{w}}" if i else f"{h:{w}}"
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    for row in rows:
        out.append(
            " ".join(
                f"{inert(cell)[:w]:>{w}}" if i else f"{inert(cell)[:w]:{w}}"
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join([*out, *notes]) + "\n"

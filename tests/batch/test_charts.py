"""Inline SVG charts: well-formed, escaped, and drawn from the numbers they claim to show."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from auditor.batch import charts

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(1)</script>"&\x1b[31m\u202e'


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # raises on anything that is not well-formed XML


def test_share_bars_draw_the_top_shares_and_group_the_rest() -> None:
    shares = [{"name": f"op{i}", "share": s} for i, s in enumerate([0.5, 0.2, 0.1, 0.1, 0.1])]
    root = parse(charts.share_bars(shares, "PDS shares", top=3))
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 4
    widths = [float(bar.get("width", "0")) for bar in bars]
    assert widths[0] == max(widths)
    assert abs(widths[0] / widths[1] - 2.5) < 0.01  # bar lengths are proportional to shares
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "2 others" in labels
    assert "50.0%" in labels
    assert root.get("aria-label") == "PDS shares"


def test_the_concentration_curve_ends_at_everything() -> None:
    shares = [{"name": "a", "share": 0.6}, {"name": "b", "share": 0.3}, {"name": "c", "share": 0.1}]
    root = parse(charts.concentration_curve(shares, "curve"))
    line = root.find(f"{SVG}polyline")
    assert line is not None
    points = [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
    assert len(points) == 4  # the origin, then one point per operator
    ys = [y for _, y in points]
    assert ys == sorted(ys, reverse=True)  # cumulative share only grows (y grows downwards)
    assert abs(ys[-1] - 12) < 0.01  # 100 % at the top edge of the plot


def test_band_bar_widths_follow_counts() -> None:
    root = parse(charts.band_bar({"centralized": 3, "decentralized": 1}, "bands"))
    widths = [float(r.get("width", "0")) for r in root.findall(f"{SVG}rect")]
    assert widths == [480.0, 160.0]


def test_trend_line_skips_missing_values() -> None:
    points = [("2026-01-01", 5000.0), ("2026-02-01", None), ("2026-03-01", 4000.0)]
    root = parse(charts.trend_line(points, "HHI"))
    assert len(root.findall(f"{SVG}circle")) == 2


def test_hostile_names_and_titles_are_escaped() -> None:
    markup = charts.share_bars([{"name": HOSTILE, "share": 1.0}], HOSTILE)
    assert "<script" not in markup
    assert "\x1b" not in markup and "\u202e" not in markup
    root = parse(markup)
    assert root.get("aria-label", "").startswith("<script>")  # shown as text, not markup
    assert not re.search(r"<(?!/?(svg|title|text|rect)\b)", str(markup))


def test_the_summary_page_is_self_contained_and_escapes_operator_names() -> None:
    from auditor.batch import SUMMARY_KIND
    from auditor.batch.html import render_summary_html
    from auditor.ecosystem.metrics import concentration

    hostile = "<img src=x onerror=alert(1)>\x1b[2J\u202e"
    summary = {
        "kind": SUMMARY_KIND,
        "generated_at": "2026-11-24T00:00:00+00:00",
        "sandbox": True,
        "accounts": {"audited": 5, "unresolved": 0, "bridged": 0},
        "bands": {"centralized": 4, "decentralized": 1},
        "nakamoto": {"value": 1, "layer": "pds_operator"},
        "layers": {"pds_operator": concentration({hostile: 4, "other": 1}).to_dict()},
    }
    page = render_summary_html(summary)
    assert "<img" not in page and "<script" not in page and "\x1b" not in page
    assert "\u202e" not in page
    assert page.count("<svg") == 3  # bands, shares, concentration curve
    assert not re.search(r"<[^>]*\s(src|href|xlink:href)=", page)  # nothing to fetch
    assert "url(" not in page and "@import" not in page
    assert "SANDBOX DATA" in page
    assert "operators for 50%" in page

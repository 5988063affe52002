"""Charts as inline SVG: operator shares, the concentration curve, bands, trends over time.

Drawn here rather than by a charting library so the HTML stays one self-contained file with no
scripts (a journalist can mail it; a browser opens it offline) and so every label goes through one
escape: operator names come from the network. Each function returns markup that is safe to embed
(numbers are formatted by us, text is escaped by :func:`markupsafe.escape`), with a ``<title>`` and
an ``aria-label`` for screen readers and a table of the same numbers beside it in the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from auditor.render.text import inert

WIDTH = 640
BAR_HEIGHT = 22
LABEL_WIDTH = 230
PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#2c7a7b", "#9b2c2c", "#4a5568")
BAND_COLOURS = {"centralized": "#c53030", "hybrid": "#d69e2e", "decentralized": "#2f855a"}


def _label(text: object, limit: int = 34) -> str:
    value = inert(str(text))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    safe_title = escape(inert(title))
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{safe_title}"><title>{safe_title}</title>'
        + "".join(body)
        + "</svg>"
    )


def share_bars(shares: Sequence[Mapping[str, object]], title: str, top: int = 10) -> Markup:
    """Horizontal bars: the ``top`` largest shares, then one bar for everyone else."""
    rows = [(str(s.get("name")), _share(s.get("share"))) for s in shares[:top]]
    rest = sum(_share(s.get("share")) for s in shares[top:])
    if rest > 0:
        rows.append((f"{len(shares) - top} others", rest))
    height = BAR_HEIGHT * len(rows) + 10
    span = WIDTH - LABEL_WIDTH - 70
    body = []
    for index, (name, share) in enumerate(rows):
        y = 5 + index * BAR_HEIGHT
        length = max(1.0, span * share)
        colour = PALETTE[index % len(PALETTE)]
        body.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{escape(_label(name))}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{BAR_HEIGHT - 6}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{share * 100:.1f}%</text>"
        )
    return _svg(WIDTH, height, title, body)


def concentration_curve(shares: Sequence[Mapping[str, object]], title: str) -> Markup:
    """Cumulative share held by the largest 1, 2, ... n operators, with the 50 % line marked:
    where the curve crosses it is the number of operators needed for half."""
    values = sorted((_share(s.get("share")) for s in shares), reverse=True)
    height, left, bottom, top, right = 240, 48, 30, 12, 16
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    count = len(values)
    points = [(0.0, 0.0)]
    running = 0.0
    for index, value in enumerate(values, start=1):
        running += value
        points.append((index / count if count else 0.0, min(running, 1.0)))
    path = " ".join(f"{left + x * plot_w:.1f},{top + (1 - y) * plot_h:.1f}" for x, y in points)
    half = top + plot_h / 2
    body = [
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#a0aec0"/>',
        f'<line x1="{left}" y1="{half:.1f}" x2="{left + plot_w}" y2="{half:.1f}" '
        'stroke="#c53030" stroke-dasharray="4 3"/>',
        f'<text x="{left - 6}" y="{half + 4:.1f}" text-anchor="end" font-size="11">50%</text>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">100%</text>',
        f'<polyline points="{path}" fill="none" stroke="#2b6cb0" stroke-width="2"/>',
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" '
        f'font-size="11">operators, largest first ({count})</text>',
    ]
    return _svg(WIDTH, height, title, body)


def band_bar(bands: Mapping[str, int], title: str) -> Markup:
    """One stacked bar of the account bands."""
    total = sum(v for v in bands.values() if isinstance(v, int)) or 1
    x = 0.0
    body = []
    for band in ("centralized", "hybrid", "decentralized"):
        count = bands.get(band, 0)
        if not count:
            continue
        width = WIDTH * count / total
        body.append(
            f'<rect x="{x:.1f}" y="0" width="{width:.1f}" height="28" fill="{BAND_COLOURS[band]}"/>'
        )
        if width > 90:
            body.append(
                f'<text x="{x + 6:.1f}" y="19" font-size="12" fill="#fff">'
                f"{band} {count / total * 100:.0f}%</text>"
            )
        x += width
    return _svg(WIDTH, 28, title, body)


def trend_line(points: Sequence[tuple[str, float | None]], title: str, unit: str = "") -> Markup:
    """A line over snapshots (labels are dates); gaps where a snapshot lacks the value."""
    height, left, bottom, top, right = 220, 56, 40, 12, 16
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    known = [v for _, v in points if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1
    step = plot_w / max(1, len(points) - 1)

    def y_of(value: float) -> float:
        return top + (1 - (value - low) / (high - low)) * plot_h

    coords = [
        (left + index * step, y_of(value))
        for index, (_, value) in enumerate(points)
        if value is not None
    ]
    body = [
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#a0aec0"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" font-size="11">'
        f"{high:g}{escape(unit)}</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">'
        f"{low:g}{escape(unit)}</text>",
    ]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        body.append(f'<polyline points="{path}" fill="none" stroke="#2b6cb0" stroke-width="2"/>')
    body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2b6cb0"/>' for x, y in coords]
    for index in sorted({0, len(points) - 1}):
        if points:
            body.append(
                f'<text x="{left + index * step:.1f}" y="{height - 12}" text-anchor="middle" '
                f'font-size="11">{escape(_label(points[index][0][:10], 12))}</text>'
            )
    return _svg(WIDTH, height, title, body)


def _share(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

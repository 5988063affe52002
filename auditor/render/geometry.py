"""Where the HTML report's two drawings put their parts: the spectrum gauge and the dependency
diagram.

Pure functions from the report to coordinates and wrapped lines (:func:`gauge_geometry`,
:func:`diagram_geometry`); the template draws the inline SVG from them. Each also gives the
drawing's text alternative.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from auditor.models.report import Band, Dependency
from auditor.render.safe_text import clip, inert


def wrap_lines(text: str, width: int, max_lines: int) -> list[str]:
    """``text`` wrapped to lines of at most ``width`` characters, at most ``max_lines`` of them;
    the last line ends in an ellipsis when text was left out."""
    lines = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 0)].rstrip() + "\u2026"
    return lines


def wrap_name(name: str, width: int, max_lines: int) -> list[str]:
    """A domain-like ``name`` wrapped after its dots (``alice.`` / ``example.com``), long labels
    cut hard; at most ``max_lines`` lines, the last ending in an ellipsis when text was left out."""
    lines: list[str] = []
    for token in re.findall(r"[^.]*\.|[^.]+$", name):
        pieces = [token[i : i + width] for i in range(0, len(token), width)] or [""]
        for piece in pieces:
            if lines and len(lines[-1]) + len(piece) <= width:
                lines[-1] += piece
            else:
                lines.append(piece)
    lines = lines or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 0)] + "\u2026"
    return lines


GAUGE_WIDTH = 960
BANDS = (Band.CENTRALIZED, Band.HYBRID, Band.DECENTRALIZED)
BAND_SHORT: dict[Band, str] = {
    Band.CENTRALIZED: "one operator controls it all",
    Band.HYBRID: "some layers independent",
    Band.DECENTRALIZED: "no single third party can break it",
}


@dataclass(frozen=True)
class GaugeSegment:
    """One band of the spectrum bar."""

    band: Band
    x: float
    width: float
    active: bool
    label: str
    caption: str

    @property
    def center(self) -> float:
        """Horizontal middle of the segment."""
        return self.x + self.width / 2


@dataclass(frozen=True)
class Gauge:
    """The spectrum gauge: three band segments and the score's position on a 0-100 scale."""

    width: int
    segments: list[GaugeSegment]
    score_x: float | None
    ticks: list[tuple[float, str]]
    text: str
    """The same information as a sentence (the graphic's text alternative)."""


def gauge_geometry(band: Band | None, score: float | None) -> Gauge:
    """Positions of the spectrum gauge's parts for ``band`` and ``score`` (0-100)."""
    gap = 8.0
    inner = GAUGE_WIDTH - 2 * gap - 4
    width = (inner - 2 * gap) / 3
    segments = [
        GaugeSegment(
            b, 2 + gap + i * (width + gap), width, b is band, b.value.upper(), BAND_SHORT[b]
        )
        for i, b in enumerate(BANDS)
    ]
    left, right = 2 + gap, GAUGE_WIDTH - 2 - gap
    ticks = [(left + (right - left) * t / 100, str(t)) for t in (0, 25, 50, 75, 100)]
    score_x = None
    if score is not None:
        score_x = left + (right - left) * min(max(score, 0.0), 100.0) / 100
    if band is None:
        text = (
            "Spectrum from centralized through hybrid to decentralized: no band, because the "
            "account could not be judged."
        )
    else:
        place = {Band.CENTRALIZED: "first", Band.HYBRID: "second", Band.DECENTRALIZED: "third"}
        text = (
            f"Spectrum from centralized through hybrid to decentralized: this account is "
            f"{band.value}, the {place[band]} of the three bands"
        )
        text += f", with a score of {score:.0f} out of 100." if score is not None else "."
    return Gauge(GAUGE_WIDTH, segments, score_x, ticks, text)


def compact_roles(roles: Sequence[str]) -> str:
    """The roles as one phrase, rotation keys folded together (``rotation keys #0, #1``)."""
    keys: list[str] = []
    out: list[str | None] = []  # None: where the folded rotation keys go
    for role in roles:
        match = re.fullmatch(r"rotation key (#\d+)", role)
        if match:
            if not keys:
                out.append(None)
            keys.append(match.group(1))
        else:
            out.append(role)
    folded = ("rotation key " if len(keys) == 1 else "rotation keys ") + ", ".join(keys)
    return ", ".join(folded if role is None else role for role in out)


@dataclass(frozen=True)
class DiagramNode:
    """One party of the dependency diagram, with its edge from the account."""

    x: float
    y: float
    width: float
    height: float
    side: str
    title: str
    tag: str
    detail: list[str]
    spof: bool
    user: bool
    edge_x1: float
    edge_x2: float
    label_lines: list[str]
    label_x: float
    label_width: float

    @property
    def mid(self) -> float:
        """Vertical middle: where its edge runs."""
        return self.y + self.height / 2

    @property
    def label_height(self) -> float:
        """Height of the edge label's box."""
        return 14.0 * len(self.label_lines) + 8


@dataclass(frozen=True)
class Diagram:
    """The dependency diagram: the account in the middle, parties left and right."""

    width: int
    height: float
    center_x: float
    center_y: float
    center_width: float
    center_height: float
    center_lines: list[str]
    nodes: list[DiagramNode]
    legend_y: float
    text: str
    """The same information as sentences (the graphic's text alternative)."""


DIAGRAM_WIDTH = 960
_NODE_W, _NODE_H, _PITCH, _CENTER_W = 222.0, 88.0, 104.0, 176.0
_CHAR = 6.3  # average advance of an 11.5px sans-serif character, for sizing edge labels


def _node_tag(dep: Dependency) -> str:
    if not dep.third_party:
        return "THE ACCOUNT HOLDER"
    return (
        "SINGLE POINT OF FAILURE" if dep.single_point_of_failure else "NO SINGLE POINT OF FAILURE"
    )


def _node_detail(dep: Dependency) -> str:
    if not dep.can_break_alone:
        return "can break nothing alone"
    return "alone can break: " + ", ".join(c.value.replace("_", " ") for c in dep.can_break_alone)


def diagram_text(dependencies: Sequence[Dependency], account: str) -> str:
    """The dependency diagram in words (its text alternative)."""
    parts = []
    for dep in dependencies:
        kind = (
            "single point of failure"
            if dep.single_point_of_failure
            else "no single point of failure"
        )
        if not dep.third_party:
            kind = "the account holder, not a third party"
        parts.append(f"{clip(dep.label, 80)} ({kind}; {clip(compact_roles(dep.roles), 160)})")
    return (
        f"{clip(account, 80)} depends on {len(parts)} part{'y' if len(parts) == 1 else 'ies'}: "
        + ("; ".join(parts) + ".")
    )


def _center_name(account: str) -> list[str]:
    """The account's name in the diagram's centre, on at most two lines: a fediverse address
    breaks after its ``@`` (``alice@`` / ``mastodon.social``), any other name after its dots."""
    user, at, domain = account[1:].rpartition("@")
    if at and len(account) > 18:
        return [*wrap_name(account[0] + user + "@", 18, 1), *wrap_name(domain, 18, 1)]
    return wrap_name(account, 18, 2)


def diagram_geometry(dependencies: Sequence[Dependency], account: str, band: str) -> Diagram:
    """Layout of the dependency diagram: parties alternate left and right of the account, one
    row each, with straight edges labelled by role. Stays legible from 1 to 8 parties (more
    simply make it taller)."""
    count = len(dependencies)
    left_rows, right_rows = math.ceil(count / 2), count // 2
    rows = max(left_rows, 1)
    top = 16.0
    rows_height = rows * _PITCH - (_PITCH - _NODE_H)
    center_h = max(rows_height, 150.0)
    center_x = (DIAGRAM_WIDTH - _CENTER_W) / 2
    nodes = []
    for index, dep in enumerate(dependencies):
        side = "left" if index % 2 == 0 else "right"
        row = index // 2
        side_rows = left_rows if side == "left" else right_rows
        offset = (center_h - (side_rows * _PITCH - (_PITCH - _NODE_H))) / 2
        y = top + offset + row * _PITCH
        if side == "left":
            x, edge_x1, edge_x2 = 2.0, center_x, 2.0 + _NODE_W
        else:
            x = DIAGRAM_WIDTH - 2.0 - _NODE_W
            edge_x1, edge_x2 = center_x + _CENTER_W, x
        gap = abs(edge_x2 - edge_x1)
        chars = int((gap - 22) / _CHAR)
        lines = wrap_lines(inert(compact_roles(dep.roles)), chars, 4)
        label_w = max(len(line) for line in lines) * _CHAR + 14
        nodes.append(
            DiagramNode(
                x=x,
                y=y,
                width=_NODE_W,
                height=_NODE_H,
                side=side,
                title=clip(inert(dep.label), 22),
                tag=_node_tag(dep),
                detail=wrap_lines(_node_detail(dep), 29, 2),
                spof=dep.single_point_of_failure,
                user=not dep.third_party,
                edge_x1=edge_x1,
                edge_x2=edge_x2,
                label_lines=lines,
                label_x=(edge_x1 + edge_x2) / 2 - label_w / 2,
                label_width=label_w,
            )
        )
    center_lines = _center_name(inert(account))
    legend_y = top + center_h + 26
    return Diagram(
        width=DIAGRAM_WIDTH,
        height=legend_y + 24,
        center_x=center_x,
        center_y=top,
        center_width=_CENTER_W,
        center_height=center_h,
        center_lines=[*center_lines, band],
        nodes=nodes,
        legend_y=legend_y,
        text=diagram_text(dependencies, account),
    )

"""History: summary snapshots kept over time, compared, and turned into trends.

A history file holds one compact snapshot per line (JSON lines, appended): when, which tool and
scoring versions, and the headline metrics per layer. Comparisons across scoring versions are
marked, because a score's meaning can change between versions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HEADLINE = ("hhi_points", "shannon", "effective_shannon", "largest_share", "providers")
TREND_THRESHOLD = 0.01
"""A relative Shannon change of at least 1 % is a trend (AWDY's rule), smaller is steady."""


def snapshot(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a batch or census summary worth keeping over time."""
    layers = summary.get("layers") or {}
    return {
        "generated_at": summary.get("generated_at"),
        "tool_version": summary.get("tool_version"),
        "scoring_version": summary.get("scoring_version"),
        "kind": summary.get("kind"),
        "sandbox": bool(summary.get("sandbox")),
        "accounts": (summary.get("accounts") or {}).get("audited"),
        "mean_score": summary.get("mean_score"),
        "bands": summary.get("bands"),
        "nakamoto": summary.get("nakamoto"),
        "layers": {
            name: {key: layer.get(key) for key in (*HEADLINE, "needed")}
            for name, layer in layers.items()
            if isinstance(layer, dict)
        },
    }


def add(history: Path, summary: Mapping[str, Any]) -> dict[str, Any]:
    """Append a snapshot of ``summary`` to ``history``; returns it."""
    entry = snapshot(summary)
    history.parent.mkdir(parents=True, exist_ok=True)
    with history.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


def load(history: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every snapshot, oldest first, and a note for each line that is not one (skipped: a
    hand-edited or cut-short line must not hide the rest of the history)."""
    entries: list[dict[str, Any]] = []
    skipped: list[str] = []
    with history.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                skipped.append(f"{history}: line {number} is not JSON (skipped)")
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("generated_at"), str):
                skipped.append(f"{history}: line {number} is not a snapshot (skipped)")
                continue
            entries.append(entry)
    return sorted(entries, key=lambda e: str(e["generated_at"])), skipped


def trend(previous: Mapping[str, Any], current: Mapping[str, Any], layer: str) -> str:
    """``decentralizing``, ``centralizing`` or ``steady`` on one layer, by Shannon's change."""
    before = ((previous.get("layers") or {}).get(layer) or {}).get("shannon")
    after = ((current.get("layers") or {}).get(layer) or {}).get("shannon")
    if not isinstance(before, int | float) or not isinstance(after, int | float) or before == 0:
        return "steady" if before == after else ("decentralizing" if (after or 0) > 0 else "steady")
    change = (after - before) / before
    if change >= TREND_THRESHOLD:
        return "decentralizing"
    if change <= -TREND_THRESHOLD:
        return "centralizing"
    return "steady"


def cross_version(entries: list[Mapping[str, Any]]) -> bool:
    """Whether the snapshots span more than one scoring version (comparisons must say so)."""
    return len({e.get("scoring_version") for e in entries}) > 1

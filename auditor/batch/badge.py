"""Badges in the shields.io endpoint format (https://shields.io/badges/endpoint-badge)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.batch.gates import hosting_layer

COLOURS = {"centralized": "red", "hybrid": "yellow", "decentralized": "brightgreen"}


def report_badge(report: Mapping[str, Any]) -> dict[str, Any]:
    """One account: its band and score."""
    band = report.get("band")
    score = report.get("score")
    if not isinstance(band, str):
        return {
            "schemaVersion": 1,
            "label": "decentralization",
            "message": "unresolved",
            "color": "lightgrey",
        }
    message = f"{band} {score:.0f}" if isinstance(score, int | float) else band
    return {
        "schemaVersion": 1,
        "label": "decentralization",
        "message": message,
        "color": COLOURS.get(band, "lightgrey"),
    }


def summary_badge(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A batch: how many hosting operators hold half the accounts, and that layer's HHI."""
    name, layer = hosting_layer(summary)
    label = "hosting concentration" if name == "hosting-operator" else "PDS concentration"
    needed = (layer.get("needed") or {}).get("50")
    hhi = layer.get("hhi_points")
    if not isinstance(hhi, int | float):
        return {
            "schemaVersion": 1,
            "label": label,
            "message": "no data",
            "color": "lightgrey",
        }
    colour = "red" if hhi > 1800 else "yellow" if hhi >= 1000 else "brightgreen"
    return {
        "schemaVersion": 1,
        "label": label,
        "message": f"HHI {hhi:.0f}, {needed} for 50%",
        "color": colour,
    }

"""The ecosystem summary of a batch: counts per layer, concentration metrics, bands, Nakamoto.

Computed by streaming the batch output (one report per line), so memory stays flat in the number
of accounts and an older output can be summarised again with today's metrics.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor import __version__
from auditor.batch import SUMMARY_KIND
from auditor.batch.layers import LAYERS, account_layers, critical_layers, is_bridged
from auditor.ecosystem.metrics import concentration, nakamoto
from auditor.scoring import SCORING_VERSION

SUMMARY_VERSION = "1.0"
COUNTED = (
    "accounts audited (DIDs, fediverse addresses, Matrix IDs), not active users; an account "
    "counts once per layer, except relay and AppView operators, which count once per operator "
    "carrying or indexing it"
)


class Tally:
    """Running counts over reports (no report is kept)."""

    def __init__(self) -> None:
        self.layers: dict[str, Counter[str]] = {layer: Counter() for layer in LAYERS}
        self.audited = 0
        self.unresolved = 0
        self.bridged = 0
        self.sandbox = False
        self.score_total = 0.0
        self.scored = 0
        self.scoring_versions: Counter[str] = Counter()
        self.dids: set[str] = set()
        self.by_network: dict[str, tuple[float, int]] = {}
        """Score total and count per network (scores of different networks are made against
        different checks: their means are given apart)."""
        self.same_account = 0

    def add(self, report: dict[str, Any]) -> bool:
        """Count one report; ``False`` when its account was already counted."""
        account = report.get("did") or report.get("account")
        if isinstance(account, str):
            if report.get("protocol") == "activitypub":
                account = account.lower()  # as the targets file's duplicates are found
            if account in self.dids:  # a handle and a DID (or two handles) named one account
                self.same_account += 1
                return False
            self.dids.add(account)
        self.audited += 1
        self.sandbox = self.sandbox or bool(report.get("sandbox"))
        self.scoring_versions[str(report.get("scoring_version"))] += 1
        if report.get("band") is None:
            self.unresolved += 1
            return True
        if isinstance(report.get("score"), int | float):
            self.score_total += float(report["score"])
            self.scored += 1
            network = str(report.get("protocol") or "atproto")
            total, count = self.by_network.get(network, (0.0, 0))
            self.by_network[network] = (total + float(report["score"]), count + 1)
        if is_bridged(report):
            self.bridged += 1
        for layer, values in account_layers(report).items():
            self.layers[layer].update(values)
        return True

    def summary(self, *, now: datetime | None = None, **extra: Any) -> dict[str, Any]:
        metrics = {layer: concentration(dict(counts)) for layer, counts in self.layers.items()}
        coefficient = nakamoto(metrics, critical_layers(set(self.layers["network"]) or {"atproto"}))
        return {
            "kind": SUMMARY_KIND,
            "summary_version": SUMMARY_VERSION,
            "tool_version": __version__,
            "scoring_version": SCORING_VERSION,
            "scoring_versions_seen": dict(self.scoring_versions),
            "generated_at": (now or datetime.now(UTC)).isoformat(),
            "counted": COUNTED,
            "sandbox": self.sandbox,
            "accounts": {
                "audited": self.audited,
                "resolved": self.audited - self.unresolved,
                "unresolved": self.unresolved,
                "bridged": self.bridged,
                "same_account_twice": self.same_account,
                **extra,
            },
            "mean_score": round(self.score_total / self.scored, 2) if self.scored else None,
            "mean_score_by_network": {
                network: round(total / count, 2)
                for network, (total, count) in sorted(self.by_network.items())
            },
            "bands": dict(self.layers["band"]),
            "nakamoto": coefficient.to_dict(),
            "layers": {layer: m.to_dict() for layer, m in metrics.items()},
        }


def iter_reports(path: Path) -> Iterable[dict[str, Any]]:
    """Each report line of a batch output, parsed one at a time."""
    with path.open("rb") as handle:
        for line in handle:
            if line.endswith(b"\n"):
                yield json.loads(line)


def summarise(
    path: Path, *, each: Callable[[dict[str, Any]], None] | None = None, **extra: Any
) -> dict[str, Any]:
    """The summary of a whole batch output, resumed runs included; ``each`` sees every report
    (the per-account gates use it, so accounts finished by an earlier run are gated too)."""
    tally = Tally()
    for report in iter_reports(path):
        if tally.add(report) and each is not None:
            each(report)
    return tally.summary(**extra)

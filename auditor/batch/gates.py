"""CI gates: per-account requirements, ecosystem thresholds, and regressions against a baseline.

Each gate returns messages naming what failed and by how much; an empty list means it passed.
Gates on specific behaviours (``--require rotation-key-custody=pass``) are preferred to gates on
the aggregate score, as Scorecard's users learned: many different accounts reach the same score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditor.models.report import Status

REGRESSION_TOLERANCE = {
    "hhi": 50.0,
    "operators_for_50": 0.0,
    "mean_score": 1.0,
    "decentralized_share": 0.01,
}
"""How far a metric may worsen against the baseline before the gate fails."""


class GateSpecError(ValueError):
    """A gate option that cannot be parsed."""


@dataclass(frozen=True)
class Requirement:
    check_id: str
    statuses: frozenset[Status]

    def __str__(self) -> str:
        return f"{self.check_id}={'|'.join(sorted(s.value for s in self.statuses))}"


def parse_requirement(spec: str, known_ids: Sequence[str]) -> Requirement:
    """``CHECK_ID=STATUS[|STATUS...]``, e.g. ``rotation-key-custody=pass|partial``."""
    check_id, sep, statuses = spec.partition("=")
    check_id = check_id.strip()
    if not sep or not check_id or not statuses.strip():
        raise GateSpecError(f"--require {spec!r}: expected CHECK_ID=STATUS (e.g. repo-export=pass)")
    if check_id not in known_ids:
        raise GateSpecError(f"--require {spec!r}: unknown check id {check_id!r}")
    parsed = set()
    for raw in statuses.split("|"):
        try:
            parsed.add(Status(raw.strip()))
        except ValueError:
            allowed = ", ".join(s.value for s in Status)
            raise GateSpecError(
                f"--require {spec!r}: {raw.strip()!r} is not one of {allowed}"
            ) from None
    return Requirement(check_id, frozenset(parsed))


def account_failures(
    report: Mapping[str, Any], *, fail_under: float | None, requirements: Sequence[Requirement]
) -> list[str]:
    """Why one account fails the per-account gates (empty: it passes)."""
    who = str(report.get("handle") or report.get("target"))
    problems = []
    score = report.get("score")
    if fail_under is not None and (not isinstance(score, int | float) or score < fail_under):
        shown = "no score" if not isinstance(score, int | float) else f"score {score:.1f}"
        problems.append(f"{who}: {shown} is below --fail-under {fail_under:g}")
    statuses = {
        c.get("id"): c.get("status") for c in report.get("checks") or [] if isinstance(c, dict)
    }
    for requirement in requirements:
        status = statuses.get(requirement.check_id)
        if status not in {s.value for s in requirement.statuses}:
            problems.append(
                f"{who}: {requirement.check_id} is {status or 'not run'}, required {requirement}"
            )
    return problems


def hosting_layer(summary: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The layer the ecosystem gates read, and its name for messages: ``hosting_operator`` (every
    network's accounts) in a batch summary, ``pds_operator`` in a census (and in batch summaries
    written before other networks were counted)."""
    layers = summary.get("layers") or {}
    for name, label in (("hosting_operator", "hosting-operator"), ("pds_operator", "PDS-operator")):
        layer = layers.get(name)
        if isinstance(layer, dict):
            return label, layer
    return "PDS-operator", {}


def _needed_50(layer: Mapping[str, Any]) -> int | None:
    needed = layer.get("needed")
    value = needed.get("50") if isinstance(needed, dict) else None
    return value if isinstance(value, int) else None


def _decentralized_share(summary: Mapping[str, Any]) -> float | None:
    bands = summary.get("bands")
    if not isinstance(bands, dict) or not sum(bands.values()):
        return None
    return float(bands.get("decentralized", 0)) / float(sum(bands.values()))


def ecosystem_failures(
    summary: Mapping[str, Any],
    *,
    max_hhi: float | None = None,
    min_operators_for_50: int | None = None,
    baseline: Mapping[str, Any] | None = None,
) -> list[str]:
    """Why the batch fails the ecosystem gates (the hosting layer), and regressions."""
    problems = []
    label, pds = hosting_layer(summary)
    hhi = pds.get("hhi_points")
    if max_hhi is not None and isinstance(hhi, int | float) and hhi > max_hhi:
        problems.append(f"{label} HHI is {hhi:g}, above --max-hhi {max_hhi:g}")
    needed = _needed_50(pds)
    if min_operators_for_50 is not None and needed is not None and needed < min_operators_for_50:
        problems.append(
            f"{needed} {label.replace('-', ' ')}(s) hold half the accounts, fewer than "
            f"--min-operators-for-50 {min_operators_for_50}"
        )
    if baseline is not None:
        problems.extend(regressions(summary, baseline))
    return problems


def regressions(summary: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[str]:
    """Metrics that moved the wrong way, beyond :data:`REGRESSION_TOLERANCE`."""
    found = []
    now_pds, then_pds = hosting_layer(summary)[1], hosting_layer(baseline)[1]
    pairs: list[tuple[str, float | None, float | None, int]] = [
        ("hhi", _num(now_pds.get("hhi_points")), _num(then_pds.get("hhi_points")), +1),
        ("operators_for_50", _num(_needed_50(now_pds)), _num(_needed_50(then_pds)), -1),
        ("mean_score", _num(summary.get("mean_score")), _num(baseline.get("mean_score")), -1),
        ("decentralized_share", _decentralized_share(summary), _decentralized_share(baseline), -1),
    ]
    for name, now, then, worse in pairs:
        if now is None or then is None:
            continue
        moved = (now - then) * worse
        if moved > REGRESSION_TOLERANCE[name]:
            tolerance = REGRESSION_TOLERANCE[name]
            found.append(f"{name} regressed from {then:g} to {now:g} (tolerance {tolerance:g})")
    if baseline.get("scoring_version") != summary.get("scoring_version"):
        found = [f"{m} [baseline scoring {baseline.get('scoring_version')}]" for m in found]
    return found


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None

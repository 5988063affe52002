"""``decaudit diff A B``: what changed between two reports of one account, or two summaries.

Both sides are read as saved JSON (a ``check --format json`` report, a batch or census summary),
never re-audited, so a diff is reproducible. Changes are listed in a fixed order (headline first,
then checks or layers in their own order) so the output of the same two files is always the same.
Comparing across scoring versions is allowed but marked: a score's meaning can change between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from auditor.batch import SUMMARY_KINDS

Kind = Literal["report", "summary"]
LAYER_METRICS = ("total", "providers", "hhi_points", "effective_shannon", "largest_share")


class DiffInputError(ValueError):
    """A file that is neither a decaudit report nor a summary, or two files of different kinds."""


@dataclass(frozen=True)
class Change:
    what: str
    before: Any
    after: Any


@dataclass
class Diff:
    kind: Kind
    subject: str
    cross_version: bool
    scoring_versions: tuple[str, str]
    changes: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def kind_of(document: Mapping[str, Any]) -> Kind:
    """Which kind of decaudit file this is (``DiffInputError`` when it is neither)."""
    if document.get("kind") in SUMMARY_KINDS:
        return "summary"
    if "schema_version" in document and "checks" in document and "target" in document:
        return "report"
    raise DiffInputError("not a decaudit report or summary")


def _checks(report: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(c["id"]): c
        for c in report.get("checks") or []
        if isinstance(c, dict) and isinstance(c.get("id"), str)
    }


def _report_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes = [
        Change(key, before.get(key), after.get(key))
        for key in ("band", "score", "handle", "did", "handle_verified")
        if before.get(key) != after.get(key)
    ]
    old, new = _checks(before), _checks(after)
    for check_id in [*old, *(c for c in new if c not in old)]:
        was, now = old.get(check_id), new.get(check_id)
        if was is None or now is None:
            changes.append(
                Change(
                    f"check {check_id}",
                    was.get("status") if was else "not run",
                    now.get("status") if now else "not run",
                )
            )
            continue
        if was.get("status") != now.get("status"):
            changes.append(Change(f"check {check_id}", was.get("status"), now.get("status")))
        elif was.get("summary") != now.get("summary"):
            changes.append(
                Change(f"check {check_id} summary", was.get("summary"), now.get("summary"))
            )
    return changes


def _layer(summary: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    layer = (summary.get("layers") or {}).get(name)
    return layer if isinstance(layer, dict) else {}


def _needed(layer: Mapping[str, Any], share: str) -> Any:
    needed = layer.get("needed")
    return needed.get(share) if isinstance(needed, dict) else None


def _summary_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    changes = []
    for key in ("mean_score",):
        if before.get(key) != after.get(key):
            changes.append(Change(key, before.get(key), after.get(key)))
    was_accounts = (before.get("accounts") or {}).get("audited")
    now_accounts = (after.get("accounts") or {}).get("audited")
    if was_accounts != now_accounts:
        changes.append(Change("accounts audited", was_accounts, now_accounts))
    if before.get("bands") != after.get("bands"):
        changes.append(Change("bands", before.get("bands"), after.get("bands")))
    was_n, now_n = before.get("nakamoto") or {}, after.get("nakamoto") or {}
    if was_n.get("value") != now_n.get("value"):
        changes.append(Change("nakamoto", was_n.get("value"), now_n.get("value")))
    names = [*(before.get("layers") or {}), *(after.get("layers") or {})]
    for name in dict.fromkeys(names):
        was, now = _layer(before, name), _layer(after, name)
        for metric in LAYER_METRICS:
            if was.get(metric) != now.get(metric):
                changes.append(Change(f"{name} {metric}", was.get(metric), now.get(metric)))
        if _needed(was, "50") != _needed(now, "50"):
            changes.append(
                Change(f"{name} operators needed for 50%", _needed(was, "50"), _needed(now, "50"))
            )
    return changes


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> Diff:
    """The changes from ``before`` to ``after`` (two reports, or two summaries)."""
    kind = kind_of(before)
    if kind_of(after) != kind:
        raise DiffInputError("cannot compare a report with a summary")
    versions = (str(before.get("scoring_version")), str(after.get("scoring_version")))
    if kind == "report":
        subject = str(after.get("did") or after.get("handle") or after.get("target"))
        was_did, now_did = before.get("did"), after.get("did")
        if was_did and now_did and was_did != now_did:
            subject = f"{was_did} -> {now_did} (different accounts)"
        changes = _report_changes(before, after)
    else:
        subject = f"{before.get('generated_at')} -> {after.get('generated_at')}"
        changes = _summary_changes(before, after)
    return Diff(kind, subject, versions[0] != versions[1], versions, changes)

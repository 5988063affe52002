"""The targets file: one target per line; comments, blank lines and duplicates handled.

A line that is not a valid target is reported with its line number and skipped: the run goes on
and its exit status says some targets failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor.syntax import Target, TargetSyntaxError, parse_target


def target_key(target: Target) -> str:
    """What makes two targets the same account request: the DID, the normalised handle, or the
    fediverse address / Matrix ID."""
    if target.protocol == "activitypub" and target.account:
        return target.account.lower()  # user names compare case-insensitively, as Mastodon's do
    return target.did or target.handle or target.account or target.raw


@dataclass(frozen=True)
class TargetLine:
    line: int
    target: Target

    @property
    def key(self) -> str:
        return target_key(self.target)


@dataclass
class TargetList:
    targets: list[TargetLine] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """``line N: 'text': why`` for every unparseable line."""
    duplicates: int = 0


def read_targets(lines: Iterable[str]) -> TargetList:
    """Parse a targets file: ``#`` starts a comment, blank lines are ignored, each account once."""
    result = TargetList()
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            target = parse_target(text)
        except TargetSyntaxError as exc:
            result.errors.append(f"line {number}: {text[:80]!r}: {exc}")
            continue
        key = target_key(target)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        result.targets.append(TargetLine(number, target))
    return result

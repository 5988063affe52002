"""The sandbox's fixed clock: every timestamp it writes derives from one instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

SANDBOX_NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
""""Now" in the sandbox. Histories are laid out before it, audits are stamped with it."""


def days_ago(days: float) -> datetime:
    """A moment ``days`` before :data:`SANDBOX_NOW`."""
    return SANDBOX_NOW - timedelta(days=days)


def stamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as the PLC directory writes ``createdAt``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

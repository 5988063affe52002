"""What every gatherer is handed: settings, the shared fetcher and resolver, the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import JsonAnswer
from auditor.net.deadline import Deadline
from auditor.net.dns import DnsError, Resolver
from auditor.net.fetch import Fetcher
from auditor.net.limits import HostLimits
from auditor.net.shared import SharedAnswers
from auditor.settings import AuditSettings
from auditor.text import one_line

T = TypeVar("T")


@dataclass(frozen=True)
class GatherContext:
    """Injected into every gatherer; one per run (an audit, or later a whole batch)."""

    settings: AuditSettings
    fetcher: Fetcher
    resolver: Resolver
    deadline: Deadline
    limits: HostLimits = field(default_factory=HostLimits)
    """Per-PDS concurrency, shared across the run."""
    shared: SharedAnswers[JsonAnswer | ProbeFailure] = field(default_factory=SharedAnswers)
    """Host-level answers shared across the run (see :mod:`auditor.net.shared`)."""


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading), rounded to 0.1 ms."""
    return round((time.perf_counter() - start) * 1000.0, 1)


async def guarded(source: str, probe: Callable[[], Awaitable[T]]) -> T | ProbeFailure:
    """Run one probe; turn anything it raises into an ``internal`` failure of that probe alone.

    Gatherers return failures rather than raising; this is the safety net for bugs, so one broken
    probe cannot cancel its siblings in a task group.
    """
    try:
        return await probe()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return ProbeFailure(
            kind=FailureKind.INTERNAL,
            source=source,
            message=one_line(
                f"{source}: decaudit failed while probing ({type(exc).__name__}: {exc})"
            ),
        )


async def lookup_txt(ctx: GatherContext, name: str) -> list[str] | ProbeFailure:
    """TXT lookup under the run's timeout and deadline; failures become evidence."""
    start = time.perf_counter()
    timeout = ctx.deadline.cap(ctx.settings.timeout)
    if timeout <= 0:
        return ProbeFailure(
            kind=FailureKind.DEADLINE,
            source=name,
            message=f"TXT {name}: not attempted, the audit deadline "
            f"({ctx.deadline.seconds:g} s) was reached",
        )
    try:
        async with asyncio.timeout(timeout):
            return await ctx.resolver.txt(name, timeout=timeout)
    except DnsError as exc:
        return ProbeFailure(
            kind=exc.kind, source=name, message=str(exc), elapsed_ms=elapsed_ms(start)
        )
    except TimeoutError:
        kind = FailureKind.DEADLINE if ctx.deadline.expired else FailureKind.TIMEOUT
        return ProbeFailure(
            kind=kind,
            source=name,
            message=f"TXT {name}: no answer within {timeout:.1f} s",
            elapsed_ms=elapsed_ms(start),
        )

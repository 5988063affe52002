"""What every gatherer is handed: settings, the shared fetcher and resolver, the deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import JsonAnswer
from auditor.net.deadline import Deadline
from auditor.net.dns import DnsError, Resolver, SrvTuple
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
    return await _lookup(ctx, name, "TXT", lambda timeout: ctx.resolver.txt(name, timeout=timeout))


async def lookup_srv(ctx: GatherContext, name: str) -> list[SrvTuple] | ProbeFailure:
    """SRV lookup under the run's timeout and deadline; failures become evidence."""
    return await _lookup(ctx, name, "SRV", lambda timeout: ctx.resolver.srv(name, timeout=timeout))


async def _lookup(
    ctx: GatherContext, name: str, rdtype: str, query: Callable[[float], Awaitable[list[T]]]
) -> list[T] | ProbeFailure:
    start = time.perf_counter()
    timeout = ctx.deadline.cap(ctx.settings.timeout)
    if timeout <= 0:
        return ProbeFailure(
            kind=FailureKind.DEADLINE,
            source=name,
            message=f"{rdtype} {name}: not attempted, the audit deadline "
            f"({ctx.deadline.seconds:g} s) was reached",
        )
    try:
        async with asyncio.timeout(timeout):
            return await query(timeout)
    except DnsError as exc:
        return ProbeFailure(
            kind=exc.kind, source=name, message=str(exc), elapsed_ms=elapsed_ms(start)
        )
    except TimeoutError:
        kind = FailureKind.DEADLINE if ctx.deadline.expired else FailureKind.TIMEOUT
        return ProbeFailure(
            kind=kind,
            source=name,
            message=f"{rdtype} {name}: no answer within {timeout:.1f} s",
            elapsed_ms=elapsed_ms(start),
        )


async def json_answer(
    ctx: GatherContext,
    url: str,
    params: Mapping[str, str] | None = None,
    *,
    accept: str = "application/json",
    max_bytes: int | None = None,
    server_name: str | None = None,
) -> JsonAnswer | ProbeFailure:
    """One JSON GET, as evidence (never raises); ``server_name`` as in ``Fetcher.get_json``."""

    async def probe() -> JsonAnswer | ProbeFailure:
        result = await ctx.fetcher.get_json(
            url, params=params, max_bytes=max_bytes, accept=accept, server_name=server_name
        )
        if isinstance(result, ProbeFailure):
            return result
        return JsonAnswer.of(result.exchange, result.body)

    return await guarded(url, probe)


def answered(probe: JsonAnswer | ProbeFailure) -> bool:
    """Whether a host-level answer may be shared with later audits: an answer, or a definite 4xx
    refusal. Timeouts, network errors and 5xx may be blips and are asked again."""
    if isinstance(probe, JsonAnswer):
        return True
    status = probe.http_status
    return probe.kind is FailureKind.HTTP_STATUS and status is not None and 400 <= status < 500


async def shared_json(
    ctx: GatherContext, url: str, *, max_bytes: int | None = None, server_name: str | None = None
) -> JsonAnswer | ProbeFailure:
    """A JSON GET whose answer is the same for every account on a server (NodeInfo, a
    homeserver's keys): asked once per session and shared (see :mod:`auditor.net.shared`)."""
    return await ctx.shared.get(
        ("json", url, server_name),
        lambda: json_answer(ctx, url, max_bytes=max_bytes, server_name=server_name),
        answered,
    )

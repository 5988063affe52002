"""One run's network session: the one HTTP client and the one DNS resolver, under one policy.

An audit (or later a whole batch of them) opens one :class:`Session` and every probe goes through
it. The client is always built by :func:`auditor.net.client.build_client`, so the address guard,
the https rule and the size caps cannot be bypassed by handing in a plain ``httpx.AsyncClient``;
what can be injected is the *inner* transport (respx, the in-process sandbox) and the resolver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from auditor.models.common import ProbeFailure
from auditor.models.evidence import JsonAnswer
from auditor.net.client import build_client
from auditor.net.dns import DnspythonResolver, Resolver
from auditor.net.limits import HostLimits
from auditor.net.shared import SharedAnswers
from auditor.settings import AuditSettings


@dataclass(frozen=True)
class Session:
    """The client and resolver of a run, with the settings they were built from."""

    settings: AuditSettings
    resolver: Resolver
    client: httpx.AsyncClient
    limits: HostLimits = field(default_factory=HostLimits)
    """Requests in flight per PDS host, shared by every audit of the session."""
    shared: SharedAnswers[JsonAnswer | ProbeFailure] = field(default_factory=SharedAnswers)
    """Host-level answers (a PDS's health, a relay's view of a PDS), asked once per session."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: AuditSettings,
        *,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[Session]:
        """Open a session; ``transport`` replaces only the innermost, socket-level transport."""
        resolver = resolver or DnspythonResolver(settings.nameservers, timeout=settings.timeout)
        async with build_client(settings, resolver, transport=transport) as client:
            yield cls(settings, resolver, client)

"""Per-host politeness: at most N requests in flight to one host, across a whole run.

A batch audits many accounts at once; many of them live on the same PDS. The limit belongs to the
run's :class:`~auditor.session.Session` (shared by every audit in it), and gatherers hold it around
each request to a PDS, so a provider sees at most ``per_host`` concurrent requests from decaudit
however many of its accounts are being audited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

PDS_CONCURRENCY = 4


class HostLimits:
    """A semaphore per host, created on first use."""

    def __init__(self, per_host: int = PDS_CONCURRENCY) -> None:
        if per_host < 1:
            raise ValueError("per-host concurrency must be at least 1")
        self.per_host = per_host
        self._gates: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        """Wait for a free slot on ``host``, keep it for the ``async with`` block."""
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = asyncio.Semaphore(self.per_host)
        async with gate:
            yield

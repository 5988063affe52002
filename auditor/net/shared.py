"""Answers about a host rather than an account, fetched once per session and shared.

A batch audits thousands of accounts on a few PDSes. A PDS's health and self-description, and a
relay's view of a PDS (``getHostStatus``), are the same for every account on it, so asking them
once per account multiplies the load on the very providers we want to be polite to (and, with the
per-PDS limit, the batch's wall time). The session keeps each such answer for a short time:

* single flight: concurrent audits asking the same question share one request;
* only answers are kept; a failure is returned to the audits that waited for it and then
  forgotten, so the next audit asks again (a blip must not mark every later account);
* kept for :data:`TTL` seconds, so a long batch still sees a host that goes down or comes back.

Evidence keeps the exchange (URL, time, status) of the shared answer, so a report says exactly
what was observed and when, even when the observation served several accounts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
TTL = 300.0
SWEEP_FROM = 1024
"""Entries from which each new one first sweeps out the expired ones (memory stays bounded by
what five minutes of a batch can meet)."""


class SharedAnswers(Generic[T]):
    """A per-session, single-flight, time-limited memo of host-level probes."""

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, asyncio.Future[T]]] = {}

    async def get(
        self, key: Hashable, fetch: Callable[[], Awaitable[T]], keep: Callable[[T], bool]
    ) -> T:
        """The answer for ``key``: shared if fresh or in flight, else fetched now."""
        while True:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry[0] >= self.ttl:
                return await self._fetch(key, fetch, keep)
            future = entry[1]
            if future.done() and not future.cancelled():
                return future.result()  # what awaiting it gives, without a shield around it
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if future.cancelled() and task is not None and not task.cancelling():
                    continue  # the audit that was asking was cancelled, not us: ask again
                raise

    async def _fetch(
        self, key: Hashable, fetch: Callable[[], Awaitable[T]], keep: Callable[[T], bool]
    ) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        if len(self._entries) >= SWEEP_FROM:
            self._sweep()
        self._entries[key] = (self._clock(), future)
        try:
            value = await fetch()
        except asyncio.CancelledError:
            self._forget(key, future)
            future.cancel()
            raise
        except Exception as exc:
            self._forget(key, future)
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        future.set_result(value)
        if not keep(value):
            self._forget(key, future)
        return value

    def _sweep(self) -> None:
        """Drop expired answers (a batch over many self-hosted PDSes meets many hosts once)."""
        now = self._clock()
        for key in [k for k, (at, f) in self._entries.items() if f.done() and now - at >= self.ttl]:
            del self._entries[key]

    def _forget(self, key: Hashable, future: asyncio.Future[T]) -> None:
        current = self._entries.get(key)
        if current is not None and current[1] is future:
            del self._entries[key]

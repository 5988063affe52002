"""One small httpcore connection pool per origin, instead of one large pool for everything.

httpcore's pool reassigns every queued request to a connection, scanning every connection, each
time a request starts or ends: work quadratic in the requests in flight. An audit has about ten in
flight; a batch of 32 audits has hundreds, spread over many origins, and one shared pool then spent
most of the batch's CPU in that scan (measured: bench/README.md). Requests to different origins
never share a connection anyway, so a pool per origin does the same job with scans the size of one
origin's traffic.

Handles are one-off origins (each account's ``/.well-known/atproto-did`` host), so pools are kept
in least-recently-used order and at most :data:`MAX_POOLS` of them stay open: the oldest pool with
nothing in flight is closed when a new origin arrives. That bounds idle sockets and memory however
many accounts a batch audits.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable
from types import TracebackType

import httpcore

MAX_POOLS = 64
PER_ORIGIN = 32
"""Connections per origin (the per-PDS limit keeps PDSes at 4; relays and AppViews serve every
audit in flight)."""
KEEPALIVE_PER_ORIGIN = PER_ORIGIN
"""Idle connections kept per origin: as many as may be open. A batch's bursts put dozens of
requests on one relay or AppView at once; keeping only a few alive afterwards closed the rest and
opened new ones for the next burst, one connection (a TLS handshake, on the real network) per
request. Idle sockets: httpcore closes a connection idle for 5 seconds when its pool is next
used, and an evicted pool closes all of its own, so at most MAX_POOLS x PER_ORIGIN (2,048) in
theory; a few hundred in practice (only relays, AppViews and the PLC directory see wide bursts,
and PDSes are held to 4 requests at once)."""


class _Shard:
    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool
        self.in_flight = 0


class _TrackedStream:
    """A response body that tells its shard when it is closed (the request is then over)."""

    def __init__(self, stream: AsyncIterable[bytes], done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            closer = getattr(self._stream, "aclose", None)
            if closer is not None:
                await closer()
        finally:
            if self._done is not None:
                self._done()
                self._done = None


class ShardedConnectionPool:
    """Duck-types ``httpcore.AsyncConnectionPool`` for ``httpx.AsyncHTTPTransport``."""

    def __init__(
        self,
        factory: Callable[[int, int], httpcore.AsyncConnectionPool],
        *,
        max_pools: int = MAX_POOLS,
    ) -> None:
        self._factory = factory
        self._max_pools = max_pools
        self._shards: OrderedDict[tuple[bytes, bytes, int], _Shard] = OrderedDict()

    @property
    def pool_count(self) -> int:
        return len(self._shards)

    async def _shard(self, origin: tuple[bytes, bytes, int]) -> _Shard:
        shard = self._shards.get(origin)
        if shard is not None:
            self._shards.move_to_end(origin)
            return shard
        await self._evict()
        shard = self._shards[origin] = _Shard(self._factory(PER_ORIGIN, KEEPALIVE_PER_ORIGIN))
        return shard

    async def _evict(self) -> None:
        """Close the least recently used idle pools until there is room for one more."""
        while len(self._shards) >= self._max_pools:
            victim = next((o for o, s in self._shards.items() if s.in_flight == 0), None)
            if victim is None:
                return  # everything is busy: go over the bound rather than wait
            shard = self._shards.pop(victim)
            await shard.pool.aclose()

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        # By the name asked for (the Host header), not the address connected to: with
        # --connect-to (or a proxy) many names share one address, and they must not share one
        # queue. A connection is never reused across names anyway (TLS names the host).
        host = url.host
        for key, value in request.headers:
            if key.lower() == b"host":
                host = value
                break
        shard = await self._shard((url.scheme, host, url.port or 0))
        shard.in_flight += 1
        try:
            response = await shard.pool.handle_async_request(request)
        except BaseException:
            shard.in_flight -= 1
            raise

        def done() -> None:
            shard.in_flight -= 1

        stream = response.stream
        if not isinstance(stream, AsyncIterable):
            raise TypeError(f"httpcore returned a {type(stream).__name__} body to an async pool")
        response.stream = _TrackedStream(stream, done)
        return response

    async def aclose(self) -> None:
        shards = list(self._shards.values())
        self._shards.clear()
        for shard in shards:
            await shard.pool.aclose()

    async def __aenter__(self) -> ShardedConnectionPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()

"""The per-origin connection pools: one per name asked for, bounded in number, idle ones evicted,
busy ones never, and every response still readable and closable through the shard."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from auditor.net.client import build_client
from auditor.net.dns import StaticResolver
from auditor.net.pool import ShardedConnectionPool
from auditor.net.transport import GuardedHTTPTransport, PolicyTransport
from auditor.settings import AuditSettings

pytestmark = [pytest.mark.anyio, pytest.mark.network]


def sharded(client: httpx.AsyncClient) -> ShardedConnectionPool:
    policy = client._transport
    assert isinstance(policy, PolicyTransport)
    assert isinstance(policy.inner, GuardedHTTPTransport)
    pool = policy.inner._pool
    assert isinstance(pool, ShardedConnectionPool)
    return pool


def json_handler(body: bytes):  # type: ignore[no-untyped-def]
    async def handler(request, writer) -> None:  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.01)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    return handler


async def test_one_pool_per_name_even_on_one_address(http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.routes["/x"] = json_handler(b'{"ok": true}')
    names = [f"h{i}.test" for i in range(5)]
    resolver = StaticResolver(addresses={name: ["127.0.0.1"] for name in names})
    async with build_client(AuditSettings(allow_private=True), resolver) as client:
        pool = sharded(client)
        responses = await asyncio.gather(
            *(client.get(f"http://{name}:{http_server.port}/x") for name in names * 4)
        )
        assert [r.json() for r in responses] == [{"ok": True}] * 20
        assert pool.pool_count == 5  # by Host, although every name has the same address
        assert all(shard.in_flight == 0 for shard in pool._shards.values())
    assert pool.pool_count == 0  # closing the client closes every pool


async def test_idle_pools_are_evicted_busy_ones_kept(http_server) -> None:  # type: ignore[no-untyped-def]
    release = asyncio.Event()

    async def slow(request, writer) -> None:  # type: ignore[no-untyped-def]
        await release.wait()
        await json_handler(b"{}")(request, writer)

    http_server.routes["/x"] = json_handler(b"{}")
    http_server.routes["/slow"] = slow
    names = [f"h{i}.test" for i in range(6)]
    resolver = StaticResolver(addresses={name: ["127.0.0.1"] for name in names})
    async with build_client(AuditSettings(allow_private=True), resolver) as client:
        pool = sharded(client)
        pool._max_pools = 3
        busy = asyncio.create_task(client.get(f"http://h0.test:{http_server.port}/slow"))
        while pool.pool_count == 0:
            await asyncio.sleep(0.005)
        for name in names[1:]:
            assert (await client.get(f"http://{name}:{http_server.port}/x")).status_code == 200
        shards = list(pool._shards)
        assert len(shards) == 3
        assert shards[0][1] == f"h0.test:{http_server.port}".encode()  # busy: never evicted
        release.set()
        assert (await busy).status_code == 200

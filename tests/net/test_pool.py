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


class KeepAliveServer:
    """HTTP/1.1 on loopback that keeps connections open; counts the connections it accepted."""

    def __init__(self) -> None:
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> KeepAliveServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self.writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(0.01)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def test_connections_are_kept_alive_and_reused_after_a_burst() -> None:
    resolver = StaticResolver(addresses={"relay.test": ["127.0.0.1"]})
    async with KeepAliveServer() as server:
        async with build_client(AuditSettings(allow_private=True), resolver) as client:
            url = f"http://relay.test:{server.port}/x"
            for _ in range(3):
                assert (await client.get(url)).status_code == 200
            assert server.connections == 1  # one after another: one connection
            for _ in range(2):  # a batch's burst, twice: the second reuses the first's
                responses = await asyncio.gather(*(client.get(url) for _ in range(20)))
                assert {r.status_code for r in responses} == {200}
            assert server.connections <= 20
            # A connection the server closed while idle is noticed and replaced, not used.
            for writer in server.writers:
                writer.close()
            await asyncio.sleep(0.05)
            before = server.connections
            assert (await client.get(url)).status_code == 200
            assert server.connections == before + 1

"""The sandbox HTTP server over real loopback sockets: dispatch by Host header, streaming (big,
slow and endless bodies; a client hanging up), faults, dead hosts, app errors and bad requests."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
import httpx
import pytest

from auditor.sandbox.http import Faults, Network, json_response
from auditor.sandbox.http_server import PortInUseError, SandboxHttpServer

pytestmark = [pytest.mark.anyio, pytest.mark.network]

MB = 1024 * 1024
BIG = 30 * MB
PIECE = b"\x5a" * 65_536  # allocated once: producing the big body allocates nothing per chunk


@dataclass
class Hosts:
    """The apps of the test network, and what they saw."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    endless_chunks: int = 0

    async def hello(self, request: httpx.Request) -> httpx.Response:
        return json_response(
            {
                "host": request.headers["host"],
                "url": str(request.url),
                "method": request.method,
                "agent": request.headers.get("user-agent"),
            }
        )

    async def echo(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=request.content, headers={"x-length": str(len(request.content))}
        )

    async def boom(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug in a sandbox app")

    async def big(self, request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(BIG // len(PIECE)):
                yield PIECE

        return httpx.Response(
            200, content=body(), headers={"content-type": "application/vnd.ipld.car"}
        )

    async def sized(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"s" * (3 * MB))

    async def endless(self, request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            while True:
                self.endless_chunks += 1
                yield PIECE
                await asyncio.sleep(0)

        return httpx.Response(200, content=body())

    async def gated(self, request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"first;"
            await self.gate.wait()  # only the client, having read "first;", opens the gate
            yield b"second"

        return httpx.Response(200, content=body())

    async def lying(self, request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"short"

        return httpx.Response(200, content=body(), headers={"content-length": "100"})

    async def trickle(self, request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"t" * 10_000

        return httpx.Response(200, content=body())


@dataclass
class Served:
    server: SandboxHttpServer
    network: Network
    hosts: Hosts

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.server.origin, trust_env=False, timeout=5.0)


@pytest.fixture
async def served(anyio_backend: str) -> AsyncIterator[Served]:
    hosts = Hosts()
    network = Network()
    for name in ("hello", "echo", "boom", "big", "sized", "endless", "gated", "lying", "trickle"):
        network.add(f"{name}.test", getattr(hosts, name))
    network.add("other.test", hosts.hello)
    network.add("dead.test", hosts.hello, Faults(down=True))
    async with SandboxHttpServer(network) as server:
        yield Served(server, network, hosts)


def on(host: str) -> dict[str, str]:
    return {"Host": host}


async def test_requests_are_dispatched_by_host_header(served: Served) -> None:
    async with served.client() as client:
        one = await client.get("/xrpc/x.y?did=did:plc:a&limit=2", headers=on("hello.test"))
        two = await client.get("/p", headers=on("Other.Test:443"))
    assert one.status_code == 200
    assert one.headers["x-decaudit-sandbox"] == "1"
    assert one.json()["url"] == "http://hello.test/xrpc/x.y?did=did:plc:a&limit=2"
    assert one.json()["host"] == "hello.test"
    assert one.json()["agent"].startswith("python-httpx")
    assert two.json()["host"] == "Other.Test:443"  # the Network strips the port, ignores case


async def test_connections_are_kept_alive(served: Served) -> None:
    async with served.client() as client:
        for _ in range(3):
            assert (await client.get("/", headers=on("hello.test"))).status_code == 200
        assert served.server.open_connections == 1
    with anyio.fail_after(2):
        await served.server.wait_idle()


async def test_request_bodies_reach_the_app(served: Served) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"chunked "
        yield b"body"

    async with served.client() as client:
        sized = await client.post("/", content=b'{"hostname":"pds.test"}', headers=on("echo.test"))
        chunked = await client.post("/", content=chunks(), headers=on("echo.test"))
    assert sized.content == b'{"hostname":"pds.test"}'
    assert chunked.content == b"chunked body"


async def test_a_big_body_is_streamed_not_buffered(served: Served) -> None:
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        received = 0
        with anyio.fail_after(2.5):
            async with served.client() as client:
                async with client.stream(
                    "GET", "/xrpc/com.atproto.sync.getRepo", headers=on("big.test")
                ) as response:
                    assert response.headers["transfer-encoding"] == "chunked"
                    assert "content-length" not in response.headers
                    async for piece in response.aiter_raw():
                        received += len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == BIG
    assert peak - baseline < 4 * MB, (
        f"server and client held {(peak - baseline) / MB:.1f} MB at once"
    )


async def test_a_sized_body_keeps_its_content_length(served: Served) -> None:
    async with served.client() as client:
        response = await client.get("/", headers=on("sized.test"))
    assert response.headers["content-length"] == str(3 * MB)
    assert "transfer-encoding" not in response.headers
    assert response.content == b"s" * (3 * MB)


async def test_a_slow_body_is_written_as_it_is_produced(served: Served) -> None:
    async with served.client() as client:
        with anyio.fail_after(2):  # buffering the body would wait for the gate forever
            async with client.stream("GET", "/", headers=on("gated.test")) as response:
                pieces = response.aiter_raw()
                assert await pieces.__anext__() == b"first;"
                served.hosts.gate.set()
                assert b"".join([piece async for piece in pieces]) == b"second"


async def test_a_client_hanging_up_mid_stream_ends_the_response(served: Served) -> None:
    async with served.client() as client:
        async with client.stream("GET", "/", headers=on("endless.test")) as response:
            read = 0
            async for piece in response.aiter_raw():
                read += len(piece)
                if read > 1 * MB:
                    break
        # leaving the block unread closes the connection
        with anyio.fail_after(2):
            await served.server.wait_idle()
        produced = served.hosts.endless_chunks
        assert (await client.get("/", headers=on("hello.test"))).status_code == 200
    assert served.hosts.endless_chunks == produced  # nothing is still producing the body


async def test_an_app_error_is_a_500_with_an_xrpc_body(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    async with served.client() as client:
        failed = await client.get("/xrpc/_health", headers=on("boom.test"))
        after = await client.get("/", headers=on("hello.test"))
    assert failed.status_code == 500
    assert failed.json()["error"] == "InternalServerError"
    assert failed.headers["x-decaudit-sandbox"] == "1"
    assert after.status_code == 200
    assert any("boom.test" in r.getMessage() for r in caplog.records)


async def test_a_body_shorter_than_its_content_length_is_cut_off(served: Served) -> None:
    async with served.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/", headers=on("lying.test"))
        assert (await client.get("/", headers=on("hello.test"))).status_code == 200


@pytest.mark.parametrize("host", ["dead.test", "unknown.test"])
async def test_a_dead_or_unknown_host_closes_without_a_response(served: Served, host: str) -> None:
    async with served.client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await client.get("/xrpc/_health", headers=on(host))
        assert (await client.get("/", headers=on("hello.test"))).status_code == 200


async def test_round_trip_time_is_added(served: Served) -> None:
    served.network.set_faults({"hello.test": Faults(rtt=0.3)})
    async with served.client() as client:
        started = time.monotonic()
        response = await client.get("/", headers=on("hello.test"))
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.3


async def test_bandwidth_is_capped(served: Served) -> None:
    served.network.set_faults({"trickle.test": Faults(bandwidth=200_000)})
    async with served.client() as client:
        started = time.monotonic()
        response = await client.get("/", headers=on("trickle.test"))
        elapsed = time.monotonic() - started
    assert len(response.content) == 100_000
    assert elapsed >= 0.45  # 100 kB at 200 kB/s


async def test_error_rate_answers_503(served: Served) -> None:
    served.network.set_faults({"hello.test": Faults(error_rate=1.0)})
    async with served.client() as client:
        response = await client.get("/", headers=on("hello.test"))
    assert response.status_code == 503
    assert response.json()["error"] == "ServiceUnavailable"


async def test_head_gets_headers_only(served: Served) -> None:
    async with served.client() as client:
        response = await client.head("/", headers=on("sized.test"))
    assert response.status_code == 200
    assert response.headers["content-length"] == str(3 * MB)
    assert response.content == b""


async def raw_exchange(server: SandboxHttpServer, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data)
        writer.write_eof()
        await writer.drain()
        with anyio.fail_after(2):
            return await reader.read()  # until the server closes
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\n\r\n", b"400"),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.0\r\n\r\n", b"400"),  # no Host at all: no sandbox host to ask
        (b"GET * HTTP/1.1\r\nHost: hello.test\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 99999999\r\n\r\n", b"413"),
        (b"GET / HTTP/1.1\r\nHost: hello.test\r\nX: " + b"a" * 200_000 + b"\r\n\r\n", b"431"),
    ],
)
async def test_bad_requests_get_an_error_and_the_server_survives(
    served: Served, request_bytes: bytes, status: bytes
) -> None:
    answer = await raw_exchange(served.server, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:100]
    assert b'"error":"InvalidRequest"' in answer
    async with served.client() as client:
        assert (await client.get("/", headers=on("hello.test"))).status_code == 200


async def test_http_1_0_is_answered_and_closed(served: Served) -> None:
    answer = await raw_exchange(served.server, b"GET /x HTTP/1.0\r\nHost: trickle.test\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()  # HTTP/1.0 has no chunks: EOF ends the body
    assert body == b"t" * 100_000


async def test_an_idle_connection_is_closed(anyio_backend: str) -> None:
    async with SandboxHttpServer(Network(), idle_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\n")  # and then nothing more
        await writer.drain()
        with anyio.fail_after(2):
            assert await reader.read() == b""
            await server.wait_idle()
        writer.close()
        await writer.wait_closed()


async def test_close_ends_streaming_connections(anyio_backend: str) -> None:
    hosts = Hosts()
    network = Network()
    network.add("endless.test", hosts.endless)
    server = SandboxHttpServer(network)
    await server.start()
    async with httpx.AsyncClient(base_url=server.origin, trust_env=False) as client:
        async with client.stream("GET", "/", headers=on("endless.test")) as response:
            pieces = response.aiter_raw()
            await pieces.__anext__()
            with anyio.fail_after(2):
                await server.close()
            with pytest.raises(httpx.HTTPError):
                async for _ in pieces:
                    pass
    assert server.open_connections == 0
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
        sock.bind(("127.0.0.1", server.port))  # nothing listens there any more


async def test_a_port_in_use_is_a_clear_error(anyio_backend: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with anyio.fail_after(2), pytest.raises(PortInUseError) as error:
            await SandboxHttpServer(Network(), port=port).start()
    assert str(error.value) == (
        f"HTTP port {port} on 127.0.0.1 is already in use "
        "(choose another port, or 0 for a free one)"
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "example.test", "::"])
def test_only_loopback_addresses_are_bound(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SandboxHttpServer(Network(), host=host)


def test_the_port_is_known_only_once_started() -> None:
    with pytest.raises(RuntimeError, match="not been started"):
        _ = SandboxHttpServer(Network()).port


async def test_ipv6_loopback(anyio_backend: str) -> None:
    network = Network()
    network.add("hello.test", Hosts().hello)
    try:
        server = SandboxHttpServer(network, host="::1")
        await server.start()
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    try:
        assert server.origin == f"http://[::1]:{server.port}"
        async with httpx.AsyncClient(base_url=server.origin, trust_env=False) as client:
            response = await client.get("/", headers=on("hello.test"))
        assert json.loads(response.content)["host"] == "hello.test"
    finally:
        await server.close()

"""The sandbox DNS server over real loopback sockets: TXT, A, NXDOMAIN and no-data over UDP and
TCP through dnspython's resolver and the project's own, truncation and the TCP retry it causes,
and garbage that must not stop it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import AsyncIterator, Iterator

import anyio
import dns.asyncquery
import dns.asyncresolver
import dns.flags
import dns.message
import dns.nameserver
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest

from auditor.models.common import FailureKind
from auditor.net.dns import DnsError, DnspythonResolver
from auditor.sandbox.dns_server import SandboxDnsServer, txt_strings
from auditor.sandbox.http_server import PortInUseError
from auditor.sandbox.zone import Origin, Zone

pytestmark = [pytest.mark.anyio, pytest.mark.network]

LONG = "did=" + "x" * 600  # one record, three character-strings, over 512 bytes on the wire
MANY = [f"record {i:02d} " + "y" * 60 for i in range(12)]  # twelve short records, ~850 bytes


def make_zone() -> Zone:
    zone = Zone()
    zone.add_txt("_atproto.alice.test", "did=did:plc:alice")
    zone.add_txt("long.test", LONG)
    zone.add_txt("many.test", *MANY)
    zone.addresses["host.test"] = ["127.10.0.1", "127.10.0.2"]
    return zone


@pytest.fixture
async def server(anyio_backend: str) -> AsyncIterator[SandboxDnsServer]:
    async with SandboxDnsServer(make_zone()) as running:
        yield running


def resolver_for(
    server: SandboxDnsServer, *, edns_payload: int | None = None
) -> dns.asyncresolver.Resolver:
    """dnspython's resolver asking only ``server`` (no EDNS unless a payload size is given)."""
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", server.port)]
    resolver.cache = None
    resolver.lifetime = 2.0
    if edns_payload is None:
        resolver.use_edns(-1)
    else:
        resolver.use_edns(0, 0, edns_payload)
    return resolver


def strings_of(answer: dns.resolver.Answer) -> list[bytes]:
    return [b"".join(rdata.strings) for rdata in answer]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_txt_answer(server: SandboxDnsServer, tcp: bool) -> None:
    answer = await resolver_for(server).resolve("_atproto.alice.test", "TXT", tcp=tcp)
    assert strings_of(answer) == [b"did=did:plc:alice"]
    assert answer.response.flags & dns.flags.AA
    assert (server.tcp_queries, server.udp_queries) == ((1, 0) if tcp else (0, 1))


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_a_answer(server: SandboxDnsServer, tcp: bool) -> None:
    answer = await resolver_for(server).resolve("host.test", "A", tcp=tcp)
    assert sorted(rdata.to_text() for rdata in answer) == ["127.10.0.1", "127.10.0.2"]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
async def test_unknown_name_is_nxdomain(server: SandboxDnsServer, tcp: bool) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver_for(server).resolve("nobody.test", "TXT", tcp=tcp)


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize(
    ("name", "rdtype"),
    [
        ("host.test", "AAAA"),
        ("host.test", "TXT"),
        ("_atproto.alice.test", "A"),
        ("host.test", "MX"),
    ],
)
async def test_known_name_without_that_type_is_no_data(
    server: SandboxDnsServer, tcp: bool, name: str, rdtype: str
) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        await resolver_for(server).resolve(name, rdtype, tcp=tcp)


async def test_names_are_case_insensitive(server: SandboxDnsServer) -> None:
    answer = await resolver_for(server).resolve("_ATPROTO.Alice.TEST", "TXT")
    assert strings_of(answer) == [b"did=did:plc:alice"]
    assert answer.rrset is not None
    assert answer.rrset.name.to_text() == "_ATPROTO.Alice.TEST."  # the question's spelling


async def test_long_txt_is_split_into_character_strings(server: SandboxDnsServer) -> None:
    answer = await resolver_for(server, edns_payload=4096).resolve("long.test", "TXT")
    (rdata,) = list(answer)
    assert [len(s) for s in rdata.strings] == [255, 255, 94]
    assert b"".join(rdata.strings) == LONG.encode()


def test_txt_strings_split_bytes_not_characters() -> None:
    value = "é" * 200  # 400 bytes of UTF-8
    parts = txt_strings(value)
    assert [len(p) for p in parts] == [255, 145]
    assert b"".join(parts).decode() == value
    assert txt_strings("") == [b""]


async def test_truncation_makes_the_resolver_retry_over_tcp(server: SandboxDnsServer) -> None:
    answer = await resolver_for(server).resolve("many.test", "TXT")
    assert sorted(strings_of(answer)) == [m.encode() for m in MANY]
    assert server.truncated == 1
    assert (server.udp_queries, server.tcp_queries) == (1, 1)


async def test_truncated_udp_answer_has_tc_and_no_records(server: SandboxDnsServer) -> None:
    query = dns.message.make_query("many.test", "TXT", use_edns=False)
    response = await dns.asyncquery.udp(
        query, "127.0.0.1", port=server.port, timeout=2, ignore_trailing=True
    )
    assert response.flags & dns.flags.TC
    assert response.answer == []
    assert len(response.to_wire()) <= 512


async def test_edns_payload_avoids_truncation(server: SandboxDnsServer) -> None:
    answer = await resolver_for(server, edns_payload=4096).resolve("many.test", "TXT")
    assert len(answer) == len(MANY)
    assert (server.truncated, server.tcp_queries) == (0, 0)


async def test_the_audit_resolver_reads_the_zone(server: SandboxDnsServer) -> None:
    resolver = DnspythonResolver([server.address], timeout=1.0)
    assert await resolver.txt("_atproto.alice.test", timeout=2) == ["did=did:plc:alice"]
    assert await resolver.txt("long.test", timeout=2) == [LONG]  # TC, TCP retry, strings joined
    assert [str(a) for a in await resolver.addresses("host.test", timeout=2)] == [
        "127.10.0.1",
        "127.10.0.2",
    ]
    with pytest.raises(DnsError) as nxdomain:
        await resolver.txt("_atproto.nobody.test", timeout=2)
    assert nxdomain.value.kind is FailureKind.DNS_NXDOMAIN
    with pytest.raises(DnsError) as no_data:
        await resolver.addresses("_atproto.alice.test", timeout=2)
    assert no_data.value.kind is FailureKind.DNS_NO_ANSWER


async def test_other_classes_and_opcodes_are_refused(server: SandboxDnsServer) -> None:
    chaos = dns.message.make_query("host.test", "TXT", rdclass=dns.rdataclass.CH)
    response = await dns.asyncquery.udp(chaos, "127.0.0.1", port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.REFUSED
    notify = dns.message.make_query("host.test", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    response = await dns.asyncquery.udp(notify, "127.0.0.1", port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.NOTIMP


async def test_garbage_does_not_stop_the_server(
    server: SandboxDnsServer, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(3)
    valid = dns.message.make_query("host.test", "A").to_wire()
    reply = dns.message.make_response(dns.message.make_query("host.test", "A")).to_wire()
    packets = [
        b"\x00",
        b"\xff" * 4096,
        valid[:10],  # a header cut short
        valid[:-3],  # a question cut short
        reply,  # a response, not a query: never answered (no loops)
        *(rng.randbytes(rng.randrange(12, 600)) for _ in range(50)),
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, ("127.0.0.1", server.port))
    # over TCP: a frame of garbage, then a frame announcing more than is sent before EOF
    for frame in (len(b"garbage").to_bytes(2, "big") + b"garbage", b"\x01\x00abc"):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(frame)
        await writer.drain()
        if frame.startswith(b"\x01\x00"):
            writer.write_eof()
        with anyio.fail_after(2):
            assert await reader.read() == b""  # the server hung up
        writer.close()
        await writer.wait_closed()
    # still answering, on both transports
    resolver = resolver_for(server)
    for tcp in (False, True):
        answer = await resolver.resolve("host.test", "A", tcp=tcp)
        assert len(answer) == 2
    assert server.ignored >= len(packets) - 1  # random bytes may parse as a (strange) query
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_udp_and_tcp_share_the_port(server: SandboxDnsServer) -> None:
    assert server.address == f"127.0.0.1:{server.port}"
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock, pytest.raises(OSError):
            sock.bind(("127.0.0.1", server.port))


@contextlib.contextmanager
def _taken_port(kind: socket.SocketKind) -> Iterator[int]:
    """A port held with ``kind`` whose other protocol is free (else, on a busy machine, the
    server could fail on the other protocol first, a different, also correct, error)."""
    other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as taken:
            taken.bind(("127.0.0.1", 0))
            port: int = taken.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, other) as probe:
                    probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            if kind == socket.SOCK_STREAM:
                taken.listen()
            yield port
            return
    raise RuntimeError("no port free for both protocols")


@pytest.mark.parametrize("kind", [socket.SOCK_DGRAM, socket.SOCK_STREAM], ids=["udp", "tcp"])
async def test_a_port_in_use_is_a_clear_error(anyio_backend: str, kind: socket.SocketKind) -> None:
    with _taken_port(kind) as port:
        server = SandboxDnsServer(make_zone(), port=port)
        with anyio.fail_after(2), pytest.raises(PortInUseError) as error:
            await server.start()
    assert str(error.value).startswith(
        f"DNS ({'UDP' if kind == socket.SOCK_DGRAM else 'TCP'}) port {port}"
    )
    assert "already in use" in str(error.value)
    with pytest.raises(RuntimeError):
        _ = server.port
    await server.close()  # nothing to close, no error


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "localhost", "::"])
def test_only_loopback_addresses_are_bound(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        SandboxDnsServer(make_zone(), host=host)


async def test_names_written_in_any_case_or_with_a_trailing_dot_are_found(
    anyio_backend: str,
) -> None:
    zone = make_zone()
    zone.txt["_ATPROTO.Bob.Test."] = ["did=did:plc:bob"]
    zone.addresses["Mixed.Test."] = ["127.10.0.9"]
    assert "_atproto.bob.test" in zone.txt and "mixed.test" in zone.addresses
    assert "MIXED.test." in zone.addresses and zone.addresses.get("Mixed.test") == ["127.10.0.9"]
    origin = Origin(asn=64512, name="sandbox", prefix="127.20.0.0/16")
    assert zone.add_host("Pds.Test.", origin) == zone.add_host("pds.test", origin)
    assert Zone(txt={"A.Test.": ["x"]}).txt["a.test"] == ["x"]
    async with SandboxDnsServer(zone) as running:
        answer = await resolver_for(running).resolve("_atproto.bob.test", "TXT")
        assert strings_of(answer) == [b"did=did:plc:bob"]
        address = await resolver_for(running).resolve("MIXED.test", "A")
        assert [rdata.address for rdata in address] == ["127.10.0.9"]

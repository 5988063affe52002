"""DNS: nameserver parsing, failure mapping against a real DNS server on 127.0.0.1, the per-run
cache, RFC 6761 localhost, and the StaticResolver used by the other tests."""

from __future__ import annotations

import asyncio
import re
import time
from ipaddress import IPv4Address, IPv6Address, ip_address

import dns.exception
import dns.name
import dns.resolver
import pytest

from auditor.models.common import FailureKind
from auditor.net.dns import (
    ADDR,
    TXT,
    DnsError,
    DnspythonResolver,
    StaticResolver,
    dns_error_from,
    is_localhost,
    merge_address_results,
    parse_nameserver,
)

pytestmark = pytest.mark.anyio

K = FailureKind


# --- parse_nameserver ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1.1.1.1", ("1.1.1.1", 53)),
        (" 9.9.9.9 ", ("9.9.9.9", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:4860:4860::8888]", ("2001:4860:4860::8888", 53)),
        ("::1", ("::1", 53)),
        ("2606:4700:4700::1111", ("2606:4700:4700::1111", 53)),
        ("10.0.0.1:65535", ("10.0.0.1", 65535)),
    ],
)
def test_parse_nameserver(spec: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(spec) == expected


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("dns.google", "must be an IP address"),
        ("localhost:53", "must be an IP address"),
        ("", "must be an IP address"),
        ("1.1.1.1:0", "between 1 and 65535"),
        ("1.1.1.1:70000", "between 1 and 65535"),
        ("1.1.1.1:dns", "between 1 and 65535"),
        ("1.1.1.1:", "between 1 and 65535"),
        ("[::1", "[IPv6]"),
        ("[::1]53", "[IPv6]"),
        ("[dns.google]:53", "must be an IP address"),
    ],
)
def test_parse_nameserver_rejects(spec: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"nameserver {spec!r}")) as info:
        parse_nameserver(spec)
    assert fragment in str(info.value)


def test_resolver_rejects_bad_nameserver_at_construction() -> None:
    with pytest.raises(ValueError, match="must be an IP address"):
        DnspythonResolver(["dns.example"])


# --- DnspythonResolver against a real server on 127.0.0.1 ---------------------------------------


def resolver_for(dns_server, *, timeout: float = 1.0) -> DnspythonResolver:
    return DnspythonResolver([dns_server.address], timeout=timeout)


@pytest.mark.network
@pytest.mark.parametrize(
    ("name", "records"),
    [
        ("_atproto.alice.test", ["did=did:plc:alice"]),
        ("_atproto.split.test", ["did=did:plc:split"]),  # character-strings joined
        ("_ATPROTO.Alice.TEST.", ["did=did:plc:alice"]),  # case and trailing dot
    ],
)
async def test_txt_records(dns_server, name: str, records: list[str]) -> None:
    assert await resolver_for(dns_server).txt(name, timeout=2) == records


@pytest.mark.network
async def test_txt_two_records(dns_server) -> None:
    records = await resolver_for(dns_server).txt("_atproto.two.test", timeout=2)
    assert sorted(records) == ["did=did:plc:one", "did=did:plc:two"]


@pytest.mark.network
@pytest.mark.parametrize(
    ("name", "kind", "fragment"),
    [
        ("_atproto.missing.test", K.DNS_NXDOMAIN, "NXDOMAIN"),
        ("_atproto.empty.test", K.DNS_NO_ANSWER, "no TXT record"),
        ("servfail.test", K.DNS_ERROR, "SERVFAIL"),
        ("slow.test", K.TIMEOUT, "timed out"),
        ("a..b.test", K.DNS_ERROR, "invalid DNS name"),
        ("x" * 64 + ".test", K.DNS_ERROR, "invalid DNS name"),
    ],
)
async def test_txt_failures(dns_server, name: str, kind: FailureKind, fragment: str) -> None:
    resolver = resolver_for(dns_server, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(DnsError) as info:
        await resolver.txt(name, timeout=0.4)
    assert time.monotonic() - started < 1.5
    error = info.value
    assert error.kind is kind
    assert error.name == name.lower()
    assert error.rdtype == "TXT"
    assert fragment in str(error)
    assert str(error).startswith(f"TXT {name.lower()}: ")
    assert "\n" not in str(error)


@pytest.mark.network
@pytest.mark.parametrize(
    ("name", "addresses"),
    [
        ("host.test", [IPv4Address("127.0.0.1"), IPv6Address("::1")]),
        ("v4only.test", [IPv4Address("10.0.0.1")]),
        ("v6only.test", [IPv6Address("fd00::1")]),
    ],
)
async def test_addresses(dns_server, name: str, addresses: list[object]) -> None:
    resolver = resolver_for(dns_server)
    assert await resolver.addresses(name, timeout=2) == addresses
    assert sorted(q for q in dns_server.queries if q[0] == name + ".") == [
        (name + ".", "A"),
        (name + ".", "AAAA"),
    ]


@pytest.mark.network
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("missing.test", K.DNS_NXDOMAIN),
        ("_atproto.alice.test", K.DNS_NO_ANSWER),  # TXT only
        ("servfail.test", K.DNS_ERROR),
        ("slow.test", K.TIMEOUT),
    ],
)
async def test_address_failures(dns_server, name: str, kind: FailureKind) -> None:
    with pytest.raises(DnsError) as info:
        await resolver_for(dns_server, timeout=0.2).addresses(name, timeout=0.4)
    assert info.value.kind is kind
    assert info.value.rdtype == "A/AAAA"


@pytest.mark.network
async def test_one_lookup_per_name_and_type_per_run(dns_server) -> None:
    resolver = resolver_for(dns_server)
    first = await resolver.txt("_atproto.alice.test", timeout=2)
    again = await asyncio.gather(
        *(resolver.txt("_atproto.alice.test.", timeout=2) for _ in range(5))
    )
    assert again == [first] * 5
    await resolver.addresses("host.test", timeout=2)
    await resolver.addresses("HOST.test", timeout=2)
    assert dns_server.queries.count(("_atproto.alice.test.", "TXT")) == 1
    assert dns_server.queries.count(("host.test.", "A")) == 1
    assert dns_server.queries.count(("host.test.", "AAAA")) == 1
    assert resolver.lookups == 3


@pytest.mark.network
async def test_concurrent_callers_share_one_query(dns_server) -> None:
    resolver = resolver_for(dns_server)
    results = await asyncio.gather(*(resolver.addresses("host.test", timeout=2) for _ in range(8)))
    assert all(r == results[0] for r in results)
    assert dns_server.queries.count(("host.test.", "A")) == 1


@pytest.mark.network
async def test_failures_are_cached_too(dns_server) -> None:
    resolver = resolver_for(dns_server)
    for _ in range(3):
        with pytest.raises(DnsError):
            await resolver.txt("_atproto.missing.test", timeout=2)
    assert dns_server.queries.count(("_atproto.missing.test.", "TXT")) == 1


@pytest.mark.network
async def test_the_cache_is_bounded_least_recently_used_first(
    dns_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("auditor.net.dns.MAX_CACHED_ANSWERS", 2)
    resolver = resolver_for(dns_server)
    for name in ("_atproto.alice.test", "_atproto.split.test"):
        await resolver.txt(name, timeout=2)
    await resolver.txt("_atproto.alice.test", timeout=2)  # alice is now the most recent
    await resolver.txt("_atproto.two.test", timeout=2)  # evicts split, the least recent
    await resolver.txt("_atproto.alice.test", timeout=2)
    await resolver.txt("_atproto.split.test", timeout=2)
    assert dns_server.queries.count(("_atproto.alice.test.", "TXT")) == 1
    assert dns_server.queries.count(("_atproto.split.test.", "TXT")) == 2
    assert len(resolver._answers) == 2


@pytest.mark.network
async def test_timeouts_are_not_cached(dns_server) -> None:
    # slow.test never answers: a timeout is a fact about that moment, not about the name
    resolver = resolver_for(dns_server)
    for _ in range(2):
        with pytest.raises(DnsError) as caught:
            await resolver.txt("slow.test", timeout=0.2)
        assert caught.value.kind is FailureKind.TIMEOUT
    assert dns_server.queries.count(("slow.test.", "TXT")) >= 2


@pytest.mark.network
async def test_cancelled_caller_does_not_cancel_the_shared_query(dns_server) -> None:
    resolver = resolver_for(dns_server)
    impatient = asyncio.ensure_future(resolver.txt("_atproto.alice.test", timeout=2))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await resolver.txt("_atproto.alice.test", timeout=2) == ["did=did:plc:alice"]
    assert dns_server.queries.count(("_atproto.alice.test.", "TXT")) == 1


@pytest.mark.network
@pytest.mark.parametrize("name", ["localhost", "LOCALHOST.", "pds.localhost", "a.b.localhost"])
async def test_localhost_answers_loopback_without_dns(dns_server, name: str) -> None:
    resolver = resolver_for(dns_server)
    assert await resolver.addresses(name, timeout=1) == [
        IPv4Address("127.0.0.1"),
        IPv6Address("::1"),
    ]
    with pytest.raises(DnsError) as info:
        await resolver.txt(name, timeout=1)
    assert info.value.kind is K.DNS_NO_ANSWER
    assert dns_server.queries == []
    assert resolver.lookups == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("localhost", True),
        ("localhost.", True),
        ("x.localhost", True),
        ("notlocalhost", False),
        ("localhost.example", False),
        ("localhost.test", False),
    ],
)
def test_is_localhost(name: str, expected: bool) -> None:
    assert is_localhost(name) is expected


# --- mapping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (dns.resolver.NXDOMAIN(), K.DNS_NXDOMAIN),
        (dns.resolver.NoAnswer(), K.DNS_NO_ANSWER),
        (dns.exception.Timeout(), K.TIMEOUT),
        (dns.resolver.NoNameservers(), K.DNS_ERROR),
        (dns.resolver.NoResolverConfiguration(), K.DNS_ERROR),
        (dns.resolver.YXDOMAIN(), K.DNS_ERROR),
        (dns.name.EmptyLabel(), K.DNS_ERROR),
        (OSError("network unreachable"), K.DNS_ERROR),
    ],
)
def test_dns_error_from(exc: BaseException, kind: FailureKind) -> None:
    error = dns_error_from(exc, "x.test", "TXT")
    assert error.kind is kind
    assert error.name == "x.test"


def test_no_system_configuration_says_what_to_do() -> None:
    error = dns_error_from(dns.resolver.NoResolverConfiguration(), "x.test", "A")
    assert "--nameserver" in str(error)


V4 = [IPv4Address("192.0.2.1")]
V6 = [IPv6Address("2001:db8::1")]


def err(kind: FailureKind) -> DnsError:
    return DnsError(kind, "x.test", "A")


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([V4, V6], V4 + V6),
        ([V4, err(K.DNS_NO_ANSWER)], V4),
        ([err(K.TIMEOUT), V6], V6),
        ([err(K.DNS_NO_ANSWER), err(K.DNS_NO_ANSWER)], K.DNS_NO_ANSWER),
        ([err(K.DNS_NO_ANSWER), err(K.TIMEOUT)], K.TIMEOUT),
        ([err(K.DNS_ERROR), err(K.DNS_NO_ANSWER)], K.DNS_ERROR),
        ([err(K.TIMEOUT), err(K.DNS_NXDOMAIN)], K.DNS_NXDOMAIN),
        ([[], []], K.DNS_NO_ANSWER),
    ],
)
def test_merge_address_results(results: list[object], expected: object) -> None:
    if isinstance(expected, FailureKind):
        with pytest.raises(DnsError) as info:
            merge_address_results("x.test", results)  # type: ignore[arg-type]
        assert info.value.kind is expected
    else:
        assert merge_address_results("x.test", results) == expected  # type: ignore[arg-type]


# --- StaticResolver ----------------------------------------------------------------------------


async def test_static_resolver_answers_from_tables() -> None:
    resolver = StaticResolver(
        txt={"_atproto.alice.test": ["did=did:plc:alice"]},
        addresses={"pds.test.": ["192.0.2.7", "2001:db8::7"]},
    )
    assert await resolver.txt("_atproto.Alice.test.", timeout=1) == ["did=did:plc:alice"]
    assert await resolver.addresses("PDS.test", timeout=1) == [
        ip_address("192.0.2.7"),
        ip_address("2001:db8::7"),
    ]
    assert resolver.queries == [("_atproto.alice.test", TXT), ("pds.test", ADDR)]


@pytest.mark.parametrize(
    ("call", "name", "kind"),
    [
        ("txt", "unknown.test", K.DNS_NXDOMAIN),
        ("addresses", "unknown.test", K.DNS_NXDOMAIN),
        ("txt", "pds.test", K.DNS_NO_ANSWER),
        ("addresses", "_atproto.alice.test", K.DNS_NO_ANSWER),
        ("txt", "broken.test", K.DNS_ERROR),
        ("addresses", "slow.test", K.TIMEOUT),
        ("addresses", "gone.test", K.DNS_NXDOMAIN),
    ],
)
async def test_static_resolver_failures(call: str, name: str, kind: FailureKind) -> None:
    resolver = StaticResolver(
        txt={"_atproto.alice.test": ["did=did:plc:alice"]},
        addresses={"pds.test": ["192.0.2.7"], "gone.test": ["192.0.2.8"]},
        failures={
            ("broken.test", TXT): K.DNS_ERROR,
            ("slow.test", ADDR): K.TIMEOUT,
            ("gone.test", ADDR): K.DNS_NXDOMAIN,
        },
    )
    with pytest.raises(DnsError) as info:
        await getattr(resolver, call)(name, timeout=1)
    assert info.value.kind is kind
    assert info.value.name == name


async def test_static_resolver_localhost() -> None:
    resolver = StaticResolver(addresses={"override.localhost": ["127.0.0.2"]})
    assert await resolver.addresses("pds.localhost", timeout=1) == [
        IPv4Address("127.0.0.1"),
        IPv6Address("::1"),
    ]
    assert await resolver.addresses("override.localhost", timeout=1) == [IPv4Address("127.0.0.2")]


def test_static_resolver_rejects_unknown_failure_type() -> None:
    with pytest.raises(ValueError, match="'TXT', 'ADDR' or 'SRV'"):
        StaticResolver(failures={("x.test", "MX"): K.DNS_ERROR})


def test_static_resolver_rejects_bad_address() -> None:
    with pytest.raises(ValueError):
        StaticResolver(addresses={"x.test": ["not-an-ip"]})

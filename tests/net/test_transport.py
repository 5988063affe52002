"""The destination policy: connect-to, the address guard, the https rule, the pinned connection
pool (DNS rebinding), proxies and the TLS context. Decisions are asserted to happen before the
inner transport (respx) or backend is called; real connections go to 127.0.0.1/::1 only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address

import httpcore
import httpx
import pytest
import respx

from auditor.models.common import FailureKind
from auditor.net.addresses import IPAddress
from auditor.net.client import build_client
from auditor.net.dns import ADDR, StaticResolver
from auditor.net.pool import ShardedConnectionPool
from auditor.net.transport import (
    REDIRECTED_FROM,
    BlockedDestination,
    ConnectTo,
    DestinationGuard,
    DestinationUnresolved,
    GuardedHTTPTransport,
    GuardedNetworkBackend,
    PolicyTransport,
    _replace_pool,
    build_ssl_context,
)
from auditor.settings import AuditSettings

pytestmark = pytest.mark.anyio

K = FailureKind
PUBLIC_IP = "93.184.216.34"


def mocked(
    settings: AuditSettings, resolver: StaticResolver
) -> tuple[httpx.AsyncClient, respx.Router]:
    """A client whose inner transport is a respx router that fails on any unmocked request."""
    router = respx.Router(assert_all_mocked=True)
    client = build_client(settings, resolver, transport=httpx.MockTransport(router.async_handler))
    return client, router


# --- connect-to ----------------------------------------------------------------------------------


async def test_connect_to_keeps_host_header_path_and_query() -> None:
    settings = AuditSettings(
        allow_private=True, connect_to={"pds.example.com": "http://127.0.0.1:2583"}
    )
    resolver = StaticResolver()
    client, router = mocked(settings, resolver)
    route = router.get("http://127.0.0.1:2583/xrpc/com.atproto.server.describeServer?x=1")
    route.respond(200, json={"ok": True})
    async with client:
        response = await client.get(
            "https://pds.example.com/xrpc/com.atproto.server.describeServer?x=1"
        )
    assert response.status_code == 200
    sent = route.calls.last.request
    assert sent.headers["host"] == "pds.example.com"
    assert str(response.request.url).startswith("https://pds.example.com/")
    assert resolver.queries == []  # the original host is never resolved


@pytest.mark.parametrize(
    ("table", "url", "expected"),
    [
        ({"a.test": "http://127.0.0.1:1"}, "https://a.test/p?q=1", "http://127.0.0.1:1/p?q=1"),
        ({"A.Test.": "http://127.0.0.1:1"}, "https://a.test:8443/p", "http://127.0.0.1:1/p"),
        ({"a.test:443": "http://127.0.0.1:1"}, "https://a.test/p", "http://127.0.0.1:1/p"),
        ({"a.test:8443": "http://127.0.0.1:1"}, "https://a.test/p", "https://a.test/p"),
        ({"a.test:8443": "http://127.0.0.1:1"}, "https://a.test:8443/p", "http://127.0.0.1:1/p"),
        ({"a.test": "http://127.0.0.1:1/base/"}, "https://a.test/p", "http://127.0.0.1:1/base/p"),
        ({"[::1]:443": "http://127.0.0.1:1"}, "https://[::1]/p", "http://127.0.0.1:1/p"),
        ({"b.test": "http://127.0.0.1:1"}, "https://a.test/p", "https://a.test/p"),
        ({"a.test": "https://[::1]:8443"}, "https://a.test/", "https://[::1]:8443/"),
        ({"*.a.test": "http://127.0.0.1:1"}, "https://x.y.a.test/p", "http://127.0.0.1:1/p"),
        ({"*.a.test": "http://127.0.0.1:1"}, "https://a.test/p", "https://a.test/p"),
        ({"*.a.test": "http://127.0.0.1:1"}, "https://xa.test/p", "https://xa.test/p"),
        (
            {"*.a.test": "http://127.0.0.1:1", "x.a.test": "http://127.0.0.1:2"},
            "https://x.a.test/p",
            "http://127.0.0.1:2/p",
        ),
        (
            {"*.test": "http://127.0.0.1:1", "*.a.test": "http://127.0.0.1:2"},
            "https://x.a.test/p",
            "http://127.0.0.1:2/p",
        ),
        ({"*.a.test:8443": "http://127.0.0.1:1"}, "https://x.a.test/p", "https://x.a.test/p"),
        ({"*.1": "http://127.0.0.1:1"}, "https://10.0.0.1/p", "https://10.0.0.1/p"),
    ],
)
def test_connect_to_rewrite(table: dict[str, str], url: str, expected: str) -> None:
    assert str(ConnectTo(table).rewrite(httpx.URL(url))) == expected


@pytest.mark.parametrize(
    "table",
    [
        {"a.test": "ftp://127.0.0.1/"},
        {"a.test": "127.0.0.1:80"},
        {"a.test:https": "http://x/"},
        {"*.": "http://127.0.0.1/"},
        {"*.*.test": "http://127.0.0.1/"},
    ],
)
def test_connect_to_rejects_bad_entries(table: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="--connect-to"):
        ConnectTo(table)


async def test_connect_to_target_is_vetted_like_any_destination() -> None:
    settings = AuditSettings(connect_to={"pds.example.com": "http://127.0.0.1:2583"})
    client, router = mocked(settings, StaticResolver())
    async with client:
        with pytest.raises(BlockedDestination) as info:
            await client.get("https://pds.example.com/")
    assert info.value.kind is K.BLOCKED_ADDRESS
    assert "127.0.0.1 is loopback; needs --allow-private" in str(info.value)
    assert not router.calls


# --- the address guard ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addresses", "allow_private", "fragment"),
    [
        (["169.254.169.254"], False, "169.254.169.254 is link-local (cloud metadata range)"),
        (["169.254.169.254"], True, "refused always"),
        (["fe80::1"], True, "fe80::1 is link-local"),
        (["127.0.0.1"], False, "127.0.0.1 is loopback; needs --allow-private"),
        (["::1"], False, "::1 is loopback"),
        (["10.0.0.1"], False, "10.0.0.1 is private"),
        (["100.64.1.1"], False, "100.64.1.1 is private"),
        (["fd00::1"], False, "fd00::1 is private"),
        (["224.0.0.1"], True, "multicast"),
        (["192.0.2.1"], True, "reserved"),
        (["0.0.0.0"], True, "unspecified"),
        (["::ffff:169.254.169.254"], True, "embedding 169.254.169.254"),
        (["64:ff9b::7f00:1"], False, "embedding 127.0.0.1"),
        (["2002:a9fe:a9fe::1"], True, "link-local"),
        ([PUBLIC_IP, "10.0.0.1"], False, "10.0.0.1 is private"),  # every address counts
        ([PUBLIC_IP, "169.254.169.254"], True, "169.254.169.254"),
    ],
)
async def test_guard_refuses_before_the_inner_transport(
    addresses: list[str], allow_private: bool, fragment: str
) -> None:
    resolver = StaticResolver(addresses={"evil.test": addresses})
    client, router = mocked(AuditSettings(allow_private=allow_private), resolver)
    async with client:
        with pytest.raises(BlockedDestination) as info:
            await client.get("https://evil.test/xrpc/x")
    assert info.value.kind is K.BLOCKED_ADDRESS
    assert str(info.value).startswith("evil.test: ")
    assert fragment in str(info.value)
    assert not router.calls


@pytest.mark.parametrize(
    ("url", "allow_private"),
    [
        ("https://169.254.169.254/latest/meta-data/", True),
        ("https://127.0.0.1/", False),
        ("https://[::1]:8443/", False),
        ("https://[::ffff:127.0.0.1]/", False),
        ("https://[fe80::1]/", True),
        ("https://10.1.2.3/", False),
        ("https://0.0.0.0/", True),
        ("https://255.255.255.255/", True),
    ],
)
async def test_ip_literals_are_vetted_without_dns(url: str, allow_private: bool) -> None:
    resolver = StaticResolver()
    client, router = mocked(AuditSettings(allow_private=allow_private), resolver)
    async with client:
        with pytest.raises(BlockedDestination) as info:
            await client.get(url)
    assert info.value.kind is K.BLOCKED_ADDRESS
    assert resolver.queries == []
    assert not router.calls


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("https://pds.test/", ["127.0.0.1"]),
        ("https://pds.test/", ["10.0.0.5", "fd00::5"]),
        ("https://127.0.0.1:8443/", []),
        ("http://pds.test:2583/", ["127.0.0.1"]),
        ("http://pds.test/", ["192.168.1.10"]),
        ("http://localhost:2583/", []),
        ("http://pds.localhost:2583/", []),
    ],
)
async def test_allow_private_permits_loopback_and_private(url: str, addresses: list[str]) -> None:
    resolver = StaticResolver(addresses={"pds.test": addresses} if addresses else {})
    client, router = mocked(AuditSettings(allow_private=True), resolver)
    router.get(url).respond(200, json={})
    async with client:
        response = await client.get(url)
    assert response.status_code == 200


async def test_public_destination_is_permitted() -> None:
    resolver = StaticResolver(addresses={"pds.example.com": [PUBLIC_IP, "2606:2800:220:1::1"]})
    client, router = mocked(AuditSettings(), resolver)
    route = router.get("https://pds.example.com/x").respond(200, json={})
    async with client:
        await client.get("https://pds.example.com/x")
    assert route.called
    assert resolver.queries == [("pds.example.com", ADDR)]


async def test_numeric_host_names_are_not_ip_literals() -> None:
    """getaddrinfo would read ``2130706433`` as 127.0.0.1; our resolver treats it as a name."""
    resolver = StaticResolver()
    client, router = mocked(AuditSettings(), resolver)
    async with client:
        with pytest.raises(DestinationUnresolved) as info:
            await client.get("https://2130706433/")
    assert info.value.kind is K.DNS_NXDOMAIN
    assert resolver.queries == [("2130706433", ADDR)]
    assert not router.calls


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (K.DNS_NXDOMAIN, K.DNS_NXDOMAIN),
        (K.DNS_NO_ANSWER, K.DNS_NO_ANSWER),
        (K.DNS_ERROR, K.DNS_ERROR),
        (K.TIMEOUT, K.TIMEOUT),
    ],
)
async def test_dns_failures_surface_with_their_kind(
    failure: FailureKind, kind: FailureKind
) -> None:
    resolver = StaticResolver(failures={("pds.test", ADDR): failure})
    client, router = mocked(AuditSettings(), resolver)
    async with client:
        with pytest.raises(DestinationUnresolved) as info:
            await client.get("https://pds.test/")
    assert info.value.kind is kind
    assert info.value.dns_error.name == "pds.test"
    assert "pds.test" in str(info.value)
    assert not router.calls


async def test_empty_address_list_is_no_answer() -> None:
    client, _ = mocked(AuditSettings(), StaticResolver(addresses={"pds.test": []}))
    async with client:
        with pytest.raises(DestinationUnresolved) as info:
            await client.get("https://pds.test/")
    assert info.value.kind is K.DNS_NO_ANSWER


# --- the https rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("allow_private", [False, True])
async def test_plain_http_to_public_is_insecure(allow_private: bool) -> None:
    resolver = StaticResolver(addresses={"pds.example.com": [PUBLIC_IP]})
    client, router = mocked(AuditSettings(allow_private=allow_private), resolver)
    async with client:
        with pytest.raises(BlockedDestination) as info:
            await client.get("http://pds.example.com/")
    assert info.value.kind is K.INSECURE_TRANSPORT
    assert "plain http to pds.example.com (93.184.216.34), a public address, refused" in str(
        info.value
    )
    assert not router.calls


async def test_plain_http_to_loopback_without_allow_private_is_a_blocked_address() -> None:
    client, router = mocked(AuditSettings(), StaticResolver())
    async with client:
        with pytest.raises(BlockedDestination) as info:
            await client.get("http://127.0.0.1:2583/")
    assert info.value.kind is K.BLOCKED_ADDRESS
    assert not router.calls


async def test_downgrade_is_named_as_such() -> None:
    resolver = StaticResolver(addresses={"pds.example.com": [PUBLIC_IP]})
    client, router = mocked(AuditSettings(), resolver)
    async with client:
        request = client.build_request(
            "GET", "http://pds.example.com/x", extensions={REDIRECTED_FROM: "https://a.test/"}
        )
        with pytest.raises(BlockedDestination) as info:
            await client.send(request)
    assert info.value.kind is K.INSECURE_TRANSPORT
    assert "redirect from https://a.test/ downgrades to plain http" in str(info.value)
    assert not router.calls


async def test_https_connect_to_plain_http_private_target() -> None:
    """The documented sandbox setup: https names served by plain http on loopback."""
    settings = AuditSettings(allow_private=True, connect_to={"plc.test": "http://127.0.0.1:2582"})
    client, router = mocked(settings, StaticResolver())
    router.get("http://127.0.0.1:2582/did:plc:x").respond(200, json={})
    async with client:
        assert (await client.get("https://plc.test/did:plc:x")).status_code == 200


async def test_unsupported_scheme_is_refused() -> None:
    transport = PolicyTransport(AuditSettings(), StaticResolver(), inner=httpx.MockTransport(None))  # type: ignore[arg-type]
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://a.test/"))


# --- the pinned connection pool -----------------------------------------------------------------


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records connect attempts; connects for real only to the addresses in ``real``."""

    def __init__(self, real: Iterable[str] = ()) -> None:
        self.real = set(real)
        self.attempts: list[tuple[str, int]] = []
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        if host in self.real:
            assert host in ("127.0.0.1", "::1")
            return await self._backend.connect_tcp(host, port, timeout=timeout)
        raise httpcore.ConnectError(f"recorded only: {host}")


class FlippingResolver(StaticResolver):
    """Answers each addresses() call with the next list (a DNS-rebinding server)."""

    def __init__(self, answers: Sequence[Sequence[str]]) -> None:
        super().__init__()
        self.answers = [
            [IPv4Address(a) if "." in a else IPv6Address(a) for a in x] for x in answers
        ]

    async def addresses(self, name: str, *, timeout: float) -> list[IPAddress]:
        self.queries.append((name, ADDR))
        return list(self.answers[min(len(self.queries), len(self.answers)) - 1])


def test_guarded_pool_is_installed() -> None:
    """Pins httpx internals: fails loudly if an httpx upgrade moves ``_pool``."""
    transport = PolicyTransport(AuditSettings(), StaticResolver())
    inner = transport.inner
    assert isinstance(inner, GuardedHTTPTransport)
    pool = inner._pool
    assert isinstance(pool, ShardedConnectionPool)
    origin_pool = pool._factory(2, 1)
    assert type(origin_pool) is httpcore.AsyncConnectionPool
    assert origin_pool._network_backend is inner.backend
    assert inner.backend.guard is transport.guard


def test_replace_pool_refuses_unexpected_internals() -> None:
    proxied = httpx.AsyncHTTPTransport(proxy="http://127.0.0.1:3128")
    pool = httpcore.AsyncConnectionPool()
    with pytest.raises(RuntimeError, match="update GuardedHTTPTransport"):
        _replace_pool(proxied, pool)


@pytest.mark.network
async def test_real_transport_connects_to_the_resolved_address(http_server) -> None:
    """``pds.test`` exists only in our resolver: the pool cannot have used getaddrinfo."""
    http_server.routes["/hello"] = _json_handler(b'{"hello":"world"}')
    resolver = StaticResolver(addresses={"pds.test": ["127.0.0.1"]})
    async with build_client(AuditSettings(allow_private=True), resolver) as client:
        response = await client.get(f"http://pds.test:{http_server.port}/hello")
    assert response.json() == {"hello": "world"}
    assert http_server.seen[0].headers["host"] == f"pds.test:{http_server.port}"
    assert http_server.seen[0].headers["user-agent"].startswith("decaudit/")


@pytest.mark.network
async def test_backend_refuses_a_name_resolving_to_loopback(http_server) -> None:
    """The backend re-checks on its own, even when called without the PolicyTransport."""
    resolver = StaticResolver(addresses={"pds.test": ["127.0.0.1"]})
    guard = DestinationGuard(resolver, allow_private=False, timeout=1)
    async with GuardedHTTPTransport(
        GuardedNetworkBackend(guard), ssl_context=build_ssl_context(AuditSettings())
    ) as transport:
        with pytest.raises(BlockedDestination) as info:
            await transport.handle_async_request(
                httpx.Request("GET", f"http://pds.test:{http_server.port}/")
            )
    assert info.value.kind is K.BLOCKED_ADDRESS
    assert "pds.test: 127.0.0.1 is loopback" in str(info.value)
    assert http_server.seen == []


async def test_backend_surfaces_dns_failure_kind() -> None:
    resolver = StaticResolver(failures={("pds.test", ADDR): K.TIMEOUT})
    guard = DestinationGuard(resolver, allow_private=True, timeout=1)
    recording = RecordingBackend()
    async with GuardedHTTPTransport(
        GuardedNetworkBackend(guard, recording), ssl_context=build_ssl_context(AuditSettings())
    ) as transport:
        with pytest.raises(DestinationUnresolved) as info:
            await transport.handle_async_request(httpx.Request("GET", "http://pds.test:1/"))
    assert info.value.kind is K.TIMEOUT
    assert recording.attempts == []


async def test_dns_rebinding_is_refused_at_connect() -> None:
    """The guard sees a public address, the pool's lookup a metadata address: refused."""
    resolver = FlippingResolver([[PUBLIC_IP], ["169.254.169.254"]])
    transport = PolicyTransport(AuditSettings(), resolver)
    assert isinstance(transport.inner, GuardedHTTPTransport)
    recording = RecordingBackend()
    transport.inner.backend.inner = recording
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(BlockedDestination) as info:
            await client.get("https://rebind.test/")
    assert "169.254.169.254 is link-local" in str(info.value)
    assert recording.attempts == []
    assert len(resolver.queries) == 2


async def test_pool_connects_to_ip_literals_only() -> None:
    resolver = FlippingResolver([[PUBLIC_IP, "2606:2800:220:1::1"]])
    transport = PolicyTransport(AuditSettings(), resolver)
    assert isinstance(transport.inner, GuardedHTTPTransport)
    recording = RecordingBackend()  # never opens a socket for these
    transport.inner.backend.inner = recording
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("https://pds.example.com/")
    assert recording.attempts == [(PUBLIC_IP, 443), ("2606:2800:220:1::1", 443)]


@pytest.mark.network
async def test_backend_tries_each_vetted_address_in_order(http_server) -> None:
    http_server.routes["/x"] = _json_handler(b"{}")
    resolver = StaticResolver(addresses={"pds.test": ["::1", "127.0.0.1"]})
    transport = PolicyTransport(AuditSettings(allow_private=True), resolver)
    assert isinstance(transport.inner, GuardedHTTPTransport)
    recording = RecordingBackend(real=["127.0.0.1"])
    transport.inner.backend.inner = recording
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"http://pds.test:{http_server.port}/x")
    assert response.status_code == 200
    assert recording.attempts == [("::1", http_server.port), ("127.0.0.1", http_server.port)]


async def test_backend_refuses_unix_sockets() -> None:
    guard = DestinationGuard(StaticResolver(), allow_private=True, timeout=1)
    with pytest.raises(BlockedDestination):
        await GuardedNetworkBackend(guard).connect_unix_socket("/var/run/docker.sock")


# --- proxies ------------------------------------------------------------------------------------


@pytest.mark.network
async def test_http_proxy_from_environment(http_server, proxy_server, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy_server.origin)
    resolver = StaticResolver(addresses={"pds.test": ["127.0.0.1"]})
    async with build_client(AuditSettings(allow_private=True), resolver) as client:
        response = await client.get(f"http://pds.test:{http_server.port}/x")
    assert response.json() == {"via": "proxy"}
    assert proxy_server.seen[0].target == f"http://pds.test:{http_server.port}/x"
    assert http_server.seen == []
    assert resolver.queries == [("pds.test", ADDR)]  # the guard still vetted the destination


@pytest.mark.network
async def test_no_proxy_bypasses_the_proxy(http_server, proxy_server, monkeypatch) -> None:
    http_server.routes["/x"] = _json_handler(b'{"via":"direct"}')
    monkeypatch.setenv("HTTP_PROXY", proxy_server.origin)
    monkeypatch.setenv("NO_PROXY", "pds.test")
    resolver = StaticResolver(addresses={"pds.test": ["127.0.0.1"]})
    async with build_client(AuditSettings(allow_private=True), resolver) as client:
        response = await client.get(f"http://pds.test:{http_server.port}/x")
    assert response.json() == {"via": "direct"}
    assert proxy_server.seen == []


@pytest.mark.network
async def test_guard_applies_before_the_proxy(proxy_server, monkeypatch) -> None:
    monkeypatch.setenv("ALL_PROXY", proxy_server.origin)
    resolver = StaticResolver(addresses={"metadata.test": ["169.254.169.254"]})
    async with build_client(AuditSettings(allow_private=True), resolver) as client:
        with pytest.raises(BlockedDestination):
            await client.get("http://metadata.test/latest/meta-data/")
    assert proxy_server.seen == []


@pytest.mark.parametrize(
    ("environment", "url", "expected"),
    [
        ({"HTTPS_PROXY": "http://10.0.0.1:3128"}, "https://a.test/", "http://10.0.0.1:3128"),
        ({"HTTPS_PROXY": "http://10.0.0.1:3128"}, "http://a.test/", None),
        ({"HTTP_PROXY": "http://10.0.0.1:3128"}, "http://a.test/", "http://10.0.0.1:3128"),
        ({"ALL_PROXY": "http://10.0.0.2:3128"}, "https://a.test/", "http://10.0.0.2:3128"),
        ({"https_proxy": "http://10.0.0.1:3128", "no_proxy": ".test"}, "https://a.test/", None),
        ({"HTTPS_PROXY": "http://10.0.0.1:3128", "NO_PROXY": "*"}, "https://a.test/", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "b.test"}, "https://a.test/", "http://p:1"),
        ({}, "https://a.test/", None),
    ],
)
def test_proxy_selection(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], url: str, expected: str | None
) -> None:
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    transport = PolicyTransport(AuditSettings(), StaticResolver())
    assert transport._proxy_for(httpx.URL(url)) == expected


def test_injected_inner_transport_ignores_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    transport = PolicyTransport(AuditSettings(), StaticResolver(), inner=httpx.MockTransport(None))  # type: ignore[arg-type]
    assert transport._proxy_for(httpx.URL("https://a.test/")) is None


# --- TLS context --------------------------------------------------------------------------------


def test_tls_context_prefers_ca_bundle(self_signed, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/bundle.pem")
    context = build_ssl_context(AuditSettings(ca_bundle=str(self_signed.cert_path)))
    assert len(context.get_ca_certs()) == 1
    assert context.verify_mode.name == "CERT_REQUIRED"
    assert context.check_hostname


def test_tls_context_uses_ssl_cert_file(self_signed, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed.cert_path))
    assert len(build_ssl_context(AuditSettings()).get_ca_certs()) == 1


def test_tls_context_defaults_to_certifi() -> None:
    assert len(build_ssl_context(AuditSettings()).get_ca_certs()) > 50


def test_unreadable_ca_bundle_fails_at_construction(tmp_path, monkeypatch) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValueError, match=r"--ca-bundle .*missing.pem: cannot load CA"):
        build_client(AuditSettings(ca_bundle=str(missing)), StaticResolver())
    not_pem = tmp_path / "junk.pem"
    not_pem.write_text("not a certificate")
    monkeypatch.setenv("SSL_CERT_FILE", str(not_pem))
    with pytest.raises(ValueError, match=r"SSL_CERT_FILE .*junk.pem: cannot load CA"):
        build_client(AuditSettings(), StaticResolver())


@pytest.mark.network
async def test_tls_with_trusted_bundle_and_sni_of_connect_to_target(
    tls_server, self_signed
) -> None:
    settings = AuditSettings(
        allow_private=True,
        ca_bundle=str(self_signed.cert_path),
        connect_to={"pds.example.com": tls_server.origin},
    )
    async with build_client(settings, StaticResolver()) as client:
        response = await client.get("https://pds.example.com/ok")
    assert response.json() == {"tls": True}
    assert tls_server.seen[0].headers["host"] == "pds.example.com"


def _json_handler(body: bytes):
    async def handler(request, writer) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    return handler

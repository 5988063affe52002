"""The destination policy of every HTTP request, as an ``httpx`` transport.

:class:`PolicyTransport` wraps the transport that does the I/O and, for each request (redirect
hops included, because :class:`~auditor.net.fetch.Fetcher` follows them one request at a time):

1. applies ``--connect-to`` (``settings.connect_to``): ``https://HOST[:PORT]/p?q`` is sent to
   ``BASE_URL/p?q`` with the original ``Host`` header, like curl's option. Connection, TLS SNI
   and certificate checks then concern the BASE_URL host; that host is a destination like any
   other (``http://127.0.0.1:PORT`` needs ``--allow-private``);
2. resolves the destination host through the run's :class:`~auditor.net.dns.Resolver` (IP
   literals directly) and classifies **every** address (:mod:`auditor.net.addresses`); one
   refused address refuses the request with :class:`BlockedDestination` (``BLOCKED_ADDRESS``),
   a lookup failure raises :class:`DestinationUnresolved` carrying the DNS failure kind;
3. refuses plain ``http://`` (and so https→http redirect downgrades) unless every address of the
   destination is loopback or private and ``allow_private`` is set (``INSECURE_TRANSPORT``).

All of this happens before the inner transport is called, so a refused request opens no socket
(and a respx-mocked inner transport sees no request).

**Pinning (DNS rebinding).** Checking a name and then letting the connection pool resolve it
again with ``getaddrinfo`` would let a hostile DNS server answer "public" to the check and
"127.0.0.1" to the connect. So the real transport (built when ``inner`` is None) connects
through :class:`GuardedNetworkBackend`: it resolves the pool's host through the *same* resolver,
whose per-run cache returns the answer the guard vetted, re-checks every address and connects to
IP literals only (anyio does no lookup for a literal). httpx does not expose httpcore's
``network_backend``, so :class:`GuardedHTTPTransport` swaps the ``_pool`` attribute of
``httpx.AsyncHTTPTransport`` for an ``httpcore.AsyncConnectionPool`` built with the guarded
backend. That attribute is private: httpx is pinned ``<0.29`` in pyproject.toml, the swap checks
what it replaces and raises ``RuntimeError`` if httpx changed, and tests/net/test_transport.py
asserts the backend is really used.

**Proxies.** A custom transport disables httpx's environment proxies, so ``HTTPS_PROXY``,
``HTTP_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` are read here (stdlib ``urllib.request``
semantics) when the real transport is built. The guard still resolves and vets the destination
name through our resolver before a request is handed to the proxy; the proxy itself is
configuration and may be private. The proxy then resolves the name again, so protection against
rebinding between our check and its connect is the proxy's job. An injected ``inner`` transport
(tests, the in-process sandbox) receives every request; proxies do not apply to it.

Deviations from httpx defaults: HTTP/1.1 only, our own TLS context (``settings.ca_bundle``, else
``SSL_CERT_FILE``, else certifi; never ``SSL_CERT_DIR`` or ``.netrc``), no transport retries,
explicit connection limits.
"""

from __future__ import annotations

import os
import re
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final
from urllib.request import getproxies_environment

import certifi
import httpcore
import httpx

from auditor.models.common import FailureKind
from auditor.net.addresses import (
    AddressClass,
    IPAddress,
    classify,
    describe,
    is_permitted,
    parse_ip,
)
from auditor.net.dns import DnsError, Resolver
from auditor.net.pool import ShardedConnectionPool
from auditor.net.streams import ReadableCheck
from auditor.settings import AuditSettings

REDIRECTED_FROM: Final = "decaudit.redirected_from"
"""Request extension naming the URL whose redirect produced this request (for messages)."""

CONNECTION_LIMITS: Final = httpx.Limits(keepalive_expiry=5.0)
"""Keep-alive expiry of the real transport's connections (httpx's client ``limits`` do not reach
the pool; connection counts are per origin, see :mod:`auditor.net.pool`)."""

# In urllib.request since Python 3.3 but missing from typeshed.
_proxy_bypass_environment: Callable[[str, Mapping[str, str]], bool] = (
    urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
)

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_PERMITTED_MAX: Final = 4096
"""Bound of each of the policy's memos (permitted addresses, valid host names, IP literals):
emptied when full. A batch meets a few hosts on every account (PDSes, relays, the directory)
and one new host per account (its handle's), which must not accumulate."""
_PLAIN_HTTP_OK: Final = frozenset({AddressClass.LOOPBACK, AddressClass.PRIVATE})


class PolicyError(httpx.TransportError):
    """A request the policy stopped before any connection; ``kind`` says why."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class BlockedDestination(PolicyError):
    """The destination is refused: an address class (``BLOCKED_ADDRESS``) or plain http
    (``INSECURE_TRANSPORT``). The message names host, address and class."""


class DestinationUnresolved(PolicyError):
    """The destination host did not resolve; ``kind`` is the DNS failure kind and ``dns_error``
    the :class:`~auditor.net.dns.DnsError`."""

    def __init__(self, error: DnsError) -> None:
        super().__init__(error.kind, str(error))
        self.dns_error = error


class DestinationGuard:
    """Resolves a destination host through the run's resolver and vets every address."""

    def __init__(self, resolver: Resolver, *, allow_private: bool, timeout: float) -> None:
        self.resolver = resolver
        self.allow_private = allow_private
        self.timeout = timeout
        self._permitted: set[IPAddress] = set()
        """Addresses already found permitted (a pure function of the address and
        ``allow_private``; a batch meets the same few hosts' addresses on every request)."""
        self._literals: dict[str, IPAddress | None] = {}
        """Hosts already seen: the address an IP literal stands for, None for a name (telling
        them apart raised and caught a ``ValueError`` for every request to a name)."""

    async def vet(self, host: str, *, timeout: float | None = None) -> list[IPAddress]:
        """The addresses of ``host``, all permitted; raises a :class:`PolicyError` otherwise."""
        addresses = await self._resolve(host, self.timeout if timeout is None else timeout)
        permitted = self._permitted
        for address in addresses:
            if address in permitted:
                continue
            if not is_permitted(address, allow_private=self.allow_private):
                raise BlockedDestination(FailureKind.BLOCKED_ADDRESS, self._refusal(host, address))
            if len(permitted) >= _PERMITTED_MAX:
                permitted.clear()
            permitted.add(address)
        return addresses

    async def _resolve(self, host: str, timeout: float) -> list[IPAddress]:
        literals = self._literals
        if host in literals:
            literal = literals[host]
        else:
            try:
                literal = parse_ip(host)
            except ValueError:
                literal = None
            if len(literals) >= _PERMITTED_MAX:
                literals.clear()
            literals[host] = literal
        if literal is not None:
            return [literal]
        try:
            addresses = await self.resolver.addresses(host, timeout=timeout)
        except DnsError as exc:
            raise DestinationUnresolved(exc) from exc
        if not addresses:
            raise DestinationUnresolved(DnsError(FailureKind.DNS_NO_ANSWER, host, "A/AAAA"))
        return addresses

    def _refusal(self, host: str, address: IPAddress) -> str:
        what = describe(address, allow_private=self.allow_private)
        return what if _same_host(host, address) else f"{host}: {what}"


def _same_host(host: str, address: IPAddress) -> bool:
    try:
        return parse_ip(host) == address
    except ValueError:
        return False


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the guard vetted.

    ``connect_tcp(host, ...)`` resolves ``host`` through the guard (the run's cached resolver),
    re-checks every address and tries them in order as IP literals, so no second, unguarded
    ``getaddrinfo`` happens. Unix sockets are refused.
    """

    def __init__(
        self, guard: DestinationGuard, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.guard = guard
        self.inner = inner if inner is not None else httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A stream to the first vetted address of ``host`` that accepts the connection."""
        budget = self.guard.timeout if timeout is None else timeout
        started = time.monotonic()
        addresses = await self.guard.vet(host, timeout=budget)
        error: Exception = httpcore.ConnectError(f"no address of {host} to connect to")
        for address in addresses:
            remaining = budget - (time.monotonic() - started)
            if remaining <= 0:
                raise httpcore.ConnectTimeout(f"connecting to {host} timed out")
            try:
                stream = await self.inner.connect_tcp(
                    str(address),
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return ReadableCheck(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: decaudit never connects to Unix sockets."""
        raise BlockedDestination(FailureKind.BLOCKED_ADDRESS, f"unix socket {path} refused")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the inner backend (httpcore uses this between connect retries)."""
        await self.inner.sleep(seconds)


class GuardedHTTPTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connection pool connects through a
    :class:`GuardedNetworkBackend` (HTTP/1.1, our TLS context, no retries)."""

    def __init__(
        self,
        backend: GuardedNetworkBackend,
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits = CONNECTION_LIMITS,
    ) -> None:
        super().__init__(
            verify=ssl_context, limits=limits, http1=True, http2=False, trust_env=False
        )

        def origin_pool(connections: int, keepalive: int) -> httpcore.AsyncConnectionPool:
            return httpcore.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=connections,
                max_keepalive_connections=keepalive,
                keepalive_expiry=limits.keepalive_expiry,
                http1=True,
                http2=False,
                network_backend=backend,
            )

        _replace_pool(self, ShardedConnectionPool(origin_pool))
        self.backend = backend


def _replace_pool(transport: httpx.AsyncHTTPTransport, pool: ShardedConnectionPool) -> None:
    """Install ``pool`` into ``transport``: the one place that touches httpx internals."""
    current = getattr(transport, "_pool", None)
    if type(current) is not httpcore.AsyncConnectionPool:
        raise RuntimeError(
            "httpx.AsyncHTTPTransport no longer keeps an httpcore.AsyncConnectionPool in _pool "
            f"(found {type(current).__name__}, httpx {httpx.__version__}); "
            "update GuardedHTTPTransport in auditor/net/transport.py before upgrading httpx"
        )
    transport._pool = pool  # type: ignore[assignment]  # duck-types AsyncConnectionPool


def build_ssl_context(settings: AuditSettings) -> ssl.SSLContext:
    """The TLS context of the run: ``settings.ca_bundle``, else ``SSL_CERT_FILE``, else certifi.

    Raises ``ValueError`` naming the file when the bundle cannot be read or is not PEM (a
    configuration mistake, reported as a usage error, not a crash).
    """
    cafile = settings.ca_bundle or os.environ.get("SSL_CERT_FILE") or certifi.where()
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        source = "--ca-bundle" if settings.ca_bundle else "SSL_CERT_FILE"
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ValueError(f"{source} {cafile}: cannot load CA certificates ({reason})") from None


class ConnectTo:
    """The ``--connect-to`` table: ``HOST[:PORT]`` -> base URL (like curl's ``--connect-to``).

    A key without a port matches every port; one with a port only that port (the URL's
    default port counts). A key ``*.DOMAIN`` matches every name under DOMAIN (not DOMAIN
    itself, never an IP literal); an exact key wins over it, and a longer suffix over a shorter
    one. (A sandbox serving 100,000 accounts' handle hosts needs it: one entry per host would not
    fit on a command line.) Raises ``ValueError`` for a base URL that is not absolute http(s).
    """

    def __init__(self, table: Mapping[str, str]) -> None:
        self._table: dict[tuple[str, int | None], httpx.URL] = {}
        self._suffixes: list[tuple[str, int | None, httpx.URL]] = []
        for key, base in table.items():
            target = httpx.URL(base)
            if target.scheme not in _DEFAULT_PORTS or not target.host:
                raise ValueError(f"--connect-to {key}: {base!r} is not an http(s) base URL")
            host, port = _parse_host_port(key)
            if "*" in host:
                if not host.startswith("*.") or not host[2:] or "*" in host[2:]:
                    raise ValueError(f"--connect-to {key!r}: a wildcard is '*.DOMAIN'")
                self._suffixes.append(("." + host[2:], port, target))
            else:
                self._table[(host, port)] = target
        self._suffixes.sort(key=lambda entry: -len(entry[0]))

    def _wildcard(self, host: str, port: int | None) -> httpx.URL | None:
        try:
            parse_ip(host)
        except ValueError:
            pass  # a name: wildcards apply
        else:
            return None
        for suffix, wanted, target in self._suffixes:
            if host.endswith(suffix) and wanted in (None, port):
                return target
        return None

    def rewrite(self, url: httpx.URL) -> httpx.URL:
        """Where a request for ``url`` really goes (``url`` itself when no entry matches)."""
        if not self._table and not self._suffixes:
            return url
        host = url.raw_host.decode("ascii").lower()
        port = url.port or _DEFAULT_PORTS.get(url.scheme)
        base = (
            self._table.get((host, port))
            or self._table.get((host, None))
            or self._wildcard(host, port)
        )
        if base is None:
            return url
        return base.copy_with(raw_path=base.raw_path.split(b"?")[0].rstrip(b"/") + url.raw_path)


def _parse_host_port(key: str) -> tuple[str, int | None]:
    text = key.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        raise ValueError(f"--connect-to {key!r}: port must be a number")
    return host.rstrip("."), int(port) if port else None


class PolicyTransport(httpx.AsyncBaseTransport):
    """Applies connect-to, the address guard and the https rule, then hands the request on.

    ``inner`` (respx, a sandbox transport) receives every permitted request; when it is None a
    :class:`GuardedHTTPTransport` is built (plus one proxy transport per proxy in use). See the
    module docstring for the whole policy.
    """

    def __init__(
        self,
        settings: AuditSettings,
        resolver: Resolver,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.guard = DestinationGuard(
            resolver, allow_private=settings.allow_private, timeout=settings.timeout
        )
        self.connect_to = ConnectTo(settings.connect_to)
        self._valid_hosts: set[str] = set()
        self._proxies: dict[str, str] = {}
        self._proxy_transports: dict[str, httpx.AsyncBaseTransport] = {}
        self._ssl_context: ssl.SSLContext | None = None
        if inner is None:
            self._ssl_context = build_ssl_context(settings)
            inner = GuardedHTTPTransport(
                GuardedNetworkBackend(self.guard), ssl_context=self._ssl_context
            )
            self._proxies = getproxies_environment()
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Vet the request's destination and forward it; raises :class:`PolicyError` if refused."""
        target = self.connect_to.rewrite(request.url)
        if target.scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme in {target}", request=request)
        host = target.raw_host.decode("ascii")
        if host not in self._valid_hosts:
            if not is_valid_host(host):
                raise httpx.InvalidURL(f"invalid host name {host!r} in {target}")
            if len(self._valid_hosts) >= _PERMITTED_MAX:
                self._valid_hosts.clear()
            self._valid_hosts.add(host)
        addresses = await self.guard.vet(host, timeout=_connect_timeout(request))
        if target.scheme == "http":
            self._check_plain_http(request, target, host, addresses)
        url = request.url
        forwarded = request if target is url or target == url else _retarget(request, target)
        return await self._transport_for(target).handle_async_request(forwarded)

    def _check_plain_http(
        self, request: httpx.Request, target: httpx.URL, host: str, addresses: Sequence[IPAddress]
    ) -> None:
        public = [a for a in addresses if classify(a) not in _PLAIN_HTTP_OK]
        if self.settings.allow_private and not public:
            return
        shown = public[0] if public else addresses[0]
        where = host if _same_host(host, shown) else f"{host} ({shown})"
        origin = request.extensions.get(REDIRECTED_FROM)
        if isinstance(origin, str) and origin.startswith("https:"):
            message = f"redirect from {origin} downgrades to plain http ({target}); refused"
        else:
            message = f"plain http to {where}, a {classify(shown)} address, refused"
        message += "; only https is allowed (plain http only to loopback/private, --allow-private)"
        raise BlockedDestination(FailureKind.INSECURE_TRANSPORT, message)

    def _transport_for(self, target: httpx.URL) -> httpx.AsyncBaseTransport:
        proxy = self._proxy_for(target)
        if proxy is None:
            return self.inner
        transport = self._proxy_transports.get(proxy)
        if transport is None:
            transport = httpx.AsyncHTTPTransport(
                proxy=proxy,
                verify=self._ssl_context or build_ssl_context(self.settings),
                limits=CONNECTION_LIMITS,
                trust_env=False,
            )
            self._proxy_transports[proxy] = transport
        return transport

    def _proxy_for(self, target: httpx.URL) -> str | None:
        """The proxy URL the environment names for ``target``, or None to connect directly."""
        if not self._proxies:
            return None
        proxy = self._proxies.get(target.scheme) or self._proxies.get("all")
        if not proxy:
            return None
        hostport = target.netloc.decode("ascii")
        if _proxy_bypass_environment(hostport, self._proxies):
            return None
        return proxy

    async def aclose(self) -> None:
        """Close the inner transport and any proxy transports."""
        await self.inner.aclose()
        for transport in self._proxy_transports.values():
            await transport.aclose()


_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)", re.IGNORECASE)


def is_valid_host(host: str) -> bool:
    """Whether ``host`` is an IP literal or a syntactically valid DNS host name.

    Anything else (percent-escapes, empty labels, over-long names) is refused before it reaches
    DNS. Underscores are tolerated: some real hosts use them.
    """
    try:
        parse_ip(host)
    except ValueError:
        name = host[:-1] if host.endswith(".") else host
        return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))
    return True


def _connect_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, Mapping):
        value = timeouts.get("connect")
        if isinstance(value, int | float):
            return float(value)
    return None


def _retarget(request: httpx.Request, target: httpx.URL) -> httpx.Request:
    """``request`` sent to ``target``, keeping every header (the original ``Host`` included)."""
    return httpx.Request(
        request.method,
        target,
        headers=request.headers,
        stream=request.stream,
        extensions=request.extensions,
    )

"""Fixtures of the network-layer tests: anyio on asyncio, a clean proxy environment, and real
servers on 127.0.0.1 only (a UDP DNS server built with dnspython's message API, an HTTP server
and a TLS variant of it with a self-signed certificate made with ``cryptography``)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "REQUEST_METHOD",
)


@pytest.fixture(autouse=True)
def _clean_network_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA variables of the machine running the tests leak into them."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- DNS ---------------------------------------------------------------------------------------

DNS_ZONE: dict[tuple[str, str], list[str]] = {
    ("_atproto.alice.test.", "TXT"): ['"did=did:plc:alice"'],
    ("_atproto.split.test.", "TXT"): ['"did=did:pl" "c:split"'],
    ("_atproto.two.test.", "TXT"): ['"did=did:plc:one"', '"did=did:plc:two"'],
    ("_atproto.empty.test.", "A"): ["192.0.2.1"],  # exists, but no TXT
    ("host.test.", "A"): ["127.0.0.1"],
    ("host.test.", "AAAA"): ["::1"],
    ("v4only.test.", "A"): ["10.0.0.1"],
    ("v6only.test.", "AAAA"): ["fd00::1"],
    ("metadata.test.", "A"): ["169.254.169.254"],
}
SERVFAIL_NAMES = {"servfail.test."}
SILENT_NAMES = {"slow.test."}


class FakeDnsServer:
    """An authoritative-looking UDP DNS server on 127.0.0.1, in a thread."""

    def __init__(self, zone: Mapping[tuple[str, str], list[str]]) -> None:
        self.zone = dict(zone)
        self.names = {name for name, _ in self.zone}
        self.queries: list[tuple[str, str]] = []
        self.errors: list[BaseException] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.05)
        self.port: int = self._socket.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-dns", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self._reply(data)
                if reply is not None:
                    self._socket.sendto(reply, peer)
            except Exception as exc:  # reported by the fixture, not lost in the thread
                self.errors.append(exc)

    def _reply(self, data: bytes) -> bytes | None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if name in SILENT_NAMES:
            return None
        response = dns.message.make_response(query)
        if name in SERVFAIL_NAMES:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif (name, rdtype) in self.zone:
            response.answer.append(
                dns.rrset.from_text_list(name, 60, "IN", rdtype, self.zone[(name, rdtype)])
            )
        return response.to_wire()


@pytest.fixture
def dns_server() -> Iterator[FakeDnsServer]:
    server = FakeDnsServer(DNS_ZONE)
    server.start()
    yield server
    server.stop()
    assert not server.errors, server.errors


# --- HTTP --------------------------------------------------------------------------------------


@dataclass
class SeenRequest:
    """A request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


Handler = Callable[[SeenRequest, asyncio.StreamWriter], Awaitable[None]]


def response_bytes(
    status: int,
    body: bytes = b"",
    *,
    content_type: str | None = "application/json",
    headers: Mapping[str, str] | None = None,
    content_length: bool = True,
) -> bytes:
    """A whole HTTP/1.1 response (``Connection: close``)."""
    lines = [f"HTTP/1.1 {status} X", "Connection: close"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def respond(status: int, body: bytes = b"", **kwargs: object) -> Handler:
    """A handler that sends one fixed response."""
    data = response_bytes(status, body, **kwargs)  # type: ignore[arg-type]

    async def handler(request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return handler


@dataclass
class LoopbackHttpServer:
    """An HTTP (or HTTPS) server on 127.0.0.1 with routes by path; records every request."""

    ssl_context: ssl.SSLContext | None = None
    routes: dict[str, Handler] = field(default_factory=dict)
    fallback: Handler = field(default_factory=lambda: respond(404, b'{"error":"NotFound"}'))
    seen: list[SeenRequest] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def origin(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request = _parse_head(head)
            self.seen.append(request)
            await self.routes.get(request.path, self.fallback)(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)  # type: ignore[arg-type]


def _parse_head(head: bytes) -> SeenRequest:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    return SeenRequest(method=method, target=target, headers=headers)


@pytest.fixture
async def http_server(anyio_backend: str) -> AsyncIterator[LoopbackHttpServer]:
    server = LoopbackHttpServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def proxy_server(anyio_backend: str) -> AsyncIterator[LoopbackHttpServer]:
    server = LoopbackHttpServer(fallback=respond(200, b'{"via":"proxy"}'))
    await server.start()
    yield server
    await server.close()


@dataclass(frozen=True)
class SelfSignedCertificate:
    """A certificate for 127.0.0.1 and localhost that no CA bundle trusts."""

    cert_path: Path
    key_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


@pytest.fixture(scope="session")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "decaudit test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSignedCertificate(cert_path=cert_path, key_path=key_path)


@pytest.fixture
async def tls_server(
    anyio_backend: str, self_signed: SelfSignedCertificate
) -> AsyncIterator[LoopbackHttpServer]:
    server = LoopbackHttpServer(ssl_context=self_signed.server_context())
    server.routes["/ok"] = respond(200, b'{"tls":true}')
    await server.start()
    yield server
    await server.close()

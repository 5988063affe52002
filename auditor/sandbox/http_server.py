"""The sandbox's hosts on a real socket: an HTTP/1.1 server on loopback in front of a ``Network``.

``decaudit sandbox serve`` exists so that *another process* (the installed CLI, a benchmark, a
journalist's shell) can audit the sandbox exactly as it audits the live network: through its own
sockets, DNS lookups and ``--connect-to`` rewriting. This module is the HTTP half. Every request
arriving on the one port becomes an ``httpx.Request`` for ``http://<Host header><target>`` and is
answered by :meth:`auditor.sandbox.http.Network.handle`, the same dispatch (on the ``Host``
header, which ``--connect-to`` preserves) and the same faults the in-process transport uses, so
an audit over sockets sees what an in-process audit sees.

It is built on ``h11`` (already an httpx dependency; no web framework) because the sandbox must
serve what a framework would smooth away: bodies of 20+ MB written as they are produced, bodies
that drip a byte a second or never end, and a client that hangs up in the middle. So responses
are written *streaming*, chunk by chunk with ``drain()`` back-pressure (chunked transfer encoding
when the app gives no ``Content-Length``), never buffered whole; a client that disconnects ends
the response there. A host that is down (:class:`~auditor.sandbox.http.HostDown`) gets its
connection closed without a response, like a dead server; an app that raises gets a 500 with an
XRPC error body, and the server carries on.

The server binds loopback addresses only (:func:`require_loopback`): the sandbox is a fixture, never
a service. Binding problems raise :class:`SandboxBindError` (:class:`PortInUseError` for a taken
port) with a message naming the service, address and port; the DNS server uses them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Final

import h11
import httpx

from auditor.net.fetch import SANDBOX_HEADER
from auditor.sandbox.http import HostDown, Network, xrpc_error

logger = logging.getLogger(__name__)

READ_SIZE: Final = 65_536
"""Bytes read from a client socket at a time."""
WRITE_CHUNK: Final = 65_536
"""Largest piece of a response body written before waiting for the socket to drain."""
MAX_REQUEST_HEAD: Final = 64 * 1024
"""Largest request line plus headers accepted (431/400 beyond)."""
MAX_REQUEST_BODY: Final = 1024 * 1024
"""Largest request body accepted (413 beyond); sandbox requests carry tiny bodies, if any."""
IDLE_TIMEOUT: Final = 30.0
"""Seconds a connection may take to send its (next) request before it is closed."""
LINGER_TIMEOUT: Final = 1.0
"""Seconds spent discarding a refused request's remaining input before closing."""
MAX_LINGER_BYTES: Final = 4 * 1024 * 1024
"""Most input discarded after refusing a request."""

_HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)


class SandboxBindError(OSError):
    """A sandbox server could not bind its socket; the message names service, address and port."""


class PortInUseError(SandboxBindError):
    """The port a sandbox server was asked to bind is already in use."""


def require_loopback(host: str) -> str:
    """``host`` as a normalized loopback IP address; ``ValueError`` for anything else.

    The sandbox serves 127.0.0.0/8 or ``::1`` only: it must never become reachable from another
    machine.
    """
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        raise ValueError(
            f"sandbox servers bind a loopback IP address (127.0.0.1), not {host!r}"
        ) from None
    if not address.is_loopback:
        raise ValueError(f"sandbox servers bind loopback addresses only, not {address}")
    return str(address)


def bind_error(service: str, host: str, port: int, exc: OSError) -> SandboxBindError:
    """The one-line :class:`SandboxBindError` for ``exc``, raised while binding ``host:port``."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        error: SandboxBindError = PortInUseError(
            f"{service} port {port} on {host} is already in use "
            "(choose another port, or 0 for a free one)"
        )
    else:
        reason = exc.strerror or str(exc) or type(exc).__name__
        error = SandboxBindError(f"cannot bind the {service} server to {where}: {reason}")
    error.errno = exc.errno
    return error


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SandboxHttpServer:
    """An HTTP/1.1 server on a loopback port answering every request from ``network``.

    Use as ``async with SandboxHttpServer(network) as server:`` (or :meth:`start` /
    :meth:`close`); ``port=0`` picks a free port, read back from :attr:`port`. Connections are
    kept alive between requests when the client allows it. :meth:`close` stops listening and
    ends every open connection, including responses still streaming.
    """

    def __init__(
        self,
        network: Network,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = IDLE_TIMEOUT,
        max_request_body: int = MAX_REQUEST_BODY,
    ) -> None:
        self.network = network
        self.host = require_loopback(host)
        self._requested_port = port
        self.idle_timeout = idle_timeout
        self.max_request_body = max_request_body
        self._server: asyncio.Server | None = None
        self._port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the sandbox HTTP server has not been started")
        return self._port

    @property
    def origin(self) -> str:
        """``http://ADDRESS:PORT``: the base URL ``--connect-to`` sends sandbox hosts to."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """How many client connections are open right now."""
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Return once no client connection is open (at once if none is)."""
        await self._idle.wait()

    async def start(self) -> None:
        """Bind and listen; raises :class:`SandboxBindError` (or :class:`PortInUseError`)."""
        if self._server is not None:
            raise RuntimeError("the sandbox HTTP server is already started")
        try:
            self._server = await asyncio.start_server(
                self._connection, self.host, self._requested_port
            )
        except OSError as exc:
            raise bind_error("HTTP", self.host, self._requested_port, exc) from exc
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and end every open connection; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> SandboxHttpServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- one connection -------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._idle.clear()
        try:
            await self._converse(reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stalled: nothing to answer
        except asyncio.CancelledError:
            pass  # close(): end quietly (a cancelled handler task is logged as an error in 3.11)
        except Exception:  # never let one connection take the server down
            logger.exception("sandbox HTTP connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests and responses on one connection until either side is done."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        while True:
            try:
                async with asyncio.timeout(self.idle_timeout):
                    request = await self._read_request(conn, reader, writer)
            except h11.RemoteProtocolError as exc:
                await self._refuse(conn, reader, writer, exc.error_status_hint, str(exc))
                return
            except _BadRequest as exc:
                await self._refuse(conn, reader, writer, exc.status, str(exc))
                return
            if request is None:
                return
            if not await self._respond(conn, writer, request):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _read_request(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> httpx.Request | None:
        """The next whole request, or None when the client closed the connection."""
        head: h11.Request | None = None
        body = bytearray()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if conn.they_are_waiting_for_100_continue:
                    writer.write(
                        _send(conn, h11.InformationalResponse(status_code=100, headers=[]))
                    )
                conn.receive_data(await reader.read(READ_SIZE))
            elif isinstance(event, h11.Request):
                head = event
                length = _content_length(event)
                if length is not None and length > self.max_request_body:
                    raise _BadRequest(413, f"request body over {self.max_request_body} bytes")
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_request_body:
                    raise _BadRequest(413, f"request body over {self.max_request_body} bytes")
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return _to_httpx(head, bytes(body))
            else:  # ConnectionClosed, or PAUSED (cannot happen: we answer before reading on)
                return None

    async def _respond(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: httpx.Request
    ) -> bool:
        """Answer ``request``; False when the connection must end (host down, client gone)."""
        try:
            response = await self.network.handle(request)
        except HostDown:
            writer.transport.abort()  # a dead host: the connection ends without a response
            return False
        except Exception as exc:
            logger.exception("sandbox host %s failed", request.headers.get("host"))
            response = _server_error(f"sandbox host failed: {type(exc).__name__}")
        try:
            return await self._write(conn, writer, response, head_only=request.method == "HEAD")
        finally:
            await response.aclose()

    async def _write(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        response: httpx.Response,
        *,
        head_only: bool,
    ) -> bool:
        """Write ``response`` as it streams; False when the connection cannot go on."""
        try:
            start = h11.Response(
                status_code=response.status_code,
                headers=[(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP],
                reason=httpx.codes.get_reason_phrase(response.status_code).encode("ascii"),
            )
        except h11.LocalProtocolError as exc:  # a status or header HTTP/1.1 cannot carry
            logger.error("sandbox host sent an unsendable response: %s", exc)
            await response.aclose()
            return await self._write(
                conn,
                writer,
                _server_error("sandbox host sent an invalid response"),
                head_only=head_only,
            )
        try:
            writer.write(_send(conn, start))
            if not head_only:
                async for piece in _body(response):
                    for offset in range(0, len(piece), WRITE_CHUNK):
                        writer.write(
                            _send(conn, h11.Data(data=piece[offset : offset + WRITE_CHUNK]))
                        )
                        await writer.drain()
            writer.write(_send(conn, h11.EndOfMessage()))
            await writer.drain()
        except ConnectionError:
            return False  # the client hung up mid-response: stop producing the body
        except h11.LocalProtocolError as exc:  # e.g. fewer bytes than the declared Content-Length
            logger.warning("sandbox response cut short: %s", exc)
            writer.transport.abort()
            return False
        except Exception:  # the body's producer failed after the head went out
            logger.exception("sandbox response body failed")
            writer.transport.abort()
            return False
        return True

    async def _refuse(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        status: int,
        message: str,
    ) -> None:
        """Answer a request we cannot serve (malformed, too large), then close."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        response = xrpc_error(status, "InvalidRequest", message)
        response.headers[SANDBOX_HEADER] = "1"
        body = response.content
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
        with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
            headers.append((b"connection", b"close"))
            writer.write(_send(conn, h11.Response(status_code=status, headers=headers)))
            writer.write(_send(conn, h11.Data(data=body)))
            writer.write(_send(conn, h11.EndOfMessage()))
            await writer.drain()
        await _linger(reader, writer)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then read and discard what the client is still sending, briefly.

    Closing a socket with unread input makes the kernel send a reset, which can destroy the
    error response before the client reads it; a lingering close lets it arrive.
    """
    with contextlib.suppress(OSError, TimeoutError):
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER_TIMEOUT):
            discarded = 0
            while discarded < MAX_LINGER_BYTES and (data := await reader.read(READ_SIZE)):
                discarded += len(data)


def _server_error(message: str) -> httpx.Response:
    response = xrpc_error(500, "InternalServerError", message)
    response.headers[SANDBOX_HEADER] = "1"
    return response


def _send(conn: h11.Connection, event: h11.Event) -> bytes:
    return conn.send(event) or b""


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    """The response body as produced (one piece per producer chunk, never re-buffered)."""
    stream = response.stream
    if isinstance(stream, httpx.AsyncByteStream):
        async for piece in stream:
            yield piece
    else:  # a synchronous stream: fine for in-memory bodies, which is all apps give
        for piece in stream:
            yield piece


def _content_length(request: h11.Request) -> int | None:
    for name, value in request.headers:
        if name == b"content-length":
            return int(value)  # h11 has validated it
    return None


def _to_httpx(head: h11.Request, body: bytes) -> httpx.Request:
    """``head`` as the ``httpx.Request`` a :class:`Network` answers (URL host = Host header)."""
    host = next((v for k, v in head.headers if k == b"host"), b"").decode("latin-1").strip()
    if not host:
        raise _BadRequest(400, "missing Host header: the sandbox serves hosts by name")
    target = head.target.decode("ascii", errors="replace")
    if target.startswith("/"):
        url = f"http://{host}{target}"
    elif target.startswith(("http://", "https://")):
        url = target  # absolute-form; dispatch still follows the Host header
    else:
        raise _BadRequest(400, f"unsupported request target {target[:100]!r}")
    headers = [(k, v) for k, v in head.headers if k not in _HOP_BY_HOP and k != b"content-length"]
    try:
        return httpx.Request(head.method.decode("ascii"), url, headers=headers, content=body)
    except (httpx.InvalidURL, ValueError) as exc:
        raise _BadRequest(400, f"invalid request URL: {exc}") from None

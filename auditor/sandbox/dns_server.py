"""The sandbox's DNS on a real socket: a UDP and TCP nameserver on loopback answering from a Zone.

An audit in another process (``decaudit check --nameserver 127.0.0.1:PORT``) must look up
``_atproto`` TXT records, host addresses and origin (ASN) records over real DNS, with dnspython's
real resolver, exactly as it would on the live network. This server gives it the sandbox
:class:`~auditor.sandbox.zone.Zone` that way, with the same answers the in-process
:class:`~auditor.net.dns.StaticResolver` gives, so reports are identical in both modes:

* TXT: one record per zone value; values longer than 255 bytes are split into several
  character-strings (a TXT record's wire format), which resolvers join back;
* A: the zone's IPv4 addresses; AAAA: its IPv6 ones (sandbox hosts have none, so AAAA answers
  NOERROR with no data, as for any known name asked a type it lacks);
* SRV: the zone's SRV records (Matrix's ``_matrix-fed._tcp`` discovery), targets absolute;
* a name in no table: NXDOMAIN (exactly as ``StaticResolver``: no empty non-terminals).

It is authoritative (AA) and does not recurse. It is built with dnspython's message API (a
dependency already) rather than a DNS framework, and listens on UDP **and** TCP on the same port
because real resolvers need both: a UDP answer over 512 bytes without EDNS (or over the client's
EDNS payload size) is sent truncated (TC bit, no records), which makes the client retry over
TCP. Anything that does not parse as a DNS query (garbage, a response, an oversized or truncated
TCP frame) is dropped without a reply; nothing a client sends can stop the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Final, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from auditor.net.dns import SrvTuple, normalize_name
from auditor.sandbox.http_server import bind_error, require_loopback
from auditor.sandbox.zone import Zone

logger = logging.getLogger(__name__)

DEFAULT_TTL: Final = 300
"""TTL of every answer, in seconds (clients cache per run anyway)."""
UDP_LIMIT: Final = 512
"""Largest UDP answer to a query without EDNS (RFC 1035); larger ones are truncated."""
TCP_LIMIT: Final = 65_535
"""Largest answer over TCP (the two-byte length prefix)."""
TCP_IDLE_TIMEOUT: Final = 10.0
"""Seconds a TCP client may take to send its (next) query before it is disconnected."""
TXT_STRING_MAX: Final = 255
"""Longest character-string in a TXT record, in bytes."""
_PORT_ATTEMPTS: Final = 20


class SandboxDnsServer:
    """A nameserver on ``host``, UDP and TCP on one port, answering from ``zone``.

    Use as ``async with SandboxDnsServer(zone) as server:`` (or :meth:`start` / :meth:`close`);
    ``port=0`` picks a port free for both protocols. The counters (:attr:`udp_queries`,
    :attr:`tcp_queries`, :attr:`truncated`, :attr:`ignored`) say what it saw.
    """

    def __init__(
        self,
        zone: Zone,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ttl: int = DEFAULT_TTL,
        tcp_idle_timeout: float = TCP_IDLE_TIMEOUT,
    ) -> None:
        self.zone = zone
        self.host = require_loopback(host)
        self._requested_port = port
        self.ttl = ttl
        self.tcp_idle_timeout = tcp_idle_timeout
        self.udp_queries = 0
        """Datagrams answered (truncated answers included)."""
        self.tcp_queries = 0
        """Queries answered over TCP."""
        self.truncated = 0
        """UDP answers sent truncated (TC) because they did not fit."""
        self.ignored = 0
        """Packets dropped without an answer (not a parsable query)."""
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port, the same for UDP and TCP (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the sandbox DNS server has not been started")
        return self._port

    @property
    def address(self) -> str:
        """``ADDRESS:PORT`` as ``--nameserver`` takes it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        """Bind UDP and TCP; raises :class:`~auditor.sandbox.http_server.SandboxBindError`."""
        if self._tcp is not None:
            raise RuntimeError("the sandbox DNS server is already started")
        attempts = _PORT_ATTEMPTS if self._requested_port == 0 else 1
        for attempt in range(attempts):
            try:
                tcp = await asyncio.start_server(
                    self._tcp_connection, self.host, self._requested_port
                )
            except OSError as exc:
                raise bind_error("DNS (TCP)", self.host, self._requested_port, exc) from exc
            port = int(tcp.sockets[0].getsockname()[1])
            loop = asyncio.get_running_loop()
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self), local_addr=(self.host, port)
                )
            except OSError as exc:
                tcp.close()
                await tcp.wait_closed()
                if attempt + 1 < attempts:
                    continue  # the free TCP port is taken for UDP: try another one
                raise bind_error("DNS (UDP)", self.host, port, exc) from exc
            self._tcp, self._udp, self._port = tcp, transport, port
            return

    async def close(self) -> None:
        """Stop both listeners and end open TCP connections; safe to call twice."""
        udp, self._udp = self._udp, None
        tcp, self._tcp = self._tcp, None
        if udp is not None:
            udp.close()
        if tcp is not None:
            tcp.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await tcp.wait_closed()

    async def __aenter__(self) -> SandboxDnsServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # --- answering ------------------------------------------------------------------------------

    def answer(self, wire: bytes, *, limit: int | None) -> bytes | None:
        """The reply to the query ``wire``, or None to drop it (not a parsable query).

        ``limit`` is the transport's size limit: None for UDP (512 bytes, or the query's EDNS
        payload size), where a reply that does not fit is sent truncated (TC) instead.
        """
        try:
            query = dns.message.from_wire(wire)
            if query.flags & dns.flags.QR:
                raise ValueError("a response, not a query")
            response = dns.message.make_response(query)
        except Exception:
            self.ignored += 1
            return None
        response.flags |= dns.flags.AA
        self._fill(query, response)
        size = (
            limit if limit is not None else max(UDP_LIMIT, query.payload if query.edns >= 0 else 0)
        )
        try:
            return response.to_wire(max_size=size, want_shuffle=False)  # deterministic order
        except dns.exception.TooBig:
            if limit is not None:  # TCP: nothing smaller to retry with
                response = dns.message.make_response(query)
                response.set_rcode(dns.rcode.SERVFAIL)
                return response.to_wire()
        self.truncated += 1
        truncated = dns.message.make_response(query)
        truncated.flags |= dns.flags.AA | dns.flags.TC
        return truncated.to_wire()

    def _fill(self, query: dns.message.Message, response: dns.message.Message) -> None:
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return
        name = normalize_name(question.name.to_text())
        txt = self.zone.txt.get(name)  # the zone's keys are normalized (sandbox.zone.Names)
        addresses = self.zone.addresses.get(name)
        srv = self.zone.srv_records.get(name)
        if txt is None and addresses is None and srv is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return
        records = _records(question.rdtype, txt or [], addresses or [], srv or [])
        if records:
            response.answer.append(dns.rrset.from_rdata_list(question.name, self.ttl, records))

    # --- transports -----------------------------------------------------------------------------

    def _datagram(self, data: bytes) -> bytes | None:
        reply = self.answer(data, limit=None)
        if reply is not None:
            self.udp_queries += 1
        return reply

    async def _tcp_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                async with asyncio.timeout(self.tcp_idle_timeout):
                    length = int.from_bytes(await reader.readexactly(2), "big")
                    data = await reader.readexactly(length)
                reply = self.answer(data, limit=TCP_LIMIT)
                if reply is None:
                    return  # garbage on a stream: framing can no longer be trusted
                self.tcp_queries += 1
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass  # the client closed, vanished or stalled
        except asyncio.CancelledError:
            pass  # close(): end quietly (a cancelled handler task is logged as an error in 3.11)
        except Exception:
            logger.exception("sandbox DNS TCP connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)


class _UdpProtocol(asyncio.DatagramProtocol):
    """Answers each datagram at once (zone lookups are synchronous and cheap)."""

    def __init__(self, server: SandboxDnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (asyncio's selector transport is not a DatagramTransport subclass before 3.12)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        try:
            reply = self.server._datagram(data)
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, addr)
        except Exception:  # a datagram must never stop the server
            logger.exception("sandbox DNS datagram from %s failed", addr)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors (a client port gone): nothing to do."""


def _records(
    rdtype: dns.rdatatype.RdataType,
    txt: Sequence[str],
    addresses: Sequence[str],
    srv: Sequence[SrvTuple] = (),
) -> list[dns.rdata.Rdata]:
    """The records of type ``rdtype`` among a name's TXT values, addresses and SRV records."""
    internet = dns.rdataclass.IN
    records: list[dns.rdata.Rdata] = []
    if rdtype == dns.rdatatype.SRV:
        for priority, weight, port, target in srv:
            text = f"{priority} {weight} {port} {dns.name.from_text(target).to_text()}"
            records.append(dns.rdata.from_text(internet, rdtype, text))
    elif rdtype == dns.rdatatype.TXT:
        for value in txt:
            records.append(dns.rdtypes.ANY.TXT.TXT(internet, rdtype, txt_strings(value)))
    elif rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        for text in addresses:
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if address.version == 4 and rdtype == dns.rdatatype.A:
                records.append(dns.rdata.from_text(internet, rdtype, str(address)))
            elif address.version == 6 and rdtype == dns.rdatatype.AAAA:
                records.append(dns.rdata.from_text(internet, rdtype, str(address)))
    return records


def txt_strings(value: str) -> list[bytes]:
    """``value`` (UTF-8) as TXT character-strings of at most 255 bytes each."""
    data = value.encode("utf-8")
    return [data[i : i + TXT_STRING_MAX] for i in range(0, len(data), TXT_STRING_MAX)] or [b""]

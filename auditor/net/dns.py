"""DNS lookups for the audit: TXT records (``_atproto`` handles) and host addresses (the guard).

Everything that asks DNS goes through a :class:`Resolver`; there is one per run, injected, so tests
and the in-process sandbox network pass a :class:`StaticResolver` and nothing leaves the machine.
A lookup either returns records or raises :class:`DnsError`, whose :class:`FailureKind` keeps
NXDOMAIN, "no record of that type", "DNS broken" and "timed out" apart: they are different
evidence.

:class:`DnspythonResolver` differs from the system resolver (``getaddrinfo``) on purpose:

* it asks the configured nameservers (``--nameserver HOST[:PORT]``) or the system's
  ``resolv.conf`` ones, never ``/etc/hosts``, so an audit sees what the world sees; only
  ``localhost`` and ``*.localhost`` are answered locally (RFC 6761), with loopback addresses;
* each name/type is looked up **once per run** (a per-run answer cache, failures included): the
  HTTP guard vets a host's addresses and the connection pool later connects to exactly those,
  which is what defeats DNS rebinding (see :mod:`auditor.net.transport`);
* search domains are never applied: names are always absolute.

Nameservers are configuration, not destinations: they may be loopback without ``--allow-private``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Final, Protocol

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from auditor.models.common import FailureKind
from auditor.text import one_line

IPAddress = IPv4Address | IPv6Address

DEFAULT_ATTEMPT_TIMEOUT: Final = 2.0
"""Seconds :class:`DnspythonResolver` waits for one nameserver before trying the next."""

LOCALHOST_ADDRESSES: Final[tuple[IPAddress, ...]] = (IPv4Address("127.0.0.1"), IPv6Address("::1"))
"""What ``localhost`` and ``*.localhost`` resolve to, without asking DNS (RFC 6761)."""

TXT: Final = "TXT"
"""Record-type key of :meth:`Resolver.txt` lookups (in :attr:`StaticResolver.queries` etc.)."""
ADDR: Final = "ADDR"
"""Record-type key of :meth:`Resolver.addresses` lookups (A and AAAA together)."""
SRV: Final = "SRV"
"""Record-type key of :meth:`Resolver.srv` lookups."""
SrvTuple = tuple[int, int, int, str]
"""One SRV record: ``(priority, weight, port, target)``."""

_KIND_DETAIL: Final[Mapping[FailureKind, str]] = {
    FailureKind.DNS_NXDOMAIN: "NXDOMAIN (the name does not exist)",
    FailureKind.DNS_NO_ANSWER: "no record of that type",
    FailureKind.DNS_ERROR: "DNS error",
    FailureKind.TIMEOUT: "timed out",
}


class DnsError(Exception):
    """A DNS lookup that produced no records, and why.

    ``kind`` is one of ``DNS_NXDOMAIN``, ``DNS_NO_ANSWER``, ``DNS_ERROR`` or ``TIMEOUT``;
    ``name`` is the name asked for and ``rdtype`` the record type (``TXT``, ``A/AAAA``...).
    ``str(error)`` is one line naming both: ``"TXT _atproto.alice.test: NXDOMAIN (...)"``.
    """

    def __init__(self, kind: FailureKind, name: str, rdtype: str, detail: str | None = None):
        self.kind = kind
        self.name = name
        self.rdtype = rdtype
        self.detail = detail or _KIND_DETAIL.get(kind, str(kind))
        super().__init__(f"{rdtype} {name}: {self.detail}")


class Resolver(Protocol):
    """What the rest of decaudit needs from DNS. Lookups raise :class:`DnsError`, nothing else."""

    async def txt(self, name: str, *, timeout: float) -> list[str]:
        """The TXT records of ``name``, each record's character-strings joined into one string."""
        ...

    async def addresses(self, name: str, *, timeout: float) -> list[IPAddress]:
        """The A and AAAA records of ``name`` (IPv4 first), looked up concurrently."""
        ...

    async def srv(self, name: str, *, timeout: float) -> list[SrvTuple]:
        """The SRV records of ``name`` as ``(priority, weight, port, target)``, the target
        without its trailing dot (Matrix server discovery)."""
        ...


def normalize_name(name: str) -> str:
    """``name`` in the form used for cache keys and records: lower case, no trailing dot."""
    return name.strip().rstrip(".").lower()


def is_localhost(name: str) -> bool:
    """Whether ``name`` is ``localhost`` or under it (answered locally per RFC 6761)."""
    normalized = normalize_name(name)
    return normalized == "localhost" or normalized.endswith(".localhost")


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT`` (or a bare IPv6 address) as ``(ip, port)``; port 53.

    Raises ``ValueError`` with a message naming ``spec`` when the host is not an IP address or
    the port is not a number in 1-65535.
    """
    text = spec.strip()
    host, port_text = _split_host_port(text)
    try:
        ip = ip_address(host)
    except ValueError:
        raise ValueError(
            f"nameserver {spec!r}: the host must be an IP address "
            "(HOST[:PORT], [IPv6]:PORT), not a name"
        ) from None
    if port_text is None:
        return str(ip), 53
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"nameserver {spec!r}: port must be a number between 1 and 65535")
    return str(ip), int(port_text)


def _split_host_port(text: str) -> tuple[str, str | None]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"nameserver {text!r}: expected [IPv6] or [IPv6]:PORT")
        return host, rest[1:] if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None  # IPv4 without port, or a bare IPv6 address


def merge_address_results(
    name: str, results: Iterable[Sequence[IPAddress] | DnsError]
) -> list[IPAddress]:
    """Combine the A and AAAA outcomes of one name into one answer, as getaddrinfo would.

    Any addresses win; otherwise the most telling failure is raised: NXDOMAIN, then a timeout or
    error (the name may have addresses we could not see), then "no address records".
    """
    found: list[IPAddress] = []
    failures: list[DnsError] = []
    for result in results:
        if isinstance(result, DnsError):
            failures.append(result)
        else:
            found.extend(result)
    if found:
        return found
    for kind in (FailureKind.DNS_NXDOMAIN, FailureKind.TIMEOUT, FailureKind.DNS_ERROR):
        for failure in failures:
            if failure.kind is kind:
                raise DnsError(kind, name, "A/AAAA", failure.detail)
    raise DnsError(FailureKind.DNS_NO_ANSWER, name, "A/AAAA", "no A or AAAA record")


_Answer = tuple[str, ...] | DnsError
MAX_CACHED_ANSWERS = 4096
"""Answers kept per run, least recently used dropped first: enough for every name one audit
asks (and the hosts shared by many), bounded however many accounts a batch audits."""


class DnspythonResolver:
    """A :class:`Resolver` on ``dns.asyncresolver`` with a per-run answer cache.

    ``nameservers`` are ``HOST[:PORT]`` strings (see :func:`parse_nameserver`; invalid ones raise
    ``ValueError`` here); empty means the system's configuration, read on first use.
    ``timeout`` bounds the wait for one nameserver; the ``timeout`` of each call bounds the whole
    lookup (dnspython's *lifetime*). Create one per run: the cache lives as long as the object.
    """

    def __init__(
        self, nameservers: Sequence[str] = (), *, timeout: float = DEFAULT_ATTEMPT_TIMEOUT
    ) -> None:
        self._servers = [parse_nameserver(spec) for spec in nameservers]
        self._attempt_timeout = timeout
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._answers: OrderedDict[tuple[str, str], _Answer] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Task[_Answer]] = {}
        self.lookups = 0
        """How many queries went to DNS (cache hits and ``localhost`` answers not counted)."""

    async def txt(self, name: str, *, timeout: float) -> list[str]:
        """The TXT records of ``name``; raises :class:`DnsError`."""
        normalized = normalize_name(name)
        if is_localhost(normalized):
            raise DnsError(FailureKind.DNS_NO_ANSWER, normalized, TXT, "localhost has no TXT")
        answer = await self._cached(normalized, "TXT", timeout)
        if isinstance(answer, DnsError):
            raise answer
        return list(answer)

    async def addresses(self, name: str, *, timeout: float) -> list[IPAddress]:
        """The A and AAAA records of ``name``, looked up concurrently; raises :class:`DnsError`."""
        normalized = normalize_name(name)
        if is_localhost(normalized):
            return list(LOCALHOST_ADDRESSES)
        answers = await asyncio.gather(
            self._cached(normalized, "A", timeout), self._cached(normalized, "AAAA", timeout)
        )
        return merge_address_results(
            normalized,
            (a if isinstance(a, DnsError) else [ip_address(t) for t in a] for a in answers),
        )

    async def srv(self, name: str, *, timeout: float) -> list[SrvTuple]:
        """The SRV records of ``name``; raises :class:`DnsError` (also for a malformed one)."""
        normalized = normalize_name(name)
        answer = await self._cached(normalized, SRV, timeout)
        if isinstance(answer, DnsError):
            raise answer
        return [parse_srv(normalized, text) for text in answer]

    async def _cached(self, name: str, rdtype: str, timeout: float) -> _Answer:
        """One lookup per name and type per run; concurrent callers share the query in flight."""
        key = (name, rdtype)
        if key in self._answers:
            self._answers.move_to_end(key)
            return self._answers[key]
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._query(name, rdtype, timeout))
            self._pending[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        # shield: a caller giving up (its deadline) must not cancel the query others share.
        return await asyncio.shield(task)

    def _settle(self, key: tuple[str, str], task: asyncio.Task[_Answer]) -> None:
        self._pending.pop(key, None)
        if task.cancelled():
            return
        answer = task.result()
        # A timeout says nothing about the name, only about that moment (and about the first
        # caller's remaining budget): a later caller in the same run asks again.
        if not (isinstance(answer, DnsError) and answer.kind is FailureKind.TIMEOUT):
            self._answers[key] = answer
            if len(self._answers) > MAX_CACHED_ANSWERS:  # a batch meets every account's names
                self._answers.popitem(last=False)

    async def _query(self, name: str, rdtype: str, timeout: float) -> _Answer:
        self.lookups += 1
        try:
            qname = dns.name.from_text(name)
            resolver = self._get_resolver()
            answer = await resolver.resolve(qname, rdtype, lifetime=timeout, search=False)
        except Exception as exc:  # the Resolver contract: DnsError and nothing else
            return dns_error_from(exc, name, rdtype)
        if rdtype == "TXT":
            return tuple(_txt_text(rdata) for rdata in answer)
        return tuple(rdata.to_text() for rdata in answer)

    def _get_resolver(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            resolver = dns.asyncresolver.Resolver(configure=not self._servers)
            if self._servers:
                resolver.nameservers = [
                    dns.nameserver.Do53Nameserver(host, port) for host, port in self._servers
                ]
            resolver.timeout = self._attempt_timeout
            resolver.cache = None  # our own per-run cache is the only one
            self._resolver = resolver
        return self._resolver


def _txt_text(rdata: object) -> str:
    strings: Sequence[bytes] = getattr(rdata, "strings", ())
    return b"".join(strings).decode("utf-8", errors="replace")


def dns_error_from(exc: BaseException, name: str, rdtype: str) -> DnsError:
    """The :class:`DnsError` for a dnspython (or socket) exception raised while looking up."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return DnsError(FailureKind.DNS_NXDOMAIN, name, rdtype)
    if isinstance(exc, dns.resolver.NoAnswer):
        return DnsError(FailureKind.DNS_NO_ANSWER, name, rdtype, f"no {rdtype} record")
    if isinstance(exc, dns.exception.Timeout):
        return DnsError(FailureKind.TIMEOUT, name, rdtype, "timed out (no nameserver answered)")
    if isinstance(exc, dns.resolver.NoNameservers):
        return DnsError(
            FailureKind.DNS_ERROR, name, rdtype, f"every nameserver failed: {one_line(exc)}"
        )
    if isinstance(exc, dns.resolver.NoResolverConfiguration):
        return DnsError(
            FailureKind.DNS_ERROR, name, rdtype, "no system DNS configuration; use --nameserver"
        )
    if isinstance(exc, dns.name.NameTooLong | dns.name.LabelTooLong | dns.name.EmptyLabel):
        return DnsError(FailureKind.DNS_ERROR, name, rdtype, f"invalid DNS name: {one_line(exc)}")
    return DnsError(FailureKind.DNS_ERROR, name, rdtype, one_line(exc))


def parse_srv(name: str, text: str) -> SrvTuple:
    """``"10 5 8448 matrix.example.org."`` (dnspython's presentation form) as a tuple."""
    parts = text.split()
    try:
        priority, weight, port = (int(p) for p in parts[:3])
        (target,) = parts[3:]
    except ValueError:
        raise DnsError(FailureKind.DNS_ERROR, name, SRV, f"malformed SRV record {text!r}") from None
    return priority, weight, port, normalize_name(target)


class StaticResolver:
    """A :class:`Resolver` answering from tables: for tests and the in-process sandbox network.

    ``txt`` and ``addresses`` map names to records (addresses as text, IPv4 or IPv6);
    ``srv`` maps names to ``(priority, weight, port, target)`` records;
    ``failures`` maps ``(name, "TXT")``, ``(name, "SRV")`` or ``(name, "ADDR")`` (the A+AAAA
    lookup) to the
    :class:`FailureKind` to raise. Names in no table answer NXDOMAIN; a name in one table but not
    the other answers "no record of that type". ``localhost`` names answer loopback unless listed.
    Every query is appended to :attr:`queries` as ``(name, "TXT" | "ADDR" | "SRV")``.
    """

    def __init__(
        self,
        txt: Mapping[str, Sequence[str]] | None = None,
        addresses: Mapping[str, Sequence[str]] | None = None,
        failures: Mapping[tuple[str, str], FailureKind] | None = None,
        srv: Mapping[str, Sequence[SrvTuple]] | None = None,
    ) -> None:
        self._txt = {normalize_name(k): list(v) for k, v in (txt or {}).items()}
        self._srv = {normalize_name(k): list(v) for k, v in (srv or {}).items()}
        self._addresses = {
            normalize_name(k): [ip_address(a) for a in v] for k, v in (addresses or {}).items()
        }
        self._failures: dict[tuple[str, str], FailureKind] = {}
        for (name, rdtype), kind in (failures or {}).items():
            if rdtype not in (TXT, ADDR, SRV):
                raise ValueError(
                    f"StaticResolver failure key type {rdtype!r}: use 'TXT', 'ADDR' or 'SRV'"
                )
            self._failures[(normalize_name(name), rdtype)] = kind
        self.queries: list[tuple[str, str]] = []
        """Every lookup asked for, in order, as ``(normalized name, "TXT" | "ADDR" | "SRV")``."""

    async def txt(self, name: str, *, timeout: float) -> list[str]:
        """The TXT records listed for ``name``; raises :class:`DnsError` as configured."""
        normalized = self._record(name, TXT)
        if normalized in self._txt:
            return list(self._txt[normalized])
        raise self._missing(normalized, TXT)

    async def addresses(self, name: str, *, timeout: float) -> list[IPAddress]:
        """The addresses listed for ``name``; raises :class:`DnsError` as configured."""
        normalized = self._record(name, ADDR)
        if normalized in self._addresses:
            return list(self._addresses[normalized])
        if is_localhost(normalized):
            return list(LOCALHOST_ADDRESSES)
        raise self._missing(normalized, ADDR)

    async def srv(self, name: str, *, timeout: float) -> list[SrvTuple]:
        """The SRV records listed for ``name``; raises :class:`DnsError` as configured."""
        normalized = self._record(name, SRV)
        if normalized in self._srv:
            return list(self._srv[normalized])
        raise self._missing(normalized, SRV)

    def _record(self, name: str, rdtype: str) -> str:
        normalized = normalize_name(name)
        self.queries.append((normalized, rdtype))
        kind = self._failures.get((normalized, rdtype))
        if kind is not None:
            raise DnsError(kind, normalized, _display_type(rdtype))
        return normalized

    def _missing(self, name: str, rdtype: str) -> DnsError:
        if name in self._txt or name in self._addresses or name in self._srv or is_localhost(name):
            return DnsError(FailureKind.DNS_NO_ANSWER, name, _display_type(rdtype))
        return DnsError(FailureKind.DNS_NXDOMAIN, name, _display_type(rdtype))


def _display_type(rdtype: str) -> str:
    return "A/AAAA" if rdtype == ADDR else rdtype

"""The sandbox's DNS: handle TXT records, host addresses, SRV records, and network-origin (ASN)
records.

Every sandbox host resolves to a loopback address (127.0.0.0/8), in process and over sockets
alike, so nothing a sandbox audit does can leave the machine, and audits of it need
``--allow-private`` in both modes (which keeps their results identical).

Origin records use Team Cymru's DNS format, the one public origin-lookup service that answers over
plain DNS: ``<reversed IPv4>.origin.asn.cymru.com TXT "ASN | prefix | CC | registry | date"`` and
``AS<n>.asn.cymru.com TXT "ASN | CC | registry | date | name"``. Sandbox networks use private-use
AS numbers (64512-65534) and say "sandbox" in their names.

SRV records (RFC 2782) exist for Matrix server discovery (``_matrix-fed._tcp.<server name>``):
:meth:`Zone.add_srv` adds them, :meth:`Zone.srv` reads them as ``(priority, weight, port,
target)`` tuples, and both the DNS server and :meth:`Zone.resolver` answer SRV queries from them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from auditor.net.dns import SrvTuple as SrvRecord
from auditor.net.dns import StaticResolver, normalize_name

CYMRU_ORIGIN = "origin.asn.cymru.com"
CYMRU_AS = "asn.cymru.com"


@dataclass(frozen=True)
class Origin:
    """A network that announces some sandbox addresses."""

    asn: int
    name: str
    prefix: str
    country: str = "ZZ"
    registry: str = "sandbox"
    allocated: str = "2020-01-01"


V = TypeVar("V")


class Names(dict[str, list[V]]):
    """Records keyed by normalized name (:func:`~auditor.net.dns.normalize_name`), however they
    are written, so a lookup is one dictionary access: a sandbox of 100,000 accounts answers
    every NXDOMAIN without scanning its names. ``Names[str]`` for TXT values and addresses,
    ``Names[SrvRecord]`` for SRV records."""

    def __init__(self, entries: Mapping[str, Sequence[V]] | None = None) -> None:
        super().__init__()
        for name, values in (entries or {}).items():
            self[name] = values if isinstance(values, list) else list(values)

    def __setitem__(self, name: str, values: list[V]) -> None:
        super().__setitem__(normalize_name(name), values)

    def __getitem__(self, name: str) -> list[V]:
        return super().__getitem__(normalize_name(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(normalize_name(name))

    def get(self, name: str, default: list[V] | None = None) -> list[V] | None:  # type: ignore[override]
        return super().get(normalize_name(name), default)

    def setdefault(self, name: str, default: list[V]) -> list[V]:
        return super().setdefault(normalize_name(name), default)

    def update(self, entries: Mapping[str, Sequence[V]]) -> None:  # type: ignore[override]
        for name, values in entries.items():
            self[name] = values if isinstance(values, list) else list(values)


@dataclass
class Zone:
    """Records by name; ``resolver()`` serves them in process, the DNS server over sockets."""

    txt: Names[str] = field(default_factory=Names)
    addresses: Names[str] = field(default_factory=Names)

    def __post_init__(self) -> None:
        # Plain dictionaries given to the constructor are normalized too.
        self.txt = self.txt if isinstance(self.txt, Names) else Names(self.txt)
        self.addresses = (
            self.addresses if isinstance(self.addresses, Names) else Names(self.addresses)
        )
        self.srv_records = (
            self.srv_records if isinstance(self.srv_records, Names) else Names(self.srv_records)
        )

    _next: dict[str, int] = field(default_factory=dict)
    srv_records: Names[SrvRecord] = field(default_factory=Names)

    def add_srv(self, name: str, priority: int, weight: int, port: int, target: str) -> None:
        """Add an SRV record to ``name`` (e.g. ``_matrix-fed._tcp.hal.test``)."""
        self.srv_records.setdefault(name, []).append(
            (priority, weight, port, normalize_name(target))
        )

    def srv(self, name: str) -> list[SrvRecord]:
        """The SRV records of ``name`` (empty when it has none)."""
        return list(self.srv_records.get(name) or [])

    def add_txt(self, name: str, *values: str) -> None:
        self.txt.setdefault(name.lower(), []).extend(values)

    def add_host(self, host: str, origin: Origin) -> str:
        """Give ``host`` the next loopback address of ``origin``'s prefix, with origin records."""
        host = host.lower()
        if host in self.addresses:
            return self.addresses[host][0]
        network = ipaddress.ip_network(origin.prefix)
        index = self._next.get(origin.prefix, 1)
        self._next[origin.prefix] = index + 1
        address = str(network[index])
        self.addresses[host] = [address]
        self.add_origin(address, origin)
        return address

    def add_origin(self, address: str, origin: Origin) -> None:
        reversed_ip = ".".join(reversed(address.split(".")))
        self.txt[f"{reversed_ip}.{CYMRU_ORIGIN}"] = [
            f"{origin.asn} | {origin.prefix} | {origin.country} | {origin.registry} | "
            f"{origin.allocated}"
        ]
        self.txt[f"as{origin.asn}.{CYMRU_AS}"] = [
            f"{origin.asn} | {origin.country} | {origin.registry} | {origin.allocated} | "
            f"{origin.name}"
        ]

    def resolver(self) -> StaticResolver:
        """An in-process resolver answering from this zone (SRV included)."""
        return StaticResolver(txt=self.txt, addresses=self.addresses, srv=self.srv_records)

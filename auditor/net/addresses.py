"""Which IP addresses decaudit may connect to: the address half of the destination policy.

An auditor fetches URLs that come from *remote data* (DID documents, redirects, handles), so a
hostile account could point it at ``169.254.169.254`` (cloud metadata), ``127.0.0.1:6379`` or the
auditing machine's LAN. Every address a request would reach is therefore classified here, and
:func:`is_permitted` decides:

* ``public``: always permitted;
* ``loopback`` and ``private`` (RFC 1918, ``100.64.0.0/10`` shared address space, ``fc00::/7``
  unique-local): only with ``allow_private`` (local test networks, ``--allow-private``);
* ``link_local`` (``169.254.0.0/16``, ``fe80::/10``: where cloud metadata services live),
  ``multicast``, ``reserved`` (documentation, benchmarking, protocol-assignment, discard-only,
  deprecated and unallocated ranges) and ``unspecified``: refused always.

IPv6 addresses that embed an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, the NAT64 well-known
prefix ``64:ff9b::/96`` and 6to4 ``2002::/16``) are classified by the IPv4 address they embed,
because that is where the packets end up. Python's ``ipaddress`` ``is_private``/``is_global``
flags are not used: their meaning has shifted between Python releases and they do not look
inside NAT64 or 6to4 addresses. The tables below are the whole policy, in one place.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

IPAddress = IPv4Address | IPv6Address
"""Either kind of IP address."""


class AddressClass(StrEnum):
    """What kind of destination an IP address is, as far as the policy cares."""

    PUBLIC = "public"
    PRIVATE = "private"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    MULTICAST = "multicast"
    RESERVED = "reserved"
    UNSPECIFIED = "unspecified"


_V4_TABLE: tuple[tuple[IPv4Network, AddressClass], ...] = tuple(
    (IPv4Network(net), cls)
    for net, cls in (
        # Most specific first: the first matching row wins.
        ("0.0.0.0/32", AddressClass.UNSPECIFIED),
        ("0.0.0.0/8", AddressClass.RESERVED),  # "this network"
        ("10.0.0.0/8", AddressClass.PRIVATE),
        ("100.64.0.0/10", AddressClass.PRIVATE),  # shared address space (carrier-grade NAT)
        ("127.0.0.0/8", AddressClass.LOOPBACK),
        ("169.254.0.0/16", AddressClass.LINK_LOCAL),  # includes 169.254.169.254 (metadata)
        ("172.16.0.0/12", AddressClass.PRIVATE),
        ("192.0.0.0/24", AddressClass.RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", AddressClass.RESERVED),  # TEST-NET-1 (documentation)
        ("192.88.99.0/24", AddressClass.RESERVED),  # former 6to4 relay anycast
        ("192.168.0.0/16", AddressClass.PRIVATE),
        ("198.18.0.0/15", AddressClass.RESERVED),  # benchmarking
        ("198.51.100.0/24", AddressClass.RESERVED),  # TEST-NET-2 (documentation)
        ("203.0.113.0/24", AddressClass.RESERVED),  # TEST-NET-3 (documentation)
        ("224.0.0.0/4", AddressClass.MULTICAST),
        ("240.0.0.0/4", AddressClass.RESERVED),  # future use, and 255.255.255.255 broadcast
    )
)

_V6_TABLE: tuple[tuple[IPv6Network, AddressClass], ...] = tuple(
    (IPv6Network(net), cls)
    for net, cls in (
        ("::/128", AddressClass.UNSPECIFIED),
        ("::1/128", AddressClass.LOOPBACK),
        ("::/96", AddressClass.RESERVED),  # deprecated IPv4-compatible addresses
        ("::ffff:0:0:0/96", AddressClass.RESERVED),  # SIIT IPv4-translated addresses
        ("64:ff9b:1::/48", AddressClass.RESERVED),  # local-use NAT64 (RFC 8215)
        ("100::/64", AddressClass.RESERVED),  # discard-only
        ("2001:db8::/32", AddressClass.RESERVED),  # documentation
        ("2001::/23", AddressClass.RESERVED),  # IETF protocol assignments (Teredo, benchmarking…)
        ("3fff::/20", AddressClass.RESERVED),  # documentation (RFC 9637)
        ("5f00::/16", AddressClass.RESERVED),  # SRv6 SIDs
        ("fc00::/7", AddressClass.PRIVATE),  # unique-local
        ("fe80::/10", AddressClass.LINK_LOCAL),
        ("fec0::/10", AddressClass.RESERVED),  # deprecated site-local
        ("ff00::/8", AddressClass.MULTICAST),
    )
)

_V6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_V4_MAPPED = IPv6Network("::ffff:0:0/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")

_PERMITTED_WITH_ALLOW_PRIVATE = frozenset({AddressClass.LOOPBACK, AddressClass.PRIVATE})

_DESCRIPTIONS: dict[AddressClass, str] = {
    AddressClass.PUBLIC: "public",
    AddressClass.PRIVATE: "private",
    AddressClass.LOOPBACK: "loopback",
    AddressClass.LINK_LOCAL: "link-local (cloud metadata range)",
    AddressClass.MULTICAST: "multicast",
    AddressClass.RESERVED: "reserved (documentation, benchmarking or unallocated range)",
    AddressClass.UNSPECIFIED: "unspecified",
}


def parse_ip(value: str | IPAddress) -> IPAddress:
    """``value`` as an IP address object; raises ``ValueError`` for anything that is not one.

    IPv6 zone identifiers (``fe80::1%eth0``) and surrounding brackets (``[::1]``) are accepted.
    """
    if isinstance(value, IPv4Address | IPv6Address):
        return value
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" not in text and text.strip("0123456789."):
        # Not IPv6 and not dotted decimal: a host name. Said without ip_address(), which
        # raises only after trying both families (most calls are for names, on every request).
        raise ValueError(f"{text!r} does not appear to be an IPv4 or IPv6 address")
    return ip_address(text)


def embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 (``64:ff9b::/96``) or 6to4 address carries."""
    if ip in _V4_MAPPED or ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip in _SIX_TO_FOUR:
        return IPv4Address((int(ip) >> 80) & 0xFFFF_FFFF)
    return None


def classify(ip: str | IPAddress) -> AddressClass:
    """The :class:`AddressClass` of ``ip`` (an address object or its text form)."""
    address = parse_ip(ip)
    if isinstance(address, IPv4Address):
        return _classify_v4(address)
    return _classify_v6(address)


def _classify_v4(ip: IPv4Address) -> AddressClass:
    for network, cls in _V4_TABLE:
        if ip in network:
            return cls
    return AddressClass.PUBLIC


def _classify_v6(ip: IPv6Address) -> AddressClass:
    if ip.scope_id is not None:
        ip = IPv6Address(int(ip))
    embedded = embedded_ipv4(ip)
    if embedded is not None:
        return _classify_v4(embedded)
    for network, cls in _V6_TABLE:
        if ip in network:
            return cls
    if ip in _V6_GLOBAL_UNICAST:
        return AddressClass.PUBLIC
    return AddressClass.RESERVED  # outside 2000::/3: not allocated for global unicast


def is_permitted(ip: str | IPAddress, *, allow_private: bool) -> bool:
    """Whether decaudit may connect to ``ip`` under the policy described in this module."""
    cls = classify(ip)
    if cls is AddressClass.PUBLIC:
        return True
    return allow_private and cls in _PERMITTED_WITH_ALLOW_PRIVATE


def describe(ip: str | IPAddress, *, allow_private: bool) -> str:
    """One phrase saying what ``ip`` is and what the policy does with it.

    ``"169.254.169.254 is link-local (cloud metadata range); refused always"``.
    """
    address = parse_ip(ip)
    cls = classify(address)
    what = _DESCRIPTIONS[cls]
    embedded = embedded_ipv4(address) if isinstance(address, IPv6Address) else None
    subject = f"{address} (embedding {embedded})" if embedded is not None else str(address)
    if cls is AddressClass.PUBLIC:
        verdict = "permitted"
    elif cls in _PERMITTED_WITH_ALLOW_PRIVATE:
        verdict = "permitted (--allow-private)" if allow_private else "needs --allow-private"
    else:
        verdict = "refused always"
    return f"{subject} is {what}; {verdict}"

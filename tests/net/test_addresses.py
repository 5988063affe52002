"""The address policy, over many IPv4 and IPv6 edge cases (no network)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from auditor.net.addresses import AddressClass, classify, describe, embedded_ipv4, is_permitted

A = AddressClass

CASES: list[tuple[str, AddressClass]] = [
    # IPv4: public
    ("8.8.8.8", A.PUBLIC),
    ("1.1.1.1", A.PUBLIC),
    ("9.255.255.255", A.PUBLIC),
    ("11.0.0.0", A.PUBLIC),
    ("100.63.255.255", A.PUBLIC),
    ("100.128.0.0", A.PUBLIC),
    ("126.255.255.255", A.PUBLIC),
    ("128.0.0.0", A.PUBLIC),
    ("169.253.255.255", A.PUBLIC),
    ("169.255.0.0", A.PUBLIC),
    ("172.15.255.255", A.PUBLIC),
    ("172.32.0.0", A.PUBLIC),
    ("192.0.1.0", A.PUBLIC),
    ("192.167.255.255", A.PUBLIC),
    ("192.169.0.0", A.PUBLIC),
    ("198.17.255.255", A.PUBLIC),
    ("198.20.0.0", A.PUBLIC),
    ("223.255.255.255", A.PUBLIC),
    # IPv4: unspecified and "this network"
    ("0.0.0.0", A.UNSPECIFIED),
    ("0.0.0.1", A.RESERVED),
    ("0.255.255.255", A.RESERVED),
    # IPv4: private (RFC 1918 and shared address space)
    ("10.0.0.0", A.PRIVATE),
    ("10.255.255.255", A.PRIVATE),
    ("172.16.0.1", A.PRIVATE),
    ("172.31.255.255", A.PRIVATE),
    ("192.168.0.1", A.PRIVATE),
    ("192.168.255.255", A.PRIVATE),
    ("100.64.0.0", A.PRIVATE),
    ("100.127.255.255", A.PRIVATE),
    # IPv4: loopback
    ("127.0.0.1", A.LOOPBACK),
    ("127.255.255.254", A.LOOPBACK),
    ("127.1.2.3", A.LOOPBACK),
    # IPv4: link-local (cloud metadata)
    ("169.254.169.254", A.LINK_LOCAL),
    ("169.254.0.0", A.LINK_LOCAL),
    ("169.254.255.255", A.LINK_LOCAL),
    # IPv4: documentation, benchmarking, protocol assignments, future use
    ("192.0.0.8", A.RESERVED),
    ("192.0.2.1", A.RESERVED),
    ("198.51.100.7", A.RESERVED),
    ("203.0.113.200", A.RESERVED),
    ("198.18.0.1", A.RESERVED),
    ("198.19.255.255", A.RESERVED),
    ("192.88.99.1", A.RESERVED),
    ("240.0.0.1", A.RESERVED),
    ("255.255.255.255", A.RESERVED),
    # IPv4: multicast
    ("224.0.0.1", A.MULTICAST),
    ("239.255.255.250", A.MULTICAST),
    # IPv6: basics
    ("::", A.UNSPECIFIED),
    ("::1", A.LOOPBACK),
    ("2606:4700:4700::1111", A.PUBLIC),
    ("2001:4860:4860::8888", A.PUBLIC),
    ("2a00:1450:4001::1", A.PUBLIC),
    ("fc00::1", A.PRIVATE),
    ("fd12:3456:789a::1", A.PRIVATE),
    ("fe80::1", A.LINK_LOCAL),
    ("fe80::1%eth0", A.LINK_LOCAL),
    ("febf:ffff::1", A.LINK_LOCAL),
    ("fec0::1", A.RESERVED),
    ("ff02::1", A.MULTICAST),
    ("ff05::1:3", A.MULTICAST),
    # IPv6: documentation, benchmarking, discard, protocol assignments, unallocated
    ("2001:db8::1", A.RESERVED),
    ("3fff::1", A.RESERVED),
    ("2001:2::1", A.RESERVED),
    ("2001::1", A.RESERVED),  # Teredo
    ("2001:10::1", A.RESERVED),  # ORCHID
    ("100::1", A.RESERVED),
    ("5f00::1", A.RESERVED),
    ("4000::1", A.RESERVED),
    ("1::1", A.RESERVED),
    ("::2", A.RESERVED),  # deprecated IPv4-compatible
    ("::7f00:1", A.RESERVED),  # IPv4-compatible form of 127.0.0.1
    ("::ffff:0:7f00:1", A.RESERVED),  # SIIT IPv4-translated
    ("64:ff9b:1::1", A.RESERVED),  # local-use NAT64
    # IPv6 embedding IPv4: classified by the embedded address
    ("::ffff:127.0.0.1", A.LOOPBACK),
    ("::ffff:7f00:1", A.LOOPBACK),
    ("::ffff:169.254.169.254", A.LINK_LOCAL),
    ("::ffff:10.0.0.1", A.PRIVATE),
    ("::ffff:8.8.8.8", A.PUBLIC),
    ("::ffff:0.0.0.0", A.UNSPECIFIED),
    ("::ffff:224.0.0.1", A.MULTICAST),
    ("64:ff9b::127.0.0.1", A.LOOPBACK),
    ("64:ff9b::a9fe:a9fe", A.LINK_LOCAL),
    ("64:ff9b::192.168.1.1", A.PRIVATE),
    ("64:ff9b::8.8.8.8", A.PUBLIC),
    ("64:ff9b::192.0.2.1", A.RESERVED),
    ("2002:7f00:1::", A.LOOPBACK),
    ("2002:a9fe:a9fe::1", A.LINK_LOCAL),
    ("2002:c0a8:101::1", A.PRIVATE),
    ("2002:808:808::1", A.PUBLIC),
    ("2002:e000:1::", A.MULTICAST),
    ("2002::", A.UNSPECIFIED),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_classify(text: str, expected: AddressClass) -> None:
    assert classify(text) is expected


@pytest.mark.parametrize(("text", "expected"), CASES[:8])
def test_classify_accepts_address_objects(text: str, expected: AddressClass) -> None:
    assert classify(IPv4Address(text)) is expected


def test_classify_accepts_brackets() -> None:
    assert classify("[::1]") is A.LOOPBACK
    assert classify(IPv6Address("fd00::1")) is A.PRIVATE


@pytest.mark.parametrize(
    "text", ["localhost", "127.1", "0x7f.0.0.1", "0177.0.0.1", "", "1.2.3.4.5"]
)
def test_classify_rejects_non_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        classify(text)


@pytest.mark.parametrize(
    ("cls", "without", "with_private"),
    [
        (A.PUBLIC, True, True),
        (A.PRIVATE, False, True),
        (A.LOOPBACK, False, True),
        (A.LINK_LOCAL, False, False),
        (A.MULTICAST, False, False),
        (A.RESERVED, False, False),
        (A.UNSPECIFIED, False, False),
    ],
)
def test_is_permitted_by_class(cls: AddressClass, without: bool, with_private: bool) -> None:
    for text, expected in CASES:
        if expected is cls:
            assert is_permitted(text, allow_private=False) is without, text
            assert is_permitted(text, allow_private=True) is with_private, text


def test_every_class_is_covered_by_the_table() -> None:
    assert {cls for _, cls in CASES} == set(AddressClass)


@pytest.mark.parametrize(
    ("text", "embedded"),
    [
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("64:ff9b::1.2.3.4", "1.2.3.4"),
        ("2002:102:304:5::6", "1.2.3.4"),
        ("2001:db8::1", None),
        ("::1", None),
    ],
)
def test_embedded_ipv4(text: str, embedded: str | None) -> None:
    found = embedded_ipv4(IPv6Address(text))
    assert (str(found) if found else None) == embedded


@pytest.mark.parametrize(
    ("text", "allow_private", "expected"),
    [
        (
            "169.254.169.254",
            False,
            "169.254.169.254 is link-local (cloud metadata range); refused always",
        ),
        (
            "169.254.169.254",
            True,
            "169.254.169.254 is link-local (cloud metadata range); refused always",
        ),
        ("127.0.0.1", False, "127.0.0.1 is loopback; needs --allow-private"),
        ("10.1.2.3", True, "10.1.2.3 is private; permitted (--allow-private)"),
        ("8.8.8.8", False, "8.8.8.8 is public; permitted"),
        ("ff02::1", True, "ff02::1 is multicast; refused always"),
        (
            "::ffff:169.254.169.254",
            True,
            "::ffff:a9fe:a9fe (embedding 169.254.169.254) is link-local (cloud metadata range); "
            "refused always",
        ),
    ],
)
def test_describe(text: str, allow_private: bool, expected: str) -> None:
    assert describe(text, allow_private=allow_private) == expected

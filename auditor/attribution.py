"""Who operates a host or holds a key: the attribution behind every "operated by" in a report.

Two sources, in order:

1. ``auditor/data/operators.json``: known infrastructure (Bluesky PBC's PDSes, relays, directory,
   AppView; known independent providers, relays and mirrors) and known operator rotation keys, each
   row with its public source. Rows whose operator only third-party material names carry
   ``verified: false``, and every attribution made from them says so.
2. Anything else belongs to its *registrable domain* under the Public Suffix List
(``publicsuffixlist``
   ships the list in the wheel and never downloads at run time): ``pds.alice.example`` and
   ``alice.example`` share an operator, ``alice.github.io`` and ``bob.github.io`` do not.

Attribution is by the host *as the protocol names it* (the DID document's endpoint, the handle),
never by
the address a ``--connect-to`` override sends the request to, so a sandbox on loopback is attributed
exactly like the network it imitates.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit


class AttributionBasis(StrEnum):
    """How an operator was assigned."""

    KNOWN = "known"
    """A row of decaudit's data file, with a source."""
    REGISTRABLE_DOMAIN = "registrable_domain"
    """Not a known operator: the host's registrable domain (Public Suffix List) stands for it."""
    IP_ADDRESS = "ip_address"
    """An IP literal: the address itself is all that can be said."""
    UNKNOWN = "unknown"
    """No usable host (malformed, or a bare public suffix)."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """The operator a host belongs to, and why decaudit thinks so."""

    host: str
    operator_id: str
    """Stable id: a data-file key (``bluesky``) or the registrable domain (``alice.example``)."""
    operator_name: str
    basis: AttributionBasis
    source: str
    """Where the attribution comes from (a citation for known rows)."""
    verified: bool
    """False when only third-party material names this operator."""
    roles: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The operator's name as a report should print it: flagged when only third-party
        material names this operator."""
        if self.basis is AttributionBasis.KNOWN and not self.verified:
            return f"{self.operator_name} (attribution unverified)"
        return self.operator_name

    @property
    def is_known_operator(self) -> bool:
        """True when a data-file row (not just a domain name) matched."""
        return self.basis is AttributionBasis.KNOWN


@dataclass(frozen=True, slots=True)
class KeyAttribution:
    """A rotation key decaudit's data attributes to an operator."""

    key: str
    operator_id: str
    operator_name: str
    role: str
    source: str
    derived: bool
    """True when the attribution is inferred from public logs rather than published by the
    operator."""
    sandbox: bool = False
    """A sandbox row: applies only to evidence from decaudit's sandbox network."""

    @property
    def basis(self) -> str:
        """How the attribution was made, in words a report can quote."""
        if self.sandbox:
            return "sandbox key"
        return "inferred from public PLC logs" if self.derived else "published"


@dataclass(frozen=True, slots=True)
class _HostRule:
    pattern: str
    regex: re.Pattern[str]
    specificity: tuple[int, int]
    operator_id: str
    roles: tuple[str, ...]
    source: str
    verified: bool
    sandbox: bool


def _compile(pattern: str) -> re.Pattern[str]:
    """``*.x`` matches any depth of subdomain of x; an inner ``*`` matches exactly one label."""
    labels = pattern.split(".")
    parts: list[str] = []
    for index, label in enumerate(labels):
        if label == "*" and index == 0:
            parts.append(r"(?:[a-z0-9-]+\.)+")
        elif label == "*":
            parts.append(r"[a-z0-9-]+\.")
        else:
            parts.append(re.escape(label) + (r"\." if index < len(labels) - 1 else ""))
    return re.compile("".join(parts) + r"\Z")


@dataclass(frozen=True, slots=True, eq=False)
class AttributionData:
    """The parsed data file (compared and hashed by identity: it is a cache key)."""

    version: str
    operators: dict[str, str]
    dominant: dict[str, str]
    """Operator id -> the public measurement that makes it the network's dominant operator."""
    rules: tuple[_HostRule, ...]
    keys: dict[str, KeyAttribution]


@cache
def load_data() -> AttributionData:
    """Load and validate ``operators.json`` once per process."""
    raw: dict[str, Any] = json.loads(
        resources.files("auditor.data").joinpath("operators.json").read_text("utf-8")
    )
    operators = {key: str(value["name"]) for key, value in raw["operators"].items()}
    rules = []
    for row in raw["hosts"]:
        pattern = str(row["pattern"])
        literal = [label for label in pattern.split(".") if label != "*"]
        rules.append(
            _HostRule(
                pattern=pattern,
                regex=_compile(pattern),
                # exact names before wildcards, then the longer literal suffix first
                specificity=(0 if "*" in pattern else 1, len(literal)),
                operator_id=str(row["operator"]),
                roles=tuple(row.get("roles", ())),
                source=str(row["source"]),
                verified=bool(row["verified"]),
                sandbox=bool(row.get("sandbox", False)),
            )
        )
    rules.sort(key=lambda rule: rule.specificity, reverse=True)
    keys = {
        str(row["key"]): KeyAttribution(
            key=str(row["key"]),
            operator_id=str(row["operator"]),
            operator_name=operators[str(row["operator"])],
            role=str(row["role"]),
            source=str(row["source"]),
            derived=bool(row["derived"]),
            sandbox=bool(row.get("sandbox", False)),
        )
        for row in raw["keys"]
    }
    for rule in rules:
        if rule.operator_id not in operators:
            raise ValueError(f"operators.json: host {rule.pattern!r} names unknown operator")
    dominant = {
        key: str(value["dominant"])
        for key, value in raw["operators"].items()
        if "dominant" in value
    }
    return AttributionData(str(raw["version"]), operators, dominant, tuple(rules), keys)


@cache
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@lru_cache(maxsize=8192)
def host_of(url_or_host: str) -> str:
    """The lowercase host of a URL (or of a bare ``host[:port]``), without port or trailing dot.

    Cached: checks and the dependency graph ask it of the same few URLs many times per report.
    """
    text = url_or_host.strip()
    if text.count(":") > 1 and "://" not in text and _is_ip(text):
        return text.strip("[]").lower()  # a bare IPv6 literal (a Matrix server name's host)
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".").lower()


@lru_cache(maxsize=8192)
def registrable_domain(host: str) -> str | None:
    """The registrable domain ("eTLD+1") of a host name, or None for IPs and bare suffixes.

    Cached: a report asks it of the same handle and hosts several times (the name, custody and
    hosting readings), and the Public Suffix List walk is the costliest step of those readings.
    """
    host = host.rstrip(".").lower()
    if not host or _is_ip(host):
        return None
    result = _psl().privatesuffix(host)
    return str(result) if result else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def attribute_host(url_or_host: str, *, sandbox: bool = False) -> Attribution:
    """Attribute a host (or the host of a URL) to its operator.

    Sandbox rows (fictional ``.test`` providers) apply only when ``sandbox`` is true, i.e. to
    evidence gathered from decaudit's sandbox network.
    """
    return _attribute(host_of(url_or_host), sandbox, load_data())


@lru_cache(maxsize=8192)
def _attribute(host: str, sandbox: bool, data: AttributionData) -> Attribution:
    """The attribution itself, cached: checks and the dependency graph ask about the same few
    hosts (the PDS, relays, the directory) dozens of times per report, and a batch asks about
    the same providers for every account; an Attribution is immutable."""
    for rule in data.rules:
        if rule.sandbox and not sandbox:
            continue
        if rule.regex.match(host):
            return Attribution(
                host=host,
                operator_id=rule.operator_id,
                operator_name=data.operators[rule.operator_id],
                basis=AttributionBasis.KNOWN,
                source=f"{rule.source} (decaudit data {data.version}, rule {rule.pattern})",
                verified=rule.verified,
                roles=rule.roles,
            )
    if _is_ip(host):
        return Attribution(
            host, host, host, AttributionBasis.IP_ADDRESS, "IP address literal", verified=False
        )
    domain = registrable_domain(host)
    if domain is None:
        return Attribution(
            host,
            host or "unknown",
            host or "unknown",
            AttributionBasis.UNKNOWN,
            "no registrable domain",
            verified=False,
        )
    return Attribution(
        host=host,
        operator_id=domain,
        operator_name=domain,
        basis=AttributionBasis.REGISTRABLE_DOMAIN,
        source=f"registrable domain of {host} (Public Suffix List)",
        verified=False,
    )


def attribute_key(did_key: str, *, sandbox: bool = False) -> KeyAttribution | None:
    """The operator decaudit's data attributes a rotation key to, or None if unknown.

    Sandbox keys (seeded, their private halves public) are attributed only when ``sandbox`` is
    true: on live evidence they could be planted by anyone, so they must never count there.
    """
    found = load_data().keys.get(did_key)
    if found is None or (found.sandbox and not sandbox):
        return None
    return found

"""Building blocks shared by evidence and reports: the base model and the probe-failure record.

A probe that fails is *evidence*, not an absence of evidence: "no `_atproto` TXT record",
"NXDOMAIN", "timed out after 10 s" and "HTTP 404" score differently, so each failure is kept as a
:class:`ProbeFailure` with a machine-readable :class:`FailureKind`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Base of every model: immutable, strict about unknown keys, attribute docstrings in the
    schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class FailureKind(StrEnum):
    """Why a probe produced no usable answer."""

    TIMEOUT = "timeout"
    """The request or lookup exceeded its own timeout."""
    DEADLINE = "deadline"
    """The audit's overall deadline ran out before the probe finished."""
    DNS_NXDOMAIN = "dns_nxdomain"
    """The name does not exist in DNS."""
    DNS_NO_ANSWER = "dns_no_answer"
    """The name exists but has no record of the type asked for."""
    DNS_ERROR = "dns_error"
    """DNS failed otherwise (SERVFAIL, refused, no nameserver answered)."""
    HTTP_STATUS = "http_status"
    """The server answered with a non-success HTTP status."""
    TLS = "tls"
    """The TLS handshake or certificate verification failed."""
    NETWORK = "network"
    """The connection could not be made or broke off."""
    INVALID_RESPONSE = "invalid_response"
    """The server answered, but not with what the protocol asks for."""
    TOO_LARGE = "too_large"
    """The response exceeded its size cap."""
    TOO_MANY_REDIRECTS = "too_many_redirects"
    """More redirects than the policy allows."""
    BLOCKED_ADDRESS = "blocked_address"
    """The destination is a private, loopback, link-local, multicast or reserved address."""
    INSECURE_TRANSPORT = "insecure_transport"
    """Plain http (or a downgrade to it) to a public destination."""
    INTERNAL = "internal"
    """decaudit itself failed while probing (a bug; the message says where)."""


class ProbeFailure(Model):
    """A probe that produced no usable answer, and why."""

    outcome: Literal["failed"] = "failed"
    """Discriminator: always ``failed``."""
    kind: FailureKind
    """Machine-readable reason."""
    source: str
    """What was probed: a URL or a DNS name."""
    message: str
    """One line for a human, naming what failed."""
    http_status: int | None = None
    """The HTTP status, when the server answered."""
    error_name: str | None = None
    """The XRPC error name (``RepoNotFound``, ...) when the server gave one."""
    elapsed_ms: float | None = None
    """Time spent before giving up, in milliseconds."""


class HttpExchange(Model):
    """What was asked and what came back, for a successful HTTP probe (the citable part)."""

    url: str
    """The URL requested, as the protocol names it (before any ``--connect-to`` rewrite)."""
    final_url: str
    """The URL that answered, after redirects."""
    status: int
    """HTTP status of the final response."""
    content_type: str | None = None
    """The ``Content-Type`` the server sent."""
    elapsed_ms: float
    """Wall time for the whole exchange, retries and redirects included, in milliseconds."""
    redirects: list[str] = []
    """Each redirect target in order; empty when none."""

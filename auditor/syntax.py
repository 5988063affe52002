"""Identifier syntax for AT Protocol handles, DIDs and audit targets.

Every audit starts from a string a person typed: a handle, a DID, an ``at://`` URI or a bsky.app
profile link. Before any network traffic happens, that string has to be checked against the
protocol's syntax rules so that a typo becomes one clear line naming the rule it broke (the CLI's
exit-2 message) instead of a confusing resolution failure later.

The rules follow the atproto specs (handle, DID) and agree 100 % with the interop test vectors in
``atproto-interop-tests/syntax``. Three layers are kept apart on purpose, because the report
distinguishes them:

* *syntax* (``handle_syntax_error``, ``did_syntax_error``): what any atproto implementation must
  accept or reject, whatever the DID method;
* *method support* (``supported_did_error``): atproto blesses only ``did:plc`` and ``did:web``, each
  with its own identifier rules;
* *resolvability* (``reserved_tld``): some syntactically valid handles can never resolve.

Everything here is pure: no I/O, no third-party imports.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

from auditor.text import shown

__all__ = [
    "DISALLOWED_TLDS",
    "MAX_DID_LENGTH",
    "MAX_HANDLE_LENGTH",
    "SUPPORTED_DID_METHODS",
    "Network",
    "Target",
    "TargetKind",
    "TargetSyntaxError",
    "at_identifier_syntax_error",
    "did_method",
    "did_syntax_error",
    "did_web_host",
    "handle_syntax_error",
    "is_valid_at_identifier",
    "is_valid_did",
    "is_valid_handle",
    "matrix_server_name_error",
    "normalize_handle",
    "parse_target",
    "reserved_tld",
    "supported_did_error",
]

MAX_HANDLE_LENGTH = 253
"""Longest handle the spec allows (the DNS name limit)."""

MAX_LABEL_LENGTH = 63
"""Longest single dot-separated label of a handle (the DNS label limit)."""

MAX_DID_LENGTH = 2048
"""Longest DID atproto accepts (the DID spec itself sets no limit)."""

DISALLOWED_TLDS: frozenset[str] = frozenset(
    {"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"}
)
"""TLDs that pass handle *syntax* but must never resolve (spec: handle, additional restrictions)."""

SUPPORTED_DID_METHODS: tuple[str, ...] = ("plc", "web")
"""The DID methods AT Protocol blesses."""

_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_DID_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:%-")
_DID_RE = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
_PLC_ID_RE = re.compile(r"^[a-z2-7]{24}$")
_PORT_RE = re.compile(r"^[0-9]{1,5}$")


# --------------------------------------------------------------------------------------------
# Handles
# --------------------------------------------------------------------------------------------


def _label_error(label: str, is_tld: bool) -> str | None:
    """The rule one lowercase handle label breaks, or None."""
    if not label:
        return "handle has an empty label (a leading dot or two dots in a row)"
    if len(label) > MAX_LABEL_LENGTH:
        return f"label {shown(label)} is {len(label)} characters long (max {MAX_LABEL_LENGTH})"
    for char in label:
        if char not in _LABEL_CHARS:
            return f"label {shown(label)} contains {char!r} (handle labels allow a-z, 0-9 and '-')"
    if label.startswith("-"):
        return f"label {shown(label)} starts with '-'"
    if label.endswith("-"):
        return f"label {shown(label)} ends with '-'"
    if is_tld and label[0].isdigit():
        return f"top-level domain {shown(label)} starts with a digit"
    return None


def handle_syntax_error(s: str) -> str | None:
    """Check ``s`` against the atproto handle syntax.

    Returns None when ``s`` is a syntactically valid handle (in any letter case), otherwise one
    short line naming the rule it breaks. Reserved TLDs such as ``.local`` pass: they are a
    resolution question, see :func:`reserved_tld`.
    """
    if not s:
        return "handle is empty"
    for char in s:
        if not char.isascii():
            return f"handle contains non-ASCII character {char!r} (use its punycode xn-- form)"
    if len(s) > MAX_HANDLE_LENGTH:
        return f"handle is {len(s)} characters long (max {MAX_HANDLE_LENGTH})"
    if s.endswith("."):
        return "handle ends with '.' (no trailing dot allowed)"
    labels = s.lower().split(".")
    if len(labels) < 2:
        return "handle has only one label (needs a domain, e.g. 'name.example.com')"
    for position, label in enumerate(labels):
        error = _label_error(label, is_tld=position == len(labels) - 1)
        if error:
            return error
    return None


def is_valid_handle(s: str) -> bool:
    """True if ``s`` is a syntactically valid handle (reserved TLDs included)."""
    return handle_syntax_error(s) is None


def normalize_handle(handle: str) -> str:
    """The canonical (lowercase) form of a valid handle; raises ValueError for an invalid one."""
    error = handle_syntax_error(handle)
    if error:
        raise ValueError(error)
    return handle.lower()


def reserved_tld(handle: str) -> str | None:
    """The TLD of ``handle`` if it is one that may never resolve (e.g. ``local``), else None."""
    tld = handle.lower().rsplit(".", 1)[-1]
    return tld if tld in DISALLOWED_TLDS else None


# --------------------------------------------------------------------------------------------
# DIDs
# --------------------------------------------------------------------------------------------


def _did_char_error(identifier: str) -> str | None:
    """The first character the generic DID grammar forbids in the method-specific part, or None."""
    for char in identifier:
        if char not in _DID_ID_CHARS:
            return f"DID contains {char!r} (allowed after the method: a-z A-Z 0-9 . _ : % -)"
    return None


def did_syntax_error(s: str) -> str | None:
    """Check ``s`` against the generic atproto DID syntax (any method).

    Returns None for a valid DID, otherwise one short line naming the rule broken. Whether
    atproto supports the method is a separate question: see :func:`supported_did_error`.
    """
    if not s:
        return "DID is empty"
    if not s.startswith("did:"):
        if s[:4].lower() == "did:":
            return "DID must start with lowercase 'did:'"
        return "DID must start with 'did:'"
    if len(s) > MAX_DID_LENGTH:
        return f"DID is {len(s)} characters long (max {MAX_DID_LENGTH})"
    method, sep, identifier = s[4:].partition(":")
    if not sep:
        return "DID has no method-specific identifier (expected did:<method>:<identifier>)"
    if not method:
        return "DID method is empty (expected did:<method>:<identifier>)"
    if not all("a" <= char <= "z" for char in method):
        return f"DID method {shown(method)} must be lowercase letters a-z only"
    if not identifier:
        return "DID's method-specific identifier is empty"
    error = _did_char_error(identifier)
    if error:
        return error
    if identifier[-1] in ":%":
        return f"DID must not end with {identifier[-1]!r}"
    if not _DID_RE.fullmatch(s):  # pragma: no cover - the checks above cover the whole grammar
        return "DID does not match did:<method>:<identifier>"
    return None


def is_valid_did(s: str) -> bool:
    """True if ``s`` is a syntactically valid DID of any method."""
    return did_syntax_error(s) is None


def did_method(did: str) -> str:
    """The method name of a syntactically valid DID (``plc`` for ``did:plc:...``)."""
    return did.split(":", 2)[1]


def _plc_error(identifier: str) -> str | None:
    """The rule a ``did:plc`` identifier breaks, or None."""
    if len(identifier) != 24:
        return f"did:plc identifier must be 24 characters, not {len(identifier)}"
    if not _PLC_ID_RE.fullmatch(identifier):
        return "did:plc identifier must use only base32 characters a-z and 2-7"
    return None


def _split_web_host(identifier: str) -> tuple[str, str | None] | str:
    """Split a ``did:web`` identifier into (host, port), or return the rule it breaks."""
    if ":" in identifier:
        return "did:web with a path (':' segments) is not supported by atproto; use a bare hostname"
    decoded = identifier.replace("%3a", "%3A")
    if decoded.count("%") != decoded.count("%3A"):
        return "did:web may only percent-encode the port separator (%3A)"
    host, sep, port = decoded.partition("%3A")
    if sep and not (_PORT_RE.fullmatch(port) and 0 < int(port) <= 65535):
        return f"did:web port {shown(port)} is not a number from 1 to 65535"
    return host.lower(), (port if sep else None)


def _web_error(identifier: str) -> str | None:
    """The rule a ``did:web`` identifier breaks, or None."""
    split = _split_web_host(identifier)
    if isinstance(split, str):
        return split
    host, _port = split
    if host == "localhost":
        return None
    error = handle_syntax_error(host)
    return f"did:web host is not a valid hostname: {error}" if error else None


def supported_did_error(s: str) -> str | None:
    """Check that ``s`` is a valid DID of a method atproto supports (plc, web).

    Returns None if so; otherwise the generic syntax error, the unsupported-method error
    ("did:foo is not a method AT Protocol supports (plc, web)") or the method-specific rule broken.
    """
    error = did_syntax_error(s)
    if error:
        return error
    method = did_method(s)
    identifier = s.split(":", 2)[2]
    if method == "plc":
        return _plc_error(identifier)
    if method == "web":
        return _web_error(identifier)
    supported = ", ".join(SUPPORTED_DID_METHODS)
    return f"did:{method} is not a method AT Protocol supports ({supported})"


def did_web_host(did: str) -> str:
    """The ``host[:port]`` a supported ``did:web`` DID names, percent-decoded and lowercased.

    ``did:web:localhost%3A8080`` gives ``localhost:8080``. Raises ValueError (with the rule
    broken) for anything that is not a supported did:web DID.
    """
    error = supported_did_error(did)
    if error:
        raise ValueError(error)
    if did_method(did) != "web":
        raise ValueError(f"not a did:web DID: {shown(did)}")
    split = _split_web_host(did.split(":", 2)[2])
    assert not isinstance(split, str)  # supported_did_error accepted it
    host, port = split
    return f"{host}:{port}" if port else host


# --------------------------------------------------------------------------------------------
# At-identifiers and audit targets
# --------------------------------------------------------------------------------------------


def at_identifier_syntax_error(s: str) -> str | None:
    """Check ``s`` as an at-identifier (the authority of an ``at://`` URI): a handle or a DID."""
    if s.startswith("did:"):
        return did_syntax_error(s)
    return handle_syntax_error(s)


def is_valid_at_identifier(s: str) -> bool:
    """True if ``s`` is a syntactically valid handle or DID."""
    return at_identifier_syntax_error(s) is None


TargetKind = Literal[
    "handle", "did", "at_uri", "profile_url", "fediverse_account", "fediverse_url", "matrix_id"
]
Network = Literal["atproto", "activitypub", "matrix"]
"""The network an account lives on: AT Protocol (Bluesky), ActivityPub (the fediverse, Mastodon),
or Matrix."""


class TargetSyntaxError(ValueError):
    """The audit target is not something decaudit can audit; ``str()`` is one line for the user."""


@dataclass(frozen=True)
class Target:
    """One parsed audit target: exactly one of ``handle`` (normalised) and ``did`` is set."""

    raw: str
    """What the user gave, unchanged."""
    kind: TargetKind
    """How it was written: a bare handle or DID, an at:// URI, or a bsky.app profile URL."""
    handle: str | None
    """The lowercase handle, if the target names the account by handle."""
    did: str | None
    """The DID, if the target names the account by DID."""
    protocol: Network = "atproto"
    account: str | None = None
    """For the fediverse, ``user@domain`` (the WebFinger ``acct:`` address, domain lowercase); for
    Matrix, the user ID ``@localpart:server_name``. None for AT Protocol targets."""


_PROFILE_HOSTS = frozenset({"bsky.app", "www.bsky.app"})


def _authority(raw: str, value: str, kind: TargetKind | None, where: str) -> Target:
    """Build a Target from an account identifier, or raise TargetSyntaxError naming the rule.

    ``kind`` None means a bare identifier: the kind is then "did" or "handle" as appropriate.
    ``where`` prefixes messages, e.g. "at:// URI authority ".
    """
    if not value:
        raise TargetSyntaxError(f"{where}names no account (expected a handle or a DID)")
    if value[:4].lower() == "did:":
        error = supported_did_error(value)
        if error:
            raise TargetSyntaxError(f"{where}{shown(value)} is not a usable DID: {error}")
        return Target(raw=raw, kind=kind or "did", handle=None, did=value)
    error = handle_syntax_error(value)
    if error:
        raise TargetSyntaxError(f"{where}{shown(value)} is not a valid handle: {error}")
    return Target(raw=raw, kind=kind or "handle", handle=value.lower(), did=None)


def _strip_query(value: str) -> str:
    """Drop a ``?query`` and ``#fragment`` from a URI-ish string."""
    return value.split("#", 1)[0].split("?", 1)[0]


def _parse_at_uri(raw: str, text: str) -> Target:
    """Parse ``at://AUTHORITY[/collection[/rkey]]``."""
    rest = _strip_query(text[len("at://") :])
    authority, _, path = rest.partition("/")
    segments = path.split("/") if path else []
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash is harmless
    if len(segments) > 2:
        raise TargetSyntaxError(
            "at:// URI has more than two path segments (expected at://AUTHORITY/collection/rkey)"
        )
    if any(not segment for segment in segments):
        raise TargetSyntaxError("at:// URI has an empty path segment")
    return _authority(raw, authority, "at_uri", "at:// URI authority ")


def _parse_profile_url(raw: str, text: str) -> Target:
    """Parse a profile link: ``https://bsky.app/profile/<handle-or-did>``, a fediverse profile
    (``https://HOST/@user``, ``https://HOST/users/user``, ``https://HOST/@user@DOMAIN``) or a
    ``https://matrix.to/#/@user:server`` link."""
    try:
        parts = urllib.parse.urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError as exc:
        raise TargetSyntaxError(f"malformed URL: {exc}") from None
    if "@" in parts.netloc:
        raise TargetSyntaxError(
            f"URL host {shown(parts.netloc)} carries a user name: give the profile link without it"
        )
    if host in _PROFILE_HOSTS:
        segments = parts.path.split("/")
        if len(segments) < 3 or segments[1] != "profile" or not segments[2]:
            raise TargetSyntaxError(
                "bsky.app URL is not a profile link (expected "
                "https://bsky.app/profile/<handle-or-did>)"
            )
        value = urllib.parse.unquote(segments[2])
        return _authority(raw, value, "profile_url", "profile URL account ")
    if host == "matrix.to":
        fragment = urllib.parse.unquote(parts.fragment).lstrip("/")
        if not fragment.startswith("@"):
            raise TargetSyntaxError(
                "matrix.to link names no user (expected https://matrix.to/#/@user:server)"
            )
        return _matrix_target(raw, fragment.split("?", 1)[0], "matrix_id")
    if port is not None:
        raise TargetSyntaxError(
            f"profile URL {shown(text)} has a port; give the account as @user@domain instead"
        )
    segments = [urllib.parse.unquote(s) for s in parts.path.split("/") if s]
    user: str | None = None
    domain = host
    if segments and segments[0].startswith("@") and len(segments[0]) > 1:
        user, _, elsewhere = segments[0][1:].partition("@")
        domain = elsewhere or host
    elif len(segments) >= 2 and segments[0] in ("users", "u"):
        user = segments[1]
    if user is None:
        raise TargetSyntaxError(
            f"URL {shown(text)} is not a profile link decaudit knows: give a handle, a DID, an "
            "at:// URI, https://bsky.app/profile/..., a fediverse profile (https://HOST/@user) "
            "or @user@domain, or a Matrix ID (@user:server)"
        )
    return _fediverse_target(raw, user, domain, "fediverse_url")


FEDIVERSE_LOCAL_PART_RE = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
"""The user part of a fediverse address decaudit accepts: RFC 7565's unreserved characters
(Mastodon allows ``[A-Za-z0-9_]``, other servers ``.``, ``-`` and ``~``), at most 64 long."""
MATRIX_LOCALPART_RE = re.compile(r"^[!-9;-~]{1,255}$")
"""A Matrix user ID localpart: printable ASCII but ``:`` (the spec's historical grammar, which
servers must still accept; new IDs use ``[a-z0-9._=/+-]``)."""
MAX_MATRIX_ID_LENGTH = 255
"""Longest Matrix user ID (sigil and server name included), per the Matrix spec."""


def _domain_error(domain: str) -> str | None:
    """Why ``domain`` is not a DNS name decaudit can look up (handle rules: two labels or more,
    LDH labels, a non-numeric TLD)."""
    error = handle_syntax_error(domain)
    return error.replace("handle", "domain") if error else None


def _fediverse_target(raw: str, user: str, domain: str, kind: TargetKind) -> Target:
    if not FEDIVERSE_LOCAL_PART_RE.match(user):
        raise TargetSyntaxError(
            f"fediverse user name {shown(user)} is not valid (1-64 of A-Z a-z 0-9 . _ ~ -)"
        )
    if ":" in domain:
        raise TargetSyntaxError(
            f"fediverse domain {shown(domain)} has a port; WebFinger is asked on port 443"
        )
    error = _domain_error(domain)
    if error:
        raise TargetSyntaxError(f"fediverse domain {shown(domain)} is not valid: {error}")
    account = f"{user}@{domain.lower()}"
    return Target(
        raw=raw, kind=kind, handle=None, did=None, protocol="activitypub", account=account
    )


def matrix_server_name_error(server: str) -> str | None:
    """Why ``server`` is not a Matrix server name (``host[:port]``; the host a DNS name or an IP
    literal, ``[...]`` for IPv6)."""
    host, port = server, None
    if server.startswith("["):
        end = server.find("]")
        if end < 0:
            return "unclosed [ in an IPv6 literal"
        host, rest = server[1:end], server[end + 1 :]
        if rest and not rest.startswith(":"):
            return "junk after an IPv6 literal"
        port = rest[1:] if rest else None
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "not an IPv6 literal"
    else:
        host, sep, after = server.partition(":")
        port = after if sep else None
        if re.fullmatch(r"[0-9.]+", host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                return f"{shown(host)} is not an IPv4 address"
        else:
            error = _domain_error(host)
            if error:
                return error
    if port is not None and not (_PORT_RE.match(port) and 0 < int(port) < 65536):
        return f"port {shown(port)} is not 1-65535"
    return None


def _matrix_target(raw: str, text: str, kind: TargetKind) -> Target:
    """Parse ``@localpart:server_name``."""
    if len(text) > MAX_MATRIX_ID_LENGTH:
        raise TargetSyntaxError(f"Matrix ID is longer than {MAX_MATRIX_ID_LENGTH} characters")
    localpart, _, server = text[1:].partition(":")
    if not MATRIX_LOCALPART_RE.match(localpart):
        raise TargetSyntaxError(
            f"Matrix localpart {shown(localpart)} is not valid (printable ASCII, no ':')"
        )
    error = matrix_server_name_error(server)
    if error:
        raise TargetSyntaxError(f"Matrix server name {shown(server)} is not valid: {error}")
    return Target(raw=raw, kind=kind, handle=None, did=None, protocol="matrix", account=text)


def parse_target(raw: str) -> Target:
    """Parse what a user asked to audit.

    Accepts, for AT Protocol, a handle (one leading ``@`` allowed), a DID of a supported method,
    an ``at://AUTHORITY[/collection[/rkey]]`` URI, or a bsky.app profile URL (``http``/``https``,
    optional ``www.``, extra path segments and a trailing slash ignored); for the fediverse,
    ``@user@domain``, ``user@domain``, ``acct:user@domain`` or a profile URL; for Matrix, a user
    ID ``@user:server`` or a ``matrix.to`` link. Surrounding whitespace is ignored. Handles and
    fediverse domains come back lowercase.

    Raises TargetSyntaxError, whose message is one line naming the rule the input breaks.
    """
    text = raw.strip()
    if not text:
        raise TargetSyntaxError(
            "empty target: give a handle, a DID, an at:// URI, a bsky.app profile URL, "
            "@user@domain (fediverse) or @user:server (Matrix)"
        )
    if any(char.isspace() for char in text):
        raise TargetSyntaxError(f"target {shown(text)} contains whitespace")
    lowered = text.lower()
    if lowered.startswith("at://"):
        return _parse_at_uri(raw, text)
    if lowered.startswith(("https://", "http://")):
        return _parse_profile_url(raw, text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise TargetSyntaxError(
            f"unsupported URL scheme {shown(scheme)}: use at://, https:// or acct:"
        )
    if lowered.startswith("acct:"):
        user, sep, domain = text[5:].partition("@")
        if not sep:
            raise TargetSyntaxError("acct: URI has no @domain (expected acct:user@domain)")
        return _fediverse_target(raw, user, domain, "fediverse_account")
    is_did = text[1:5].lower() == "did:"
    if text.startswith("@") and ":" in text and "@" not in text[1:] and not is_did:
        return _matrix_target(raw, text, "matrix_id")
    if "@" in text[1:]:
        user, _, domain = text.removeprefix("@").partition("@")
        return _fediverse_target(raw, user, domain, "fediverse_account")
    if text.startswith("@"):
        text = text[1:]
    return _authority(raw, text, None, "")

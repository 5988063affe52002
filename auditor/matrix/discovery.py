"""Matrix server-name resolution (server-server API, "Resolving server names"), as pure steps.

The gatherer asks; these functions decide what the answers mean. The order the specification
fixes: an IP literal or an explicit port is used as is; otherwise ``/.well-known/matrix/server``
may delegate to another ``host[:port]``; a delegated host without a port, or an undelegated
name, is looked up as SRV ``_matrix-fed._tcp.<host>``, then as ``_matrix._tcp.<host>``
(deprecated in v1.8, still a fallback); failing all that, port 8448. An SRV target is connected
to under the name SRV was asked for (``Host``, TLS SNI and certificate), as the specification
requires.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from auditor.syntax import matrix_server_name_error

DEFAULT_PORT = 8448
"""The federation port when nothing says otherwise."""


@dataclass(frozen=True, slots=True)
class ServerName:
    """A server name split into host and optional port (IPv6 literals without brackets)."""

    host: str
    port: int | None

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    def address(self, port: int | None = None) -> str:
        """``host:port`` (IPv6 in brackets), with ``port`` or the name's own or 8448."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{port or self.port or DEFAULT_PORT}"


def split_server_name(text: str) -> ServerName | None:
    """``host[:port]`` (``[v6]:port`` for IPv6), or None when malformed."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[1:end], text[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            return None
    else:
        host, sep, after = text.partition(":")
        port_text = after if sep else None
    if not host or len(host) > 253:
        return None
    if port_text is None:
        return ServerName(host.lower(), None)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return ServerName(host.lower(), int(port_text))


def server_name_of(user_id: str) -> str:
    """The server name of ``@localpart:server_name``."""
    return user_id.partition(":")[2]


def delegation(body: object) -> ServerName | str:
    """The ``m.server`` of a ``/.well-known/matrix/server`` answer, or why there is none."""
    if not isinstance(body, dict):
        return "the answer is not a JSON object"
    value = body.get("m.server")
    if not isinstance(value, str):
        return "the answer has no m.server string"
    problem = matrix_server_name_error(value) if len(value) <= 300 else "too long"
    parsed = split_server_name(value) if problem is None else None
    if parsed is None:
        return f"m.server {value[:80]!r} is not host[:port] ({problem or 'malformed'})"
    return parsed


def pick_srv(records: list[tuple[int, int, int, str]]) -> tuple[int, int, int, str] | None:
    """The record to use: lowest priority, then highest weight (deterministic: decaudit asks one
    server, it does not spread load); a target of ``.`` means "no service" (RFC 2782)."""
    usable = [r for r in records if r[3] not in ("", ".")]
    return min(usable, key=lambda r: (r[0], -r[1], r[3])) if usable else None


def base_url(address: str) -> str:
    """The https base URL of a ``host:port`` federation address."""
    return f"https://{address.removesuffix(':443')}"


def client_base(body: object) -> str | None:
    """``m.homeserver.base_url`` of ``/.well-known/matrix/client`` (https only), else None."""
    if not isinstance(body, dict) or not isinstance(body.get("m.homeserver"), dict):
        return None
    url = body["m.homeserver"].get("base_url")
    if not isinstance(url, str) or not url.startswith("https://") or len(url) > 2048:
        return None
    return url.rstrip("/")

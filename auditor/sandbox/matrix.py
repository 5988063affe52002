"""Matrix homeservers of the sandbox, shaped like Synapse 1.120.

A Matrix account ``@user:server.name`` is found by *server discovery* (Server-Server API,
"Resolving server names"): ``https://<server name>/.well-known/matrix/server`` may delegate to
``host:port``; without it, a DNS SRV record ``_matrix-fed._tcp.<server name>`` may name the
target; else the server name itself on port 8448. Clients find the client API through
``/.well-known/matrix/client``. An audit speaks those real protocols, so a :class:`Homeserver`
answers as Synapse does:

* federation: ``/_matrix/federation/v1/version`` and ``/_matrix/key/v2/server``, the server's
  signing key **really signed**: ed25519 over the canonical JSON (sorted keys, no insignificant
  whitespace, UTF-8) of the object without ``signatures`` and ``unsigned``, with a seeded key
  (the same label always gives the same key; sandbox data only). Other federation endpoints want
  an ``X-Matrix`` signature: unauthenticated requests get 401 ``M_UNAUTHORIZED``;
* client: ``/_matrix/client/versions``, ``/_matrix/client/v3/profile/<user id>`` (unauthenticated
  profile lookups are allowed by Synapse's default ``require_auth_for_profile_requests: false``)
  and the login flows;
* errors as Synapse writes them: JSON ``{"errcode", "error"}``, 404 ``M_UNRECOGNIZED`` for an
  unknown path, with ``Access-Control-Allow-Origin: *``.

Which of those a host serves is its role set (:data:`WELL_KNOWN`, :data:`FEDERATION`,
:data:`CLIENT`): the server-name host of a delegating server serves only the well-known files
(it is a plain web server; unknown paths are an HTML 404), the delegated host federation, the
client host the client API. A non-federating homeserver exposes no federation listener: no
``/.well-known/matrix/server``, and federation paths answer 404 ``M_UNRECOGNIZED``.

With SRV discovery the spec says requests go to the SRV target's address **with the server name
in the Host header**; the in-process network dispatches on the Host header, so the server-name
host of an SRV-discovered homeserver serves federation as well (see ``matrix-own-domain``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from urllib.parse import unquote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from auditor.matrix.keys import canonical_json
from auditor.sandbox.clock import SANDBOX_NOW
from auditor.sandbox.http import App, json_response

WELL_KNOWN: Final = "well_known"
"""Role: ``/.well-known/matrix/server`` (when delegating) and ``/.well-known/matrix/client``."""
FEDERATION: Final = "federation"
"""Role: the federation listener (version, server keys, authenticated federation endpoints)."""
CLIENT: Final = "client"
"""Role: the client-server API."""
ALL_ROLES: Final = frozenset({WELL_KNOWN, FEDERATION, CLIENT})

KEY_VALIDITY: Final = timedelta(days=1)
"""How long a published key is valid for (Synapse's default ``key_refresh_interval``)."""
CLIENT_VERSIONS: Final = ["v1.11", "v1.12"]
_CORS: Final = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "access-control-allow-headers": "X-Requested-With, Content-Type, Authorization, Date",
}


def unpadded_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def seeded_ed25519(label: str) -> Ed25519PrivateKey:
    """The ed25519 signing key for ``label`` (public by construction: sandbox data only)."""
    seed = hashlib.sha256(f"decaudit-sandbox-key/ed25519/{label}/0".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def signed(
    value: dict[str, Any], server_name: str, key_id: str, key: Ed25519PrivateKey
) -> dict[str, Any]:
    """``value`` with a Matrix signature by ``server_name``'s ``key_id`` added (the signed bytes
    are the canonical JSON of ``value`` without ``signatures`` and ``unsigned``)."""
    content = {k: v for k, v in value.items() if k not in ("signatures", "unsigned")}
    signature = unpadded_base64(key.sign(canonical_json(content)))
    result = dict(value)
    signatures = {name: dict(sigs) for name, sigs in value.get("signatures", {}).items()}
    signatures.setdefault(server_name, {})[key_id] = signature
    result["signatures"] = signatures
    return result


@dataclass
class MatrixUser:
    """A local user of a homeserver."""

    localpart: str
    displayname: str | None = None
    avatar_url: str | None = None


@dataclass
class Homeserver:
    """A Synapse-shaped homeserver for ``server_name``.

    ``delegated_to`` is the ``m.server`` value of ``/.well-known/matrix/server`` (``host:port``);
    None: no such file (discovery by SRV or the server name itself). ``client_base_url`` is the
    ``m.homeserver`` base URL of ``/.well-known/matrix/client``.
    """

    server_name: str
    client_base_url: str
    delegated_to: str | None = None
    federating: bool = True
    version: str = "1.120.2"
    users: dict[str, MatrixUser] = field(default_factory=dict)
    key_label: str | None = None
    """Seed label of the signing key (default: ``matrix/<server name>``)."""

    def __post_init__(self) -> None:
        self.server_name = self.server_name.lower()

    # --- identity ------------------------------------------------------------------------------

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        return seeded_ed25519(self.key_label or f"matrix/{self.server_name}")

    @property
    def key_id(self) -> str:
        """``ed25519:a_XXXX`` as Synapse names generated keys (here derived from the key)."""
        digest = hashlib.sha256(self.verify_key.encode()).hexdigest()
        return f"ed25519:a_{digest[:4]}"

    @property
    def verify_key(self) -> str:
        """The public key, unpadded base64 (as ``verify_keys`` publishes it)."""
        raw = self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return unpadded_base64(raw)

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def add(self, user: MatrixUser) -> MatrixUser:
        self.users[user.localpart] = user
        return user

    # --- documents -----------------------------------------------------------------------------

    def server_keys(self) -> dict[str, Any]:
        """The signed ``/_matrix/key/v2/server`` response (valid for a day from sandbox "now")."""
        valid_until = int((SANDBOX_NOW + KEY_VALIDITY).timestamp() * 1000)
        body = {
            "old_verify_keys": {},
            "server_name": self.server_name,
            "valid_until_ts": valid_until,
            "verify_keys": {self.key_id: {"key": self.verify_key}},
        }
        return signed(body, self.server_name, self.key_id, self.signing_key)

    def well_known_server(self) -> dict[str, str] | None:
        if not self.federating or self.delegated_to is None:
            return None
        return {"m.server": self.delegated_to}

    def well_known_client(self) -> dict[str, Any]:
        return {"m.homeserver": {"base_url": self.client_base_url}}

    # --- the app -------------------------------------------------------------------------------

    def app(self, roles: Iterable[str] = ALL_ROLES) -> App:
        """The HTTP app of one host of this homeserver, serving ``roles``. A host with only the
        well-known role is a plain web server (HTML 404s); any other is Synapse."""
        served = frozenset(roles)
        unknown = served - ALL_ROLES
        if unknown:
            raise ValueError(f"unknown homeserver roles: {', '.join(sorted(unknown))}")
        synapse = bool(served & {FEDERATION, CLIENT})

        async def handle(request: httpx.Request) -> httpx.Response:
            path = request.url.path
            if request.method == "OPTIONS" and synapse:
                return httpx.Response(204, headers=_CORS)
            if request.method not in ("GET", "HEAD"):
                return _error(405, "M_UNRECOGNIZED", "Unrecognized request")
            if WELL_KNOWN in served and path.startswith("/.well-known/matrix/"):
                return self._well_known(path.removeprefix("/.well-known/matrix/"), synapse)
            if FEDERATION in served and self.federating:
                if path.startswith(("/_matrix/federation/", "/_matrix/key/")):
                    return self._federation(request, path)
            if CLIENT in served and path.startswith("/_matrix/client/"):
                return self._client(path.removeprefix("/_matrix/client/"))
            if synapse:
                return _error(404, "M_UNRECOGNIZED", "Unrecognized request")
            return _html_404()

        return handle

    def _well_known(self, name: str, synapse: bool) -> httpx.Response:
        document: dict[str, Any] | None = None
        if name == "server":
            server = self.well_known_server()
            document = dict(server) if server is not None else None
        elif name == "client":
            document = self.well_known_client()
        if document is None:
            return _error(404, "M_NOT_FOUND", "No such resource") if synapse else _html_404()
        return _json(document)

    def _federation(self, request: httpx.Request, path: str) -> httpx.Response:
        if path == "/_matrix/federation/v1/version":
            return _json({"server": {"name": "Synapse", "version": self.version}})
        if path == "/_matrix/key/v2/server" or path.startswith("/_matrix/key/v2/server/"):
            return _json(self.server_keys())
        if path.startswith(("/_matrix/federation/v1/query/", "/_matrix/federation/v1/user/")):
            if "authorization" not in request.headers:
                return _error(401, "M_UNAUTHORIZED", "Missing Authorization headers")
            return _error(401, "M_UNAUTHORIZED", "Invalid signature")  # none verifies here
        return _error(404, "M_UNRECOGNIZED", "Unrecognized request")

    def _client(self, rest: str) -> httpx.Response:
        if rest == "versions":
            return _json({"versions": list(CLIENT_VERSIONS), "unstable_features": {}})
        if rest in ("v3/login", "r0/login"):
            return _json({"flows": [{"type": "m.login.password"}]})
        for prefix in ("v3/profile/", "r0/profile/"):
            if rest.startswith(prefix):
                return self._profile(rest.removeprefix(prefix))
        return _error(404, "M_UNRECOGNIZED", "Unrecognized request")

    def _profile(self, rest: str) -> httpx.Response:
        user_id, _, field_name = unquote(rest).partition("/")
        localpart, colon, server = user_id.removeprefix("@").partition(":")
        if not user_id.startswith("@") or not colon or not localpart or not server:
            return _error(400, "M_INVALID_PARAM", "Invalid user id")
        user = self.users.get(localpart) if server.lower() == self.server_name else None
        if user is None:
            return _error(404, "M_NOT_FOUND", "Profile was not found")
        profile = {"displayname": user.displayname, "avatar_url": user.avatar_url}
        if not field_name:
            return _json({k: v for k, v in profile.items() if v is not None})
        if field_name in profile:
            value = profile[field_name]
            if value is None:
                return _error(404, "M_NOT_FOUND", "The requested profile key does not exist.")
            return _json({field_name: value})
        return _error(404, "M_UNRECOGNIZED", "Unrecognized request")


def _json(value: Any, status: int = 200) -> httpx.Response:
    response = json_response(value, status)
    response.headers.update(_CORS)
    return response


def _error(status: int, errcode: str, error: str) -> httpx.Response:
    return _json({"errcode": errcode, "error": error}, status)


def _html_404() -> httpx.Response:
    return httpx.Response(
        404,
        content=b"<html><head><title>404 Not Found</title></head><body>Not Found</body></html>",
        headers={"content-type": "text/html"},
    )

"""Fediverse (ActivityPub) instances of the sandbox, shaped like Mastodon 4.x and GoToSocial.

An audit of a fediverse account speaks the real protocols to these servers, so they answer as
the real software does (Mastodon's controllers and serializers are the reference):

* WebFinger (RFC 7033) at ``/.well-known/webfinger``: ``application/jrd+json; charset=utf-8``,
  aliases ``[profile page, actor]`` and the ``profile-page``, ``self`` and OStatus-subscribe
  links; ``resource`` may be ``acct:user@domain``, ``user@domain`` or the actor or profile URL.
  Missing or unparsable: 400 with an empty body; another domain's account or an unknown user: 404
  with an empty body (Mastodon's ``head 400`` / ``head 404``).
* The actor at ``/users/<name>``: ActivityStreams JSON (``application/activity+json;
  charset=utf-8``) when the request's Accept names ``application/activity+json``,
  ``application/ld+json`` or ``application/json``; otherwise a 301 to the HTML profile ``/@<name>``
  (Mastodon's ``redirect_with_vary``), which answers ``text/html``. ``/@<name>`` with an
  ActivityPub Accept answers the actor too. Its ``publicKey`` is a real (fixed) RSA key.
* ``outbox``, ``followers`` and ``following``: OrderedCollections with ``totalItems``.
* NodeInfo 2.0 (``/.well-known/nodeinfo`` then ``/nodeinfo/2.0``), ``/api/v2/instance`` and
  ``/api/v1/instance/peers`` (Mastodon's REST API).

An instance in *limited federation mode* (``limited_federation=True``) federates only with the
servers its admins allow, and forces authorized fetch: NodeInfo still says ``protocols:
["activitypub"]``, every unauthenticated ``/api/`` request is 401 ``{"error": "This API requires
an authenticated user"}``, an unsigned fetch of the actor gets only the fields a remote server
needs to verify signatures (``id``, ``type``, ``preferredUsername``, ``inbox``, ``publicKey``,
``endpoints``: Mastodon's ``AccountsController#restrict_fields_to``), and an unsigned fetch of
its collections is 401 ``{"error": "Request not signed"}``. WebFinger, NodeInfo and HTML pages
stay public. A GoToSocial-shaped server (``signatures_required``) refuses every unsigned
ActivityPub GET with 401, WebFinger and NodeInfo staying public; its peer list is public here
because its admin turned ``instance-expose-peers`` on. An instance that never federated answers
its peers API with an empty list; one
with ``peers_api=False`` answers it 404 (``head 404``), as Mastodon does when the setting is
off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from urllib.parse import urlsplit

import httpx

from auditor.sandbox.clock import days_ago
from auditor.sandbox.http import App, json_response, param

ACTIVITY_JSON = "application/activity+json; charset=utf-8"
JRD_JSON = "application/jrd+json; charset=utf-8"
JSON_UTF8 = "application/json; charset=utf-8"
NODEINFO_20 = "http://nodeinfo.diaspora.software/ns/schema/2.0"
NODEINFO_20_TYPE = f'application/json; profile="{NODEINFO_20}#"'
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
_ACTIVITYPUB_TYPES = ("application/activity+json", "application/ld+json", "application/json")
_SOURCE_URLS = {
    "mastodon": "https://github.com/mastodon/mastodon",
    "gotosocial": "https://github.com/superseriousbusiness/gotosocial",
}
# Mastodon's JSON-LD extensions (a subset of what ActivityPub::ActorSerializer declares).
_EXTENSIONS = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": "http://joinmastodon.org/ns#",
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "memorial": "toot:memorial",
}


# --- the actors' public key ----------------------------------------------------------------------

SANDBOX_RSA_PUBLIC_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxrDUPySM7vkzkFKP0shQ
0EZy5AR2qdzsPBrMmpKkw2agt8Ps6GXtaaom02jlYe7eUiM4mODQlKEtxQKUhHpH
gDJT53YjVOxIR1C5SVikyS6NRpbjie/sHdNhmOOk7rI28OIBTJTVrwFqEcNz1srP
BRdXCG58i4un5bNrs/GHvoTPu+E2aXoIYhZvgWB/mwkSOIlllhVDUJwQ7CyY/cfP
s3vmrEz2ipd2yDh2zbJWnH4AH8r7rVDz6V2VBWtNCLkTLVD3Rj2sHU6LNTdGB+Wq
blbk7iG//S+XGZqsZjUpyKbOdXtRKbf4dgjiU7Hz/gFwUml+jcXTcn2kiS3vy46i
0wIDAQAB
-----END PUBLIC KEY-----
"""
"""A real RSA public key (SubjectPublicKeyInfo PEM, as Mastodon publishes), the same for every
sandbox actor: decaudit reads that an actor publishes a key, it never verifies an HTTP signature
with it, so one fixed key keeps the goldens byte-stable without generating primes."""


# --- accounts and instances --------------------------------------------------------------------


@dataclass
class FediverseAccount:
    """One local account of an instance."""

    username: str
    display_name: str
    summary: str = ""
    posts: int = 0
    followers: int = 0
    following: int = 0
    created: datetime = field(default_factory=lambda: days_ago(400))
    discoverable: bool = True
    manually_approves_followers: bool = False
    also_known_as: list[str] = field(default_factory=list)
    """Actor URLs of the account's other identities (set on the target of a move)."""
    moved_to: str | None = None
    """The actor URL the account moved to (Mastodon's ``movedTo``)."""


@dataclass
class FediverseInstance:
    """A Mastodon- or GoToSocial-shaped server for ``domain`` (local domain = web domain)."""

    domain: str
    software: str = "mastodon"
    version: str = "4.3.2"
    users_total: int = 1
    open_registrations: bool = True
    """Sign-ups possible (NodeInfo ``openRegistrations``; true for approval-only too)."""
    approval_required: bool = False
    limited_federation: bool = False
    """Mastodon's limited federation mode, with authorized fetch (see the module docstring)."""
    signatures_required: bool = False
    """Every ActivityPub GET needs an HTTP signature, as GoToSocial asks: unsigned, 401."""
    peers: list[str] = field(default_factory=list)
    peers_api: bool = True
    """Mastodon's ``peers_api_enabled`` setting (off: the peers API answers 404)."""
    title: str | None = None
    contact_email: str | None = None
    local_posts: int = 0
    active_month: int | None = None
    active_halfyear: int | None = None
    accounts: dict[str, FediverseAccount] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.domain = self.domain.lower()

    # --- names ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://{self.domain}"

    def actor_url(self, username: str) -> str:
        return f"{self.url}/users/{username}"

    def profile_url(self, username: str) -> str:
        return f"{self.url}/@{username}"

    def acct(self, username: str) -> str:
        return f"acct:{username}@{self.domain}"

    def add(self, account: FediverseAccount) -> FediverseAccount:
        self.accounts[account.username.lower()] = account
        return account

    def account(self, username: str) -> FediverseAccount | None:
        """The local account (usernames match case-insensitively, as in Mastodon)."""
        return self.accounts.get(username.lower())

    # --- documents -----------------------------------------------------------------------------

    def webfinger(self, account: FediverseAccount) -> dict[str, object]:
        name = account.username
        return {
            "subject": self.acct(name),
            "aliases": [self.profile_url(name), self.actor_url(name)],
            "links": [
                {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": self.profile_url(name)},
                {"rel": "self", "type": "application/activity+json", "href": self.actor_url(name)},
                {
                    "rel": SUBSCRIBE_REL,
                    "template": f"{self.url}/authorize_interaction?uri={{uri}}",
                },
            ],
        }

    def actor(self, account: FediverseAccount) -> dict[str, object]:
        """The account's ActivityPub actor, as Mastodon's ActorSerializer writes it."""
        actor_id = self.actor_url(account.username)
        document: dict[str, object] = {
            "@context": [AS_CONTEXT, SECURITY_CONTEXT, _EXTENSIONS],
            "id": actor_id,
            "type": "Person",
            "following": f"{actor_id}/following",
            "followers": f"{actor_id}/followers",
            "inbox": f"{actor_id}/inbox",
            "outbox": f"{actor_id}/outbox",
            "preferredUsername": account.username,
            "name": account.display_name,
            "summary": f"<p>{escape(account.summary)}</p>" if account.summary else "",
            "url": self.profile_url(account.username),
            "manuallyApprovesFollowers": account.manually_approves_followers,
            "discoverable": account.discoverable,
            "indexable": account.discoverable,
            "published": _day(account.created),
            "memorial": False,
            "publicKey": {
                "id": f"{actor_id}#main-key",
                "owner": actor_id,
                "publicKeyPem": SANDBOX_RSA_PUBLIC_PEM,
            },
            "tag": [],
            "attachment": [],
            "endpoints": {"sharedInbox": f"{self.url}/inbox"},
        }
        if account.also_known_as:
            document["alsoKnownAs"] = list(account.also_known_as)
        if account.moved_to:
            document["movedTo"] = account.moved_to
        return document

    def collection(self, account: FediverseAccount, which: str) -> dict[str, object]:
        """``outbox``, ``followers`` or ``following``: an OrderedCollection without items."""
        total = {"outbox": account.posts, "followers": account.followers}.get(
            which, account.following
        )
        collection_id = f"{self.actor_url(account.username)}/{which}"
        page = "?page=true" if which == "outbox" else "?page=1"
        result: dict[str, object] = {
            "@context": AS_CONTEXT,
            "id": collection_id,
            "type": "OrderedCollection",
            "totalItems": total,
            "first": f"{collection_id}{page}",
        }
        if which == "outbox":
            result["last"] = f"{collection_id}?min_id=0&page=true"
        return result

    def nodeinfo(self) -> dict[str, object]:
        active_month = self.active_month if self.active_month is not None else self.users_total
        halfyear = self.active_halfyear if self.active_halfyear is not None else self.users_total
        return {
            "version": "2.0",
            "software": {"name": self.software, "version": self.version},
            "protocols": ["activitypub"],
            "services": {"outbound": [], "inbound": []},
            "usage": {
                "users": {
                    "total": self.users_total,
                    "activeMonth": active_month,
                    "activeHalfyear": halfyear,
                },
                "localPosts": self.local_posts,
            },
            "openRegistrations": self.open_registrations,
            "metadata": {"nodeName": self.title or self.domain, "nodeDescription": ""},
        }

    def instance_v2(self) -> dict[str, object]:
        """Mastodon's ``/api/v2/instance`` entity (the fields an audit reads)."""
        active_month = self.active_month if self.active_month is not None else self.users_total
        return {
            "domain": self.domain,
            "title": self.title or self.domain,
            "version": self.version,
            "source_url": _SOURCE_URLS.get(self.software, ""),
            "description": "",
            "usage": {"users": {"active_month": active_month}},
            "languages": ["en"],
            "configuration": {"urls": {"streaming": f"wss://{self.domain}"}},
            "registrations": {
                "enabled": self.open_registrations,
                "approval_required": self.approval_required,
                "message": None,
                "url": None,
            },
            "contact": {"email": self.contact_email or f"admin@{self.domain}", "account": None},
            "rules": [],
        }

    # --- the app -------------------------------------------------------------------------------

    def _from_resource(self, resource: str) -> FediverseAccount | int:
        """The account a WebFinger ``resource`` names, or the status to answer (400/404)."""
        text = resource.strip()
        if text.lower().startswith(("https://", "http://")):
            parts = urlsplit(text)
            if (parts.hostname or "").lower() != self.domain:
                return 404
            path = parts.path
            if path.startswith("/users/"):
                username = path.removeprefix("/users/")
            elif path.startswith("/@"):
                username = path.removeprefix("/@")
            else:
                return 400
        elif "@" in text:
            username, _, domain = text.removeprefix("acct:").lstrip("@").partition("@")
            if domain.lower() != self.domain:
                return 404
        else:
            return 400
        if not username or "/" in username:
            return 404
        account = self.account(username)
        return 404 if account is None else account

    def app(self) -> App:
        """The instance's HTTP app (one host: local domain and web domain are the same)."""

        async def handle(request: httpx.Request) -> httpx.Response:
            if request.method not in ("GET", "HEAD"):
                return _empty(405)
            path = request.url.path
            if path == "/.well-known/webfinger":
                return self._webfinger(request)
            if path == "/.well-known/nodeinfo":
                href = f"{self.url}/nodeinfo/2.0"
                return json_response(
                    {"links": [{"rel": NODEINFO_20, "href": href}]}, content_type=JSON_UTF8
                )
            if path == "/nodeinfo/2.0":
                return json_response(self.nodeinfo(), content_type=NODEINFO_20_TYPE)
            if path.startswith("/api/"):
                return self._api(path)
            if path.startswith("/users/"):
                return self._users(request, path.removeprefix("/users/"))
            if path.startswith("/@") and "/" not in path[2:]:
                return self._profile(request, path[2:])
            return _html(404, "The page you are looking for isn't here.")

        return handle

    def _webfinger(self, request: httpx.Request) -> httpx.Response:
        resource = param(request, "resource")
        if not resource:
            return _empty(400)
        found = self._from_resource(resource)
        if isinstance(found, int):
            return _empty(found)
        response = json_response(self.webfinger(found), content_type=JRD_JSON)
        response.headers["cache-control"] = "max-age=259200, public"
        response.headers["vary"] = "Origin"
        response.headers["access-control-allow-origin"] = "*"
        return response

    def _api(self, path: str) -> httpx.Response:
        if self.limited_federation:  # the API needs a signed-in user
            return json_response(
                {"error": "This API requires an authenticated user"}, 401, JSON_UTF8
            )
        if path == "/api/v2/instance":
            return json_response(self.instance_v2(), content_type=JSON_UTF8)
        if path == "/api/v1/instance/peers":
            if not self.peers_api:
                return _empty(404)
            return json_response(sorted(self.peers), content_type=JSON_UTF8)
        return json_response({"error": "Record not found"}, 404, JSON_UTF8)

    def _users(self, request: httpx.Request, rest: str) -> httpx.Response:
        username, _, sub = rest.partition("/")
        account = self.account(username)
        if account is None:
            return _html(404, "The page you are looking for isn't here.")
        if _wants_activitypub(request) and self.signatures_required:
            return _empty(401)
        if sub in ("outbox", "followers", "following"):
            if self.limited_federation:
                return _unsigned()
            return _activity(self.collection(account, sub))
        if sub:
            return _html(404, "The page you are looking for isn't here.")
        if not _wants_activitypub(request):
            response = _empty(301)
            response.headers["location"] = self.profile_url(account.username)
            response.headers["vary"] = "Accept, Accept-Language, Cookie"
            return response
        return _activity(self._actor_for(account))

    def _actor_for(self, account: FediverseAccount) -> dict[str, object]:
        """The actor as an unsigned request gets it: whole, or (authorized fetch) only the
        fields a remote server needs to verify a signature."""
        actor = self.actor(account)
        if not self.limited_federation:
            return actor
        keep = ("@context", "id", "type", "preferredUsername", "inbox", "publicKey", "endpoints")
        return {key: actor[key] for key in keep if key in actor}

    def _profile(self, request: httpx.Request, username: str) -> httpx.Response:
        account = self.account(username)
        if account is None:
            return _html(404, "The page you are looking for isn't here.")
        if _wants_activitypub(request):
            if self.signatures_required:
                return _empty(401)
            return _activity(self._actor_for(account))
        return _html(
            200,
            f"{escape(account.display_name)} (@{escape(account.username)}@{self.domain})",
            links=f'<link href="{self.actor_url(account.username)}" rel="alternate" '
            'type="application/activity+json">',
        )


# --- helpers -----------------------------------------------------------------------------------


def _wants_activitypub(request: httpx.Request) -> bool:
    """Whether the Accept header asks for an ActivityPub representation (any q > 0)."""
    for part in request.headers.get("accept", "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if media.lower() in _ACTIVITYPUB_TYPES and "q=0" not in [
            p.replace(" ", "") for p in params
        ]:
            return True
    return False


def _activity(document: dict[str, object]) -> httpx.Response:
    response = json_response(document, content_type=ACTIVITY_JSON)
    response.headers["vary"] = "Accept, Accept-Language, Cookie"
    return response


def _unsigned() -> httpx.Response:
    return json_response({"error": "Request not signed"}, 401, JSON_UTF8)


def _empty(status: int) -> httpx.Response:
    return httpx.Response(status, content=b"")


def _html(status: int, text: str, *, links: str = "") -> httpx.Response:
    body = (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">{links}<title>{escape(text)}</title>'
        f"</head><body><p>{escape(text)}</p></body></html>"
    )
    return httpx.Response(
        status, content=body.encode(), headers={"content-type": "text/html; charset=utf-8"}
    )


def _day(moment: datetime) -> str:
    """Mastodon's ``published``: the account's creation day at midnight UTC."""
    return moment.strftime("%Y-%m-%dT00:00:00Z")


def impostor_webfinger(domain: str, username: str, actor_url: str, profile_url: str) -> App:
    """A host whose WebFinger names ``acct:username@domain`` but points its ``self`` link at
    another server's actor (``actor_url``): the hostile case an audit must refuse to trust.
    Everything else on the host is 404."""
    subject = f"acct:{username}@{domain}"

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/.well-known/webfinger":
            return _html(404, "Not Found")
        resource = (param(request, "resource") or "").strip()
        if resource.removeprefix("acct:").lower() != f"{username}@{domain}".lower():
            return _empty(404 if resource else 400)
        body = {
            "subject": subject,
            "aliases": [profile_url, actor_url],
            "links": [
                {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url},
                {"rel": "self", "type": "application/activity+json", "href": actor_url},
            ],
        }
        return json_response(body, content_type=JRD_JSON)

    return handle

"""The three documents a fediverse audit reads: the WebFinger JRD, the actor, and NodeInfo.

Every field is checked before use: these documents come from servers decaudit does not trust, and
a JRD can name any URL. What this module accepts: a ``self`` link of an ActivityPub media type on
``https``; an actor whose ``id`` is the URL it was fetched from (an actor may not speak for another
URL); a NodeInfo 2.x document. Anything else is a *problem*, reported in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from auditor.attribution import host_of

AP_MEDIA_TYPES = (
    "application/activity+json",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
)
"""The media types of an ActivityPub object (ActivityPub §3.2)."""
AP_ACCEPT = ", ".join(AP_MEDIA_TYPES)
JRD_ACCEPT = "application/jrd+json, application/json"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"
"""Prefix of NodeInfo's ``rel`` values; the version follows (``2.0``, ``2.1``)."""
MAX_LIST = 10_000
"""Longest list decaudit reads out of a document (``links``, ``alsoKnownAs``, peers)."""


def _https_url(value: object) -> str | None:
    if not isinstance(value, str) or len(value) > 2048:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme == "https" and parts.hostname else None


def _is_ap_type(value: object) -> bool:
    if not isinstance(value, str):
        return False
    normalized = value.replace(" ", "").lower()
    return normalized == "application/activity+json" or (
        normalized.startswith("application/ld+json")
        and "https://www.w3.org/ns/activitystreams" in normalized
    )


@dataclass(frozen=True, slots=True)
class Jrd:
    """What a WebFinger answer says: its subject, aliases, and the actor it links to."""

    subject: str | None
    aliases: tuple[str, ...]
    actor_url: str | None
    """The ``self`` link of an ActivityPub type (https only)."""
    problem: str | None
    """Why the document is unusable, if it is."""


def read_jrd(body: object) -> Jrd:
    """Read a JRD (RFC 7033 §4.4)."""
    if not isinstance(body, dict):
        return Jrd(None, (), None, "the WebFinger answer is not a JSON object")
    subject = body.get("subject") if isinstance(body.get("subject"), str) else None
    raw_aliases = body.get("aliases")
    aliases = tuple(
        a
        for a in (raw_aliases if isinstance(raw_aliases, list) else [])[:MAX_LIST]
        if isinstance(a, str)
    )
    links = body.get("links")
    actor = None
    for link in (links if isinstance(links, list) else [])[:MAX_LIST]:
        if isinstance(link, dict) and link.get("rel") == "self" and _is_ap_type(link.get("type")):
            actor = _https_url(link.get("href"))
            if actor:
                break
    if subject is None:
        return Jrd(None, aliases, actor, "the WebFinger answer has no subject")
    if actor is None:
        return Jrd(subject, aliases, None, "the WebFinger answer links to no ActivityPub actor")
    return Jrd(subject, aliases, actor, None)


def acct_of(subject: str | None) -> str | None:
    """``user@domain`` from ``acct:user@domain`` (domain lowercased), else None."""
    if not subject or not subject.lower().startswith("acct:"):
        return None
    user, sep, domain = subject[5:].rpartition("@")
    return f"{user}@{domain.lower()}" if sep and user and domain else None


def same_account(a: str | None, b: str | None) -> bool:
    """Two ``user@domain`` addresses name the same account (user case-insensitive, as Mastodon
    compares usernames)."""
    return a is not None and b is not None and a.lower() == b.lower()


@dataclass(frozen=True, slots=True)
class Actor:
    """The fields of an ActivityPub actor decaudit reads."""

    id: str
    host: str
    type: str
    preferred_username: str | None
    moved_to: str | None
    also_known_as: tuple[str, ...]
    outbox: str | None
    has_public_key: bool
    signed_fetch_only: bool = False
    """Known from WebFinger alone: its server refused an unsigned fetch (401; GoToSocial asks a
    signature for every ActivityPub request), so the document itself was not read."""
    restricted: bool = False
    """The server gave an unsigned request only the fields needed to verify signatures (Mastodon
    with authorized fetch: no outbox, no collections, no ``movedTo``): what is missing is unknown,
    not absent."""


def actor_behind_signed_fetch(url: str) -> Actor:
    """The little that is known of an actor whose server refused an unsigned fetch (401)."""
    return Actor(
        id=url,
        host=host_of(url),
        type="unknown",
        preferred_username=None,
        moved_to=None,
        also_known_as=(),
        outbox=None,
        has_public_key=False,
        signed_fetch_only=True,
    )


def signed_fetch_required(failure: object) -> bool:
    """The actor fetch was refused with 401: a server that answers only signed requests, not a
    missing account (whether WebFinger's claim holds is then confirmed by WebFinger alone)."""
    return getattr(failure, "http_status", None) == 401


def read_actor(body: object, fetched: str) -> Actor | str:
    """The actor, or why it cannot be trusted: it must be an object whose ``id`` is ``fetched``
    (an actor document speaks only for its own URL), of an actor type."""
    if not isinstance(body, dict):
        return "the actor document is not a JSON object"
    actor_id = _https_url(body.get("id"))
    if actor_id is None:
        return "the actor document has no https id"
    if actor_id != fetched:
        return f"the actor document fetched from {fetched} claims the id {actor_id}"
    kind = body.get("type")
    if kind not in ("Person", "Service", "Application", "Group", "Organization"):
        return f"the document is not an actor (type {str(kind)[:40]!r})"
    username = body.get("preferredUsername")
    aliases = body.get("alsoKnownAs")
    key = body.get("publicKey")
    has_key = isinstance(key, dict) and isinstance(key.get("publicKeyPem"), str)
    collections = ("outbox", "followers", "following")
    return Actor(
        id=actor_id,
        host=host_of(actor_id),
        type=str(kind),
        preferred_username=username if isinstance(username, str) and username else None,
        moved_to=_https_url(body.get("movedTo")),
        also_known_as=tuple(
            url
            for a in (aliases if isinstance(aliases, list) else [aliases])[:MAX_LIST]
            if (url := _https_url(a))
        ),
        outbox=_https_url(body.get("outbox")),
        has_public_key=has_key,
        restricted=has_key and not any(name in body for name in collections),
    )


def nodeinfo_link(body: object) -> str | None:
    """The newest NodeInfo 2.x document the index links to (https only)."""
    if not isinstance(body, dict) or not isinstance(body.get("links"), list):
        return None
    found: list[tuple[str, str]] = []
    for link in body["links"][:MAX_LIST]:
        if not isinstance(link, dict) or not isinstance(link.get("rel"), str):
            continue
        rel: str = link["rel"]
        href = _https_url(link.get("href"))
        if (
            rel.startswith(NODEINFO_SCHEMA)
            and rel[len(NODEINFO_SCHEMA) :].startswith("2.")
            and href
        ):
            found.append((rel[len(NODEINFO_SCHEMA) :], href))
    return max(found)[1] if found else None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """What a server says about itself in NodeInfo."""

    software: str | None
    version: str | None
    users: int | None
    open_registrations: bool | None
    protocols: tuple[str, ...]


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_nodeinfo(body: object) -> NodeInfo | None:
    if not isinstance(body, dict):
        return None
    software = _object(body.get("software"))
    users = _object(_object(body.get("usage")).get("users"))
    protocols = body.get("protocols")
    name = software.get("name")
    version = software.get("version")
    registrations = body.get("openRegistrations")
    return NodeInfo(
        software=name.lower()[:64] if isinstance(name, str) else None,
        version=version[:64] if isinstance(version, str) else None,
        users=_count(users.get("total")),
        open_registrations=registrations if isinstance(registrations, bool) else None,
        protocols=tuple(
            p for p in (protocols if isinstance(protocols, list) else [])[:64] if isinstance(p, str)
        ),
    )

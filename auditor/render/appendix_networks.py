"""The evidence appendix of a fediverse or a Matrix account.

A fediverse account's answers (WebFinger, the actor, NodeInfo, the instance API, peers, the
outbox) and a Matrix account's (server discovery, the federation API and its signing keys, the
client API) with the key facts of each answer pulled out.
:func:`~auditor.render.appendix.evidence_sections` picks these for accounts of those networks.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote, urlencode

from auditor.fediverse.account import account_view
from auditor.fediverse.documents import nodeinfo_link, read_jrd, read_nodeinfo
from auditor.matrix.discovery import (
    DEFAULT_PORT,
    base_url,
    client_base,
    delegation,
    split_server_name,
)
from auditor.matrix.keys import verify_server_keys
from auditor.models.common import ProbeFailure
from auditor.models.evidence import Evidence, JsonAnswer, JsonSlot
from auditor.models.fediverse import FediverseProbes, PeerList
from auditor.models.matrix import MatrixProbes
from auditor.render.appendix_probes import (
    EvidenceSection,
    Probe,
    ProbeGroup,
    curl_command,
    dns_probe,
    exchange_facts,
    http_probe,
    shell_command,
    text_field,
)
from auditor.render.safe_text import clip, pretty_json

# --- fediverse ---------------------------------------------------------------------------------

_JRD = ("-H", "Accept: application/jrd+json")
_ACTIVITY = ("-H", "Accept: application/activity+json")


def _facts(*pairs: tuple[str, object]) -> tuple[tuple[str, str], ...]:
    """The (label, value) pairs whose value is a non-empty string (values are clipped: the whole
    answer is in the raw JSON below them)."""
    return tuple(
        (label, clip(value, 300)) for label, value in pairs if isinstance(value, str) and value
    )


def _probe(
    anchor: str, title: str, slot: JsonSlot, url: str | None, *options: str, facts: bool = True
) -> Probe:
    """:func:`http_probe` for a JSON slot whose URL may be unknown (a probe skipped before its
    URL was known gets no command); the answer's key facts are added."""
    if url is None and not isinstance(slot, JsonAnswer):
        source = slot.source if isinstance(slot, ProbeFailure) else ""
        if "://" in source:
            return http_probe(anchor, title, slot, source, *options)
        summary = slot.message if isinstance(slot, ProbeFailure) else slot.reason
        outcome = "failed" if isinstance(slot, ProbeFailure) else "skipped"
        return Probe(anchor, title, source, outcome, summary, [], None)
    probe = http_probe(anchor, title, slot, url or "", *options)
    if not facts or not isinstance(slot, JsonAnswer):
        return probe
    return replace(probe, facts=(*_answer_facts(anchor, slot.body), *probe.facts))


def _list_text(value: object, limit: int = 8) -> str | None:
    if not isinstance(value, list):
        return None
    items = [item for item in value if isinstance(item, str)]
    if not items:
        return None
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _answer_facts(anchor: str, body: object) -> tuple[tuple[str, str], ...]:
    """The few fields of an answer a reader looks for first, by which probe it is."""
    if anchor in ("ev-fediverse-webfinger", "ev-fediverse-server-webfinger"):
        jrd = read_jrd(body)
        return _facts(("Subject", jrd.subject), ("Actor (self link)", jrd.actor_url))
    if anchor in ("ev-fediverse-actor", "ev-fediverse-moved-to"):
        return _facts(
            ("id", text_field(body, "id")),
            ("Type", text_field(body, "type")),
            ("preferredUsername", text_field(body, "preferredUsername")),
            ("movedTo", text_field(body, "movedTo")),
            (
                "alsoKnownAs",
                _list_text(body.get("alsoKnownAs") if isinstance(body, dict) else None),
            ),
        )
    if anchor == "ev-fediverse-nodeinfo-index":
        return _facts(("NodeInfo document", nodeinfo_link(body)))
    if anchor == "ev-fediverse-nodeinfo":
        info = read_nodeinfo(body)
        if info is None:
            return ()
        users = None if info.users is None else f"{info.users:,}"
        registrations = {True: "open", False: "closed", None: None}[info.open_registrations]
        return _facts(
            ("Software", " ".join(x for x in (info.software, info.version) if x) or None),
            ("Users", users),
            ("Registrations", registrations),
            ("Protocols", ", ".join(info.protocols) or None),
        )
    if anchor == "ev-fediverse-instance":
        contact = body.get("contact") if isinstance(body, dict) else None
        return _facts(
            ("Domain", text_field(body, "domain")),
            ("Title", text_field(body, "title")),
            ("Version", text_field(body, "version")),
            ("Contact", text_field(contact, "email")),
        )
    if anchor == "ev-fediverse-outbox":
        total = body.get("totalItems") if isinstance(body, dict) else None
        items = str(total) if isinstance(total, int) and not isinstance(total, bool) else None
        return _facts(("Type", text_field(body, "type")), ("totalItems", items))
    if anchor == "ev-matrix-federation-version":
        server = body.get("server") if isinstance(body, dict) else None
        return _facts(
            ("Software", text_field(server, "name")), ("Version", text_field(server, "version"))
        )
    if anchor == "ev-matrix-well-known-server":
        return _facts(("m.server", text_field(body, "m.server")))
    if anchor == "ev-matrix-well-known-client":
        return _facts(("m.homeserver base_url", client_base(body)))
    if anchor == "ev-matrix-client-versions":
        return _facts(("Versions", _list_text(_get(body, "versions"), 12)))
    if anchor == "ev-matrix-profile":
        return _facts(("displayname", text_field(body, "displayname")))
    return ()


def _get(body: object, key: str) -> object:
    return body.get(key) if isinstance(body, dict) else None


def _webfinger_url(account: str) -> str:
    domain = account.rpartition("@")[2]
    return f"https://{domain}/.well-known/webfinger?{urlencode({'resource': f'acct:{account}'})}"


def _peers_probe(probes: FediverseProbes, host: str | None) -> Probe:
    anchor, title = "ev-fediverse-peers", "Servers it federates with (peers)"
    slot = probes.peers
    url = f"https://{host}/api/v1/instance/peers" if host else None
    if not isinstance(slot, PeerList):
        return _probe(anchor, title, slot, url, "-o", "peers.json", facts=False)
    exchange = slot.exchange
    shown = len(slot.sample)
    summary = (
        f"HTTP {exchange.status}; {slot.count:,} server" + "s" * (slot.count != 1) + " listed; "
        f"the first {shown} kept in the report (the full list is not)"
    )
    answer = pretty_json({"count": slot.count, "sample": slot.sample})
    facts = (("Sample", clip(", ".join(slot.sample), 300)),) if slot.sample else ()
    return Probe(
        anchor,
        title,
        exchange.url,
        "ok",
        summary,
        [curl_command(exchange.url, "-o", "peers.json")],
        answer,
        "JSON, counted",
        (*facts, *exchange_facts(exchange)),
    )


def fediverse_sections(evidence: Evidence) -> list[EvidenceSection]:
    """The appendix of a fediverse account: the address and its actor, the server, the posts."""
    probes = evidence.fediverse
    if not isinstance(probes, FediverseProbes):
        skipped = Probe("ev-fediverse-skipped", "WebFinger", "", "skipped", probes.reason, [], None)
        return [
            EvidenceSection(
                "ev-fediverse",
                "Address and actor",
                "Nothing was asked about this address.",
                [ProbeGroup("ev-fediverse-group", None, [skipped])],
            )
        ]
    view = account_view(probes)
    jrd = read_jrd(probes.webfinger.body) if isinstance(probes.webfinger, JsonAnswer) else None
    actor_url = view.actor.id if view.actor else (jrd.actor_url if jrd else None)
    host = view.host or (actor_url.split("://", 1)[-1].split("/", 1)[0] if actor_url else None)
    actor_body = probes.actor.body if isinstance(probes.actor, JsonAnswer) else None
    moved = text_field(actor_body, "movedTo") or (view.actor.moved_to if view.actor else None)
    outbox = text_field(actor_body, "outbox") or (view.actor.outbox if view.actor else None)
    username = text_field(actor_body, "preferredUsername")
    server_webfinger = _webfinger_url(f"{username}@{host}") if username and host else None
    index_url = f"https://{host}/.well-known/nodeinfo" if host else None
    index = probes.nodeinfo_index
    document_url = nodeinfo_link(index.body) if isinstance(index, JsonAnswer) else None
    base = f"https://{host}" if host else None
    address = [
        _probe(
            "ev-fediverse-webfinger",
            "WebFinger on the address's domain",
            probes.webfinger,
            _webfinger_url(probes.account),
            *_JRD,
        ),
        _probe("ev-fediverse-actor", "The actor", probes.actor, actor_url, *_ACTIVITY),
        _probe(
            "ev-fediverse-server-webfinger",
            "WebFinger on the actor's own server (confirmation)",
            probes.server_webfinger,
            server_webfinger,
            *_JRD,
        ),
        _probe(
            "ev-fediverse-moved-to",
            "The account it moved to (movedTo)",
            probes.moved_to,
            moved,
            *_ACTIVITY,
        ),
    ]
    server = [
        _probe("ev-fediverse-nodeinfo-index", "NodeInfo index", index, index_url),
        _probe("ev-fediverse-nodeinfo", "NodeInfo document", probes.nodeinfo, document_url),
        _probe(
            "ev-fediverse-instance",
            "Instance API (Mastodon)",
            probes.instance,
            f"{base}/api/v2/instance" if base else None,
        ),
        _peers_probe(probes, host),
    ]
    posts = [_probe("ev-fediverse-outbox", "Outbox", probes.outbox, outbox, *_ACTIVITY)]
    return [
        EvidenceSection(
            "ev-fediverse",
            "Address and actor",
            "WebFinger (RFC 7033) on the address's domain names the ActivityPub actor; the actor "
            "document must carry that URL as its id; when the actor lives on another server, that "
            "server's own WebFinger must give this address back. A moved account names its new "
            "actor in movedTo.",
            [ProbeGroup("ev-fediverse-account", probes.account, address)],
        ),
        EvidenceSection(
            "ev-fediverse-server",
            "The server",
            "What the server that hosts the actor says about itself: NodeInfo (software, users, "
            "registrations), Mastodon's instance API, and the servers it federates with (counted; "
            "only a sample of the list is kept).",
            [ProbeGroup("ev-fediverse-server-host", host, server)],
        ),
        EvidenceSection(
            "ev-fediverse-posts",
            "Posts",
            "The actor's outbox: are its posts publicly readable.",
            [ProbeGroup("ev-fediverse-posts-group", None, posts)],
        ),
    ]


# --- Matrix --------------------------------------------------------------------------------------


def _srv_probe(probes: MatrixProbes) -> Probe:
    title = "DNS SRV record (_matrix-fed._tcp)"
    name = f"_matrix-fed._tcp.{_delegated_host(probes)}"
    return dns_probe("ev-matrix-srv", title, probes.srv, name)


def _delegated_host(probes: MatrixProbes) -> str:
    """The name SRV is asked at: the well-known delegation's host, else the server name's."""
    if isinstance(probes.well_known_server, JsonAnswer):
        delegated = delegation(probes.well_known_server.body)
        if not isinstance(delegated, str):
            return delegated.host
    name = split_server_name(probes.server_name)
    return name.host if name else probes.server_name


def _discovery_probe(probes: MatrixProbes) -> Probe:
    steps = probes.discovery
    address = probes.federation_address
    summary = f"{len(steps)} step" + "s" * (len(steps) != 1) + "; "
    summary += (
        f"federation requests go to {address}" if address else "no federation address was decided"
    )
    facts = tuple((f"Step {n}", clip(step, 300)) for n, step in enumerate(steps[:16], 1))
    commands = [
        curl_command(f"https://{probes.server_name}/.well-known/matrix/server"),
        shell_command("dig", "+short", "SRV", f"_matrix-fed._tcp.{_delegated_host(probes)}"),
    ]
    return Probe(
        "ev-matrix-discovery",
        "Discovery steps",
        probes.server_name,
        "ok" if address else "failed",
        summary,
        commands,
        pretty_json(steps),
        "JSON",
        facts,
    )


def _keys_probe(probes: MatrixProbes, base: str) -> Probe:
    probe = _probe(
        "ev-matrix-server-keys",
        "Signing keys (key/v2/server)",
        probes.server_keys,
        f"{base}/_matrix/key/v2/server",
        facts=False,
    )
    if not isinstance(probes.server_keys, JsonAnswer):
        return probe
    keys = verify_server_keys(probes.server_keys.body, probes.server_name)
    signature = "verifies for the server name" if keys.valid else (keys.problem or "invalid")
    facts = _facts(
        ("server_name", keys.server_name),
        ("Key ids", ", ".join(keys.key_ids) or "(none)"),
        ("Self-signature", signature),
    )
    return replace(probe, facts=(*facts, *probe.facts))


def matrix_sections(evidence: Evidence) -> list[EvidenceSection]:
    """The appendix of a Matrix account: server discovery, the federation API, the client API."""
    probes = evidence.matrix
    if not isinstance(probes, MatrixProbes):
        skipped = Probe("ev-matrix-skipped", "Discovery", "", "skipped", probes.reason, [], None)
        return [
            EvidenceSection(
                "ev-matrix",
                "Server discovery",
                "Nothing was asked about this user ID.",
                [ProbeGroup("ev-matrix-group", None, [skipped])],
            )
        ]
    server = f"https://{probes.server_name}"
    federation = (
        base_url(probes.federation_address)
        if probes.federation_address
        else f"https://{probes.server_name}:{DEFAULT_PORT}"
    )
    known = probes.well_known_client
    client = (client_base(known.body) if isinstance(known, JsonAnswer) else None) or server
    discovery = [
        _probe(
            "ev-matrix-well-known-server",
            "Delegation (/.well-known/matrix/server)",
            probes.well_known_server,
            f"{server}/.well-known/matrix/server",
        ),
        _srv_probe(probes),
        _discovery_probe(probes),
    ]
    federation_api = [
        _probe(
            "ev-matrix-federation-version",
            "Federation version",
            probes.federation_version,
            f"{federation}/_matrix/federation/v1/version",
        ),
        _keys_probe(probes, federation),
    ]
    client_api = [
        _probe(
            "ev-matrix-well-known-client",
            "Client discovery (/.well-known/matrix/client)",
            known,
            f"{server}/.well-known/matrix/client",
        ),
        _probe(
            "ev-matrix-client-versions",
            "Client API versions",
            probes.client_versions,
            f"{client}/_matrix/client/versions",
        ),
        _probe(
            "ev-matrix-profile",
            "Public profile",
            probes.profile,
            f"{client}/_matrix/client/v3/profile/{quote(probes.user_id, safe='')}",
        ),
    ]
    return [
        EvidenceSection(
            "ev-matrix",
            "Server discovery",
            "Where federation requests for the server name go, in the specification's order: "
            "/.well-known/matrix/server delegation, then the _matrix-fed._tcp SRV record, then "
            "port 8448.",
            [ProbeGroup("ev-matrix-server-name", probes.server_name, discovery)],
        ),
        EvidenceSection(
            "ev-matrix-federation",
            "Federation API",
            "The homeserver's server-server API: its software, and the signing keys that must be "
            "the server name's own (signed by it).",
            [ProbeGroup("ev-matrix-federation-address", probes.federation_address, federation_api)],
        ),
        EvidenceSection(
            "ev-matrix-client",
            "Client API",
            "Where apps find the homeserver (/.well-known/matrix/client), the versions it speaks, "
            "and the user's public profile.",
            [ProbeGroup("ev-matrix-client-base", client, client_api)],
        ),
    ]

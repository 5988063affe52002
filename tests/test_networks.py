"""Fediverse and Matrix audits: document reading, server discovery, signed keys, and gathering
from hostile servers. Real HTTP semantics through the sandbox transport; every hostile answer
must end as recorded evidence (a failure or an untrusted claim), never as a crash or a trusted
account."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from auditor.api import gather, rescore
from auditor.dependencies import what_if
from auditor.fediverse.documents import (
    acct_of,
    nodeinfo_link,
    read_actor,
    read_jrd,
    read_nodeinfo,
)
from auditor.fediverse.software import can_move, version_tuple
from auditor.matrix.discovery import delegation, pick_srv, split_server_name
from auditor.matrix.keys import canonical_json, verify_server_keys
from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.fediverse import FediverseProbes
from auditor.models.matrix import MatrixProbes
from auditor.models.report import Capability, Report
from auditor.net.deadline import Deadline
from auditor.net.fetch import Fetcher
from auditor.sandbox.clock import SANDBOX_NOW
from auditor.sandbox.matrix import seeded_ed25519, signed, unpadded_base64
from auditor.sandbox.scenarios import build_world
from auditor.sandbox.world import HOSTILE, World
from auditor.session import Session

AP = "application/activity+json"
SCHEMA_20 = "http://nodeinfo.diaspora.software/ns/schema/2.0"

# --- documents ----------------------------------------------------------------------------------


def test_jrd_needs_a_subject_and_an_https_activitypub_self_link() -> None:
    good = {
        "subject": "acct:bob@kith.test",
        "links": [
            {"rel": "self", "type": "text/html", "href": "https://kith.test/@bob"},
            {"rel": "self", "type": AP, "href": "https://kith.test/users/bob"},
        ],
    }
    assert read_jrd(good).actor_url == "https://kith.test/users/bob"
    ld = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    assert read_jrd({**good, "links": [{"rel": "self", "type": ld, "href": "https://a.test/u"}]})
    plain_http = {**good, "links": [{"rel": "self", "type": AP, "href": "http://kith.test/u/b"}]}
    assert read_jrd(plain_http).problem == "the WebFinger answer links to no ActivityPub actor"
    assert read_jrd({"links": good["links"]}).problem == "the WebFinger answer has no subject"
    assert read_jrd(["not", "an", "object"]).problem == "the WebFinger answer is not a JSON object"
    assert read_jrd({**good, "links": "nope"}).actor_url is None


def test_acct_of_lowercases_the_domain_only() -> None:
    assert acct_of("acct:Bob@Kith.TEST") == "Bob@kith.test"
    assert acct_of("https://kith.test/users/bob") is None
    assert acct_of("acct:@kith.test") is None


def test_an_actor_speaks_only_for_its_own_url() -> None:
    url = "https://kith.test/users/bob"
    actor = read_actor({"id": url, "type": "Person", "preferredUsername": "bob"}, url)
    assert not isinstance(actor, str) and actor.host == "kith.test" and not actor.has_public_key
    assert read_actor({"id": "https://mastodon.social/users/alice", "type": "Person"}, url) == (
        f"the actor document fetched from {url} claims the id https://mastodon.social/users/alice"
    )
    assert (
        read_actor({"id": url, "type": "Note"}, url) == "the document is not an actor (type 'Note')"
    )
    assert read_actor({"id": "http://kith.test/users/bob", "type": "Person"}, url) == (
        "the actor document has no https id"
    )
    moved = read_actor(
        {"id": url, "type": "Person", "movedTo": "https://new.test/u/b", "alsoKnownAs": "x"}, url
    )
    assert not isinstance(moved, str)
    assert moved.moved_to == "https://new.test/u/b" and moved.also_known_as == ()


def test_nodeinfo_newest_2x_over_https_and_typed_fields() -> None:
    schema = "http://nodeinfo.diaspora.software/ns/schema/"
    index = {
        "links": [
            {"rel": schema + "1.0", "href": "https://k.test/nodeinfo/1.0"},
            {"rel": schema + "2.0", "href": "https://k.test/nodeinfo/2.0"},
            {"rel": schema + "2.1", "href": "https://k.test/nodeinfo/2.1"},
            {"rel": schema + "2.2", "href": "http://k.test/nodeinfo/2.2"},
        ]
    }
    assert nodeinfo_link(index) == "https://k.test/nodeinfo/2.1"
    info = read_nodeinfo(
        {
            "software": {"name": "Mastodon", "version": "4.3.2"},
            "usage": {"users": {"total": True}},
            "openRegistrations": "yes",
            "protocols": ["activitypub", 7],
        }
    )
    assert info is not None
    assert (info.software, info.users, info.open_registrations) == ("mastodon", None, None)
    assert info.protocols == ("activitypub",)


def test_software_exits() -> None:
    assert version_tuple("4.3.2+glitch") == (4, 3, 2)
    assert version_tuple("v4") is None
    assert can_move("mastodon", "2.9.4") is False
    assert can_move("mastodon", "3.0.0") is True
    assert can_move("mastodon", "nightly") is None
    assert can_move("pleroma", "2.6") is None


# --- Matrix discovery and keys ----------------------------------------------------------------


def test_server_names() -> None:
    assert split_server_name("matrix.org") is not None
    six = split_server_name("[2001:db8::1]:8448")
    assert six is not None and (six.host, six.port, six.is_ip) == ("2001:db8::1", 8448, True)
    assert six.address() == "[2001:db8::1]:8448"
    assert split_server_name("matrix.org:0") is None
    assert split_server_name("[::1") is None
    assert delegation({"m.server": "matrix-federation.matrix.org:443"}) == split_server_name(
        "matrix-federation.matrix.org:443"
    )
    assert delegation({"m.server": 443}) == "the answer has no m.server string"
    assert isinstance(delegation({"m.server": "a:b:c"}), str)


def test_srv_choice_is_lowest_priority_then_highest_weight() -> None:
    records = [(10, 0, 8448, "b.test"), (5, 1, 443, "c.test"), (5, 9, 8448, "a.test")]
    assert pick_srv(records) == (5, 9, 8448, "a.test")
    assert pick_srv([(0, 0, 0, ".")]) is None  # RFC 2782: the service is not available


def _keys(server: str, key: Ed25519PrivateKey) -> dict[str, object]:
    public = unpadded_base64(key.public_key().public_bytes_raw())
    body = {
        "server_name": server,
        "valid_until_ts": 1,
        "verify_keys": {"ed25519:a_1": {"key": public}},
        "old_verify_keys": {},
    }
    return signed(body, server, "ed25519:a_1", key)


def test_server_keys_must_be_the_server_names_and_verify() -> None:
    key = seeded_ed25519("test")
    good = _keys("hal.test", key)
    assert verify_server_keys(good, "hal.test").valid
    assert verify_server_keys({**good, "unsigned": {"x": 1}}, "hal.test").valid  # not signed
    tampered = {**good, "valid_until_ts": 2}
    assert verify_server_keys(tampered, "hal.test").problem == (
        "no signature verifies with the keys it lists"
    )
    other = verify_server_keys(_keys("matrix.org", key), "hal.test")
    assert other.problem == "the keys are for 'matrix.org', not 'hal.test'"
    garbage = {**good, "signatures": {"hal.test": {"ed25519:a_1": "!!not base64"}}}
    assert not verify_server_keys(garbage, "hal.test").valid


def test_canonical_json_is_the_specs() -> None:
    # Matrix spec, appendix "Canonical JSON": sorted keys, no whitespace, UTF-8 unescaped.
    assert canonical_json({"b": 2, "a": {"日本": "語", "c": [1, None]}}) == (
        '{"a":{"c":[1,null],"日本":"語"},"b":2}'.encode()
    )


# --- gathering from hostile servers -----------------------------------------------------------


def _audit(world: World, target: str) -> tuple[Evidence, Report]:
    async def run() -> Evidence:
        async with Session.open(
            world.settings(timeout=2.0, deadline=10.0),
            resolver=world.zone.resolver(),
            transport=world.transport(),
        ) as session:
            return await gather(target, session=session, now=SANDBOX_NOW)

    evidence = asyncio.run(run())
    return evidence, rescore(evidence)


def _host(world: World, host: str, answer: Callable[[httpx.Request], httpx.Response]) -> None:
    async def app(request: httpx.Request) -> httpx.Response:
        return answer(request)

    world.add_host(host, app, HOSTILE)


def _jrd(domain: str, actor: str) -> httpx.Response:
    body = {"subject": f"acct:eve@{domain}", "links": [{"rel": "self", "type": AP, "href": actor}]}
    return httpx.Response(
        200, content=json.dumps(body).encode(), headers={"content-type": "application/jrd+json"}
    )


def _fediverse(evidence: Evidence) -> FediverseProbes:
    assert isinstance(evidence.fediverse, FediverseProbes)
    return evidence.fediverse


def test_a_huge_jrd_is_refused_and_the_account_is_not_found() -> None:
    world = World()
    big = b'{"subject":"acct:eve@big.test","aliases":["' + b"x" * 2_000_000 + b'"]}'
    _host(
        world,
        "big.test",
        lambda r: httpx.Response(
            200, content=big, headers={"content-type": "application/jrd+json"}
        ),
    )
    evidence, report = _audit(world, "@eve@big.test")
    finger = _fediverse(evidence).webfinger
    assert isinstance(finger, ProbeFailure) and finger.kind is FailureKind.TOO_LARGE
    assert report.band is None and report.unresolved_reason is not None
    assert "WebFinger on big.test failed" in report.unresolved_reason


def test_a_redirect_loop_is_a_failure_not_a_hang() -> None:
    world = World()
    _host(world, "loop.test", lambda r: httpx.Response(302, headers={"location": str(r.url)}))
    evidence, report = _audit(world, "@eve@loop.test")
    finger = _fediverse(evidence).webfinger
    assert isinstance(finger, ProbeFailure) and finger.kind is FailureKind.TOO_MANY_REDIRECTS
    assert report.band is None


def test_malformed_jrd_and_an_actor_that_claims_another_id() -> None:
    world = World()
    _host(
        world,
        "bad.test",
        lambda r: httpx.Response(
            200, content=b"{not json", headers={"content-type": "application/json"}
        ),
    )
    evidence, report = _audit(world, "@eve@bad.test")
    assert isinstance(_fediverse(evidence).webfinger, ProbeFailure)
    assert report.band is None

    world = World()

    def liar(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/webfinger":
            return _jrd("liar.test", "https://liar.test/users/eve")
        actor = {"id": "https://mastodon.social/users/alice", "type": "Person"}
        return httpx.Response(200, content=json.dumps(actor).encode(), headers={"content-type": AP})

    _host(world, "liar.test", liar)
    _, report = _audit(world, "@eve@liar.test")
    assert report.band is None
    assert report.unresolved_reason == (
        "the actor document fetched from https://liar.test/users/eve claims the id "
        "https://mastodon.social/users/alice"
    )


def test_a_domain_claiming_another_servers_user_is_not_trusted() -> None:
    world = build_world(["fedi-impostor"])
    evidence, report = _audit(world, "@mallory@evil.test")
    probes = _fediverse(evidence)
    assert isinstance(probes.actor, JsonAnswer) and isinstance(probes.server_webfinger, JsonAnswer)
    assert report.band is None and report.checks == []
    assert "mastodon.social calls alice@mastodon.social, not mallory@evil.test" in str(
        report.unresolved_reason
    )


def test_private_addresses_are_refused_without_allow_private() -> None:
    world = build_world(["fedi-own-domain"])

    async def run() -> Evidence:
        settings = world.settings(allow_private=False)
        async with Session.open(
            settings, resolver=world.zone.resolver(), transport=world.transport()
        ) as session:
            return await gather("@carol@carol.test", session=session, now=SANDBOX_NOW)

    evidence = asyncio.run(run())
    finger = _fediverse(evidence).webfinger
    assert isinstance(finger, ProbeFailure) and finger.kind is FailureKind.BLOCKED_ADDRESS


def test_garbage_nodeinfo_and_peers_are_failures_and_the_audit_goes_on() -> None:
    world = World()

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        json_type = {"content-type": "application/json"}
        if path == "/.well-known/webfinger":
            return _jrd("odd.test", "https://odd.test/users/eve")
        if path == "/users/eve":
            actor = {"id": "https://odd.test/users/eve", "type": "Person", "outbox": 5}
            return httpx.Response(
                200, content=json.dumps(actor).encode(), headers={"content-type": AP}
            )
        if path == "/.well-known/nodeinfo":
            return httpx.Response(200, content=b'{"links": "nope"}', headers=json_type)
        if path == "/api/v1/instance/peers":
            return httpx.Response(200, content=b'{"peers": 3}', headers=json_type)
        return httpx.Response(404)

    _host(world, "odd.test", server)
    evidence, report = _audit(world, "@eve@odd.test")
    probes = _fediverse(evidence)
    assert isinstance(probes.peers, ProbeFailure)
    assert probes.peers.message.endswith("the peer list is not a JSON array")
    statuses = {c.id: c.status.value for c in report.checks}
    assert statuses["fediverse-federation"] == "partial"  # unconfirmed, not a pass
    assert statuses["fediverse-instance"] == "info" and report.band is not None


def test_matrix_keys_for_another_name_mean_it_does_not_federate() -> None:
    world = World()
    key = seeded_ed25519("impostor")

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        json_type = {"content-type": "application/json"}
        if path == "/.well-known/matrix/server":
            return httpx.Response(200, content=b'{"m.server": "fake.test:443"}', headers=json_type)
        if path == "/_matrix/key/v2/server":
            body = json.dumps(_keys("matrix.org", key)).encode()
            return httpx.Response(200, content=body, headers=json_type)
        if path == "/_matrix/federation/v1/version":
            return httpx.Response(
                200, content=b'{"server": {"name": "Synapse"}}', headers=json_type
            )
        if path == "/_matrix/client/versions":
            return httpx.Response(200, content=b'{"versions": ["v1.11"]}', headers=json_type)
        return httpx.Response(404, content=b'{"errcode": "M_UNRECOGNIZED"}', headers=json_type)

    _host(world, "fake.test", server)
    evidence, report = _audit(world, "@eve:fake.test")
    assert isinstance(evidence.matrix, MatrixProbes)
    assert evidence.matrix.federation_address == "fake.test:443"
    federation = next(c for c in report.checks if c.id == "matrix-federation")
    assert federation.status.value == "fail"
    assert "the keys are for 'matrix.org', not 'fake.test'" in federation.summary


def test_a_matrix_id_nobody_answers_for_is_unresolved() -> None:
    evidence, report = _audit(World(), "@eve:nowhere.test")
    assert isinstance(evidence.matrix, MatrixProbes)
    assert [step.split(" (")[0] for step in evidence.matrix.discovery] == [
        "no delegation at https://nowhere.test/.well-known/matrix/server",
        "no SRV record _matrix-fed._tcp.nowhere.test",
        "no SRV record _matrix._tcp.nowhere.test",  # deprecated in v1.8, still a fallback
        "no SRV record for nowhere.test: port 8448",
    ]
    assert evidence.matrix.federation_address == "nowhere.test:8448"
    assert report.band is None and "no homeserver answered for nowhere.test" in str(
        report.unresolved_reason
    )


# --- the outage what-if and mixed reports ---------------------------------------------------


def test_a_matrix_account_is_never_said_to_keep_or_lose_moving() -> None:
    world = build_world(["matrix-flagship"])
    _, report = _audit(world, "@alice:matrix.org")
    sentence = report.dependencies[0].if_offline
    assert "move" not in sentence
    assert "could no longer be resolved by apps, serve its data or publish" in sentence
    assert "move to another host" in what_if("X", {Capability.SERVE_DATA})


@pytest.mark.parametrize(
    ("target", "checks"),
    [
        ("@alice@mastodon.social", "fediverse-"),
        ("@alice:matrix.org", "matrix-"),
        ("alice.bsky.social", ""),
    ],
)
def test_an_audit_runs_only_its_networks_checks(target: str, checks: str) -> None:
    world = build_world(["bsky-default", "fedi-flagship", "matrix-flagship"])
    _, report = _audit(world, target)
    ids = [c.id for c in report.checks]
    assert ids and all(i.startswith(checks) for i in ids)
    if not checks:
        assert not any(i.startswith(("fediverse-", "matrix-")) for i in ids)
    assert report.coverage == 1.0


def test_evidence_of_version_1_0_still_loads_as_at_protocol() -> None:
    world = build_world(["bsky-default"])
    evidence, report = _audit(world, "alice.bsky.social")
    old = evidence.model_dump(mode="json")
    for added in ("protocol", "account", "fediverse", "matrix"):
        del old[added]
    old["evidence_version"] = "1.0"
    again = rescore(Evidence.model_validate(old))
    assert again.protocol == "atproto" and again.band == report.band == "centralized"
    assert [c.id for c in again.checks] == [c.id for c in report.checks]


def test_a_custom_domain_confirmed_by_the_actors_server() -> None:
    """dana.test's WebFinger names an actor on a provider; the provider's own WebFinger for that
    actor answers with dana@dana.test as subject (Mastodon's LOCAL_DOMAIN/WEB_DOMAIN split)."""
    world = World()
    actor_url = "https://social.host.test/users/dana"
    jrd_type = {"content-type": "application/jrd+json"}

    def finger(subject: str) -> httpx.Response:
        body = {"subject": subject, "links": [{"rel": "self", "type": AP, "href": actor_url}]}
        return httpx.Response(200, content=json.dumps(body).encode(), headers=jrd_type)

    def provider(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/webfinger":
            assert request.url.params["resource"] == "acct:dana@social.host.test"
            return finger("acct:dana@dana.test")
        if path == "/users/dana":
            actor = {"id": actor_url, "type": "Person", "preferredUsername": "dana"}
            return httpx.Response(
                200, content=json.dumps(actor).encode(), headers={"content-type": AP}
            )
        if path == "/api/v1/instance/peers":
            return httpx.Response(200, content=b'["a.test", "b.test"]', headers=jrd_type)
        if path == "/.well-known/nodeinfo":
            link = {"rel": SCHEMA_20, "href": "https://social.host.test/nodeinfo/2.0"}
            return httpx.Response(
                200, content=json.dumps({"links": [link]}).encode(), headers=jrd_type
            )
        if path == "/nodeinfo/2.0":
            info = {"version": "2.0", "software": {"name": "mastodon", "version": "4.3.2"},
                    "usage": {"users": {"total": 900}}, "openRegistrations": True}  # fmt: skip
            return httpx.Response(200, content=json.dumps(info).encode(), headers=jrd_type)
        return httpx.Response(404)

    _host(world, "dana.test", lambda r: finger("acct:dana@dana.test"))
    _host(world, "social.host.test", provider)
    evidence, report = _audit(world, "@dana@dana.test")
    assert isinstance(_fediverse(evidence).server_webfinger, JsonAnswer)
    control = {c.layer: (c.label, c.yours) for c in report.control}
    assert control["name"] == ("you", True)
    assert control["identity"] == ("host.test", False)  # the actor's URL is the provider's
    assert report.band is not None and report.band.value == "hybrid"
    discovery = next(c for c in report.checks if c.id == "fediverse-discovery")
    assert discovery.data["custom_domain"] is True

    # The same provider, asked about an address it does not serve, does not confirm it.
    world = World()
    _host(world, "dana.test", lambda r: finger("acct:dana@dana.test"))
    _host(world, "social.host.test", provider)
    _, report = _audit(world, "@someone@dana.test")
    assert report.band is None


# --- what outside evidence cannot show is never presumed (review findings) ---------------------


def _synapse(server_name: str, key_seed: str) -> Callable[[httpx.Request], httpx.Response]:
    """A homeserver answering federation and client API for ``server_name`` (user eve)."""
    key = seeded_ed25519(key_seed)
    json_type = {"content-type": "application/json"}

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/_matrix/key/v2/server":
            body = json.dumps(_keys(server_name, key)).encode()
            return httpx.Response(200, content=body, headers=json_type)
        if path == "/_matrix/federation/v1/version":
            return httpx.Response(
                200, content=b'{"server": {"name": "Synapse"}}', headers=json_type
            )
        if path == "/_matrix/client/versions":
            return httpx.Response(200, content=b'{"versions": ["v1.11"]}', headers=json_type)
        if path.startswith("/_matrix/client/v3/profile/@eve:"):
            return httpx.Response(200, content=b'{"displayname": "Eve"}', headers=json_type)
        if path.startswith("/_matrix/client/v3/profile/"):
            body = b'{"errcode": "M_NOT_FOUND", "error": "Profile was not found"}'
            return httpx.Response(404, content=body, headers=json_type)
        return httpx.Response(404, content=b'{"errcode": "M_UNRECOGNIZED"}', headers=json_type)

    return answer


def test_an_unknown_matrix_server_name_is_not_presumed_the_users() -> None:
    world = World()
    _host(world, "community.test", _synapse("community.test", "community"))
    _, report = _audit(world, "@eve:community.test")
    control = {c.layer: (c.label, c.yours) for c in report.control}
    assert control["identity"] == ("community.test", False)
    assert control["hosting"] == ("community.test", False)
    assert report.band is not None and report.band.value == "hybrid"  # federates: not one party
    replication = next(c for c in report.checks if c.id == "matrix-data-replication")
    assert replication.status.value == "partial"  # not "you run the homeserver"

    # declared by the person auditing: then, and only then, it is theirs
    async def run() -> Evidence:
        settings = world.settings(own_domains=["community.test"])
        async with Session.open(
            settings, resolver=world.zone.resolver(), transport=world.transport()
        ) as session:
            return await gather("@eve:community.test", session=session, now=SANDBOX_NOW)

    declared = rescore(asyncio.run(run()))
    assert declared.band is not None and declared.band.value == "decentralized"
    assert "you declared community.test yours" in declared.band_basis[1]


def test_an_ip_literal_server_name_is_whoever_holds_the_address() -> None:
    from auditor.matrix.account import MatrixView
    from auditor.matrix.control import name_control, self_hosted

    world = build_world(["matrix-flagship"])
    evidence, _ = _audit(world, "@alice:matrix.org")
    for address, server in (("203.0.113.5", "203.0.113.5"), ("2001:db8::1", "[2001:db8::1]")):
        view = MatrixView(
            f"@a:{server}", server, address, address, False, True, "", None, None, True, True
        )
        controller = name_control(view, evidence)
        assert (controller.party, controller.is_user) == (address, False)
        assert not self_hosted(view, evidence)


def test_a_matrix_user_the_homeserver_does_not_know_is_unresolved() -> None:
    world = World()
    _host(world, "community.test", _synapse("community.test", "community"))
    _, report = _audit(world, "@nobody:community.test")
    assert report.band is None
    assert "has no user @nobody:community.test" in str(report.unresolved_reason)


def test_a_client_api_claimed_elsewhere_is_not_trusted_without_the_user() -> None:
    """evil.test's well-known names matrix.org's client API; nobody there is eve."""
    world = build_world(["matrix-flagship"])
    client = json.dumps({"m.homeserver": {"base_url": "https://matrix-client.matrix.org"}})

    def evil(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/matrix/client":
            return httpx.Response(
                200, content=client.encode(), headers={"content-type": "application/json"}
            )
        return httpx.Response(404)

    _host(world, "evil.test", evil)
    _, report = _audit(world, "@eve:evil.test")
    assert report.band is None  # not "hosted by The Matrix.org Foundation"


def test_the_deprecated_srv_service_is_still_a_fallback() -> None:
    world = World()
    # the in-process network routes on Host: the target answers for the server name's vhost
    _host(world, "old.test", _synapse("old.test", "old"))
    world.zone.add_host("matrix.old.test", HOSTILE)  # the target resolves; it is asked as old.test
    world.zone.add_srv("_matrix._tcp.old.test", 10, 0, 443, "matrix.old.test")
    evidence, report = _audit(world, "@eve:old.test")
    assert isinstance(evidence.matrix, MatrixProbes)
    assert evidence.matrix.federation_address == "matrix.old.test:443"
    assert evidence.matrix.federation_server_name == "old.test"
    step = "SRV _matrix._tcp.old.test points to matrix.old.test:443, asked as old.test"
    assert step in evidence.matrix.discovery
    assert next(c for c in report.checks if c.id == "matrix-federation").status.value == "pass"


@pytest.mark.parametrize("value", ["x@victim.test", "a.test/x", " a.test", "999.1.1.1"])
def test_a_malformed_delegation_is_refused(value: str) -> None:
    assert isinstance(delegation({"m.server": value}), str)


def test_a_hidden_peer_list_does_not_make_the_flagship_centralized() -> None:
    world = build_world(["fedi-flagship"])
    world.fediverse["mastodon.social"].peers_api = False
    _, report = _audit(world, "@alice@mastodon.social")
    assert report.band is not None and report.band.value == "hybrid"
    assert "whether it federates could not be judged" in report.band_basis[0]


def test_an_unknown_size_is_not_a_named_operator() -> None:
    """The single-user server with NodeInfo failing: who runs it cannot be said."""
    world = build_world(["fedi-own-domain"])

    async def broken(request: httpx.Request) -> httpx.Response:
        if "nodeinfo" in request.url.path:
            return httpx.Response(503)
        return await app(request)

    app = world.network.hosts["carol.test"]
    world.network.hosts["carol.test"] = broken
    world.fediverse["carol.test"].peers_api = False
    _, report = _audit(world, "@carol@carol.test")
    statuses = {c.id: c.status.value for c in report.checks}
    assert statuses["fediverse-instance-operator"] == "error"
    assert report.band is not None and report.band.value == "hybrid"  # never "centralized"


def test_a_restricted_actor_leaves_a_move_unknown() -> None:
    world = build_world(["fedi-limited-federation"])
    _, report = _audit(world, "@gus@lodge.test")
    move = next(c for c in report.checks if c.id == "fediverse-account-move")
    assert any("Whether it has moved is not known" in f.message for f in move.findings)
    discovery = next(c for c in report.checks if c.id == "fediverse-discovery")
    assert discovery.status.value == "partial" and "restricted actor" in discovery.summary


def test_an_actor_behind_signatures_on_another_host_is_confirmed_by_its_url() -> None:
    """GoToSocial asks a signature for every ActivityPub GET; its WebFinger answers for the actor
    URL with the account's address (account-domain set apart from its host)."""
    world = World()
    actor_url = "https://gts.host.test/users/dana"
    jrd_type = {"content-type": "application/jrd+json"}

    def finger(subject: str) -> httpx.Response:
        body = {"subject": subject, "links": [{"rel": "self", "type": AP, "href": actor_url}]}
        return httpx.Response(200, content=json.dumps(body).encode(), headers=jrd_type)

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/webfinger":
            assert request.url.params["resource"] == actor_url
            return finger("acct:dana@dana.test")
        if request.url.path == "/users/dana":
            return httpx.Response(401, content=b"")
        return httpx.Response(404)

    _host(world, "dana.test", lambda r: finger("acct:dana@dana.test"))
    _host(world, "gts.host.test", server)
    _, report = _audit(world, "@dana@dana.test")
    assert report.band is not None and report.unresolved_reason is None
    discovery = next(c for c in report.checks if c.id == "fediverse-discovery")
    assert discovery.status.value == "partial"


def test_fediverse_what_ifs_do_not_speak_of_apps() -> None:
    world = build_world(["fedi-flagship"])
    _, report = _audit(world, "@alice@mastodon.social")
    assert all("seen in apps" not in d.if_offline for d in report.dependencies)


def test_batch_keys_fold_fediverse_user_case_only() -> None:
    from auditor.batch.targets import target_key
    from auditor.syntax import parse_target

    assert target_key(parse_target("@Alice@mastodon.social")) == target_key(
        parse_target("acct:alice@Mastodon.Social")
    )
    assert target_key(parse_target("@Bob:matrix.org")) != target_key(
        parse_target("@bob:matrix.org")
    )


def test_an_srv_target_is_asked_under_the_server_name() -> None:
    """Host, TLS SNI and the certificate's name are the server name's (spec, step 4)."""
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"server": {"name": "x"}}, request=request)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            fetcher = Fetcher(client, World().settings(), Deadline(10.0))
            url = "https://matrix.hal.test:443/_matrix/federation/v1/version"
            await fetcher.get_json(url, server_name="hal.test")
            await fetcher.get_json(url)

    asyncio.run(run())
    assert seen[0].headers["host"] == "hal.test"
    assert seen[0].extensions["sni_hostname"] == "hal.test"
    assert seen[0].url.host == "matrix.hal.test"  # the connection goes to the target
    assert seen[1].headers["host"] == "matrix.hal.test"  # (443 is https's default)
    assert "sni_hostname" not in seen[1].extensions

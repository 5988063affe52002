"""The sandbox's fediverse instances speak the protocols as Mastodon 4.x and GoToSocial do:
WebFinger (RFC 7033), ActivityPub actors with Accept negotiation, NodeInfo 2.0 and Mastodon's
instance API, including limited federation mode and the hostile WebFinger impostor.

Every request goes through ``world.transport()``, exactly as an in-process audit's would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from auditor.attribution import attribute_host
from auditor.models.report import Band
from auditor.sandbox.demo import audit_scenarios, default_scenarios
from auditor.sandbox.fediverse import SANDBOX_RSA_PUBLIC_PEM
from auditor.sandbox.scenarios import build_world
from auditor.sandbox.world import World

pytestmark = pytest.mark.anyio

FEDI = [
    "fedi-flagship",
    "fedi-small-instance",
    "fedi-own-domain",
    "fedi-moved",
    "fedi-non-federating",
    "fedi-limited-federation",
    "fedi-impostor",
]
AP = {"accept": "application/activity+json"}
LD = {"accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
HTML = {"accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(FEDI)


@pytest.fixture
def client(world: World) -> Iterator[httpx.AsyncClient]:
    yield httpx.AsyncClient(transport=world.transport())


async def get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    async with client:
        response = await client.get(url, params=params, headers=headers)
        await response.aread()
        return response


# --- scenarios ----------------------------------------------------------------------------------


def test_scenarios_audit_to_their_designed_bands() -> None:
    """Audited, not just declared: each target resolves (or not) and lands in its band."""
    results = asyncio.run(audit_scenarios(FEDI, stable=True))
    found = {r.scenario: (r.report.target, r.report.band) for r in results}
    assert found == {
        "fedi-flagship": ("@alice@mastodon.social", Band.HYBRID),
        "fedi-small-instance": ("@bob@kith.test", Band.HYBRID),
        "fedi-own-domain": ("@carol@carol.test", Band.DECENTRALIZED),
        "fedi-moved": ("@erin@mastodon.social", Band.HYBRID),
        "fedi-non-federating": ("@frank@intranet.test", Band.CENTRALIZED),
        "fedi-limited-federation": ("@gus@lodge.test", Band.HYBRID),
        "fedi-impostor": ("@mallory@evil.test", None),
    }
    assert all(r.report.band == r.expected_band for r in results)


def test_in_the_demo() -> None:
    assert set(FEDI) <= set(default_scenarios())


def test_at_accounts_keep_their_handle_as_target() -> None:
    account = build_world(["bsky-default"]).accounts[0]
    assert account.target == account.handle == "alice.bsky.social"


def test_every_instance_host_has_an_address_and_origin(world: World) -> None:
    for host in ("mastodon.social", "kith.test", "carol.test", "intranet.test", "evil.test"):
        assert host in world.network.hosts
        assert world.zone.addresses[host][0].startswith("127.")


def test_operators_attribute_the_instances() -> None:
    assert attribute_host("mastodon.social").operator_id == "mastodon"
    assert attribute_host("kith.test", sandbox=True).operator_name == "Kith Social (sandbox)"
    assert attribute_host("kith.test").operator_id == "kith.test"  # sandbox rows stay sandboxed
    assert attribute_host("intranet.test", sandbox=True).operator_id == "intranet-corp"


# --- WebFinger -----------------------------------------------------------------------------------


async def test_webfinger(client: httpx.AsyncClient) -> None:
    response = await get(
        client,
        "https://mastodon.social/.well-known/webfinger",
        resource="acct:alice@mastodon.social",
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jrd+json; charset=utf-8"
    body = response.json()
    assert body["subject"] == "acct:alice@mastodon.social"
    assert body["aliases"] == [
        "https://mastodon.social/@alice",
        "https://mastodon.social/users/alice",
    ]
    links = {link["rel"]: link for link in body["links"]}
    assert links["self"] == {
        "rel": "self",
        "type": "application/activity+json",
        "href": "https://mastodon.social/users/alice",
    }
    assert (
        links["http://webfinger.net/rel/profile-page"]["href"] == "https://mastodon.social/@alice"
    )
    assert links["http://webfinger.net/rel/profile-page"]["type"] == "text/html"


@pytest.mark.parametrize(
    "resource",
    [
        "https://mastodon.social/users/alice",
        "https://mastodon.social/@alice",
        "alice@mastodon.social",
        "acct:ALICE@mastodon.social",
    ],
)
async def test_webfinger_resource_forms(client: httpx.AsyncClient, resource: str) -> None:
    response = await get(client, "https://mastodon.social/.well-known/webfinger", resource=resource)
    assert response.status_code == 200
    assert response.json()["subject"] == "acct:alice@mastodon.social"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"resource": ""}, 400),
        ({"resource": "alice"}, 400),
        ({"resource": "https://mastodon.social/about"}, 400),
        ({"resource": "acct:nobody@mastodon.social"}, 404),
        ({"resource": "acct:alice@kith.test"}, 404),  # another domain's account
        ({"resource": "https://kith.test/users/bob"}, 404),
    ],
)
async def test_webfinger_errors(
    client: httpx.AsyncClient, params: dict[str, str], status: int
) -> None:
    response = await get(client, "https://mastodon.social/.well-known/webfinger", **params)
    assert response.status_code == status
    assert response.content == b""  # Mastodon answers with `head`


async def test_single_user_server_webfinger(client: httpx.AsyncClient) -> None:
    response = await get(
        client, "https://carol.test/.well-known/webfinger", resource="acct:carol@carol.test"
    )
    assert response.json()["links"][1]["href"] == "https://carol.test/users/carol"


# --- actors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [AP, LD, {"accept": "application/json"}])
async def test_actor(client: httpx.AsyncClient, accept: dict[str, str]) -> None:
    response = await get(client, "https://mastodon.social/users/alice", accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/activity+json; charset=utf-8"
    actor = response.json()
    assert actor["@context"][:2] == [
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
    ]
    actor_id = "https://mastodon.social/users/alice"
    assert actor["id"] == actor_id
    assert actor["type"] == "Person"
    assert actor["preferredUsername"] == "alice"
    assert actor["name"] == "Alice"
    assert actor["url"] == "https://mastodon.social/@alice"
    for collection in ("inbox", "outbox", "followers", "following"):
        assert actor[collection] == f"{actor_id}/{collection}"
    assert actor["endpoints"] == {"sharedInbox": "https://mastodon.social/inbox"}
    assert actor["discoverable"] is True
    assert actor["published"] == "2022-11-12T00:00:00Z"
    assert "movedTo" not in actor and "alsoKnownAs" not in actor
    key = actor["publicKey"]
    assert (key["id"], key["owner"]) == (f"{actor_id}#main-key", actor_id)
    public = load_pem_public_key(key["publicKeyPem"].encode())
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048


async def test_actor_without_activitypub_accept_redirects_to_the_profile(
    client: httpx.AsyncClient,
) -> None:
    async with client:
        for headers in (HTML, None):  # None: httpx's default Accept, */*
            response = await client.get("https://mastodon.social/users/alice", headers=headers)
            assert response.status_code == 301
            assert response.headers["location"] == "https://mastodon.social/@alice"
            assert "Accept" in response.headers["vary"]


async def test_profile_page_negotiates(client: httpx.AsyncClient) -> None:
    async with client:
        page = await client.get("https://mastodon.social/@alice", headers=HTML)
        actor = await client.get("https://mastodon.social/@alice", headers=AP)
        followed = await client.get(
            "https://mastodon.social/users/alice", headers=HTML, follow_redirects=True
        )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "https://mastodon.social/users/alice" in page.text
    assert actor.json()["id"] == "https://mastodon.social/users/alice"
    assert followed.status_code == 200 and str(followed.url) == "https://mastodon.social/@alice"


async def test_unknown_actor_and_paths(client: httpx.AsyncClient) -> None:
    async with client:
        for url in (
            "https://mastodon.social/users/nobody",
            "https://mastodon.social/@nobody",
            "https://mastodon.social/nowhere",
            "https://mastodon.social/users/alice/nowhere",
        ):
            assert (await client.get(url, headers=AP)).status_code == 404, url


async def test_outbox_and_collections(client: httpx.AsyncClient) -> None:
    async with client:
        outbox = await client.get("https://mastodon.social/users/alice/outbox", headers=AP)
        followers = await client.get("https://mastodon.social/users/alice/followers")
    assert outbox.headers["content-type"] == "application/activity+json; charset=utf-8"
    assert outbox.json() == {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://mastodon.social/users/alice/outbox",
        "type": "OrderedCollection",
        "totalItems": 1204,
        "first": "https://mastodon.social/users/alice/outbox?page=true",
        "last": "https://mastodon.social/users/alice/outbox?min_id=0&page=true",
    }
    assert followers.json()["type"] == "OrderedCollection"
    assert followers.json()["totalItems"] == 310


async def test_moved_account(client: httpx.AsyncClient) -> None:
    async with client:
        old = (await client.get("https://mastodon.social/users/erin", headers=AP)).json()
        new = (await client.get("https://kith.test/users/erin", headers=AP)).json()
        finger = await client.get(
            "https://mastodon.social/.well-known/webfinger",
            params={"resource": "acct:erin@mastodon.social"},
        )
    assert old["movedTo"] == "https://kith.test/users/erin" == new["id"]
    assert new["alsoKnownAs"] == ["https://mastodon.social/users/erin"] == [old["id"]]
    assert finger.status_code == 200  # a moved account still answers WebFinger
    assert old["publicKey"]["owner"] == old["id"] and new["publicKey"]["owner"] == new["id"]


def test_the_actor_key_is_a_real_rsa_public_key() -> None:
    key = serialization.load_pem_public_key(SANDBOX_RSA_PUBLIC_PEM.encode())
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


# --- NodeInfo and the instance API ---------------------------------------------------------------


async def test_nodeinfo(client: httpx.AsyncClient) -> None:
    async with client:
        index = await client.get("https://mastodon.social/.well-known/nodeinfo")
        href = index.json()["links"][0]["href"]
        info = await client.get(href)
    assert index.json() == {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": "https://mastodon.social/nodeinfo/2.0",
            }
        ]
    }
    assert info.headers["content-type"].startswith("application/json")
    body = info.json()
    assert body["version"] == "2.0"
    assert body["software"] == {"name": "mastodon", "version": "4.3.2"}
    assert body["protocols"] == ["activitypub"]
    assert body["services"] == {"outbound": [], "inbound": []}
    assert body["usage"]["users"]["total"] == 2_904_318
    assert set(body["usage"]["users"]) == {"total", "activeMonth", "activeHalfyear"}
    assert body["openRegistrations"] is True
    assert body["metadata"]["nodeName"] == "Mastodon"


@pytest.mark.parametrize(
    ("host", "software", "users", "registrations"),
    [
        ("kith.test", ("mastodon", "4.3.2"), 412, True),  # approval-only still counts as open
        ("carol.test", ("gotosocial", "0.17.3"), 1, False),
        ("intranet.test", ("mastodon", "4.3.2"), 50, False),
    ],
)
async def test_nodeinfo_of_each_instance(
    client: httpx.AsyncClient,
    host: str,
    software: tuple[str, str],
    users: int,
    registrations: bool,
) -> None:
    body = (await get(client, f"https://{host}/nodeinfo/2.0")).json()
    assert (body["software"]["name"], body["software"]["version"]) == software
    assert body["usage"]["users"]["total"] == users
    assert body["openRegistrations"] is registrations
    assert body["protocols"] == ["activitypub"]  # limited federation mode says so too


async def test_instance_api(client: httpx.AsyncClient) -> None:
    async with client:
        flagship = (await client.get("https://mastodon.social/api/v2/instance")).json()
        small = (await client.get("https://kith.test/api/v2/instance")).json()
        peers = await client.get("https://mastodon.social/api/v1/instance/peers")
    assert flagship["domain"] == "mastodon.social"
    assert flagship["version"] == "4.3.2"
    assert flagship["source_url"] == "https://github.com/mastodon/mastodon"
    assert flagship["registrations"]["enabled"] is True
    assert flagship["registrations"]["approval_required"] is False
    assert flagship["contact"]["email"] == "staff@mastodon.social"
    assert flagship["usage"]["users"]["active_month"] == 284_112
    assert small["registrations"] == {
        "enabled": True,
        "approval_required": True,
        "message": None,
        "url": None,
    }
    assert peers.status_code == 200
    assert peers.headers["content-type"] == "application/json; charset=utf-8"
    assert "kith.test" in peers.json() and "mastodon.social" not in peers.json()


async def test_limited_federation_mode(client: httpx.AsyncClient) -> None:
    async with client:
        finger = await client.get(
            "https://lodge.test/.well-known/webfinger",
            params={"resource": "acct:gus@lodge.test"},
        )
        actor = await client.get("https://lodge.test/users/gus", headers=AP)
        outbox = await client.get("https://lodge.test/users/gus/outbox", headers=AP)
        peers = await client.get("https://lodge.test/api/v1/instance/peers")
        instance = await client.get("https://lodge.test/api/v2/instance")
        nodeinfo = await client.get("https://lodge.test/nodeinfo/2.0")
    assert finger.status_code == 200  # WebFinger stays public
    # authorized fetch: an unsigned request gets what verifying a signature needs, no more
    assert actor.status_code == 200
    assert set(actor.json()) == {
        "@context", "id", "type", "preferredUsername", "inbox", "publicKey", "endpoints"
    }  # fmt: skip
    assert outbox.status_code == 401 and outbox.json() == {"error": "Request not signed"}
    for api in (peers, instance):
        assert api.status_code == 401
        assert api.json() == {"error": "This API requires an authenticated user"}
    assert nodeinfo.status_code == 200


async def test_a_server_that_never_federated_lists_no_peer(client: httpx.AsyncClient) -> None:
    async with client:
        peers = await client.get("https://intranet.test/api/v1/instance/peers")
    assert (peers.status_code, peers.json()) == (200, [])


async def test_peers_api_disabled_is_404() -> None:
    world = build_world(["fedi-small-instance"])
    world.fediverse["kith.test"].peers_api = False
    response = await get(
        httpx.AsyncClient(transport=world.transport()), "https://kith.test/api/v1/instance/peers"
    )
    assert (response.status_code, response.content) == (404, b"")


# --- the impostor --------------------------------------------------------------------------------


async def test_impostor_points_at_another_servers_actor(client: httpx.AsyncClient) -> None:
    async with client:
        finger = await client.get(
            "https://evil.test/.well-known/webfinger",
            params={"resource": "acct:mallory@evil.test"},
        )
        self_link = next(link for link in finger.json()["links"] if link["rel"] == "self")
        actor = await client.get(self_link["href"], headers=AP)
        reverse = await client.get(
            "https://mastodon.social/.well-known/webfinger",
            params={"resource": "acct:mallory@mastodon.social"},
        )
        elsewhere = await client.get("https://evil.test/users/mallory", headers=AP)
    assert finger.json()["subject"] == "acct:mallory@evil.test"
    assert self_link["href"] == "https://mastodon.social/users/alice"
    # the actor it names is real, but belongs to another server and another name
    assert actor.json()["id"] == "https://mastodon.social/users/alice"
    assert actor.json()["preferredUsername"] == "alice"
    assert reverse.status_code == 404
    assert elsewhere.status_code == 404


async def test_impostor_alone_still_has_its_victim() -> None:
    world = build_world(["fedi-impostor"])
    response = await get(
        httpx.AsyncClient(transport=world.transport()),
        "https://mastodon.social/users/alice",
        AP,
    )
    assert response.status_code == 200


def test_deterministic() -> None:
    first, second = build_world(FEDI), build_world(FEDI)
    assert first.zone.addresses == second.zone.addresses
    one = first.fediverse["mastodon.social"]
    two = second.fediverse["mastodon.social"]
    alice_one, alice_two = one.account("alice"), two.account("alice")
    assert alice_one is not None and alice_two is not None
    assert one.actor(alice_one) == two.actor(alice_two)


async def test_a_gotosocial_server_refuses_unsigned_activitypub(client: httpx.AsyncClient) -> None:
    async with client:
        actor = await client.get("https://carol.test/users/carol", headers=AP)
        finger = await client.get(
            "https://carol.test/.well-known/webfinger",
            params={"resource": "https://carol.test/users/carol"},
        )
        page = await client.get("https://carol.test/@carol", headers=HTML)
    assert (actor.status_code, actor.content) == (401, b"")
    assert finger.status_code == 200 and finger.json()["subject"] == "acct:carol@carol.test"
    assert page.status_code == 200  # the HTML profile stays public

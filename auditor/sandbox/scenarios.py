"""Scenario accounts: each a one-line story, a known truth, and the band it is designed to get.

Fixed by design (the issue that introduced the sandbox): ``bsky-default`` centralized,
``bsky-custom-domain`` hybrid, ``independent-pds`` hybrid, ``self-sovereign`` decentralized,
``did-web-selfhosted`` decentralized, ``migrated-away`` hybrid. The others, with the reason:

* ``deactivated``, ``relay-takedown``, ``stale-relay``: hybrid. Their identity and hosting are those
  of an ordinary custom-domain account; what they show is a status, not a structure.
* ``handle-mismatch``: centralized. Bluesky PBC hosts it and holds every key, and its name does not
  even verify.
* ``pds-down``, ``bad-export``, ``large-repo``: hybrid. Self-hosted identities whose keys the
  user's own server holds; the failures they stage lower the score without changing who controls
  the account.
* hostile scenarios: no band (None). They exist to prove the audit survives hostile servers; what
  band such an account lands in is not the point.

Fediverse and Matrix scenarios (targets ``@user@domain`` and ``@user:server``; left out of the
demo until the audit speaks those protocols):

* ``fedi-flagship``, ``matrix-flagship``: hybrid. The protocols federate, but the flagship server
  (mastodon.social, matrix.org) holds the account, its keys and its name.
* ``fedi-small-instance``, ``fedi-moved``, ``matrix-delegated``: hybrid. An independent operator
  (or a managed host behind the user's own domain) instead of the flagship; still someone else's
  server.
* ``fedi-own-domain``, ``matrix-own-domain``: decentralized. The user's domain, the user's server.
* ``fedi-non-federating``, ``matrix-non-federating``: centralized. One organisation's server that
  talks to no other (the Mastodon's public peer list is empty; the homeserver's federation API
  does not answer).
* ``fedi-limited-federation``: hybrid. A community Mastodon in limited federation mode: it
  federates with the servers its admins allow, which nobody outside can see, so decaudit cannot
  call it one party's alone; its actor shows only the fields authorized fetch gives out.
* ``fedi-impostor``: no band (hostile): a WebFinger answer pointing at another server's actor.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx

from auditor.models.report import Band
from auditor.sandbox.clock import days_ago
from auditor.sandbox.http import Faults, Router, json_response, text_response
from auditor.sandbox.identities import PlcIdentity, did_web_document
from auditor.sandbox.keys import seeded_key
from auditor.sandbox.pds import HostedAccount, Pds
from auditor.sandbox.repos import RepoContent, broken_export, older_head
from auditor.sandbox.scenarios_networks import (
    fedi_flagship,
    fedi_impostor,
    fedi_limited_federation,
    fedi_moved,
    fedi_non_federating,
    fedi_own_domain,
    fedi_small_instance,
    matrix_delegated,
    matrix_flagship,
    matrix_non_federating,
    matrix_own_domain,
)
from auditor.sandbox.world import (
    HOME,
    HOSTILE,
    MANAGED,
    AccountInfo,
    World,
    operator_keys,
)

BSKY_APPVIEW = "api.bsky.app"
INDIE_APPVIEW = "appview.northwind.test"


@dataclass(frozen=True)
class Scenario:
    """A scenario: how to put its account into a world."""

    id: str
    story: str
    expected_band: Band | None
    build: Callable[[World, Scenario], AccountInfo]
    in_demo: bool = True
    """``decaudit demo`` audits it (large and deliberately slow ones are left out)."""


def _info(scenario: Scenario, handle: str, did: str) -> AccountInfo:
    return AccountInfo(scenario.id, handle, did, scenario.expected_band, scenario.story)


def _bluesky_account(
    world: World,
    scenario: Scenario,
    name: str,
    *,
    pds_host: str = "morel.us-east.host.bsky.network",
    custom_domain: bool = False,
    status: str | None = None,
) -> tuple[PlcIdentity, HostedAccount, RepoContent]:
    """An account as Bluesky's sign-up makes it: Bluesky's keys, a ``.bsky.social`` name first."""
    keys = operator_keys()["bluesky"]
    signing = seeded_key(f"{name}/signing")
    pds = world.pdses[pds_host]
    identity = PlcIdentity(
        f"{name}.bsky.social",
        pds.url,
        rotation=keys,
        signing=signing,
        created=days_ago(700),
        genesis_signer=keys[1],
    )
    world.serve_handle_from(f"{name}.bsky.social", pds)
    if custom_domain:
        identity.update(handle=f"{name}.test", signer=keys[1], after=timedelta(days=90))
        world.handle_dns(f"{name}.test", f"did={identity.did}")
    world.register_plc(identity)
    content = RepoContent.sample(name, created=days_ago(650))
    account = world.host(pds, identity.did, identity.handle, signing, content, status=status)
    return identity, account, content


def bsky_default(world: World, scenario: Scenario) -> AccountInfo:
    identity, account, content = _bluesky_account(world, scenario, "alice")
    pds = world.pdses["morel.us-east.host.bsky.network"]
    world.carry(account, pds, world.bluesky_relays)
    world.index([world.appviews[BSKY_APPVIEW]], identity.did, identity.handle, content)
    return _info(scenario, identity.handle, identity.did)


def bsky_custom_domain(world: World, scenario: Scenario) -> AccountInfo:
    host = "enoki.us-west.host.bsky.network"
    identity, account, content = _bluesky_account(
        world, scenario, "bob", pds_host=host, custom_domain=True
    )
    world.carry(account, world.pdses[host], world.bluesky_relays)
    world.index([world.appviews[BSKY_APPVIEW]], identity.did, identity.handle, content)
    return _info(scenario, identity.handle, identity.did)


def independent_pds(world: World, scenario: Scenario) -> AccountInfo:
    pds = world.pdses["blacksky.app"]
    key = operator_keys()["blacksky"][0]
    signing = seeded_key("carol/signing")
    identity = PlcIdentity(
        "carol.blacksky.app", pds.url, rotation=[key], signing=signing, created=days_ago(300)
    )
    world.register_plc(identity)
    world.serve_handle_from(identity.handle, pds)
    content = RepoContent.sample("carol", created=days_ago(290))
    account = world.host(pds, identity.did, identity.handle, signing, content)
    world.carry(account, pds, [world.relays["bsky.network"], world.relays["atproto.africa"]])
    world.index(
        [world.appviews[BSKY_APPVIEW], world.appviews[INDIE_APPVIEW]],
        identity.did,
        identity.handle,
        content,
    )
    return _info(scenario, identity.handle, identity.did)


def _self_hosted_pds(world: World, name: str) -> Pds:
    return world.add_pds(Pds(f"pds.{name}.test", [f".{name}.test"], version="0.4.204"), HOME)


def _everywhere(world: World, account: HostedAccount, pds: Pds, content: RepoContent) -> None:
    relays = [world.relays[h] for h in ("bsky.network", "atproto.africa", "relay2.fire.hose.cam")]
    world.carry(account, pds, relays)
    world.index(
        [world.appviews[BSKY_APPVIEW], world.appviews[INDIE_APPVIEW]],
        account.did,
        account.handle,
        content,
    )


def self_sovereign(world: World, scenario: Scenario) -> AccountInfo:
    pds = _self_hosted_pds(world, "dana")
    recovery, server_key = seeded_key("dana/recovery-offline"), seeded_key("dana/pds-rotation")
    signing = seeded_key("dana/signing")
    identity = PlcIdentity(
        "dana.test",
        pds.url,
        rotation=[recovery, server_key],
        signing=signing,
        created=days_ago(500),
        genesis_signer=server_key,
    )
    # The server's key once renamed the account without Dana's consent; her offline key, which
    # outranks it, undid that within the 72-hour window (the entry stays in the log, nullified).
    identity.update(handle="dana-hijacked.test", signer=server_key, after=timedelta(days=200))
    identity.recover(back_to=0, signer=recovery, after=timedelta(hours=30))
    world.register_plc(identity)
    world.handle_dns("dana.test", f"did={identity.did}")
    world.handle_https("dana.test", identity.did)
    content = RepoContent.sample("dana", created=days_ago(480))
    account = world.host(pds, identity.did, identity.handle, signing, content)
    _everywhere(world, account, pds, content)
    return _info(scenario, identity.handle, identity.did)


def operator_recovery_key(world: World, scenario: Scenario) -> AccountInfo:
    """A provider no data file knows, running its PDS with ``PDS_RECOVERY_DID_KEY``: its
    recovery key sits above its PDS key on every account it creates. Kim's own log looks exactly
    like a user who gave a recovery key at sign-up; her neighbours' logs show it is not hers."""
    pds = world.add_pds(Pds("pds.harbor.test", [".harbor.test"], invite_required=False), MANAGED)
    recovery, server_key = seeded_key("harbor/recovery"), seeded_key("harbor/pds-rotation")
    for name, age in (("kim", 120), ("lee", 300), ("max", 200)):
        handle = "kim.test" if name == "kim" else f"{name}.harbor.test"
        signing = seeded_key(f"{name}/signing")
        identity = PlcIdentity(
            handle,
            pds.url,
            rotation=[recovery, server_key],
            signing=signing,
            created=days_ago(age),
            genesis_signer=server_key,  # the PDS creates the identity with its own key
        )
        world.register_plc(identity)
        if name == "kim":
            world.handle_dns(handle, f"did={identity.did}")
            world.handle_https(handle, identity.did)
        else:
            world.serve_handle_from(handle, pds)
        content = RepoContent.sample(name, created=days_ago(age - 10))
        account = world.host(pds, identity.did, identity.handle, signing, content)
        _everywhere(world, account, pds, content)
        if name == "kim":
            kim = identity
    return _info(scenario, kim.handle, kim.did)


def did_web_selfhosted(world: World, scenario: Scenario) -> AccountInfo:
    pds = _self_hosted_pds(world, "erin")
    signing = seeded_key("erin/signing", "p256")
    did = "did:web:erin.test"
    document = did_web_document("erin.test", "erin.test", pds.url, signing)
    world.web_documents[did] = document
    site = world.site("erin.test")
    site.put("/.well-known/did.json", json_response(document))
    world.handle_dns("erin.test", f"did={did}")
    world.handle_https("erin.test", did)
    content = RepoContent.sample("erin", created=days_ago(400))
    account = world.host(pds, did, "erin.test", signing, content)
    _everywhere(world, account, pds, content)
    return _info(scenario, "erin.test", did)


def migrated_away(world: World, scenario: Scenario) -> AccountInfo:
    bluesky = operator_keys()["bluesky"]
    northwind = operator_keys()["northwind"][0]
    signing = seeded_key("frank/signing")
    old, new = world.pdses["morel.us-east.host.bsky.network"], world.pdses["pds.northwind.test"]
    identity = PlcIdentity(
        "frank.bsky.social",
        old.url,
        rotation=bluesky,
        signing=signing,
        created=days_ago(800),
        genesis_signer=bluesky[1],
    )
    identity.update(handle="frank.test", signer=bluesky[1], after=timedelta(days=100))
    # The cooperative migration: the old PDS signs the operation that hands over the keys.
    new_signing = seeded_key("frank/signing-northwind")
    identity.update(
        pds=new.url,
        rotation=[northwind],
        signing=new_signing,
        signer=bluesky[1],
        after=timedelta(days=300),
    )
    world.register_plc(identity)
    world.handle_dns("frank.test", f"did={identity.did}")
    content = RepoContent.sample("frank", created=days_ago(780))
    world.host(old, identity.did, "frank.test", signing, content, status="deactivated")
    account = world.host(new, identity.did, "frank.test", new_signing, content)
    world.carry(account, new, [world.relays["bsky.network"], world.relays["atproto.africa"]])
    world.index(
        [world.appviews[BSKY_APPVIEW], world.appviews[INDIE_APPVIEW]],
        identity.did,
        "frank.test",
        content,
    )
    return _info(scenario, "frank.test", identity.did)


def deactivated(world: World, scenario: Scenario) -> AccountInfo:
    identity, account, _ = _bluesky_account(
        world, scenario, "gina", custom_domain=True, status="deactivated"
    )
    pds = world.pdses["morel.us-east.host.bsky.network"]
    world.carry(
        account,
        pds,
        world.bluesky_relays,
        status={r.hostname: "deactivated" for r in world.bluesky_relays},
    )
    return _info(scenario, identity.handle, identity.did)


def _custom_on(
    world: World, name: str, pds: Pds, keys: list[str]
) -> tuple[PlcIdentity, HostedAccount, RepoContent]:
    rotation = [seeded_key(k) for k in keys]
    signing = seeded_key(f"{name}/signing")
    identity = PlcIdentity(
        f"{name}.test",
        pds.url,
        rotation=rotation,
        signing=signing,
        created=days_ago(250),
        genesis_signer=rotation[-1],  # the PDS's own key (last) creates the account
    )
    world.register_plc(identity)
    world.handle_dns(identity.handle, f"did={identity.did}")
    content = RepoContent.sample(name, created=days_ago(240))
    account = world.host(pds, identity.did, identity.handle, signing, content)
    return identity, account, content


def relay_takedown(world: World, scenario: Scenario) -> AccountInfo:
    pds = world.pdses["blacksky.app"]
    identity, account, content = _custom_on(world, "hank", pds, ["blacksky/pds-rotation"])
    relays = [*world.bluesky_relays, world.relays["atproto.africa"]]
    world.carry(
        account, pds, relays, status={r.hostname: "takendown" for r in world.bluesky_relays}
    )
    world.index([world.appviews[INDIE_APPVIEW]], identity.did, identity.handle, content)
    return _info(scenario, identity.handle, identity.did)


def handle_mismatch(world: World, scenario: Scenario) -> AccountInfo:
    identity, account, content = _bluesky_account(
        world, scenario, "ivan", pds_host="enoki.us-west.host.bsky.network"
    )
    # DNS names Ivan's DID; the HTTPS file names someone else's; the DID document claims a third
    # name. Three answers to "who is ivan.test?".
    other = PlcIdentity(
        "ivan-impostor.test",
        world.pdses["enoki.us-west.host.bsky.network"].url,
        rotation=operator_keys()["bluesky"],
        signing=seeded_key("ivan-impostor/signing"),
        created=days_ago(100),
    )
    world.register_plc(other)
    world.handle_dns("ivan.test", f"did={identity.did}")
    world.handle_https("ivan.test", other.did)
    world.carry(account, world.pdses["enoki.us-west.host.bsky.network"], world.bluesky_relays)
    world.index([world.appviews[BSKY_APPVIEW]], identity.did, identity.handle, content)
    return _info(scenario, "ivan.test", identity.did)


def pds_down(world: World, scenario: Scenario) -> AccountInfo:
    pds = _self_hosted_pds(world, "judy")
    identity, account, _ = _custom_on(world, "judy", pds, ["judy/pds-rotation"])
    world.carry(account, pds, [world.relays["bsky.network"]])
    world.set_faults({pds.hostname: Faults(down=True)})
    return _info(scenario, identity.handle, identity.did)


def bad_export(world: World, scenario: Scenario) -> AccountInfo:
    pds = _self_hosted_pds(world, "ken")
    identity, account, content = _custom_on(world, "ken", pds, ["ken/recovery", "ken/pds-rotation"])
    account.export = broken_export(identity.did, seeded_key("ken/not-the-signing-key"), content)
    world.carry(account, pds, [world.relays["bsky.network"], world.relays["atproto.africa"]])
    return _info(scenario, identity.handle, identity.did)


def stale_relay(world: World, scenario: Scenario) -> AccountInfo:
    pds = world.pdses["blacksky.app"]
    identity, account, content = _custom_on(world, "lena", pds, ["blacksky/pds-rotation"])
    head = older_head(identity.did, seeded_key("lena/signing"), content)
    world.carry(
        account,
        pds,
        [world.relays["bsky.network"], world.relays["atproto.africa"]],
        stale={"atproto.africa": head},
    )
    world.index([world.appviews[BSKY_APPVIEW]], identity.did, identity.handle, content)
    return _info(scenario, identity.handle, identity.did)


def large_repo(world: World, scenario: Scenario) -> AccountInfo:
    pds = _self_hosted_pds(world, "max")
    rotation = [seeded_key("max/pds-rotation")]
    signing = seeded_key("max/signing")
    identity = PlcIdentity(
        "max.test", pds.url, rotation=rotation, signing=signing, created=days_ago(900)
    )
    world.register_plc(identity)
    world.handle_dns("max.test", f"did={identity.did}")
    content = RepoContent.sample("max", created=days_ago(890), posts=50_000, long_posts=True)
    account = world.host(pds, identity.did, identity.handle, signing, content)
    world.carry(account, pds, [world.relays["bsky.network"], world.relays["atproto.africa"]])
    return _info(scenario, identity.handle, identity.did)


# --- hostile hosts ------------------------------------------------------------------------------


def _hostile_account(world: World, name: str, pds_host: str) -> PlcIdentity:
    identity = PlcIdentity(
        f"{name}.test",
        f"https://{pds_host}",
        rotation=[seeded_key(f"{name}/pds-rotation")],
        signing=seeded_key(f"{name}/signing"),
        created=days_ago(60),
    )
    world.register_plc(identity)
    world.handle_dns(identity.handle, f"did={identity.did}")
    return identity


async def _endless(chunk: bytes) -> AsyncIterator[bytes]:
    while True:
        yield chunk
        await asyncio.sleep(0)


async def _drip(body: bytes, interval: float) -> AsyncIterator[bytes]:
    for index in range(len(body)):
        await asyncio.sleep(interval)
        yield body[index : index + 1]


def hostile_oversize(world: World, scenario: Scenario) -> AccountInfo:
    identity = _hostile_account(world, "oscar", "pds.oversize.test")

    async def endless(request: httpx.Request) -> httpx.Response:
        chunk = b'{"padding":"' + b"A" * 65_536
        return httpx.Response(
            200, content=_endless(chunk), headers={"content-type": "application/json"}
        )

    world.add_host("pds.oversize.test", endless, HOSTILE)
    world.add_host("oscar.test", endless, HOSTILE)
    return _info(scenario, identity.handle, identity.did)


def hostile_slow(world: World, scenario: Scenario) -> AccountInfo:
    identity = _hostile_account(world, "sloane", "pds.slow.test")

    async def slow(request: httpx.Request) -> httpx.Response:
        body = b'{"version":"0.4.204"}'
        return httpx.Response(
            200, content=_drip(body, 1.0), headers={"content-type": "application/json"}
        )

    world.add_host("pds.slow.test", slow, HOSTILE)
    world.add_host("sloane.test", slow, HOSTILE)
    return _info(scenario, identity.handle, identity.did)


def hostile_garbage(world: World, scenario: Scenario) -> AccountInfo:
    identity = _hostile_account(world, "gary", "pds.garbage.test")
    router = Router()

    async def bad_json(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b'{"version": "0.4", "did": ', headers={"content-type": "application/json"}
        )

    async def bad_car(request: httpx.Request) -> httpx.Response:
        # a CAR header claiming a huge length, then CBOR nesting 10,000 deep
        return httpx.Response(
            200,
            content=b"\xff\xff\xff\xff\x0f" + b"\x81" * 10_000 + b"\x00",
            headers={"content-type": "application/vnd.ipld.car"},
        )

    async def wrong_type(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=b"<html><body>not json</body></html>",
            headers={"content-type": "text/html"},
        )

    for path in (
        "/xrpc/_health",
        "/xrpc/com.atproto.server.describeServer",
        "/xrpc/com.atproto.sync.getLatestCommit",
        "/xrpc/com.atproto.sync.listBlobs",
    ):
        router.get(path, bad_json)
    router.get("/xrpc/com.atproto.repo.describeRepo", wrong_type)
    router.get("/xrpc/com.atproto.sync.getRepoStatus", wrong_type)
    router.get("/xrpc/com.atproto.sync.getRepo", bad_car)
    world.add_host("pds.garbage.test", router, HOSTILE)
    site = world.site("gary.test", HOSTILE)
    site.put(
        "/.well-known/atproto-did", httpx.Response(200, content=b"\x00\xff\xfe garbage \x1b[2J")
    )
    return _info(scenario, identity.handle, identity.did)


def hostile_ssrf(world: World, scenario: Scenario) -> AccountInfo:
    identity = PlcIdentity(
        "sid.test",
        "http://169.254.169.254",
        rotation=[seeded_key("sid/pds-rotation")],
        signing=seeded_key("sid/signing"),
        created=days_ago(30),
    )
    world.register_plc(identity)
    world.handle_dns("sid.test", f"did={identity.did}")
    # The handle's web host "lives" on 127.0.0.1 (no sandbox host answers there).
    world.zone.addresses["sid.test"] = ["127.0.0.1"]
    return _info(scenario, identity.handle, identity.did)


def unresolvable_handle(world: World, scenario: Scenario) -> AccountInfo:
    # A domain with neither a TXT record nor a well-known file: decaudit exits 3 and says why.
    world.site("nobody.test").put("/.well-known/atproto-did", text_response("Not Found", 404))
    return AccountInfo(scenario.id, "nobody.test", None, None, scenario.story)


MARKUP = (
    '<script>alert("xss")</script><img src=x onerror=alert(1)>'
    "\x1b[31;1mRED\x1b[0m\x1b]8;;https://evil.test\x07link\x1b]8;;\x07"
    "\u202egnp.exe\u202c [bold]rich markup[/bold] {{ jinja }} `code` | pipe"
)


def hostile_markup(world: World, scenario: Scenario) -> AccountInfo:
    pds = world.add_pds(
        Pds(
            "pds.markup.test",
            [".markup.test", MARKUP],
            version=MARKUP,
            links={"termsOfService": "javascript:alert(1)", "privacyPolicy": MARKUP},
        ),
        HOSTILE,
    )
    identity = _hostile_account(world, "mallory", pds.hostname)
    content = RepoContent.sample(
        "mallory", created=days_ago(50), display_name=MARKUP, description=MARKUP
    )
    account = world.host(pds, identity.did, identity.handle, identity.signing, content)
    world.handle_https("mallory.test", MARKUP, HOSTILE)
    world.carry(account, pds, [world.relays["bsky.network"]])
    world.index([world.appviews[BSKY_APPVIEW]], identity.did, identity.handle, content)
    world.labeler.label(f"at://{identity.did}", MARKUP, "2026-10-01T00:00:00.000Z")
    return _info(scenario, identity.handle, identity.did)


_ALL = (
    Scenario(
        "bsky-default",
        "Signed up on bsky.app and never changed a setting.",
        Band.CENTRALIZED,
        bsky_default,
    ),
    Scenario(
        "bsky-custom-domain",
        "On Bluesky's servers, but with a handle on a domain they own.",
        Band.HYBRID,
        bsky_custom_domain,
    ),
    Scenario(
        "independent-pds",
        "Hosted by an independent provider that holds the keys; one independent relay.",
        Band.HYBRID,
        independent_pds,
    ),
    Scenario(
        "self-sovereign",
        "Own domain and server, an offline key outranking the server's, three relay operators.",
        Band.DECENTRALIZED,
        self_sovereign,
    ),
    Scenario(
        "operator-recovery-key",
        "An unlisted provider's recovery key tops every account's keys, the user's included.",
        Band.HYBRID,
        operator_recovery_key,
    ),
    Scenario(
        "did-web-selfhosted",
        "A did:web identity on the user's own domain and server.",
        Band.DECENTRALIZED,
        did_web_selfhosted,
    ),
    Scenario(
        "migrated-away",
        "Moved off Bluesky to an independent host, which now holds the only rotation key.",
        Band.HYBRID,
        migrated_away,
    ),
    Scenario(
        "deactivated",
        "A custom-domain account on Bluesky that its owner deactivated.",
        Band.HYBRID,
        deactivated,
    ),
    Scenario(
        "relay-takedown",
        "Active on its independent PDS, taken down at Bluesky's relays.",
        Band.HYBRID,
        relay_takedown,
    ),
    Scenario(
        "handle-mismatch",
        "DNS, HTTPS and the DID document each name someone else.",
        Band.CENTRALIZED,
        handle_mismatch,
    ),
    Scenario("pds-down", "A self-hosted server that is offline.", Band.HYBRID, pds_down),
    Scenario(
        "bad-export",
        "The PDS serves an export with a forged commit signature and a missing MST block.",
        Band.HYBRID,
        bad_export,
    ),
    Scenario("stale-relay", "An independent relay lags behind the PDS.", Band.HYBRID, stale_relay),
    Scenario(
        "large-repo",
        "50,000 records, for benchmarks; built on first use.",
        Band.HYBRID,
        large_repo,
        in_demo=False,
    ),
    Scenario(
        "hostile-oversize",
        "Every answer is an endless body.",
        None,
        hostile_oversize,
        in_demo=False,
    ),
    Scenario(
        "hostile-slow", "Every answer drips one byte a second.", None, hostile_slow, in_demo=False
    ),
    Scenario(
        "hostile-garbage",
        "Malformed JSON, CBOR and CAR; garbage where a DID should be.",
        None,
        hostile_garbage,
    ),
    Scenario(
        "hostile-ssrf",
        "The DID document points the PDS at the cloud metadata address; the handle at 127.0.0.1.",
        None,
        hostile_ssrf,
    ),
    Scenario(
        "unresolvable-handle",
        "A domain with no TXT record and no well-known file: there is no account to audit.",
        None,
        unresolvable_handle,
    ),
    Scenario(
        "hostile-markup",
        "HTML, script, ANSI escapes and bidi overrides in every free-text field.",
        None,
        hostile_markup,
    ),
    # The fediverse and Matrix, on the same spectrum.
    Scenario(
        "fedi-flagship",
        "A Mastodon account on the flagship instance, mastodon.social.",
        Band.HYBRID,
        fedi_flagship,
    ),
    Scenario(
        "fedi-small-instance",
        "A Mastodon account on a small independent instance that federates.",
        Band.HYBRID,
        fedi_small_instance,
    ),
    Scenario(
        "fedi-own-domain",
        "A single-user GoToSocial server on the user's own domain.",
        Band.DECENTRALIZED,
        fedi_own_domain,
    ),
    Scenario(
        "fedi-moved",
        "Moved from mastodon.social to a small instance; both actors say so.",
        Band.HYBRID,
        fedi_moved,
    ),
    Scenario(
        "fedi-non-federating",
        "A company Mastodon that never federated: its public peer list is empty.",
        Band.CENTRALIZED,
        fedi_non_federating,
    ),
    Scenario(
        "fedi-limited-federation",
        "A community Mastodon in limited federation mode: allowlisted peers, authorized fetch.",
        Band.HYBRID,
        fedi_limited_federation,
    ),
    Scenario(
        "fedi-impostor",
        "WebFinger on evil.test points at another server's user.",
        None,
        fedi_impostor,
    ),
    Scenario(
        "matrix-flagship",
        "A Matrix account on matrix.org, which delegates federation to its own hosts.",
        Band.HYBRID,
        matrix_flagship,
    ),
    Scenario(
        "matrix-own-domain",
        "A self-hosted homeserver on the user's domain, found by DNS SRV.",
        Band.DECENTRALIZED,
        matrix_own_domain,
    ),
    Scenario(
        "matrix-delegated",
        "The user's domain delegates to a managed Matrix host.",
        Band.HYBRID,
        matrix_delegated,
    ),
    Scenario(
        "matrix-non-federating",
        "A company homeserver with no federation: the client API only.",
        Band.CENTRALIZED,
        matrix_non_federating,
    ),
)

SCENARIOS: dict[str, Scenario] = {scenario.id: scenario for scenario in _ALL}


class UnknownScenarioError(ValueError):
    """A scenario id that does not exist."""


def select(ids: list[str] | None) -> list[Scenario]:
    """The scenarios named (all of them when ``ids`` is empty or None)."""
    if not ids:
        return list(_ALL)
    unknown = [i for i in ids if i not in SCENARIOS]
    if unknown:
        raise UnknownScenarioError(
            f"unknown scenario{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(known: {', '.join(SCENARIOS)})"
        )
    return [SCENARIOS[i] for i in ids]


def build_world(ids: list[str] | None = None) -> World:
    """A world with the infrastructure and the chosen scenarios' accounts."""
    world = World()
    for scenario in select(ids):
        world.add_account(scenario.build(world, scenario))
    return world

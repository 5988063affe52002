"""Scenario accounts on the fediverse and Matrix: Mastodon- and GoToSocial-shaped instances and
Synapse-shaped homeservers (:mod:`auditor.sandbox.fediverse`, :mod:`auditor.sandbox.matrix`) put
into a world. Their stories and designed bands are listed with every other scenario in
:mod:`auditor.sandbox.scenarios`, which registers them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auditor.sandbox.clock import days_ago
from auditor.sandbox.fediverse import FediverseAccount, FediverseInstance, impostor_webfinger
from auditor.sandbox.matrix import CLIENT, FEDERATION, WELL_KNOWN, Homeserver, MatrixUser
from auditor.sandbox.world import (
    CLOUD,
    COMMUNITY,
    CORPORATE,
    HOME,
    HOSTILE,
    MANAGED,
    AccountInfo,
    World,
)

if TYPE_CHECKING:
    from auditor.sandbox.scenarios import Scenario


# --- the fediverse ------------------------------------------------------------------------------

MASTODON_SOCIAL = "mastodon.social"
KITH = "kith.test"
FEDI_PEERS = [
    "fosstodon.org",
    "hachyderm.io",
    "infosec.exchange",
    "kith.test",
    "mas.to",
    "mastodon.online",
    "mstdn.social",
]


def _non_at(scenario: Scenario, address: str, target: str) -> AccountInfo:
    """A fediverse or Matrix account: its address as the handle, no DID."""
    return AccountInfo(
        scenario.id, address, None, scenario.expected_band, scenario.story, target_text=target
    )


def _mastodon_social(world: World) -> FediverseInstance:
    return world.fediverse_instance(
        MASTODON_SOCIAL,
        CLOUD,
        lambda: FediverseInstance(
            MASTODON_SOCIAL,
            "mastodon",
            "4.3.2",
            users_total=2_904_318,
            active_month=284_112,
            active_halfyear=601_950,
            local_posts=131_620_402,
            open_registrations=True,
            peers=[p for p in FEDI_PEERS if p != MASTODON_SOCIAL],
            title="Mastodon",
            contact_email="staff@mastodon.social",
        ),
    )


def _kith(world: World) -> FediverseInstance:
    return world.fediverse_instance(
        KITH,
        COMMUNITY,
        lambda: FediverseInstance(
            KITH,
            "mastodon",
            "4.3.2",
            users_total=412,
            active_month=173,
            active_halfyear=288,
            local_posts=96_540,
            open_registrations=True,
            approval_required=True,
            peers=[MASTODON_SOCIAL, *(p for p in FEDI_PEERS if p != KITH)],
            title="Kith Social",
            contact_email="admins@kith.test",
        ),
    )


def _alice_on_mastodon_social(world: World) -> FediverseAccount:
    instance = _mastodon_social(world)
    existing = instance.account("alice")
    if existing is not None:
        return existing
    return instance.add(
        FediverseAccount(
            "alice", "Alice", "Posting since 2022.", 1_204, 310, 188, created=days_ago(1_450)
        )
    )


def fedi_flagship(world: World, scenario: Scenario) -> AccountInfo:
    _alice_on_mastodon_social(world)
    return _non_at(scenario, "alice@mastodon.social", "@alice@mastodon.social")


def fedi_small_instance(world: World, scenario: Scenario) -> AccountInfo:
    _kith(world).add(
        FediverseAccount("bob", "Bob", "Gardening and bikes.", 842, 121, 96, created=days_ago(700))
    )
    return _non_at(scenario, "bob@kith.test", "@bob@kith.test")


def fedi_own_domain(world: World, scenario: Scenario) -> AccountInfo:
    instance = world.fediverse_instance(
        "carol.test",
        HOME,
        lambda: FediverseInstance(
            "carol.test",
            "gotosocial",
            "0.17.3",
            users_total=1,
            active_month=1,
            active_halfyear=1,
            local_posts=2_310,
            open_registrations=False,
            signatures_required=True,  # GoToSocial: unsigned ActivityPub GETs get 401
            peers=FEDI_PEERS,  # instance-expose-peers turned on
            title="carol.test",
            contact_email="carol@carol.test",
        ),
    )
    instance.add(
        FediverseAccount("carol", "Carol", "My own server.", 2_310, 402, 260, created=days_ago(900))
    )
    return _non_at(scenario, "carol@carol.test", "@carol@carol.test")


def fedi_moved(world: World, scenario: Scenario) -> AccountInfo:
    old, new = _mastodon_social(world), _kith(world)
    old.add(
        FediverseAccount(
            "erin",
            "Erin (moved)",
            followers=0,
            following=0,
            posts=512,
            created=days_ago(1_200),
            moved_to=new.actor_url("erin"),
        )
    )
    new.add(
        FediverseAccount(
            "erin",
            "Erin",
            "Moved here from mastodon.social.",
            posts=230,
            followers=377,
            following=150,
            created=days_ago(200),
            also_known_as=[old.actor_url("erin")],
        )
    )
    return _non_at(scenario, "erin@mastodon.social", "@erin@mastodon.social")


def fedi_non_federating(world: World, scenario: Scenario) -> AccountInfo:
    instance = world.fediverse_instance(
        "intranet.test",
        CORPORATE,
        lambda: FediverseInstance(
            "intranet.test",
            "mastodon",
            "4.3.2",
            users_total=50,
            active_month=41,
            active_halfyear=48,
            local_posts=8_204,
            open_registrations=False,
            peers=[],  # it never federated: its peer list is public and empty
            title="Intranet Corp",
            contact_email="it@intranet.test",
        ),
    )
    instance.add(FediverseAccount("frank", "Frank", posts=77, followers=12, following=30))
    return _non_at(scenario, "frank@intranet.test", "@frank@intranet.test")


def fedi_limited_federation(world: World, scenario: Scenario) -> AccountInfo:
    instance = world.fediverse_instance(
        "lodge.test",
        COMMUNITY,
        lambda: FediverseInstance(
            "lodge.test",
            "mastodon",
            "4.3.2",
            users_total=31,
            active_month=19,
            active_halfyear=27,
            local_posts=4_410,
            open_registrations=False,
            limited_federation=True,
            title="The Lodge",
            contact_email="admin@lodge.test",
        ),
    )
    instance.add(FediverseAccount("gus", "Gus", posts=310, followers=25, following=20))
    return _non_at(scenario, "gus@lodge.test", "@gus@lodge.test")


def fedi_impostor(world: World, scenario: Scenario) -> AccountInfo:
    victim = _mastodon_social(world)
    alice = _alice_on_mastodon_social(world)
    world.add_host(
        "evil.test",
        impostor_webfinger(
            "evil.test",
            "mallory",
            victim.actor_url(alice.username),
            victim.profile_url(alice.username),
        ),
        HOSTILE,
    )
    return _non_at(scenario, "mallory@evil.test", "@mallory@evil.test")


# --- Matrix -------------------------------------------------------------------------------------


def matrix_flagship(world: World, scenario: Scenario) -> AccountInfo:
    homeserver = world.add_homeserver(
        Homeserver(
            "matrix.org",
            "https://matrix-client.matrix.org",
            delegated_to="matrix-federation.matrix.org:443",
        ),
        {
            "matrix.org": {WELL_KNOWN},
            "matrix-federation.matrix.org": {FEDERATION},
            "matrix-client.matrix.org": {CLIENT},
        },
        CLOUD,
    )
    homeserver.add(MatrixUser("alice", "Alice", "mxc://matrix.org/AliceAvatarSandbox"))
    return _non_at(scenario, "@alice:matrix.org", "@alice:matrix.org")


def matrix_own_domain(world: World, scenario: Scenario) -> AccountInfo:
    world.own_domains.append("hal.test")  # a Matrix ID shows nobody whose its domain is
    homeserver = world.add_homeserver(
        Homeserver("hal.test", "https://matrix.hal.test"),
        # SRV discovery sends the server name as Host (see auditor.sandbox.matrix)
        {"hal.test": {WELL_KNOWN, FEDERATION}, "matrix.hal.test": {FEDERATION, CLIENT}},
        HOME,
    )
    world.zone.add_srv("_matrix-fed._tcp.hal.test", 10, 0, 443, "matrix.hal.test")
    homeserver.add(MatrixUser("hal", "Hal"))
    return _non_at(scenario, "@hal:hal.test", "@hal:hal.test")


def matrix_delegated(world: World, scenario: Scenario) -> AccountInfo:
    world.own_domains.append("ivy.test")
    homeserver = Homeserver(
        "ivy.test", "https://ivy.matrixhost.test", delegated_to="ivy.matrixhost.test:443"
    )
    world.add_homeserver(homeserver, {"ivy.test": {WELL_KNOWN}}, HOME)
    world.add_host("ivy.matrixhost.test", homeserver.app({FEDERATION, CLIENT}), MANAGED)
    homeserver.add(MatrixUser("ivy", "Ivy", "mxc://ivy.test/IvyAvatarSandbox"))
    return _non_at(scenario, "@ivy:ivy.test", "@ivy:ivy.test")


def matrix_non_federating(world: World, scenario: Scenario) -> AccountInfo:
    homeserver = world.add_homeserver(
        Homeserver("corp.test", "https://corp.test", federating=False),
        {"corp.test": {WELL_KNOWN, FEDERATION, CLIENT}},
        CORPORATE,
    )
    homeserver.add(MatrixUser("jo", "Jo"))
    return _non_at(scenario, "@jo:corp.test", "@jo:corp.test")

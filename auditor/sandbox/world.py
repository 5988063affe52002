"""The sandbox world: the infrastructure of today's network in miniature, and helpers scenarios
use to put accounts into it.

Infrastructure (hosts and operators as on the live network; see ``auditor/data/operators.json``):

* Bluesky PBC: the ``plc.directory`` PLC directory, the ``bsky.social`` entryway, PDSes
  ``morel.us-east.host.bsky.network`` and ``enoki.us-west.host.bsky.network``, relays
  ``bsky.network``, ``relay1.us-east.bsky.network`` and ``relay1.us-west.bsky.network``, the
  ``api.bsky.app`` AppView and the ``mod.bsky.app`` labeler.
* Blacksky: the ``blacksky.app`` PDS and the ``atproto.africa`` relay.
* microcosm: the ``relay2.fire.hose.cam`` relay and PLC read mirrors ``plc.wtf`` (current) and
  ``us-west.plc.wtf`` (one operation behind).
* Northwind Social, a fictional independent provider under ``.test``: the ``pds.northwind.test``
  PDS and the ``appview.northwind.test`` AppView.

Users' own domains are ``<name>.test``. The operators' PLC rotation keys are seeded
(:mod:`auditor.sandbox.keys`) and listed as sandbox rows in the attribution data.

Fediverse instances (:mod:`auditor.sandbox.fediverse`) and Matrix homeservers
(:mod:`auditor.sandbox.matrix`) are not infrastructure: scenarios add them when they need them
(:meth:`World.fediverse_instance`, :meth:`World.add_homeserver`), so worlds without those
scenarios, and the demo's goldens, are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from auditor import plc
from auditor.crypto import PrivateKey
from auditor.models.report import Band
from auditor.sandbox.appview import AppView, Labeler
from auditor.sandbox.clock import SANDBOX_NOW, stamp
from auditor.sandbox.fediverse import FediverseInstance
from auditor.sandbox.http import Faults, Network, SandboxTransport, text_response
from auditor.sandbox.identities import PlcIdentity
from auditor.sandbox.keys import seeded_key
from auditor.sandbox.matrix import Homeserver
from auditor.sandbox.pds import Blob, HostedAccount, Pds
from auditor.sandbox.plc_directory import PlcDirectory, mirror_of
from auditor.sandbox.relay import Carriage, Relay
from auditor.sandbox.repos import RepoContent, build_repo
from auditor.sandbox.sites import StaticSite
from auditor.sandbox.zone import Origin, Zone
from auditor.settings import AuditSettings

# Networks the sandbox's addresses are "announced" from (private-use AS numbers).
CLOUD = Origin(64601, "SANDBOX-CLOUD - simulated large cloud provider", "127.16.0.0/12")
BLACKSKY_NET = Origin(64602, "SANDBOX-COLO - simulated colocation provider", "127.20.0.0/16")
MICROCOSM_NET = Origin(64603, "SANDBOX-VPS - simulated VPS provider", "127.30.0.0/16")
NORTHWIND_NET = Origin(64604, "SANDBOX-NORDIC - simulated regional host", "127.40.0.0/16")
HOME = Origin(64605, "SANDBOX-HOME-ISP - simulated residential broadband", "127.50.0.0/16")
HOSTILE = Origin(64606, "SANDBOX-BULLETPROOF - simulated hostile host", "127.60.0.0/16")
COMMUNITY = Origin(64607, "SANDBOX-COMMUNITY - simulated community hosting", "127.70.0.0/16")
CORPORATE = Origin(64608, "SANDBOX-CORP - simulated corporate network", "127.80.0.0/16")
MANAGED = Origin(64609, "SANDBOX-MANAGED - simulated managed hosting provider", "127.90.0.0/16")

BLUESKY_KEYS = ("bluesky/plc-rotation-0", "bluesky/plc-rotation-1")
BLACKSKY_KEY = "blacksky/pds-rotation"
NORTHWIND_KEY = "northwind/pds-rotation"
BSKY_LABELER_DID = "did:plc:ar7c4by46qjdydhdevvrndac"


def operator_keys() -> dict[str, list[PrivateKey]]:
    """The sandbox operators' PLC rotation keys (public seeds; sandbox rows in the data file)."""
    return {
        "bluesky": [seeded_key(label) for label in BLUESKY_KEYS],
        "blacksky": [seeded_key(BLACKSKY_KEY)],
        "northwind": [seeded_key(NORTHWIND_KEY)],
    }


@dataclass(frozen=True)
class AccountInfo:
    """One scenario account, as the state file and the demo list it."""

    scenario: str
    handle: str
    """The AT Protocol handle; for a fediverse or Matrix account, its address
    (``alice@mastodon.social``, ``@alice:matrix.org``)."""
    did: str | None
    """None for a scenario whose handle resolves to no DID (and for non-AT accounts)."""
    expected_band: Band | None
    story: str
    target_text: str | None = None
    """What to audit when it is not the handle (``@alice@mastodon.social``)."""

    @property
    def target(self) -> str:
        return self.target_text if self.target_text is not None else self.handle


@dataclass
class World:
    """The whole sandbox: hosts, DNS, and the accounts scenarios added."""

    network: Network = field(default_factory=Network)
    zone: Zone = field(default_factory=Zone)
    plc: PlcDirectory = field(default_factory=PlcDirectory)
    pdses: dict[str, Pds] = field(default_factory=dict)
    relays: dict[str, Relay] = field(default_factory=dict)
    appviews: dict[str, AppView] = field(default_factory=dict)
    mirrors: dict[str, PlcDirectory] = field(default_factory=dict)
    labeler: Labeler = field(default_factory=lambda: Labeler("mod.bsky.app", did=BSKY_LABELER_DID))
    accounts: list[AccountInfo] = field(default_factory=list)
    web_documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    own_domains: list[str] = field(default_factory=list)
    """Domains scenario accounts hold that nothing public shows are theirs (a Matrix server name):
    audits of the sandbox declare them as their holders would, with ``--own-domain``."""
    fediverse: dict[str, FediverseInstance] = field(default_factory=dict)
    homeservers: dict[str, Homeserver] = field(default_factory=dict)
    _sites: dict[str, StaticSite] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._infrastructure()

    # --- infrastructure ------------------------------------------------------------------------

    def add_host(self, host: str, app: Callable[[httpx.Request], Any], origin: Origin) -> None:
        self.network.add(host, app)
        self.zone.add_host(host, origin)

    def _infrastructure(self) -> None:
        self.add_host("plc.directory", self.plc.app(), CLOUD)
        for name, lag in (("plc.wtf", 0), ("us-west.plc.wtf", 1)):
            mirror = mirror_of(self.plc, lag_operations=lag)
            self.mirrors[name] = mirror
            self.add_host(name, mirror.app(), MICROCOSM_NET)
        self.add_pds(Pds("bsky.social", [".bsky.social"], links=_bsky_links()), CLOUD)
        for host in ("morel.us-east.host.bsky.network", "enoki.us-west.host.bsky.network"):
            self.add_pds(Pds(host, [".bsky.social"], links=_bsky_links()), CLOUD)
        self.add_pds(Pds("blacksky.app", [".blacksky.app"]), BLACKSKY_NET)
        self.add_pds(
            Pds("pds.northwind.test", [".northwind.test"], invite_required=False), NORTHWIND_NET
        )
        for host, origin in (
            ("bsky.network", CLOUD),
            ("relay1.us-east.bsky.network", CLOUD),
            ("relay1.us-west.bsky.network", CLOUD),
            ("atproto.africa", BLACKSKY_NET),
            ("relay2.fire.hose.cam", MICROCOSM_NET),
        ):
            relay = Relay(host)
            self.relays[host] = relay
            self.add_host(host, relay.app(), origin)
        for host, origin in (("api.bsky.app", CLOUD), ("appview.northwind.test", NORTHWIND_NET)):
            appview = AppView(host)
            self.appviews[host] = appview
            self.add_host(host, appview.app(), origin)
        self.add_host(self.labeler.hostname, self.labeler.app(), CLOUD)

    def add_pds(self, pds: Pds, origin: Origin) -> Pds:
        pds.documents = self.document_of
        self.pdses[pds.hostname] = pds
        self.add_host(pds.hostname, pds.app(), origin)
        return pds

    def fediverse_instance(
        self, domain: str, origin: Origin, make: Callable[[], FediverseInstance]
    ) -> FediverseInstance:
        """The fediverse instance at ``domain``, made by ``make`` and served on first use (two
        scenarios may put accounts on one instance)."""
        domain = domain.lower()
        if domain not in self.fediverse:
            instance = make()
            self.fediverse[domain] = instance
            self.add_host(domain, instance.app(), origin)
        return self.fediverse[domain]

    def add_homeserver(
        self, homeserver: Homeserver, hosts: Mapping[str, Iterable[str]], origin: Origin
    ) -> Homeserver:
        """Serve ``homeserver`` on ``hosts`` (host -> roles, see :mod:`auditor.sandbox.matrix`);
        an existing homeserver of the same server name is returned instead."""
        if homeserver.server_name in self.homeservers:
            return self.homeservers[homeserver.server_name]
        self.homeservers[homeserver.server_name] = homeserver
        for host, roles in hosts.items():
            self.add_host(host, homeserver.app(roles), origin)
        return homeserver

    @property
    def bluesky_relays(self) -> list[Relay]:
        return [r for host, r in self.relays.items() if host.endswith("bsky.network")]

    # --- identities and accounts ---------------------------------------------------------------

    def document_of(self, did: str) -> dict[str, Any] | None:
        if did in self.web_documents:
            return self.web_documents[did]
        if did in self.plc.logs:
            verification = plc.verify_audit_log(did, self.plc.logs[did])
            if verification.valid and verification.state and not verification.state.tombstoned:
                return plc.document_from_state(did, verification.state)
        return None

    def register_plc(self, identity: PlcIdentity) -> None:
        self.plc.register(identity.did, identity.entries)

    def site(self, host: str, origin: Origin = HOME) -> StaticSite:
        """The static site at ``host`` (created on first use)."""
        if host not in self._sites:
            self._sites[host] = StaticSite()
            self.add_host(host, self._sites[host], origin)
        return self._sites[host]

    def handle_dns(self, handle: str, *values: str) -> None:
        self.zone.add_txt(f"_atproto.{handle}", *values)

    def handle_https(self, handle: str, body: str, origin: Origin = HOME) -> None:
        self.site(handle, origin).put("/.well-known/atproto-did", text_response(body))

    def serve_handle_from(self, handle: str, pds: Pds) -> None:
        """``https://<handle>`` is served by the PDS (as ``*.bsky.social`` names are)."""
        self.network.add(handle, pds.app())
        self.zone.add_host(
            handle,
            CLOUD if pds.hostname.endswith(("bsky.network", "bsky.social")) else BLACKSKY_NET,
        )

    def host(
        self,
        pds: Pds,
        did: str,
        handle: str,
        signing: PrivateKey,
        content: RepoContent,
        *,
        status: str | None = None,
    ) -> HostedAccount:
        """Put a repository for ``did`` on ``pds`` (built lazily from ``content``)."""
        blobs = {cid: Blob(data, mime) for cid, (data, mime) in content.blobs.items()}
        account = HostedAccount(
            did=did,
            handle=handle,
            build_repo=lambda: build_repo(did, signing, content),
            blobs=blobs,
            status=status,
        )
        pds.host(account)
        return account

    def carry(
        self,
        account: HostedAccount,
        pds: Pds,
        relays: Iterable[Relay],
        *,
        status: Mapping[str, str] | None = None,
        stale: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """Make ``relays`` carry the account: current, stale (an older head) or with a status."""
        for relay in relays:
            older = (stale or {}).get(relay.hostname)
            head = (
                (lambda h=older: h)
                if older
                else (lambda a=account: (a.repo.commit_cid, a.repo.rev))
            )
            relay.carry(
                account.did,
                Carriage(head=head, status=(status or {}).get(relay.hostname)),
                pds.hostname,
            )

    def index(
        self, appviews: Iterable[AppView], did: str, handle: str, content: RepoContent
    ) -> None:
        for appview in appviews:
            appview.index(
                {
                    "did": did,
                    "handle": handle,
                    "displayName": content.display_name,
                    "description": content.description,
                    "postsCount": content.posts,
                    "indexedAt": stamp(SANDBOX_NOW),
                }
            )

    def add_account(self, info: AccountInfo) -> AccountInfo:
        self.accounts.append(info)
        return info

    # --- use -----------------------------------------------------------------------------------

    def transport(self) -> SandboxTransport:
        return SandboxTransport(self.network)

    def settings(self, **overrides: Any) -> AuditSettings:
        """Settings that audit this sandbox (in process or, with URLs rewritten, over sockets)."""
        values: dict[str, Any] = {
            "plc_url": "https://plc.directory",
            "relays": [relay.url for relay in self.relays.values()],
            "plc_mirrors": [f"https://{host}" for host in self.mirrors],
            "appviews": [appview.url for appview in self.appviews.values()],
            "labelers": [self.labeler.url],
            "allow_private": True,
            "own_domains": list(self.own_domains),
            "deadline": 30.0,
            "timeout": 5.0,
        }
        values.update(overrides)
        return AuditSettings.model_validate(values)

    def set_faults(self, faults: Mapping[str, Faults]) -> None:
        self.network.set_faults(faults)


def _bsky_links() -> dict[str, str]:
    return {
        "privacyPolicy": "https://bsky.social/about/support/privacy-policy",
        "termsOfService": "https://bsky.social/about/support/tos",
    }

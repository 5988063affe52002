"""Many ordinary accounts at once, for batch tests and benchmarks.

``add_bulk_accounts(world, n)`` fills the sandbox with ``n`` accounts in a fixed, seeded mix that
roughly mirrors the live network's shape (most on Bluesky PBC's PDSes with its keys, some on
independent providers, a few self-hosted with keys of their own), so ecosystem metrics over a
batch have something to measure. Every account is cryptographically real, like every other
sandbox account; repositories stay lazy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from auditor.sandbox.clock import days_ago
from auditor.sandbox.identities import PlcIdentity
from auditor.sandbox.keys import seeded_key
from auditor.sandbox.pds import Pds
from auditor.sandbox.repos import RepoContent
from auditor.sandbox.world import HOME, AccountInfo, World, operator_keys

BLUESKY_PDSES = ("morel.us-east.host.bsky.network", "enoki.us-west.host.bsky.network")


@dataclass(frozen=True)
class Mix:
    """Shares of the bulk population (the rest are self-hosted)."""

    bluesky: float = 0.90
    blacksky: float = 0.05
    northwind: float = 0.03


def add_bulk_accounts(
    world: World, count: int, *, seed: int = 7, mix: Mix = Mix()
) -> list[AccountInfo]:
    """Add ``count`` accounts named ``u<n>``; returns them (also in ``world.accounts``)."""
    rng = random.Random(seed)
    keys = operator_keys()
    relays = world.relays
    added = []
    for index in range(count):
        name = f"u{index}"
        roll = rng.random()
        signing = seeded_key(f"bulk/{name}/signing")
        if roll < mix.bluesky:
            pds = world.pdses[BLUESKY_PDSES[index % 2]]
            handle, rotation = f"{name}.bsky.social", keys["bluesky"]
            carriers = [relays["bsky.network"]]
        elif roll < mix.bluesky + mix.blacksky:
            pds = world.pdses["blacksky.app"]
            handle, rotation = f"{name}.blacksky.app", keys["blacksky"]
            carriers = [relays["bsky.network"], relays["atproto.africa"]]
        elif roll < mix.bluesky + mix.blacksky + mix.northwind:
            pds = world.pdses["pds.northwind.test"]
            handle, rotation = f"{name}.northwind.test", keys["northwind"]
            carriers = [relays["bsky.network"], relays["atproto.africa"]]
        else:
            pds = world.add_pds(Pds(f"pds.{name}.test", [f".{name}.test"]), HOME)
            handle = f"{name}.test"
            rotation = [seeded_key(f"bulk/{name}/own"), seeded_key(f"bulk/{name}/server")]
            carriers = [
                relays["bsky.network"],
                relays["atproto.africa"],
                relays["relay2.fire.hose.cam"],
            ]
        identity = PlcIdentity(
            handle,
            pds.url,
            rotation=rotation,
            signing=signing,
            created=days_ago(300 + index % 200),
            genesis_signer=rotation[-1],
        )
        world.register_plc(identity)
        if handle.endswith(".test") and not handle.endswith(".northwind.test"):
            world.handle_dns(handle, f"did={identity.did}")
        else:
            world.serve_handle_from(handle, pds)
        content = RepoContent.sample(name, created=days_ago(290), posts=3)
        account = world.host(pds, identity.did, handle, signing, content)
        world.carry(account, pds, carriers)
        world.index([world.appviews["api.bsky.app"]], identity.did, handle, content)
        info = AccountInfo(f"bulk-{index}", handle, identity.did, None, "a bulk account")
        world.add_account(info)
        added.append(info)
    return added

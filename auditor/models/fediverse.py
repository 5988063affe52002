"""Evidence for a fediverse (ActivityPub) account: WebFinger, the actor, the instance.

Kept raw, like the AT Protocol evidence: the JRD, the actor document and NodeInfo as received,
interpreted by pure functions (:mod:`auditor.fediverse`) so a re-render applies today's reading.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from auditor.models.common import HttpExchange, Model, ProbeFailure
from auditor.models.slots import JsonSlot, NotCollected

PEER_SAMPLE = 20
"""How many peer domains a report keeps (the flagship's list has hundreds of thousands)."""


class PeerList(Model):
    """Mastodon's ``/api/v1/instance/peers``, counted (the list itself is not kept: it can be
    megabytes; a sample is)."""

    outcome: Literal["ok"] = "ok"
    exchange: HttpExchange
    count: int
    """How many domains the list names."""
    sample: list[str]
    """The first :data:`PEER_SAMPLE` domains, as received."""


PeerSlot = Annotated[PeerList | ProbeFailure | NotCollected, Field(discriminator="outcome")]


class FediverseProbes(Model):
    """What the account's domain and its server say about it (RFC 7033, ActivityPub, NodeInfo)."""

    outcome: Literal["ok"] = "ok"
    account: str
    """The ``user@domain`` address audited."""
    webfinger: JsonSlot
    """``https://DOMAIN/.well-known/webfinger?resource=acct:user@domain`` (a JRD)."""
    actor: JsonSlot
    """The ActivityPub actor the JRD's ``self`` link names (``application/activity+json``)."""
    server_webfinger: JsonSlot
    """WebFinger asked of the actor's own server for ``preferredUsername@ACTORHOST``: does the
    server that hosts the actor say it is this account (skipped when the actor is on the
    address's domain)."""
    nodeinfo_index: JsonSlot
    """``https://ACTORHOST/.well-known/nodeinfo``: links to the NodeInfo documents."""
    nodeinfo: JsonSlot
    """The NodeInfo 2.x document: software, version, users, open registrations."""
    instance: JsonSlot
    """Mastodon's ``/api/v2/instance`` (registrations, contact); servers of other software may
    not have it."""
    peers: PeerSlot
    """Mastodon's ``/api/v1/instance/peers``: the servers this one federates with (refused in
    limited federation mode)."""
    outbox: JsonSlot
    """The actor's outbox collection: are its posts publicly readable."""
    moved_to: JsonSlot
    """The actor named by ``movedTo``, when the account has moved (does it name this one in
    ``alsoKnownAs``)."""


FediverseSlot = Annotated[FediverseProbes | NotCollected, Field(discriminator="outcome")]

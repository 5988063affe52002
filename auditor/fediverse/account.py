"""One fediverse account as its evidence shows it: is the address really this actor's, on which
server, and what does that server say about itself.

The trust rule (what Mastodon itself does when it resolves a remote address): the WebFinger
answer of the address's domain names an actor; the actor document must carry that very URL as
its ``id``; when the actor lives on another host, that host's own WebFinger, asked for the
actor's ``preferredUsername``, must name the same actor *and* give the audited address as its
subject (a custom-domain setup). A domain whose WebFinger points at someone else's actor is
claiming another server's user: recorded, never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.check import EvidenceUnavailable
from auditor.fediverse.documents import (
    Actor,
    NodeInfo,
    acct_of,
    actor_behind_signed_fetch,
    read_actor,
    read_jrd,
    read_nodeinfo,
    same_account,
    signed_fetch_required,
)
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.fediverse import FediverseProbes, PeerList
from auditor.models.slots import failure_text


@dataclass(frozen=True, slots=True)
class AccountView:
    """The reading of a :class:`FediverseProbes`."""

    account: str
    domain: str
    actor: Actor | None
    confirmed: bool
    """The address is this actor's, by the trust rule above."""
    reason: str
    """Why (not) confirmed, in words."""
    canonical: str | None
    """The address the actor's server gives it (differs from :attr:`account` for an alias)."""
    nodeinfo: NodeInfo | None
    peers: int | None
    """How many servers it federates with (Mastodon's peer list), None if unknown."""

    @property
    def host(self) -> str | None:
        return self.actor.host if self.actor else None

    @property
    def delegated(self) -> bool:
        """The address's domain is not the server's (a custom domain, or an alias)."""
        return self.actor is not None and self.actor.host != self.domain


def _confirm(
    probes: FediverseProbes, actor: Actor, subject: str | None
) -> tuple[bool, str, str | None]:
    domain = probes.account.rpartition("@")[2]
    if actor.host == domain:
        if subject is not None and not same_account(subject, probes.account):
            return True, f"{domain} calls this account {subject}", subject
        return True, f"{domain} serves the actor {actor.id} itself", subject or probes.account
    confirm = probes.server_webfinger  # asked for the actor's name, or its URL if unknown
    if not isinstance(confirm, JsonAnswer):
        return (
            False,
            f"{actor.host}, which hosts the actor, did not confirm: {failure_text(confirm)}",
            None,
        )
    jrd = read_jrd(confirm.body)
    canonical = acct_of(jrd.subject)
    if jrd.actor_url != actor.id:
        return (
            False,
            f"{actor.host}'s WebFinger for the actor's name links to another actor",
            canonical,
        )
    if not same_account(canonical, probes.account):
        return (
            False,
            f"{domain} points to an actor that {actor.host} calls {canonical or 'something else'}, "
            f"not {probes.account}: a claim on another server's user, not trusted",
            canonical,
        )
    return True, f"{actor.host} confirms it serves {probes.account} (a custom domain)", canonical


def account_view(probes: FediverseProbes) -> AccountView:
    """Read the evidence; never raises."""
    domain = probes.account.rpartition("@")[2]
    info_slot = probes.nodeinfo
    nodeinfo = read_nodeinfo(info_slot.body) if isinstance(info_slot, JsonAnswer) else None
    peers = probes.peers.count if isinstance(probes.peers, PeerList) else None

    def view(
        actor: Actor | None, confirmed: bool, reason: str, canonical: str | None
    ) -> AccountView:
        return AccountView(
            probes.account, domain, actor, confirmed, reason, canonical, nodeinfo, peers
        )

    if not isinstance(probes.webfinger, JsonAnswer):
        return view(
            None, False, f"WebFinger on {domain} failed: {failure_text(probes.webfinger)}", None
        )
    jrd = read_jrd(probes.webfinger.body)
    if jrd.actor_url is None:
        return view(None, False, f"WebFinger on {domain}: {jrd.problem}", None)
    subject = acct_of(jrd.subject)
    if signed_fetch_required(probes.actor):
        actor_only = actor_behind_signed_fetch(jrd.actor_url)
        confirmed, reason, canonical = _confirm(probes, actor_only, subject)
        if confirmed:
            reason += "; the actor itself answers only signed requests"
        return view(actor_only, confirmed, reason, canonical)
    if not isinstance(probes.actor, JsonAnswer):
        return view(
            None,
            False,
            f"the actor {jrd.actor_url} could not be had: {failure_text(probes.actor)}",
            subject,
        )
    actor = read_actor(probes.actor.body, jrd.actor_url)
    if isinstance(actor, str):
        return view(None, False, actor, subject)
    confirmed, reason, canonical = _confirm(probes, actor, subject)
    return view(actor, confirmed, reason, canonical)


def fediverse_of(evidence: Evidence) -> FediverseProbes | None:
    return evidence.fediverse if isinstance(evidence.fediverse, FediverseProbes) else None


def view_of(evidence: Evidence) -> AccountView | None:
    probes = fediverse_of(evidence)
    return account_view(probes) if probes else None


def required_view(evidence: Evidence) -> AccountView:
    """The account view a ``fediverse-`` check needs (the runner has checked the slot)."""
    view = view_of(evidence)
    if view is None or view.actor is None:
        raise EvidenceUnavailable("no fediverse actor was found")
    return view

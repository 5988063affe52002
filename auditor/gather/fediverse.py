"""Gather a fediverse account: WebFinger on its domain, the actor it links to, the actor's own
server's confirmation, and what that server says about itself.

The order is forced by the protocol (the JRD names the actor, the actor names its server); after
that, NodeInfo, the Mastodon instance API, the peer list, the outbox and a ``movedTo`` target are
asked concurrently. Server-level answers (NodeInfo, instance, peers) are shared across a batch, as
the PDS's are. Nothing here judges; :mod:`auditor.fediverse.account` reads what was gathered.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeAlias

from auditor.fediverse.documents import (
    AP_ACCEPT,
    JRD_ACCEPT,
    Actor,
    actor_behind_signed_fetch,
    nodeinfo_link,
    read_actor,
    read_jrd,
    signed_fetch_required,
)
from auditor.gather.context import GatherContext, json_answer, shared_json
from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import JsonAnswer, NotCollected
from auditor.models.fediverse import PEER_SAMPLE, FediverseProbes, PeerList

PEERS_MAX_BYTES = 16 * 1024 * 1024
"""The flagship's peer list is several megabytes of domain names."""
JsonProbe: TypeAlias = JsonAnswer | ProbeFailure


def _skip(reason: str) -> NotCollected:
    return NotCollected(reason=reason)


def webfinger_url(domain: str) -> str:
    return f"https://{domain}/.well-known/webfinger"


async def _peers(ctx: GatherContext, host: str) -> PeerList | ProbeFailure:
    """The peer list, counted. The raw answer is shared across a batch (one download per server
    per session); each account's evidence keeps the count and a sample."""
    url = f"https://{host}/api/v1/instance/peers"
    answer = await shared_json(ctx, url, max_bytes=PEERS_MAX_BYTES)
    if isinstance(answer, ProbeFailure):
        return answer
    if not isinstance(answer.body, list):
        return ProbeFailure(
            kind=FailureKind.INVALID_RESPONSE,
            source=url,
            message=f"GET {url}: the peer list is not a JSON array",
        )
    domains = [p for p in answer.body if isinstance(p, str)]
    return PeerList(
        exchange=answer.exchange,
        count=len(domains),
        sample=[d[:253] for d in domains[:PEER_SAMPLE]],
    )


async def _around_the_actor(
    ctx: GatherContext, actor: Actor, account_domain: str
) -> dict[str, Any]:
    host = actor.host
    skipped_here = "the actor is on the address's own domain"

    async def server_webfinger() -> JsonProbe | NotCollected:
        if host == account_domain:
            return _skip(skipped_here)
        if actor.preferred_username is not None:
            resource = f"acct:{actor.preferred_username}@{host}"
        elif actor.signed_fetch_only:
            resource = actor.id  # unread actor: ask about its URL (Mastodon, GoToSocial accept it)
        else:
            return _skip("the actor has no preferredUsername to ask its server about")
        return await json_answer(
            ctx, webfinger_url(host), {"resource": resource}, accept=JRD_ACCEPT
        )

    async def nodeinfo() -> tuple[JsonProbe, JsonProbe | NotCollected]:
        index_url = f"https://{host}/.well-known/nodeinfo"
        index = await shared_json(ctx, index_url)
        link = nodeinfo_link(index.body) if isinstance(index, JsonAnswer) else None
        if link is None:
            return index, _skip("the NodeInfo index links to no NodeInfo 2.x document")
        return index, await shared_json(ctx, link)

    async def instance() -> JsonProbe:
        url = f"https://{host}/api/v2/instance"
        return await shared_json(ctx, url)

    async def moved() -> JsonProbe | NotCollected:
        if actor.moved_to is None:
            return _skip("the account has not moved (no movedTo)")
        return await json_answer(ctx, actor.moved_to, accept=AP_ACCEPT)

    async def outbox() -> JsonProbe | NotCollected:
        if actor.outbox is None:
            return _skip("the actor names no outbox")
        return await json_answer(ctx, actor.outbox, accept=AP_ACCEPT)

    (index, info), confirm, api, peers, moved_to, posts = await asyncio.gather(
        nodeinfo(), server_webfinger(), instance(), _peers(ctx, host), moved(), outbox()
    )
    return {
        "nodeinfo_index": index,
        "nodeinfo": info,
        "server_webfinger": confirm,
        "instance": api,
        "peers": peers,
        "moved_to": moved_to,
        "outbox": posts,
    }


async def gather_fediverse(ctx: GatherContext, account: str) -> FediverseProbes:
    """Everything decaudit asks about ``user@domain``; never raises for network reasons."""
    domain = account.rpartition("@")[2]
    finger = await json_answer(
        ctx, webfinger_url(domain), {"resource": f"acct:{account}"}, accept=JRD_ACCEPT
    )
    not_reached = "not asked: WebFinger named no usable actor"
    rest: dict[str, Any] = {
        name: _skip(not_reached)
        for name in (
            "server_webfinger",
            "nodeinfo_index",
            "nodeinfo",
            "instance",
            "peers",
            "outbox",
            "moved_to",
        )
    }
    actor_slot: JsonProbe | NotCollected = _skip(not_reached)
    jrd = read_jrd(finger.body) if isinstance(finger, JsonAnswer) else None
    if jrd is not None and jrd.actor_url is not None:
        actor_slot = await json_answer(ctx, jrd.actor_url, accept=AP_ACCEPT)
        if isinstance(actor_slot, JsonAnswer):
            actor = read_actor(actor_slot.body, jrd.actor_url)
            if isinstance(actor, Actor):
                rest = await _around_the_actor(ctx, actor, domain)
            else:
                rest = {name: _skip(f"not asked: {actor}") for name in rest}
        elif signed_fetch_required(actor_slot):
            rest = await _around_the_actor(ctx, actor_behind_signed_fetch(jrd.actor_url), domain)
    return FediverseProbes(account=account, webfinger=finger, actor=actor_slot, **rest)

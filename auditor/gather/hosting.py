"""Gatherers for everything around the identity: the PDS, relays, PLC mirrors, AppViews,
labelers, and the network the PDS is hosted on. Each probe is independent; the plan in
:mod:`auditor.gather.run` runs them all concurrently once the DID document is known."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from auditor.attribution import host_of
from auditor.gather.context import (
    GatherContext,
    answered,
    guarded,
    json_answer,
    lookup_txt,
    shared_json,
)
from auditor.models.common import ProbeFailure
from auditor.models.evidence import (
    AppViewProbe,
    JsonAnswer,
    LabelerProbe,
    MirrorProbe,
    NetworkOrigins,
    NotCollected,
    PdsPeers,
    PdsProbes,
    PeerAccount,
    RelayProbes,
    TxtLookup,
)
from auditor.net.dns import DnsError
from auditor.syntax import is_valid_did

LIST_REPOS_PAGE = 10
"""Enough to tell a personal server (one or a few accounts) from a provider."""
AUDIT_LOG_MAX_BYTES = 8 * 1024 * 1024

JsonProbe = JsonAnswer | ProbeFailure


async def xrpc(
    ctx: GatherContext,
    base: str,
    method: str,
    params: Mapping[str, str] | None = None,
    *,
    max_bytes: int | None = None,
) -> JsonProbe:
    """One XRPC GET (``/xrpc/<method>``), as evidence."""
    return await json_answer(ctx, f"{base}/xrpc/{method}", params, max_bytes=max_bytes)


async def probe_pds(ctx: GatherContext, endpoint: str, did: str) -> PdsProbes:
    """The PDS's health, self-description, and its view of the account, concurrently (within the
    run's per-PDS limit)."""
    host = host_of(endpoint)

    async def polite(method: str, params: Mapping[str, str] | None = None) -> JsonProbe:
        async with ctx.limits.hold(host):
            return await xrpc(ctx, endpoint, method, params)

    async def of_host(method: str, params: Mapping[str, str] | None = None) -> JsonProbe:
        """The same for every account on the PDS: asked once per session (see net.shared)."""
        return await ctx.shared.get((endpoint, method), lambda: polite(method, params), answered)

    async def head() -> JsonProbe | None:
        """With an export to check, the commit CID is asked up front, in the same round trip
        (the export check compares it); without, only if getRepoStatus lacks the revision."""
        if ctx.settings.skip_export:
            return None
        return await polite("com.atproto.sync.getLatestCommit", {"did": did})

    health, server, repo, status, asked, repos = await asyncio.gather(
        of_host("_health"),
        of_host("com.atproto.server.describeServer"),
        polite("com.atproto.repo.describeRepo", {"repo": did}),
        polite("com.atproto.sync.getRepoStatus", {"did": did}),
        head(),
        of_host("com.atproto.sync.listRepos", {"limit": str(LIST_REPOS_PAGE)}),
    )
    commit = (
        asked
        if asked is not None
        else await _latest_commit_if_needed(
            status, lambda: polite("com.atproto.sync.getLatestCommit", {"did": did}), relay=False
        )
    )
    return PdsProbes(
        endpoint=endpoint,
        health=health,
        describe_server=server,
        describe_repo=repo,
        repo_status=status,
        latest_commit=commit,
        list_repos=repos,
    )


async def probe_relay(ctx: GatherContext, relay: str, did: str, pds_host: str) -> RelayProbes:
    """One relay: does it carry the account, at which revision, and how does it see the PDS."""
    method, params = "com.atproto.sync.getHostStatus", {"hostname": pds_host}
    status, host = await asyncio.gather(
        xrpc(ctx, relay, "com.atproto.sync.getRepoStatus", {"did": did}),
        ctx.shared.get(
            (relay, method, pds_host), lambda: xrpc(ctx, relay, method, params), answered
        ),
    )
    commit = await _latest_commit_if_needed(
        status,
        lambda: xrpc(ctx, relay, "com.atproto.sync.getLatestCommit", {"did": did}),
        relay=True,
    )
    return RelayProbes(url=relay, repo_status=status, latest_commit=commit, host_status=host)


HAS_REVISION: Final = "not needed: getRepoStatus gives the revision"
INACTIVE: Final = "not needed: getRepoStatus says the account is not active here"
NO_STATUS: Final = "not needed: without a repository status, the relay's commit changes nothing"


async def _latest_commit_if_needed(
    status: JsonProbe, ask: Callable[[], Awaitable[JsonProbe]], *, relay: bool
) -> JsonProbe | NotCollected:
    """``getLatestCommit``, only when ``getRepoStatus`` left the revision unknown.

    What the checks take from a latest commit is its ``rev``, which ``getRepoStatus`` also gives
    for an active account (the lexicon's optional ``rev``); an inactive account has no head to
    compare. Asking only when the revision is still unknown saves one request per relay and per
    PDS in every audit without an export, without losing a comparison. A PDS too old for
    ``getRepoStatus`` is asked for its commit as before; a relay whose status failed is judged
    on that failure alone (``hosting.relay_view``), so its commit would change nothing. (With an
    export, the PDS's commit CID is asked up front: the export check compares it.)
    """
    answer = status.body if isinstance(status, JsonAnswer) else None
    if isinstance(answer, dict):
        if answer.get("active") is not True:
            return NotCollected(reason=INACTIVE)
        if isinstance(answer.get("rev"), str):
            return NotCollected(reason=HAS_REVISION)
    elif relay:
        return NotCollected(reason=NO_STATUS)
    return await ask()


async def probe_mirror(ctx: GatherContext, mirror: str, did: str) -> MirrorProbe:
    """An independent mirror's copy of the PLC audit log."""
    url = f"{mirror}/{did}/log/audit"
    return MirrorProbe(
        url=mirror, audit_log=await json_answer(ctx, url, max_bytes=AUDIT_LOG_MAX_BYTES)
    )


async def probe_appview(ctx: GatherContext, appview: str, did: str) -> AppViewProbe:
    return AppViewProbe(
        url=appview, profile=await xrpc(ctx, appview, "app.bsky.actor.getProfile", {"actor": did})
    )


async def probe_labeler(ctx: GatherContext, labeler: str, did: str) -> LabelerProbe:
    """Labels on the account itself and on anything in its repository."""
    params = {"uriPatterns": f"at://{did}*", "limit": "50"}
    return LabelerProbe(
        url=labeler, labels=await xrpc(ctx, labeler, "com.atproto.label.queryLabels", params)
    )


def _origin_name(address: str) -> str | None:
    ip = ipaddress.ip_address(address)
    if ip.version != 4:
        nibbles = ".".join(reversed(ip.exploded.replace(":", "")))
        return f"{nibbles}.origin6.asn.cymru.com"
    return ".".join(reversed(address.split("."))) + ".origin.asn.cymru.com"


async def _txt(ctx: GatherContext, name: str) -> TxtLookup:
    records = await lookup_txt(ctx, name)
    if isinstance(records, ProbeFailure):
        return TxtLookup(name=name, failure=records)
    return TxtLookup(name=name, records=records)


def _asn_of(lookup: TxtLookup) -> str | None:
    for record in lookup.records:
        first = record.split("|", 1)[0].strip().split(" ")[0]
        if first.isdigit():
            return first
    return None


async def probe_network(ctx: GatherContext, endpoint: str) -> NetworkOrigins | ProbeFailure:
    """Who announces the PDS's addresses (DNS origin lookups; no other service is contacted)."""
    host = host_of(endpoint)
    try:
        ip_literal = ipaddress.ip_address(host)
        addresses = [str(ip_literal)]
    except ValueError:
        try:
            resolved = await ctx.resolver.addresses(
                host, timeout=ctx.deadline.cap(ctx.settings.timeout)
            )
        except DnsError as exc:
            return ProbeFailure(kind=exc.kind, source=host, message=str(exc))
        addresses = sorted({str(address) for address in resolved})
    origin_names = [name for name in map(_origin_name, addresses) if name]
    origins = await asyncio.gather(*(_txt(ctx, name) for name in origin_names))
    asns = sorted({asn for asn in map(_asn_of, origins) if asn})
    names = await asyncio.gather(*(_txt(ctx, f"AS{asn}.asn.cymru.com") for asn in asns))
    return NetworkOrigins(host=host, addresses=addresses, lookups=[*origins, *names])


async def network_origins(
    ctx: GatherContext, endpoint: str | None
) -> NetworkOrigins | ProbeFailure | NotCollected:
    if endpoint is None:
        return NotCollected(reason="the DID document names no PDS")
    return await guarded(endpoint, lambda: probe_network(ctx, endpoint))


PEERS_SAMPLED = 2
"""Other accounts whose PLC state is read (a key any of them lists is shared; two, so that one
failing answer does not leave the question unasked)."""


async def probe_peers(ctx: GatherContext, pds: PdsProbes, did: str) -> PdsPeers | NotCollected:
    """The rotation keys of a few other did:plc accounts the PDS lists (its first ``listRepos``
    page, shared by every audit of the session, as are the PLC answers about the same peers)."""
    listing = pds.list_repos.body if isinstance(pds.list_repos, JsonAnswer) else None
    repos = listing.get("repos") if isinstance(listing, dict) else None
    listed = (
        repo.get("did")
        for repo in (repos if isinstance(repos, list) else [])
        if isinstance(repo, dict)
    )
    candidates = (
        peer
        for peer in itertools.islice(listed, LIST_REPOS_PAGE)
        if isinstance(peer, str)
        and peer != did
        and peer.startswith("did:plc:")
        and is_valid_did(peer)
    )
    peers = list(itertools.islice(candidates, PEERS_SAMPLED))  # the first two: no more checked
    if not peers:
        return NotCollected(reason="the PDS lists no other did:plc account")
    base = ctx.settings.plc_url.rstrip("/")
    answers = await asyncio.gather(*(shared_json(ctx, f"{base}/{peer}/data") for peer in peers))
    accounts, failures = [], []
    for peer, answer in zip(peers, answers, strict=True):
        if isinstance(answer, ProbeFailure):
            failures.append(answer)
            continue
        keys = answer.body.get("rotationKeys") if isinstance(answer.body, dict) else None
        if isinstance(keys, list):
            accounts.append(
                PeerAccount(did=peer, rotation_keys=[k for k in keys if isinstance(k, str)][:16])
            )
    return PdsPeers(accounts=accounts, failures=failures)

"""The gathering plan for one account: identity first, then everything else concurrently.

Only the identity phase is sequential (a handle must resolve before a DID document can be asked
for). After that, every probe needs only the DID and its document, so the PDS probes, each relay,
each PLC mirror, each AppView and labeler, the network-origin lookup, the export and the blob
listing all start at once on the shared client; nothing waits for something it does not need.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from auditor import __version__, identity, syntax
from auditor.attribution import host_of
from auditor.fediverse.account import account_view
from auditor.gather.context import GatherContext, elapsed_ms
from auditor.gather.export import export_blobs, export_repository
from auditor.gather.fediverse import gather_fediverse
from auditor.gather.hosting import (
    network_origins,
    probe_appview,
    probe_labeler,
    probe_mirror,
    probe_pds,
    probe_peers,
    probe_relay,
)
from auditor.gather.identity import fetch_did_document, fetch_plc_audit_log, resolve_handle
from auditor.gather.matrix import gather_matrix
from auditor.matrix.account import homeserver_missing
from auditor.models.common import ProbeFailure
from auditor.models.evidence import (
    DidDocumentFetch,
    Evidence,
    HandleResolution,
    NotCollected,
    PdsPeers,
    PdsProbes,
)

_NOT_REACHED = NotCollected(reason="not collected: the target did not resolve to a DID")


def _handle_failure_reason(outcome: identity.HandleOutcome) -> str:
    parts = [
        f"DNS: {outcome.dns.problem or 'no DID'}",
        f"HTTPS: {outcome.https.problem or 'no DID'}",
    ]
    return f"the handle {outcome.handle} did not resolve to a DID ({'; '.join(parts)})"


async def _around_the_identity(
    ctx: GatherContext, did: str, document: DidDocumentFetch, input_handle: str | None
) -> dict[str, Any]:
    """Every probe that needs only the DID document, all at once."""
    parsed = document.parsed
    pds = parsed.pds_endpoint
    key = parsed.signing_key.did_key if parsed.signing_key else None
    claimed = parsed.handle
    plc = did.startswith("did:plc:")
    pds_host = host_of(pds) if pds else ""

    async def nothing() -> None:
        return None

    pds_probe = asyncio.ensure_future(probe_pds(ctx, pds, did)) if pds else None

    async def peers() -> PdsPeers | NotCollected | None:
        """Other accounts' keys, once the PDS has listed them (did:plc only)."""
        if pds_probe is None or not plc:
            return None
        return await probe_peers(ctx, await asyncio.shield(pds_probe), did)

    async def pds_answers() -> PdsProbes | None:
        return await pds_probe if pds_probe is not None else None

    jobs: dict[str, Awaitable[Any]] = {
        "claimed": resolve_handle(ctx, claimed)
        if claimed is not None and claimed != input_handle
        else nothing(),
        "pds": pds_answers(),
        "peers": peers(),
        "relays": asyncio.gather(
            *(probe_relay(ctx, r, did, pds_host) for r in ctx.settings.relays)
        ),
        "mirrors": asyncio.gather(*(probe_mirror(ctx, m, did) for m in ctx.settings.plc_mirrors))
        if plc
        else nothing(),
        "appviews": asyncio.gather(*(probe_appview(ctx, a, did) for a in ctx.settings.appviews)),
        "labelers": asyncio.gather(*(probe_labeler(ctx, lb, did) for lb in ctx.settings.labelers)),
        "network": network_origins(ctx, pds),
        "export": export_repository(ctx, pds, did, key),
        "blobs": export_blobs(ctx, pds, did),
    }
    results = await asyncio.gather(*jobs.values())
    return dict(zip(jobs, results, strict=True))


_NOT_AT = NotCollected(reason="not an AT Protocol account")


async def _other_network(target: syntax.Target, ctx: GatherContext) -> dict[str, Any]:
    """The evidence fields of a fediverse or Matrix account."""
    assert target.account is not None
    fields: dict[str, Any] = {"did_document": _NOT_AT, "plc_audit_log": _NOT_AT, "did": None}
    if target.protocol == "activitypub":
        probes = await gather_fediverse(ctx, target.account)
        view = account_view(probes)
        fields.update(fediverse=probes, unresolved_reason=None if view.confirmed else view.reason)
    else:
        matrix = await gather_matrix(ctx, target.account)
        fields.update(matrix=matrix, unresolved_reason=homeserver_missing(matrix))
    return fields


async def _at_protocol(target: syntax.Target, ctx: GatherContext) -> dict[str, Any]:
    """The evidence fields of an AT Protocol account: the handle, the DID, then the rest."""
    resolutions: list[HandleResolution] = []
    did = target.did
    unresolved: str | None = None
    fields: dict[str, Any] = {"did_document": _NOT_REACHED, "plc_audit_log": _NOT_REACHED}

    if target.handle is not None:
        resolution = await resolve_handle(ctx, target.handle)
        resolutions.append(resolution)
        outcome = identity.interpret(resolution)
        did = outcome.did
        if did is None:
            unresolved = _handle_failure_reason(outcome)

    if did is not None:
        document, audit_log = await asyncio.gather(
            fetch_did_document(ctx, did), fetch_plc_audit_log(ctx, did)
        )
        fields.update(did_document=document, plc_audit_log=audit_log)
        if isinstance(document, DidDocumentFetch):
            around = await _around_the_identity(ctx, did, document, target.handle)
            if around["claimed"] is not None:
                resolutions.append(around["claimed"])
            fields.update(
                {
                    name: value
                    for name, value in (
                        ("pds", around["pds"]),
                        ("pds_peers", around["peers"]),
                        ("relays", list(around["relays"])),
                        ("plc_mirrors", list(around["mirrors"] or [])),
                        ("appviews", list(around["appviews"])),
                        ("labelers", list(around["labelers"])),
                        ("hosting_network", around["network"]),
                        ("repo_export", around["export"]),
                        ("blobs", around["blobs"]),
                    )
                    if value is not None
                }
            )
            if around["pds"] is None:
                fields["pds"] = NotCollected(reason="the DID document names no PDS")
        else:
            reason = document.message if isinstance(document, ProbeFailure) else document.reason
            unresolved = f"the DID document of {did} could not be had: {reason}"
    return {
        **fields,
        "input_handle": target.handle,
        "input_did": target.did,
        "handle_resolutions": resolutions,
        "did": did,
        "unresolved_reason": unresolved,
    }


async def gather_evidence(
    target: syntax.Target, ctx: GatherContext, *, now: datetime | None = None
) -> Evidence:
    """Gather everything decaudit needs about one account; never raises for network reasons."""
    collected_at = now or datetime.now(UTC)
    start = time.perf_counter()
    if target.protocol == "atproto":
        fields = await _at_protocol(target, ctx)
    else:
        fields = await _other_network(target, ctx)
        fields.update(input_handle=None, input_did=None)
    return Evidence(
        tool_version=__version__,
        collected_at=collected_at,
        duration_ms=elapsed_ms(start),
        target=target.raw,
        target_kind=target.kind,
        protocol=target.protocol,
        account=target.account,
        settings=ctx.settings,
        sandbox=ctx.fetcher.saw_sandbox,
        **fields,
    )

"""The gathering plan for one account: identity first, then everything else concurrently."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from auditor import __version__, identity, syntax
from auditor.gather.context import GatherContext, elapsed_ms
from auditor.gather.identity import (
    fetch_did_document,
    fetch_plc_audit_log,
    probe_pds_health,
    resolve_handle,
)
from auditor.models.common import ProbeFailure
from auditor.models.evidence import (
    DidDocumentFetch,
    Evidence,
    HandleResolution,
    NotCollected,
    PdsHealth,
    PlcAuditLogFetch,
)

_NOT_REACHED = NotCollected(reason="not collected: the target did not resolve to a DID")


def _handle_failure_reason(outcome: identity.HandleOutcome) -> str:
    parts = [
        f"DNS: {outcome.dns.problem or 'no DID'}",
        f"HTTPS: {outcome.https.problem or 'no DID'}",
    ]
    return f"the handle {outcome.handle} did not resolve to a DID ({'; '.join(parts)})"


async def gather_evidence(
    target: syntax.Target, ctx: GatherContext, *, now: datetime | None = None
) -> Evidence:
    """Gather everything decaudit needs about one account; never raises for network reasons."""
    collected_at = now or datetime.now(UTC)
    start = time.perf_counter()
    resolutions: list[HandleResolution] = []
    did = target.did
    unresolved: str | None = None

    if target.handle is not None:
        resolution = await resolve_handle(ctx, target.handle)
        resolutions.append(resolution)
        outcome = identity.interpret(resolution)
        did = outcome.did
        if did is None:
            unresolved = _handle_failure_reason(outcome)

    document: DidDocumentFetch | ProbeFailure | NotCollected = _NOT_REACHED
    audit_log: PlcAuditLogFetch | ProbeFailure | NotCollected = _NOT_REACHED
    pds_health: PdsHealth | ProbeFailure | NotCollected = _NOT_REACHED
    if did is not None:
        document, audit_log = await asyncio.gather(
            fetch_did_document(ctx, did), fetch_plc_audit_log(ctx, did)
        )
        if isinstance(document, DidDocumentFetch):
            claimed = document.parsed.handle
            second = (
                resolve_handle(ctx, claimed)
                if claimed is not None and claimed != target.handle
                else None
            )
            if second is not None:
                claimed_resolution, pds_health = await asyncio.gather(
                    second, probe_pds_health(ctx, document)
                )
                resolutions.append(claimed_resolution)
            else:
                pds_health = await probe_pds_health(ctx, document)
        else:
            reason = document.message if isinstance(document, ProbeFailure) else document.reason
            unresolved = f"the DID document of {did} could not be had: {reason}"

    return Evidence(
        tool_version=__version__,
        collected_at=collected_at,
        duration_ms=elapsed_ms(start),
        target=target.raw,
        target_kind=target.kind,
        input_handle=target.handle,
        input_did=target.did,
        settings=ctx.settings,
        handle_resolutions=resolutions,
        did=did,
        did_document=document,
        plc_audit_log=audit_log,
        pds_health=pds_health,
        unresolved_reason=unresolved,
        sandbox=ctx.fetcher.saw_sandbox,
    )

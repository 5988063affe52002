"""Identity gatherers: a handle's two resolution methods, the DID document, the PLC audit log."""

from __future__ import annotations

import asyncio
import time
from typing import Literal, cast

from pydantic import JsonValue

from auditor import syntax
from auditor.gather.context import GatherContext, elapsed_ms, guarded, lookup_txt
from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import (
    DidDocumentFetch,
    DnsTxtAnswer,
    HandleResolution,
    NotCollected,
    PlcAuditLogFetch,
    WellKnownAnswer,
)

WELL_KNOWN_MAX_BYTES = 4096
"""A DID is at most 2048 characters; anything much longer is not an atproto-did answer."""
DID_DOCUMENT_MAX_BYTES = 256 * 1024
PLC_AUDIT_LOG_MAX_BYTES = 8 * 1024 * 1024
"""Operations are at most ~4 KB and rate-limited per DID; a few MiB covers any honest history."""
DID_JSON_ACCEPT = "application/did+ld+json, application/did+json, application/json"


async def _dns_proof(ctx: GatherContext, handle: str) -> DnsTxtAnswer | ProbeFailure:
    name = f"_atproto.{handle}"
    start = time.perf_counter()
    records = await lookup_txt(ctx, name)
    if isinstance(records, ProbeFailure):
        return records
    return DnsTxtAnswer(name=name, records=records, elapsed_ms=elapsed_ms(start))


async def _well_known_proof(ctx: GatherContext, handle: str) -> WellKnownAnswer | ProbeFailure:
    result = await ctx.fetcher.get_text(
        f"https://{handle}/.well-known/atproto-did", max_bytes=WELL_KNOWN_MAX_BYTES
    )
    if isinstance(result, ProbeFailure):
        return result
    return WellKnownAnswer(exchange=result.exchange, body=result.text)


async def resolve_handle(ctx: GatherContext, handle: str) -> HandleResolution:
    """Both resolution methods, concurrently, each recorded on its own."""
    reserved = syntax.reserved_tld(handle)
    if reserved is not None:
        skipped = NotCollected(
            reason=f".{reserved} is a reserved TLD: AT Protocol handles under it cannot resolve"
        )
        return HandleResolution(handle=handle, dns=skipped, https=skipped)
    dns, https = await asyncio.gather(
        guarded(f"_atproto.{handle}", lambda: _dns_proof(ctx, handle)),
        guarded(
            f"https://{handle}/.well-known/atproto-did", lambda: _well_known_proof(ctx, handle)
        ),
    )
    return HandleResolution(handle=handle, dns=dns, https=https)


def did_document_url(ctx: GatherContext, did: str) -> str:
    """Where a DID's document lives: the PLC directory, or the did:web host's well-known path."""
    if did.startswith("did:plc:"):
        return f"{ctx.settings.plc_url}/{did}"
    host = syntax.did_web_host(did)
    # The DID spec allows ports only for local development; the reference resolvers use plain
    # http for localhost. The network policy still refuses it unless loopback is allowed.
    scheme = "http" if host.split(":")[0] in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{host}/.well-known/did.json"


async def _did_document(ctx: GatherContext, did: str) -> DidDocumentFetch | ProbeFailure:
    result = await ctx.fetcher.get_json(
        did_document_url(ctx, did), max_bytes=DID_DOCUMENT_MAX_BYTES, accept=DID_JSON_ACCEPT
    )
    if isinstance(result, ProbeFailure):
        return result
    method: Literal["plc", "web"] = "plc" if did.startswith("did:plc:") else "web"
    document = cast(JsonValue, result.body)
    claimed_id = document.get("id") if isinstance(document, dict) else None
    if claimed_id != did:
        # The reference resolvers reject a document that names another DID: it is not this
        # identity's document, whatever else it says.
        return ProbeFailure(
            kind=FailureKind.INVALID_RESPONSE,
            source=result.exchange.url,
            message=f"GET {result.exchange.url}: the document's id is {str(claimed_id)[:120]!r}, "
            f"not {did}",
            http_status=result.exchange.status,
            elapsed_ms=result.exchange.elapsed_ms,
        )
    # The fetcher's strict parse made the body JSON: constructed, not walked again as JsonValue
    # (a batch's largest validation cost; evidence files read back are validated as usual).
    return DidDocumentFetch.model_construct(
        did=did, method=method, exchange=result.exchange, document=document
    )


async def fetch_did_document(ctx: GatherContext, did: str) -> DidDocumentFetch | ProbeFailure:
    """The DID document as served, raw."""
    return await guarded(did, lambda: _did_document(ctx, did))


async def _audit_log(ctx: GatherContext, did: str) -> PlcAuditLogFetch | ProbeFailure:
    result = await ctx.fetcher.get_json(
        f"{ctx.settings.plc_url}/{did}/log/audit", max_bytes=PLC_AUDIT_LOG_MAX_BYTES
    )
    if isinstance(result, ProbeFailure):
        return result
    entries = cast(JsonValue, result.body)
    return PlcAuditLogFetch.model_construct(did=did, exchange=result.exchange, entries=entries)


async def fetch_plc_audit_log(
    ctx: GatherContext, did: str
) -> PlcAuditLogFetch | ProbeFailure | NotCollected:
    """The PLC directory's full audit log (not applicable to did:web)."""
    if not did.startswith("did:plc:"):
        return NotCollected(reason="did:web identities have no PLC operation log")
    return await guarded(f"{did}/log/audit", lambda: _audit_log(ctx, did))

"""Gatherers for "can you take your data with you": the repository export and the blobs.

The CAR is streamed under ``--max-export-size`` into memory (never twice), verified in a worker
thread so the other probes keep going, and optionally kept on disk as the user's backup
(``--save-export DIR``: ``DIR/repo.car``, and ``DIR/blobs/<cid>`` when every blob is fetched).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from auditor.attribution import host_of
from auditor.crypto import KeyFormatError, PublicKey, parse_did_key
from auditor.gather.context import GatherContext, elapsed_ms, guarded
from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import BlobCheck, BlobInventory, NotCollected, RepoExport
from auditor.repo.verify import verify_blob, verify_export

CAR_ACCEPT = "application/vnd.ipld.car"
LIST_PAGE = 1000
MAX_PAGES = 200
"""200,000 blobs at most are listed; a longer listing is reported as incomplete."""
BLOB_CONCURRENCY = 4
"""Blob downloads in flight at once: polite to the PDS."""
SKIPPED = "skipped (--skip-export)"


def _key(did_key: str | None) -> PublicKey | None:
    if did_key is None:
        return None
    try:
        return parse_did_key(did_key)
    except KeyFormatError:
        return None


def _save(directory: Path, name: str, data: bytes) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(data)
    return str(path)


async def _export(
    ctx: GatherContext, endpoint: str, did: str, signing_key: str | None
) -> RepoExport | ProbeFailure:
    start = time.perf_counter()
    async with ctx.limits.hold(host_of(endpoint)):
        result = await ctx.fetcher.get_bytes(
            f"{endpoint}/xrpc/com.atproto.sync.getRepo",
            params={"did": did},
            max_bytes=ctx.settings.max_export_bytes,
            accept=CAR_ACCEPT,
        )
    if isinstance(result, ProbeFailure):
        return result
    verification = await asyncio.to_thread(
        verify_export, result.body, did=did, signing_key=_key(signing_key)
    )
    saved = None
    if ctx.settings.save_export:
        saved = await asyncio.to_thread(
            _save, Path(ctx.settings.save_export), "repo.car", result.body
        )
    return RepoExport(
        exchange=result.exchange,
        bytes=len(result.body),
        seconds=round(elapsed_ms(start) / 1000.0, 3),
        verification=verification,
        saved_to=saved,
    )


async def export_repository(
    ctx: GatherContext, endpoint: str | None, did: str, signing_key: str | None
) -> RepoExport | ProbeFailure | NotCollected:
    """Download the repository and verify it completely."""
    if ctx.settings.skip_export:
        return NotCollected(reason=SKIPPED, requested=False)
    if endpoint is None:
        return NotCollected(reason="the DID document names no PDS")
    return await guarded(f"{endpoint} getRepo", lambda: _export(ctx, endpoint, did, signing_key))


def _page(body: object) -> tuple[list[str], str | None] | None:
    if not isinstance(body, dict) or not isinstance(body.get("cids"), list):
        return None
    cids = [cid for cid in body["cids"] if isinstance(cid, str)]
    cursor = body.get("cursor")
    return cids, cursor if isinstance(cursor, str) and cursor else None


async def _list(
    ctx: GatherContext, endpoint: str, did: str
) -> tuple[list[str], int, bool, ProbeFailure | None]:
    cids: list[str] = []
    cursor: str | None = None
    seen_cursors: set[str] = set()
    for pages in range(1, MAX_PAGES + 1):
        params = {"did": did, "limit": str(LIST_PAGE), **({"cursor": cursor} if cursor else {})}
        url = f"{endpoint}/xrpc/com.atproto.sync.listBlobs"
        async with ctx.limits.hold(host_of(endpoint)):
            result = await ctx.fetcher.get_json(url, params=params)
        if isinstance(result, ProbeFailure):
            return cids, pages - 1, False, result
        page = _page(result.body)
        if page is None:
            failure = ProbeFailure(
                kind=FailureKind.INVALID_RESPONSE,
                source=url,
                message=f"GET {url}: not a listBlobs page ({{cids: [...], cursor?}})",
            )
            return cids, pages - 1, False, failure
        cids.extend(page[0])
        cursor = page[1]
        if cursor is None or not page[0] or cursor in seen_cursors:
            return cids, pages, cursor is None or not page[0], None
        seen_cursors.add(cursor)
    return cids, MAX_PAGES, False, None


def _sample(cids: list[str], count: int | None) -> list[str]:
    """Every blob, or ``count`` of them spread evenly over the listing (deterministic)."""
    unique = list(dict.fromkeys(cids))
    if count is None or count >= len(unique):
        return unique
    if count == 0:
        return []
    step = len(unique) / count
    return [unique[int(index * step)] for index in range(count)]


async def _check_blob(
    ctx: GatherContext, endpoint: str, did: str, cid: str, gate: asyncio.Semaphore, keep: bool
) -> BlobCheck:
    async with gate, ctx.limits.hold(host_of(endpoint)):
        result = await ctx.fetcher.get_bytes(
            f"{endpoint}/xrpc/com.atproto.sync.getBlob",
            params={"did": did, "cid": cid},
            max_bytes=ctx.settings.max_export_bytes,
            accept="*/*",
        )
    if isinstance(result, ProbeFailure):
        return BlobCheck(cid=cid, valid=False, failure=result)
    valid = verify_blob(cid, result.body)
    if keep and valid and ctx.settings.save_export:
        await asyncio.to_thread(_save, Path(ctx.settings.save_export) / "blobs", cid, result.body)
    return BlobCheck(cid=cid, bytes=len(result.body), valid=valid)


async def _blobs(ctx: GatherContext, endpoint: str, did: str) -> BlobInventory | ProbeFailure:
    cids, pages, complete, failure = await _list(ctx, endpoint, did)
    if failure is not None and pages == 0:
        return failure
    sample = _sample(cids, ctx.settings.blob_sample)
    keep = ctx.settings.blob_sample is None  # a backup only when every blob is fetched
    gate = asyncio.Semaphore(BLOB_CONCURRENCY)
    checked = await asyncio.gather(
        *(_check_blob(ctx, endpoint, did, cid, gate, keep) for cid in sample)
    )
    saved = None
    if keep and ctx.settings.save_export and checked:
        saved = str(Path(ctx.settings.save_export) / "blobs")
    return BlobInventory(
        listed=len(set(cids)),
        pages=pages,
        complete=complete,
        listing_failure=failure,
        checked=list(checked),
        saved_to=saved,
    )


async def export_blobs(
    ctx: GatherContext, endpoint: str | None, did: str
) -> BlobInventory | ProbeFailure | NotCollected:
    """List every blob (paginated) and verify a sample (``--blobs N``, or all)."""
    if ctx.settings.skip_export:
        return NotCollected(reason=SKIPPED, requested=False)
    if endpoint is None:
        return NotCollected(reason="the DID document names no PDS")
    return await guarded(f"{endpoint} listBlobs", lambda: _blobs(ctx, endpoint, did))

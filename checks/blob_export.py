"""``blob-export``: can the account's media be listed and fetched intact?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import hosting
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.common import ProbeFailure
from auditor.models.evidence import BlobInventory, Evidence
from auditor.models.report import Category


class BlobExportCheck:
    """Every blob is listed, and the sample fetched matches its CID."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="blob-export",
        title="Your media can be listed and downloaded intact",
        category=Category.EXPORTABILITY,
        weight=1.0,
        requires=("blobs",),
        judges_refusals=("blobs",),
        rationale=(
            "Images and videos are not in the repository file; they are blobs the PDS serves "
            "one by one. A move or a backup is complete only if every blob can be listed and "
            "each one downloaded unchanged."
        ),
        remediation=(
            "Back up your media with `decaudit check <you> --blobs all --save-export DIR` (or "
            "`goat blob export`); if blobs fail, ask your PDS operator."
        ),
        data_keys={
            "blobs_listed": "blobs listBlobs named (all pages)",
            "blobs_checked": "blobs fetched (the sample, or all)",
            "blobs_valid": "fetched blobs whose content matches their CID",
            "listing_complete": "every listBlobs page was read",
        },
        method=(
            "com.atproto.sync.listBlobs read page by page; a sample of blobs (--blobs, spread "
            "evenly) fetched with getBlob and checked against their raw-codec CIDs."
        ),
        scoring=(
            "pass 1.0: listing complete and every fetched blob valid; partial 0.5: listing "
            "incomplete, fetched ones valid; fail 0: a fetched blob missing or wrong, or the PDS "
            "refuses the listing (RepoTakendown...); not applicable while the owner has "
            "deactivated the account."
        ),
        references=("https://atproto.com/specs/blob",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        if isinstance(evidence.blobs, ProbeFailure):  # only a refusal gets this far
            return hosting.export_refusal(evidence.blobs, "media", "/blobs")
        inventory = expect(evidence.blobs, BlobInventory)
        valid = sum(check.valid for check in inventory.checked)
        data: dict[str, JsonValue] = {
            "blobs_listed": inventory.listed,
            "blobs_checked": len(inventory.checked),
            "blobs_valid": valid,
            "listing_complete": inventory.complete,
        }
        findings = [
            finding(
                f"{check.cid}: "
                + (
                    "valid"
                    if check.valid
                    else (
                        check.failure.message if check.failure else "content does not match the CID"
                    )
                ),
                f"/blobs/checked/{index}",
            )
            for index, check in enumerate(inventory.checked)
        ]
        if valid < len(inventory.checked):
            return failed(
                f"{len(inventory.checked) - valid} of {len(inventory.checked)} blobs fetched are "
                "missing or do not match their CID",
                *findings,
                data=data,
            )
        if not inventory.complete:
            why = inventory.listing_failure.message if inventory.listing_failure else "page limit"
            return partial(
                f"The blob listing stopped early ({why}); the {valid} blobs checked are intact",
                *findings,
                score=0.5,
                data=data,
            )
        if inventory.listed == 0:
            return passed("No blobs to export", data=data)
        return passed(
            f"{inventory.listed} blobs listed; the {valid} fetched match their CIDs",
            *findings,
            data=data,
        )

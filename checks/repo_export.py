"""``repo-export``: can the account's data be taken away, complete and provably authentic?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import hosting
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.common import ProbeFailure
from auditor.models.evidence import Evidence, PdsProbes, RepoExport
from auditor.models.report import Category

SPEC = "https://atproto.com/specs/repository"


class RepoExportCheck:
    """The PDS exports a repository that verifies completely against the DID document's key."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="repo-export",
        title="Your repository exports and verifies completely",
        category=Category.EXPORTABILITY,
        weight=3.0,
        requires=("repo_export",),
        judges_refusals=("repo_export",),
        uses=("pds",),
        rationale=(
            "Credible exit needs a copy of your data that another server will accept: every "
            "record, every tree node, and a commit signed with your key. An export that cannot "
            "be verified is a file, not a backup; one the server refuses to give is no exit at "
            "all."
        ),
        remediation=(
            "Keep a verified backup: `decaudit check <you> --save-export DIR` stores the CAR "
            "(and with --blobs all, your media) once it verifies. If the export does not verify, "
            "ask your PDS operator why, and keep older backups."
        ),
        data_keys={
            "records": "records in the repository",
            "blocks": "blocks in the CAR file",
            "bytes": "size of the CAR file",
            "signature_valid": "the commit signature verifies against the DID document's key",
            "mst_complete": "every MST node and record is present and well formed",
            "seconds": "download and verification time",
            "throughput_mb_s": "MB verified per second",
            "commit_matches_pds": "the exported commit is the one getLatestCommit names",
            "collections_match": "collections equal describeRepo's",
            "first_problem": "machine code of the first problem, if any",
        },
        method=(
            "com.atproto.sync.getRepo streamed under the size cap, then verified completely: CAR "
            "framing over the raw bytes, every block's CID, the commit (did, version 3, "
            "canonical, signature against the DID document's key, low-S), the whole MST (every "
            "node and record, order, layering, prefix compression, no cycles); then compared "
            "with getLatestCommit and describeRepo."
        ),
        scoring=(
            "pass 1.0: verified and consistent with the PDS; partial 0.5: verified, but the PDS "
            "names another commit or other collections; fail 0: anything not verified, or the "
            "PDS refuses the export (RepoTakendown, RepoSuspended...); not applicable while the "
            "owner has deactivated the account. Error when the export could not be downloaded "
            "for any other reason (network, timeout, server error)."
        ),
        references=(SPEC, "https://github.com/bluesky-social/goat/issues/55"),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        if isinstance(evidence.repo_export, ProbeFailure):  # only a refusal gets this far
            return hosting.export_refusal(evidence.repo_export, "repository", "/repo_export")
        export = expect(evidence.repo_export, RepoExport)
        result = export.verification
        latest_cid, _ = hosting.pds_head(evidence)
        probes = evidence.pds if isinstance(evidence.pds, PdsProbes) else None
        described = hosting.body(probes.describe_repo) if probes else None
        listed = described.get("collections") if described else None
        collections_match = (
            sorted(str(c) for c in listed) == list(result.collections)
            if isinstance(listed, list)
            else None
        )
        commit_matches = latest_cid == result.commit_cid if latest_cid else None
        data: dict[str, JsonValue] = {
            "records": result.records,
            "blocks": result.blocks,
            "bytes": export.bytes,
            "signature_valid": result.signature_valid,
            "mst_complete": result.mst_complete,
            "seconds": export.seconds,
            "throughput_mb_s": round(export.bytes / 1e6 / export.seconds, 1)
            if export.seconds
            else None,
            "commit_matches_pds": commit_matches,
            "collections_match": collections_match,
            "first_problem": result.first_problem,
        }
        findings = [finding(problem, "/repo_export/verification") for problem in result.problems]
        size = f"{export.bytes / 1e6:.1f} MB, {result.records} records"
        if not result.verified:
            return failed(
                f"The export does not verify ({result.first_problem}): "
                f"{result.problems[0] if result.problems else 'unknown problem'}",
                *findings,
                data=data,
            )
        mismatches = []
        if commit_matches is False:
            mismatches.append(f"the PDS names commit {latest_cid}, the export {result.commit_cid}")
        if collections_match is False:
            mismatches.append("its collections differ from describeRepo's")
        if mismatches:
            return partial(
                f"The export verifies ({size}), but {'; '.join(mismatches)}",
                *findings,
                *(finding(m, "/pds") for m in mismatches),
                score=0.5,
                data=data,
            )
        return passed(
            f"Complete, authentic export: {size}; signature, every block's CID and the whole "
            "MST verified",
            finding(
                f"Commit {result.commit_cid} at rev {result.rev}.", "/repo_export/verification"
            ),
            data=data,
        )

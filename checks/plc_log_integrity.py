"""``plc-log-integrity``: is the identity's public history intact, and does the directory serve
it?"""

from __future__ import annotations

from typing import ClassVar

from auditor import plc
from auditor.check import CheckMeta, Outcome, expect, failed, finding, passed, timestamp
from auditor.diddoc import DidDocument
from auditor.models.evidence import DidDocumentFetch, Evidence, PlcAuditLogFetch
from auditor.models.report import Category

PLC_SPEC = "https://web.plc.directory/spec/v0.1/did-plc"


def document_mismatches(document: DidDocument, state: plc.PlcState) -> list[str]:
    """Where the served DID document differs from the state the log's last operation sets."""
    problems = []
    if tuple(document.also_known_as) != tuple(state.also_known_as):
        problems.append(
            f"alsoKnownAs is {list(document.also_known_as)}, the log says "
            f"{list(state.also_known_as)}"
        )
    served_key = document.signing_key.did_key if document.signing_key else None
    if served_key != state.verification_methods.get("atproto"):
        problems.append(
            f"#atproto key is {served_key}, the log says "
            f"{state.verification_methods.get('atproto')}"
        )
    pds = state.services.get("atproto_pds")
    logged = pds.endpoint.rstrip("/") if pds else None
    if document.pds_endpoint != logged:
        problems.append(f"PDS endpoint is {document.pds_endpoint}, the log says {logged}")
    return problems


def _count(operations: int) -> str:
    return (
        "The one operation verifies" if operations == 1 else f"All {operations} operations verify"
    )


class PlcLogIntegrityCheck:
    """Every operation is validly signed and chained, and the served document matches the log."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="plc-log-integrity",
        title="Your identity's public history verifies",
        category=Category.IDENTITY,
        weight=1.0,
        requires=("did_document", "plc_audit_log"),
        rationale=(
            "A did:plc identity is a chain of signed operations kept by the PLC directory. Anyone "
            "can replay it: if every signature and link checks out and the document the directory "
            "serves is the one the chain produces, the directory has not tampered with your "
            "identity. It can still refuse to serve it, which the did-method check covers."
        ),
        remediation=(
            "An invalid history or a document that does not match it is a serious anomaly: save "
            "this report's JSON (it carries the log), and raise it with the PLC directory "
            "operator and your PDS operator."
        ),
        data_keys={
            "valid": "true when every operation verified",
            "reason": "machine code of the first problem (null when valid)",
            "failed_index": "index of the entry that failed (null when valid)",
            "operations": "number of entries in the audit log",
            "nullified": "number of nullified (overridden) entries",
            "document_matches_log": "the served DID document equals the log's current state",
            "latest_operation_at": "timestamp of the last valid operation (ISO 8601)",
        },
        method=(
            "The whole /log/audit is replayed: genesis hash = DID, each operation signed by a "
            "rotation key of the state it builds on (k256/p256, low-S, strict base64url), prev "
            "chaining, nullification only by a higher-priority key within 72 hours, nothing "
            "after a tombstone; then the served document must equal the log's state."
        ),
        scoring=("pass 1.0: the log verifies and the document matches it; fail 0: otherwise."),
        references=(PLC_SPEC,),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        log = expect(evidence.plc_audit_log, PlcAuditLogFetch)
        served = expect(evidence.did_document, DidDocumentFetch).parsed
        result = log.verification
        nullified = sum(1 for op in result.operations if op.nullified)
        entries = log.entries if isinstance(log.entries, list) else []
        data = {
            "valid": result.valid,
            "reason": result.reason,
            "failed_index": result.failed_index,
            "operations": len(entries),
            "nullified": nullified,
        }
        if not result.valid or result.state is None:
            where = (
                f"/plc_audit_log/entries/{result.failed_index}"
                if result.failed_index is not None
                else "/plc_audit_log/entries"
            )
            return failed(
                f"The PLC log does not verify: {result.detail}",
                finding(f"{result.reason}: {result.detail}", where),
                data={**data, "document_matches_log": False, "latest_operation_at": None},
            )
        latest = next(op for op in reversed(result.operations) if not op.nullified)
        mismatches = document_mismatches(served, result.state)
        at = timestamp(latest.created_at)
        if mismatches:
            return failed(
                "The PLC log verifies, but the directory serves a DID document the log does not "
                "produce",
                *(finding(m, "/did_document/document") for m in mismatches),
                data={**data, "document_matches_log": False, "latest_operation_at": at},
            )
        return passed(
            f"{_count(len(entries))} (signatures, chain"
            f"{', recovery rules' if nullified else ''}) and the served document matches the log",
            finding(
                f"{len(entries)} operations, {nullified} nullified; last valid operation {at}.",
                "/plc_audit_log/entries",
            ),
            data={**data, "document_matches_log": True, "latest_operation_at": at},
        )

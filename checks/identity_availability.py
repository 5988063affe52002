"""``identity-availability``: is the did:plc identity served by more than one operator, alike?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.attribution import attribute_host
from auditor.check import (
    CheckMeta,
    Outcome,
    expect,
    failed,
    finding,
    not_applicable,
    partial,
    passed,
)
from auditor.control import mirror_state
from auditor.models.evidence import Evidence, JsonAnswer, PlcAuditLogFetch
from auditor.models.report import Category


class IdentityAvailabilityCheck:
    """Independent mirrors serve the same PLC log as the directory."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="identity-availability",
        title="More than one operator serves your identity, consistently",
        category=Category.IDENTITY,
        weight=2.0,
        requires=("plc_audit_log",),
        uses=("plc_mirrors", "did", "sandbox"),
        rationale=(
            "A did:plc identity is resolved through the PLC directory. If only one operator "
            "serves it, resolving you depends on that operator; independent mirrors that serve "
            "the same signed history mean apps can still find your keys and server without it."
        ),
        remediation=(
            "Nothing to do on your side: mirrors copy the whole directory. If none serves your "
            "identity, tell the mirror operators; if one diverges, report it (the signed log "
            "lets anyone prove which is right)."
        ),
        data_keys={
            "mirrors": "per mirror: {url, operator, state}; state is same, behind, diverging, "
            "invalid or unreachable",
            "consistent_operators": "operators serving exactly the directory's log (the "
            "directory's own included)",
        },
        method=(
            "Each PLC mirror's /log/audit is compared with the directory's by operation CIDs: "
            "same, behind (a prefix), diverging, invalid or unreachable; operators serving "
            "exactly the verified log are counted, the directory's own included."
        ),
        scoring=(
            "pass 1.0: two or more operators serve it identically; partial 0.5: only the "
            "directory is current and a mirror is behind; fail 0: only the directory serves it. "
            "Not applicable to did:web."
        ),
        references=("https://docs.bsky.app/blog/plc-replicas",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        log = expect(evidence.plc_audit_log, PlcAuditLogFetch)
        if not evidence.plc_mirrors:
            return not_applicable("No PLC mirror was consulted (--plc-mirror lists none)")
        directory = attribute_host(log.exchange.url, sandbox=evidence.sandbox)
        entries = log.entries if isinstance(log.entries, list) else []
        rows: list[JsonValue] = []
        findings = []
        consistent = {directory.operator_id: directory.label}
        for index, mirror in enumerate(evidence.plc_mirrors):
            operator = attribute_host(mirror.url, sandbox=evidence.sandbox)
            if isinstance(mirror.audit_log, JsonAnswer):
                state = mirror_state(list(entries), mirror.audit_log.body)
                if state == "same" and not log.verification.valid:
                    state = "invalid"  # the same log as the directory's, and that one is invalid
            else:
                state = "unreachable"
            if state == "same":
                consistent.setdefault(operator.operator_id, operator.label)
            rows.append({"url": mirror.url, "operator": operator.label, "state": state})
            findings.append(
                finding(f"{mirror.url} ({operator.label}): {state}", f"/plc_mirrors/{index}")
            )
        data: dict[str, JsonValue] = {"mirrors": rows, "consistent_operators": len(consistent)}
        others = [label for op, label in consistent.items() if op != directory.operator_id]
        if others:
            return passed(
                f"Served identically by the directory ({directory.label}) and by "
                f"{', '.join(others)}",
                *findings,
                data=data,
            )
        behind = any(isinstance(r, dict) and r.get("state") == "behind" for r in rows)
        if behind:
            return partial(
                f"Only {directory.label} serves the current identity; a mirror is behind",
                *findings,
                score=0.5,
                data=data,
            )
        return failed(
            f"Only {directory.label} serves this identity: if it stops, the identity cannot be "
            "resolved",
            *findings,
            data=data,
        )

"""``identity-history``: past handles and hosts, from the PLC log; a completed move proves exit
works."""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

from pydantic import JsonValue

from auditor import plc
from auditor.attribution import attribute_host
from auditor.check import CheckMeta, Outcome, expect, finding, info, passed, timestamp
from auditor.diddoc import claimed_handle
from auditor.models.evidence import Evidence, PlcAuditLogFetch
from auditor.models.report import Category


def _history(
    operations: list[plc.OpVerification], sandbox: bool
) -> tuple[list[dict[str, JsonValue]], ...]:
    """Distinct consecutive handles and PDS endpoints of the valid chain, oldest first."""
    handles: list[dict[str, JsonValue]] = []
    endpoints: list[dict[str, JsonValue]] = []
    for op in operations:
        if op.nullified or op.state_after.tombstoned:
            continue
        at = timestamp(op.created_at)
        handle = claimed_handle(tuple(op.state_after.also_known_as))
        if handle and (not handles or handles[-1]["handle"] != handle):
            handles.append({"handle": handle, "since": at, "operation": op.index})
        service = op.state_after.services.get("atproto_pds")
        endpoint = service.endpoint.rstrip("/") if service else None
        if endpoint and (not endpoints or endpoints[-1]["endpoint"] != endpoint):
            owner = attribute_host(endpoint, sandbox=sandbox)
            endpoints.append(
                {
                    "endpoint": endpoint,
                    "operator": owner.label,
                    "operator_id": owner.operator_id,
                    "since": at,
                    "operation": op.index,
                }
            )
    return handles, endpoints


class IdentityHistoryCheck:
    """Handles and hosts over time; a move between operators is proof of credible exit."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="identity-history",
        title="Your identity has already moved between providers",
        category=Category.PORTABILITY,
        weight=1.0,
        requires=("plc_audit_log",),
        uses=("sandbox",),
        rationale=(
            "The PLC log is public history: every handle and every server the identity ever used. "
            "An account that has already moved from one operator to another has shown, not just "
            "claimed, that it can leave. An account that never moved has simply not been tested."
        ),
        remediation=(
            "Nothing is required: moving is a right, not a duty. To be ready, keep a rotation key "
            "you hold and a verified backup of your repository (see the account-migration guide)."
        ),
        data_keys={
            "handles": "handles over time, oldest first: {handle, since, operation}",
            "pds_endpoints": "PDS endpoints over time, oldest first: {endpoint, operator, "
            "operator_id, since, "
            "operation}",
            "operator_moves": "number of moves from one PDS operator to another",
        },
        method=(
            "Handles and PDS endpoints of the verified chain, oldest first; a move is a PDS "
            "change between operators (by operator id)."
        ),
        scoring=(
            "pass 1.0: the identity has moved between operators; info otherwise (never having "
            "moved is not a fault)."
        ),
        references=("https://atproto.com/guides/account-migration",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        log = expect(evidence.plc_audit_log, PlcAuditLogFetch).verification
        handles, endpoints = _history(log.operations, evidence.sandbox)
        crossings = [(a, b) for a, b in pairwise(endpoints) if a["operator_id"] != b["operator_id"]]
        moves = len(crossings)
        data: dict[str, JsonValue] = {
            "handles": list[JsonValue](handles),
            "pds_endpoints": list[JsonValue](endpoints),
            "operator_moves": moves,
        }
        findings = [
            finding(
                f"Since {h['since']}: handle {h['handle']}",
                f"/plc_audit_log/entries/{h['operation']}",
            )
            for h in handles
        ] + [
            finding(
                f"Since {e['since']}: hosted at {e['endpoint']} ({e['operator']})",
                f"/plc_audit_log/entries/{e['operation']}",
            )
            for e in endpoints
        ]
        if not log.valid:
            # History read from a log that fails verification proves nothing: shown, not scored.
            return info(
                f"The PLC log does not verify ({log.reason}); the history shown stops where "
                "verification failed and is not evidence of anything",
                *findings,
                data=data,
            )
        if moves:
            first_move = crossings[0]
            return passed(
                f"Moved between operators {moves} time(s), first from {first_move[0]['operator']} "
                f"to {first_move[1]['operator']} on {str(first_move[1]['since'])[:10]}: exit has "
                "been exercised",
                *findings,
                data=data,
            )
        return info(
            f"{len(handles)} handle(s) and {len(endpoints)} PDS endpoint(s) in the history, never "
            "a move between operators: exit has not been tested",
            *findings,
            data=data,
        )

"""``rotation-key-custody``: who can rewrite this identity, and who wins a dispute?

Rotation keys sign every change to a did:plc identity (handle, signing key, PDS). A higher-priority
key (earlier in the list) can undo changes signed by a lower one within 72 hours. decaudit names
every key in priority order with what its data knows about it; it never claims a key is the user's,
only that it is not attributed to any known operator.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.attribution import attribute_host, attribute_key
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import DidDocumentFetch, Evidence, PlcAuditLogFetch
from auditor.models.report import Category

RECOVERY_GUIDE = "https://atproto.com/guides/account-recovery"


def _key_rows(keys: tuple[str, ...]) -> list[dict[str, JsonValue]]:
    rows: list[dict[str, JsonValue]] = []
    for priority, key in enumerate(keys):
        known = attribute_key(key)
        rows.append(
            {
                "priority": priority,
                "key": key,
                "operator": known.operator_name if known else None,
                "source": known.source if known else None,
            }
        )
    return rows


class RotationKeyCustodyCheck:
    """A key no known operator holds should outrank the operators' keys."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="rotation-key-custody",
        title="A rotation key outside your provider's hands outranks its keys",
        category=Category.PORTABILITY,
        weight=4.0,
        requires=("did_document", "plc_audit_log"),
        rationale=(
            "Rotation keys are the master keys of a did:plc identity: whoever holds one can change "
            "your handle, your signing key and your server. By default your PDS operator holds the "
            "only ones, so it alone can rewrite your identity, and you cannot move away without "
            "its "
            "help. A key you hold yourself, ranked above the operator's, lets you leave without "
            "asking and undo an unwanted change within 72 hours."
        ),
        remediation=(
            "Generate a key you keep offline (`goat key generate`), then add it as the "
            "highest-priority rotation key (`goat account plc add-rotation-key --first`, after "
            "`goat account plc request-token`); check the result at "
            "https://plc.directory/<your DID>/log/audit."
        ),
        data_keys={
            "rotation_keys": "every key in priority order: {priority, key, operator, source}",
            "operator_keys": "keys decaudit's data attributes to a known operator",
            "other_keys": "keys not attributed to any known operator (may be yours)",
            "hosting_operator": "operator of the PDS the DID document points to",
            "top_key_operator": "operator of the highest-priority key, or null if unattributed",
        },
        references=(RECOVERY_GUIDE, "https://web.plc.directory/spec/v0.1/did-plc"),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        log = expect(evidence.plc_audit_log, PlcAuditLogFetch).verification
        pds = expect(evidence.did_document, DidDocumentFetch).parsed.pds_endpoint
        hosting = attribute_host(pds).operator_name if pds else None
        if not log.valid or log.state is None:
            return failed(
                "The PLC log does not verify, so nobody's custody of this identity can be trusted",
                finding(f"{log.reason}: {log.detail}", "/plc_audit_log/entries"),
                data={
                    "rotation_keys": [],
                    "operator_keys": [],
                    "other_keys": [],
                    "hosting_operator": hosting,
                    "top_key_operator": None,
                },
            )
        keys = log.state.rotation_keys
        rows = _key_rows(keys)
        operator_keys = [str(r["key"]) for r in rows if r["operator"]]
        other_keys = [str(r["key"]) for r in rows if not r["operator"]]
        data: dict[str, JsonValue] = {
            "rotation_keys": rows,  # type: ignore[dict-item]
            "operator_keys": operator_keys,  # type: ignore[dict-item]
            "other_keys": other_keys,  # type: ignore[dict-item]
            "hosting_operator": hosting,
            "top_key_operator": rows[0]["operator"] if rows else None,
        }
        findings = [
            finding(
                f"#{r['priority']} {r['key']}: "
                + (
                    f"held by {r['operator']} ({r['source']})"
                    if r["operator"]
                    else "not attributed to any known operator"
                ),
                "/plc_audit_log/entries",
            )
            for r in rows
        ]
        if not keys:
            return failed(
                "The identity has no rotation keys: nobody, you included, can ever change or move "
                "it",
                *findings,
                data=data,
            )
        if not other_keys:
            holders = sorted({str(r["operator"]) for r in rows})
            return failed(
                f"{' and '.join(holders)} hold{'s' if len(holders) == 1 else ''} every rotation "
                "key: "
                "it alone can rewrite your identity, and you cannot move without its cooperation",
                *findings,
                data=data,
            )
        if not operator_keys:
            return partial(
                f"None of the {len(keys)} rotation keys is a known operator's key; public data "
                f"cannot tell whether you or your PDS operator ({hosting or 'unknown'}) hold them",
                *findings,
                score=0.5,
                remediation=(
                    "If you do not hold one of these keys yourself, add one you keep offline as "
                    "the highest-priority key (`goat account plc add-rotation-key --first`). "
                    "If you run your own PDS, its key is yours already."
                ),
                data=data,
            )
        if rows[0]["operator"] is None:
            return passed(
                f"The highest-priority rotation key is not attributed to any known operator and "
                f"outranks {', '.join(sorted({str(r['operator']) for r in rows if r['operator']}))}"
                "'s key(s): if it is yours, you can move and undo their changes within 72 hours",
                *findings,
                data=data,
            )
        top = str(rows[0]["operator"])
        return partial(
            f"A key not attributed to any known operator exists, but {top}'s key outranks it: "
            f"{top} can undo changes signed with it within 72 hours",
            *findings,
            score=0.5,
            remediation=(
                "Re-add your key with the highest priority (`goat account plc add-rotation-key "
                "--first`), so that it outranks the operator's."
            ),
            data=data,
        )

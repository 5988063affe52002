"""``rotation-key-custody``: who can rewrite this identity, and who wins a dispute?

Rotation keys sign every change to a did:plc identity (handle, signing key, PDS). A higher-priority
key (earlier in the list) can undo changes signed by a lower one within 72 hours. decaudit names
every key in priority order with what it can say about it, and never claims a key is the user's:

* a key decaudit's data attributes to an operator (Bluesky PBC's, inferred from public PLC logs);
* a key the log shows acting for the current PDS: it signed an operation while the account was
  hosted there (a reference PDS signs every change it makes with its own rotation key), other than
  a recovery that overrode another key;
* any other key: not attributed to anyone.

A pass needs the highest-priority key to be of the third kind.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import plc
from auditor.attribution import KeyAttribution, attribute_host, attribute_key
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import DidDocumentFetch, Evidence, PlcAuditLogFetch
from auditor.models.report import Category, Finding

RECOVERY_GUIDE = "https://atproto.com/guides/account-recovery"


def _pds(state: plc.PlcState) -> str | None:
    service = state.services.get("atproto_pds")
    return service.endpoint.rstrip("/") if service else None


def presumed_host_keys(log: plc.LogVerification, pds: str | None) -> set[str]:
    """Keys that signed operations while the account was on ``pds`` (recoveries excluded)."""
    nullified_prevs = {op.prev for op in log.operations if op.nullified}
    chain = [op for op in log.operations if not op.nullified]
    keys: set[str] = set()
    for position, op in enumerate(chain):
        before = chain[position - 1].state_after if position else op.state_after
        is_recovery = op.prev is not None and op.prev in nullified_prevs
        if op.signer_key and _pds(before) == pds and not is_recovery:
            keys.add(op.signer_key)
    return keys


def _describe(known: KeyAttribution | None, host_key: bool, hosting: str | None) -> str:
    if known is not None:
        return f"attributed to {known.operator_name} ({known.basis}: {known.source})"
    if host_key:
        return f"signed changes while hosted at {hosting}: presumed your PDS operator's key"
    return "not attributed to any operator, and never signed for your PDS"


class RotationKeyCustodyCheck:
    """The highest-priority rotation key should be one neither a known operator nor the PDS uses."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="rotation-key-custody",
        title="A rotation key outside your provider's hands outranks its keys",
        category=Category.PORTABILITY,
        weight=4.0,
        requires=("did_document", "plc_audit_log"),
        uses=("sandbox",),
        rationale=(
            "Rotation keys are the master keys of a did:plc identity: whoever holds one can "
            "change your handle, your signing key and your server. By default your PDS operator "
            "holds the only ones, so it alone can rewrite your identity, and you cannot move away "
            "without its help. A key you hold yourself, ranked above the operator's, lets you "
            "leave without asking and undo an unwanted change within 72 hours."
        ),
        remediation=(
            "Generate a key you keep offline (`goat key generate`), then add it as the "
            "highest-priority rotation key (`goat account plc add-rotation-key --first`, after "
            "`goat account plc request-token`); check the result at https://plc.directory/<your "
            "DID>/log/audit."
        ),
        data_keys={
            "rotation_keys": "every key in priority order: {priority, key, operator, basis, "
            "host_key}",
            "operator_keys": "keys decaudit's data attributes to an operator",
            "host_keys": "unattributed keys that signed operations for the current PDS",
            "other_keys": "keys neither attributed nor seen acting for the PDS (may be yours)",
            "hosting_operator": "operator of the PDS the DID document points to",
            "top_key_operator": "operator of the highest-priority key, or null if unattributed",
        },
        references=(RECOVERY_GUIDE, "https://web.plc.directory/spec/v0.1/did-plc"),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        log = expect(evidence.plc_audit_log, PlcAuditLogFetch).verification
        pds = expect(evidence.did_document, DidDocumentFetch).parsed.pds_endpoint
        hosting = attribute_host(pds, sandbox=evidence.sandbox).label if pds else None
        if not log.valid or log.state is None:
            return failed(
                "The PLC log does not verify, so nobody's custody of this identity can be trusted",
                finding(f"{log.reason}: {log.detail}", "/plc_audit_log/entries"),
                data={
                    "rotation_keys": [],
                    "operator_keys": [],
                    "host_keys": [],
                    "other_keys": [],
                    "hosting_operator": hosting,
                    "top_key_operator": None,
                },
            )
        keys = log.state.rotation_keys
        host_keys = presumed_host_keys(log, pds)
        known = {key: attribute_key(key, sandbox=evidence.sandbox) for key in keys}
        rows: list[JsonValue] = []
        findings: list[Finding] = []
        for priority, key in enumerate(keys):
            owner = known[key]
            rows.append(
                {
                    "priority": priority,
                    "key": key,
                    "operator": owner.operator_name if owner else None,
                    "basis": owner.basis if owner else None,
                    "host_key": owner is None and key in host_keys,
                }
            )
            findings.append(
                finding(
                    f"#{priority} {key}: {_describe(owner, key in host_keys, hosting)}",
                    "/plc_audit_log/entries",
                )
            )
        operator_keys = [k for k in keys if known[k]]
        presumed = [k for k in keys if not known[k] and k in host_keys]
        other = [k for k in keys if not known[k] and k not in host_keys]
        top = known[keys[0]] if keys else None
        data: dict[str, JsonValue] = {
            "rotation_keys": rows,
            "operator_keys": list[JsonValue](operator_keys),
            "host_keys": list[JsonValue](presumed),
            "other_keys": list[JsonValue](other),
            "hosting_operator": hosting,
            "top_key_operator": top.operator_name if top else None,
        }
        return self._verdict(keys, known, host_keys, other, hosting, findings, data)

    def _verdict(
        self,
        keys: tuple[str, ...],
        known: dict[str, KeyAttribution | None],
        host_keys: set[str],
        other: list[str],
        hosting: str | None,
        findings: list[Finding],
        data: dict[str, JsonValue],
    ) -> Outcome:
        if not keys:
            return failed(
                "The identity has no rotation keys: nobody, you included, can change or move it",
                *findings,
                data=data,
            )
        holders = sorted({k.operator_name for k in known.values() if k is not None})
        if all(known[key] for key in keys):
            derived = any(k.derived for k in known.values() if k is not None)
            basis = " (attributed from public PLC logs)" if derived else ""
            return failed(
                f"Every rotation key is {' and '.join(holders)}'s{basis}: it alone can rewrite "
                "your identity, and you cannot move without its cooperation",
                *findings,
                data=data,
            )
        top, top_owner = keys[0], known[keys[0]]
        if top_owner is not None:
            return partial(
                f"A key not attributed to any operator exists, but {top_owner.operator_name}'s "
                "key outranks it: it can undo changes signed with yours within 72 hours",
                *findings,
                score=0.5,
                remediation=(
                    "Re-add your key with the highest priority (`goat account plc "
                    "add-rotation-key --first`), so that it outranks the operator's."
                ),
                data=data,
            )
        if top in host_keys:
            return partial(
                f"The highest-priority key signed changes made while hosted at {hosting}, so it "
                "is presumably the PDS operator's; if you run that server yourself, it is yours",
                *findings,
                score=0.5,
                remediation=(
                    "Unless you run your PDS yourself, add a key you keep offline as the "
                    "highest-priority rotation key (`goat account plc add-rotation-key --first`)."
                ),
                data=data,
            )
        outranked = holders + ([f"your PDS ({hosting})"] if host_keys else [])
        return passed(
            "The highest-priority rotation key is neither attributed to an operator nor seen "
            f"acting for your PDS, and it outranks {', '.join(outranked) or 'every other key'}: "
            "if it is yours, you can move and undo others' changes within 72 hours",
            *findings,
            data=data,
        )

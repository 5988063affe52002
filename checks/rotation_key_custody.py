"""``rotation-key-custody``: who can rewrite this identity, and who wins a dispute?

Rotation keys sign every change to a did:plc identity (handle, signing key, PDS). A higher-priority
key (earlier in the list) can undo changes signed by a lower one within 72 hours. decaudit names
every key in priority order with what it can say about it, and never claims a key is the user's:

* a key decaudit's data attributes to an operator (Bluesky PBC's, inferred from public PLC logs);
* a key the log shows acting for the current PDS: it signed an operation while the account was
  hosted there (a reference PDS signs every change it makes with its own rotation key), other than
  a recovery that overrode another key;
* a key other accounts of the same PDS list too: an operator's recovery key
  (``PDS_RECOVERY_DID_KEY`` puts one above the PDS's own key on every account it creates; from
  one account's log it is indistinguishable from a key the user gave at sign-up);
* any other key: not attributed to anyone.

A pass needs the highest-priority key to be of the last kind.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import control
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import DidDocumentFetch, Evidence, PlcAuditLogFetch
from auditor.models.report import Category, Finding

RECOVERY_GUIDE = "https://atproto.com/guides/account-recovery"


def _describe(key: control.KeyView, hosting: str | None) -> str:
    known = key.operator
    if known is not None:
        return f"attributed to {known.operator_name} ({known.basis}: {known.source})"
    if key.kind == "host":
        return f"signed changes while hosted at {hosting}: presumed your PDS operator's key"
    if key.kind == "shared":
        return (
            f"also a rotation key of other accounts on {hosting}: presumed its operator's "
            "recovery key"
        )
    return "not attributed to any operator, never signed for your PDS, and on no other account"


class RotationKeyCustodyCheck:
    """The highest-priority rotation key should be one neither a known operator nor the PDS uses."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="rotation-key-custody",
        title="A rotation key outside your provider's hands outranks its keys",
        category=Category.PORTABILITY,
        weight=4.0,
        requires=("did_document", "plc_audit_log"),
        uses=("sandbox", "pds", "pds_peers", "handle_resolutions", "input_handle", "did"),
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
            "host_key, shared_key}",
            "operator_keys": "keys decaudit's data attributes to an operator",
            "host_keys": "unattributed keys that signed operations for the current PDS",
            "other_keys": "keys neither attributed nor seen acting for the PDS nor on other "
            "accounts of it (may be yours)",
            "shared_keys": "unattributed keys other accounts of the same PDS list too (presumed "
            "its operator's recovery key)",
            "hosting_operator": "operator of the PDS the DID document points to",
            "top_key_operator": "operator of the highest-priority key, or null if unattributed",
        },
        method=(
            "Rotation keys of the verified log, in priority order: attributed to an operator by "
            "decaudit's data, presumed the PDS's when they signed operations while the account "
            "was hosted there (recoveries excluded), presumed its operator's when another did:plc "
            "account the PDS lists (two are read) has them too, or none of those. (One person's "
            "two accounts sharing a key on a provider are then called the operator's: decaudit "
            "errs towards 'not yours'.)"
        ),
        scoring=(
            "pass 1.0: the top key is none of those (or is your own self-hosted server's); "
            "partial 0.5: the top key is presumed the PDS's or its operator's (shared), or an "
            "operator's key outranks an unattributed one; fail 0: every key is an operator's, "
            "no keys, or the log does not verify."
        ),
        references=(RECOVERY_GUIDE, "https://web.plc.directory/spec/v0.1/did-plc"),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        log_fetch = expect(evidence.plc_audit_log, PlcAuditLogFetch)
        log = log_fetch.verification
        expect(evidence.did_document, DidDocumentFetch)
        view = control.custody(evidence)
        if view is None:
            return failed(
                "The PLC log does not verify, so nobody's custody of this identity can be trusted",
                finding(f"{log.reason}: {log.detail}", "/plc_audit_log/entries"),
                data={
                    "rotation_keys": [],
                    "operator_keys": [],
                    "host_keys": [],
                    "other_keys": [],
                    "shared_keys": [],
                    "hosting_operator": None,
                    "top_key_operator": None,
                },
            )
        rows: list[JsonValue] = [
            {
                "priority": k.priority,
                "key": k.key,
                "operator": k.operator.operator_name if k.operator else None,
                "basis": k.operator.basis if k.operator else None,
                "host_key": k.kind == "host",
                "shared_key": k.kind == "shared",
            }
            for k in view.keys
        ]
        findings = [
            finding(
                f"#{k.priority} {k.key}: " + _describe(k, view.hosting_label),
                "/pds_peers" if k.kind == "shared" else "/plc_audit_log/entries",
            )
            for k in view.keys
        ]
        top = view.keys[0].operator if view.keys else None
        data: dict[str, JsonValue] = {
            "rotation_keys": rows,
            "operator_keys": list[JsonValue](view.of("operator")),
            "host_keys": list[JsonValue](view.of("host")),
            "other_keys": list[JsonValue](view.of("other")),
            "shared_keys": list[JsonValue](view.of("shared")),
            "hosting_operator": view.hosting_label,
            "top_key_operator": top.operator_name if top else None,
        }
        return self._verdict(view, findings, data, log_url=f"{log_fetch.exchange.url}")

    def _verdict(
        self,
        view: control.Custody,
        findings: list[Finding],
        data: dict[str, JsonValue],
        *,
        log_url: str,
    ) -> Outcome:
        if not view.keys:
            return failed(
                "The identity has no rotation keys: nobody, you included, can change or move it",
                *findings,
                data=data,
            )
        known = [k.operator for k in view.keys if k.operator is not None]
        holders = sorted({k.operator_name for k in known})
        if len(known) == len(view.keys):
            basis = " (attributed from public PLC logs)" if any(k.derived for k in known) else ""
            return failed(
                f"Every rotation key is {' and '.join(holders)}'s{basis}: it alone can rewrite "
                "your identity, and you cannot move without its cooperation",
                *findings,
                remediation=(
                    "Generate a key you keep offline (`goat key generate`), then add it as the "
                    "highest-priority rotation key (`goat account plc request-token`, then `goat "
                    "account plc add-rotation-key --first --token <token> <your did:key>`); "
                    f"check the result at {log_url}."
                ),
                data=data,
            )
        top = view.keys[0]
        if top.operator is not None:
            return partial(
                f"A key not attributed to any operator exists, but {top.operator.operator_name}'s "
                "key outranks it: it can undo changes signed with yours within 72 hours",
                *findings,
                score=0.5,
                remediation=(
                    "Re-add your key with the highest priority (`goat account plc "
                    "add-rotation-key --first`), so that it outranks the operator's."
                ),
                data=data,
            )
        if top.kind in ("host", "shared") and view.self_hosted:
            return passed(
                f"The highest-priority key is your own server's ({view.hosting_label}, "
                "self-hosted): nobody else can rewrite your identity",
                *findings,
                data=data,
            )
        if top.kind == "host":
            return partial(
                f"The highest-priority key signed changes made while hosted at "
                f"{view.hosting_label}, so it is presumably the PDS operator's; if you run that "
                "server yourself, it is yours",
                *findings,
                score=0.5,
                remediation=(
                    "Unless you run your PDS yourself, add a key you keep offline as the "
                    "highest-priority rotation key (`goat account plc add-rotation-key --first`)."
                ),
                data=data,
            )
        if top.kind == "shared":
            return partial(
                f"The highest-priority key is also a rotation key of other accounts on "
                f"{view.hosting_label}: presumably its operator's recovery key, which can rewrite "
                "your identity; a key you gave at sign-up would be on your account alone",
                *findings,
                score=0.5,
                remediation=(
                    "Add a key you keep offline as the highest-priority rotation key (`goat "
                    "account plc add-rotation-key --first`), above the operator's."
                ),
                data=data,
            )
        outranked = holders + ([f"your PDS ({view.hosting_label})"] if view.of("host") else [])
        return passed(
            "The highest-priority rotation key is neither attributed to an operator nor seen "
            f"acting for your PDS, and it outranks {', '.join(outranked) or 'every other key'}: "
            "if it is yours, you can move and undo others' changes within 72 hours",
            *findings,
            data=data,
        )

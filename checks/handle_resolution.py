"""``handle-resolution``: does the handle really point at this account, by which method, cleanly?"""

from __future__ import annotations

from typing import ClassVar

from auditor import identity
from auditor.check import CheckMeta, Outcome, failed, finding, partial, passed
from auditor.models.evidence import Evidence
from auditor.models.report import Category, Finding

SPEC = "https://atproto.com/specs/handle"


def _resolution_pointer(evidence: Evidence, handle: str) -> str:
    index = next(i for i, r in enumerate(evidence.handle_resolutions) if r.handle == handle)
    return f"/handle_resolutions/{index}"


def _method_findings(evidence: Evidence, outcome: identity.HandleOutcome) -> list[Finding]:
    base = _resolution_pointer(evidence, outcome.handle)
    found = []
    for name, result, label in (
        ("dns", outcome.dns, f"DNS TXT _atproto.{outcome.handle}"),
        ("https", outcome.https, f"https://{outcome.handle}/.well-known/atproto-did"),
    ):
        text = f"{label} → {result.did}" if result.did else f"{label}: {result.problem}"
        found.append(finding(text, f"{base}/{name}"))
    return found


_REPAIR = {
    "multiple_records": "Delete all but one `did=` TXT record at _atproto.<your handle>.",
    "invalid_did": "Fix the answer that is not a DID: the TXT value must be `did=<your DID>` and "
    "the /.well-known/atproto-did file must contain only your DID.",
}


class HandleResolutionCheck:
    """The handle resolves to the DID, and the DID document claims the handle back."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="handle-resolution",
        title="Your handle resolves to your account, both ways",
        category=Category.IDENTITY,
        weight=1.0,
        requires=("did_document",),
        uses=("handle_resolutions", "input_handle", "did"),
        rationale=(
            "A handle is only a name until it is proven: the domain must point to the DID (by a "
            "DNS TXT record or an HTTPS file) and the DID document must name the handle back. If "
            "either side breaks, apps show your account as 'invalid handle' and nobody can find "
            "you by name."
        ),
        remediation=(
            "Publish exactly one DNS TXT record `_atproto.<your handle>` with the value "
            "`did=<your DID>` (or serve the DID at https://<your "
            "handle>/.well-known/atproto-did), and make sure your DID document lists `at://<your "
            "handle>` first in alsoKnownAs (your PDS does this when you change the handle in your "
            "app)."
        ),
        data_keys={
            "handle": "the handle checked (given, or claimed by the DID document)",
            "verified": "true when the handle resolves to the DID and the document claims it back",
            "dns_did": "DID found by DNS TXT, or null",
            "https_did": "DID found by HTTPS /.well-known/atproto-did, or null",
            "method": "which method decided: dns, https or null",
            "methods_disagree": "true when DNS and HTTPS found different DIDs",
        },
        method=(
            "DNS TXT at _atproto.<handle> and HTTPS /.well-known/atproto-did are asked "
            "concurrently and recorded separately; exactly one did= record counts for DNS; the "
            "DID document's first valid at:// alias must name the handle back."
        ),
        scoring=(
            "pass 1.0: verified both ways with no broken answer; partial 0.5: verified, but the "
            "methods disagree or one gives a broken answer; fail 0: not verified."
        ),
        references=(SPEC, "https://atproto.com/specs/did"),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        result = identity.verify_handle(evidence)
        outcome = result.outcome
        data = {
            "handle": result.handle,
            "verified": result.verified,
            "dns_did": outcome.dns.did if outcome else None,
            "https_did": outcome.https.did if outcome else None,
            "method": outcome.method if outcome else None,
            "methods_disagree": outcome.conflict if outcome else False,
        }
        findings = _method_findings(evidence, outcome) if outcome else []
        if not result.verified:
            resolved_here = outcome is not None and outcome.did == evidence.did
            where = (
                "/did_document/document"
                if resolved_here or outcome is None
                else _resolution_pointer(evidence, outcome.handle)
            )
            findings.append(finding(result.reason.capitalize() + ".", where))
            return failed(f"Handle not verified: {result.reason}", *findings, data=data)
        assert outcome is not None
        if outcome.conflict:
            return partial(
                f"{result.handle} is verified via DNS, but HTTPS points to {outcome.https.did}: "
                "apps that check HTTPS first see a different account",
                *findings,
                score=0.5,
                remediation=(
                    "Make both methods agree: update or remove the stale DNS TXT record or "
                    "/.well-known/atproto-did file so both name your DID."
                ),
                data=data,
            )
        broken = next(
            (m for m in (outcome.dns, outcome.https) if m.kind in identity.BROKEN_ANSWERS), None
        )
        if broken is not None:
            other = "DNS" if broken is outcome.dns else "HTTPS"
            return partial(
                f"{result.handle} is verified via {str(outcome.method).upper()}, but {other} gives "
                f"a broken answer: {broken.problem}",
                *findings,
                score=0.5,
                remediation=_REPAIR[broken.kind],
                data=data,
            )
        return passed(result.reason, *findings, data=data)

"""Interpret handle-resolution evidence: which DID each method found, and is the handle verified.

Pure functions over :mod:`auditor.models.evidence`, shared by the gatherer (to decide which DID to
audit) and by the checks (to judge), so both always agree.

Rules, from the AT Protocol handle spec:

* DNS: only ``did=`` TXT values count; more than one ``did=`` record fails DNS resolution (the spec
  and the TypeScript reference; indigo and the Python SDK take the first, which decaudit reports as
  a problem instead of silently choosing).
* HTTPS: the body, stripped of surrounding whitespace, must be a DID.
* When both answer and disagree, the DNS result is preferred and the disagreement is recorded.
* A handle is verified only bidirectionally: it resolves to the DID *and* the DID document's first
  valid ``at://`` alias is that handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from auditor import syntax
from auditor.models.evidence import (
    DidDocumentFetch,
    DnsTxtAnswer,
    Evidence,
    HandleResolution,
    WellKnownAnswer,
)

ResultKind = Literal["ok", "no_answer", "no_did_record", "multiple_records", "invalid_did"]
"""How a method ended: a DID (ok); no answer at all (failed or skipped probe); an answer without
any ``did=`` record; several ``did=`` records; an answer that is not a valid DID. The last two
are broken answers, not merely absent ones."""
BROKEN_ANSWERS: frozenset[ResultKind] = frozenset({"multiple_records", "invalid_did"})


@dataclass(frozen=True, slots=True)
class MethodResult:
    """What one resolution method yielded."""

    did: str | None
    problem: str | None
    """Why no DID, or what is wrong with the answer; None when a single valid DID was found."""
    kind: ResultKind


@dataclass(frozen=True, slots=True)
class HandleOutcome:
    """Both methods for one handle and the DID they settle on."""

    handle: str
    dns: MethodResult
    https: MethodResult
    did: str | None
    method: Literal["dns", "https"] | None
    conflict: bool
    """Both methods found a DID and they differ."""


def _dns_result(resolution: HandleResolution) -> MethodResult:
    slot = resolution.dns
    if not isinstance(slot, DnsTxtAnswer):
        reason = slot.message if slot.outcome == "failed" else slot.reason
        return MethodResult(None, reason, "no_answer")
    values = [r[len("did=") :].strip() for r in slot.records if r.startswith("did=")]
    if not values:
        return MethodResult(None, f"no did= TXT record at {slot.name}", "no_did_record")
    if len(values) > 1:
        return MethodResult(
            None,
            f"{len(values)} did= TXT records at {slot.name} ({', '.join(values)}); "
            "the spec requires exactly one",
            "multiple_records",
        )
    error = syntax.did_syntax_error(values[0])
    if error:
        return MethodResult(None, f"TXT did= value is not a DID: {error}", "invalid_did")
    return MethodResult(values[0], None, "ok")


def _https_result(resolution: HandleResolution) -> MethodResult:
    slot = resolution.https
    if not isinstance(slot, WellKnownAnswer):
        reason = slot.message if slot.outcome == "failed" else slot.reason
        return MethodResult(None, reason, "no_answer")
    body = slot.body.strip()
    error = syntax.did_syntax_error(body) if body else "empty body"
    if error:
        shown = body[:80] + ("…" if len(body) > 80 else "")
        return MethodResult(
            None, f"/.well-known/atproto-did body is not a DID ({error}): {shown!r}", "invalid_did"
        )
    return MethodResult(body, None, "ok")


def interpret(resolution: HandleResolution) -> HandleOutcome:
    """Settle one handle's resolution: DNS preferred, disagreement recorded."""
    dns, https = _dns_result(resolution), _https_result(resolution)
    conflict = dns.did is not None and https.did is not None and dns.did != https.did
    if dns.did is not None:
        return HandleOutcome(resolution.handle, dns, https, dns.did, "dns", conflict)
    if https.did is not None:
        return HandleOutcome(resolution.handle, dns, https, https.did, "https", conflict)
    return HandleOutcome(resolution.handle, dns, https, None, None, conflict)


@dataclass(frozen=True, slots=True)
class HandleVerification:
    """The account's handle and whether it holds up in both directions."""

    handle: str | None
    """The handle given, or else the handle the DID document claims."""
    verified: bool
    reason: str
    """One sentence: why verified, or what breaks."""
    outcome: HandleOutcome | None


def shown_handle(evidence: Evidence) -> HandleVerification:
    """The handle apps would show: the one given if it verifies, else the DID document's claimed
    handle if *that* verifies, else the given (or claimed) one, unverified."""
    given = verify_handle(evidence)
    doc = evidence.did_document
    claimed = doc.parsed.handle if isinstance(doc, DidDocumentFetch) else None
    if given.verified or claimed is None or claimed == given.handle:
        return given
    other = verify_handle(evidence, claimed)
    return other if other.verified else given


def verify_handle(evidence: Evidence, handle: str | None = None) -> HandleVerification:
    """Bidirectional verification of ``handle`` (default: the one given, else the claimed one)."""
    doc = evidence.did_document
    claimed = doc.parsed.handle if isinstance(doc, DidDocumentFetch) else None
    handle = handle or evidence.input_handle or claimed
    if handle is None:
        return HandleVerification(None, False, "the DID document claims no valid handle", None)
    resolution = evidence.resolution_for(handle)
    outcome = interpret(resolution) if resolution else None
    if outcome is None or outcome.did is None:
        return HandleVerification(handle, False, f"{handle} does not resolve to a DID", outcome)
    if evidence.did is None or outcome.did != evidence.did:
        return HandleVerification(
            handle, False, f"{handle} resolves to {outcome.did}, not {evidence.did}", outcome
        )
    if claimed != handle:
        said = f"claims {claimed}" if claimed else "claims no valid handle"
        return HandleVerification(
            handle,
            False,
            f"{handle} points to {evidence.did}, but its DID document {said}",
            outcome,
        )
    return HandleVerification(
        handle,
        True,
        f"{handle} resolves to {evidence.did} (via {str(outcome.method).upper()}) and the DID "
        "document claims it back",
        outcome,
    )

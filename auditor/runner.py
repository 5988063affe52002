"""Run checks over evidence: enforce what each declares, and turn every failure into a result.

Lighthouse's rule, improved: a check whose required evidence failed to gather is ``error`` (with the
probe's own message), one whose required evidence was deliberately skipped (a PLC log for a did:web
account) is ``not_applicable``, and a check that raises is ``error`` with the exception named (the
sslyze ``BUG`` status) instead of aborting the audit. ``strict=True`` re-raises instead, for tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from auditor.check import Check, EvidenceUnavailable, Outcome, is_refusal
from auditor.models.common import ProbeFailure
from auditor.models.evidence import Evidence, NotCollected
from auditor.models.report import SCORED_STATUSES, CheckResult, ErrorReason, Status
from auditor.text import one_line


def _result(
    check: Check, outcome: Outcome, error: str | None = None, reason: ErrorReason | None = None
) -> CheckResult:
    meta = check.meta
    if outcome.remediation is not None:
        remediation = outcome.remediation
    elif outcome.status in (Status.FAIL, Status.PARTIAL):
        remediation = meta.remediation
    else:
        remediation = ""
    return CheckResult(
        id=meta.id,
        title=meta.title,
        category=meta.category,
        weight=meta.weight,
        status=outcome.status,
        score=outcome.score if outcome.status in SCORED_STATUSES else None,
        summary=outcome.summary,
        findings=list(outcome.findings),
        remediation=remediation,
        data=dict(outcome.data),
        references=list(meta.references),
        error=error,
        error_reason=reason,
    )


def _unavailable(check: Check, error: str) -> CheckResult:
    outcome = Outcome(Status.ERROR, "Could not be judged: evidence unavailable", remediation="")
    return _result(check, outcome, error, ErrorReason.EVIDENCE_UNAVAILABLE)


def _bug(check: Check, error: str) -> CheckResult:
    summary = "Could not be judged: the check failed (a bug in decaudit or the plugin)"
    return _result(check, Outcome(Status.ERROR, summary, remediation=""), error, ErrorReason.BUG)


def _precondition(check: Check, evidence: Evidence) -> CheckResult | None:
    for name in check.meta.requires:
        slot = getattr(evidence, name)
        if isinstance(slot, ProbeFailure):
            if name in check.meta.judges_refusals and is_refusal(slot):
                continue  # the server's "no" is the check's to judge
            return _unavailable(check, slot.message)
        if isinstance(slot, NotCollected):
            return _result(check, Outcome(Status.NOT_APPLICABLE, slot.reason, remediation=""))
        if slot is None:
            return _unavailable(check, f"{name} missing")
    return None


def _validated(outcome: Outcome) -> Outcome:
    if outcome.status in SCORED_STATUSES:
        if outcome.score is None or not 0.0 <= outcome.score <= 1.0:
            raise ValueError(
                f"status {outcome.status} needs a score in [0, 1], got {outcome.score}"
            )
    return outcome


def run_check(check: Check, evidence: Evidence, *, strict: bool = False) -> CheckResult:
    """Evaluate one check; never raises unless ``strict``."""
    blocked = _precondition(check, evidence)
    if blocked is not None:
        return blocked
    try:
        return _result(check, _validated(check.evaluate(evidence)))
    except EvidenceUnavailable as exc:
        if strict:
            raise
        return _unavailable(check, str(exc))
    except Exception as exc:  # a check's bug (ValidationError included) stays inside its result
        if strict:
            raise
        return _bug(check, one_line(f"{type(exc).__name__}: {exc}"))


def opted_out(check: Check, evidence: Evidence) -> str | None:
    """Why the user's own options leave ``check`` without evidence (then it does not run)."""
    for name in check.meta.requires:
        slot = getattr(evidence, name)
        if isinstance(slot, NotCollected) and not slot.requested:
            return slot.reason
    return None


def run_checks(
    evidence: Evidence, checks: Sequence[Check], *, strict: bool = False
) -> list[CheckResult]:
    """Evaluate every check in order (those the user opted out of are left out, like --skip)."""
    return [
        run_check(check, evidence, strict=strict)
        for check in checks
        if opted_out(check, evidence) is None
    ]

"""The library entry points: ``audit`` (gather, then judge) and ``rescore`` (judge saved evidence).

The CLI is a thin shell over these two; so is any other program that embeds decaudit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from auditor import identity, spectrum, syntax
from auditor.check import Check
from auditor.dependencies import dependencies
from auditor.gather import GatherContext, gather_evidence
from auditor.models.evidence import Evidence
from auditor.models.report import Report
from auditor.net.deadline import Deadline
from auditor.net.fetch import Fetcher
from auditor.registry import load_checks
from auditor.runner import opted_out, run_checks
from auditor.scoring import SCORING_VERSION, score_results
from auditor.session import Session
from auditor.settings import AuditSettings


def build_report(
    evidence: Evidence,
    checks: Sequence[Check],
    *,
    model: Sequence[Check] | None = None,
    warnings: Sequence[str] = (),
    strict: bool = False,
) -> Report:
    """Judge ``evidence`` with ``checks``; ``model`` is every check available (for coverage)."""
    model = checks if model is None else model
    checks = [c for c in checks if c.meta.protocol == evidence.protocol]
    model = [c for c in model if c.meta.protocol == evidence.protocol]
    skipped = {c.meta.id: why for c in checks if (why := opted_out(c, evidence)) is not None}
    checks = [c for c in checks if c.meta.id not in skipped]
    warnings = [*warnings, *(f"{cid} not run: {why}" for cid, why in skipped.items())]
    narrowed = [c.meta.id for c in checks] != [c.meta.id for c in model]
    verification = identity.verify_handle(evidence)
    results = [] if evidence.unresolved_reason else run_checks(evidence, checks, strict=strict)
    scores = None if evidence.unresolved_reason else score_results(results, model)
    verdict = None if evidence.unresolved_reason else spectrum.gate(evidence, results)
    return Report(
        tool_version=evidence.tool_version,
        scoring_version=SCORING_VERSION,
        target=evidence.target,
        protocol=evidence.protocol,
        account=evidence.account,
        handle=verification.handle,
        handle_verified=verification.verified,
        did=evidence.did,
        generated_at=evidence.collected_at,
        score=scores.score if scores else None,
        band=verdict.band if verdict else None,
        band_basis=verdict.basis if verdict else [],
        control=verdict.control if verdict else [],
        dependencies=[] if evidence.unresolved_reason else dependencies(evidence),
        coverage=scores.coverage if scores else 0.0,
        unresolved_reason=evidence.unresolved_reason,
        selected_checks=[c.meta.id for c in checks] if narrowed else None,
        categories=scores.categories if scores else [],
        checks=results,
        sandbox=evidence.sandbox,
        warnings=list(warnings),
        evidence=evidence,
    )


def rescore(
    evidence: Evidence, *, checks: Sequence[Check] | None = None, strict: bool = False
) -> Report:
    """Re-judge saved evidence with the current checks (no network)."""
    available = load_checks()
    chosen = available.checks if checks is None else tuple(checks)
    return build_report(
        evidence, chosen, model=available.checks, warnings=available.warnings, strict=strict
    )


async def gather(
    target: str | syntax.Target,
    *,
    session: Session | None = None,
    settings: AuditSettings | None = None,
    now: datetime | None = None,
) -> Evidence:
    """Gather the evidence for one target, over ``session`` (or a fresh one from ``settings``)."""
    parsed = syntax.parse_target(target) if isinstance(target, str) else target
    if session is None:
        async with Session.open(settings or AuditSettings()) as fresh:
            return await gather(parsed, session=fresh, now=now)
    deadline = Deadline(session.settings.deadline)
    fetcher = Fetcher(session.client, session.settings, deadline)
    ctx = GatherContext(
        session.settings, fetcher, session.resolver, deadline, session.limits, session.shared
    )
    return await gather_evidence(parsed, ctx, now=now)


async def audit(
    target: str | syntax.Target,
    *,
    session: Session | None = None,
    settings: AuditSettings | None = None,
    checks: Sequence[Check] | None = None,
) -> Report:
    """Audit one account: gather its evidence, then judge it."""
    evidence = await gather(target, session=session, settings=settings)
    return rescore(evidence, checks=checks)

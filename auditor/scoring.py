"""Scoring: from check results to category scores, a 0-100 score, a band and coverage. Pure.

The weights live in one table here, never inside checks' logic. Not-applicable, informative and
errored checks carry no weight (Lighthouse); unlike Lighthouse, the report also says how much of the
model was actually scored (``coverage``), so an audit where half the probes failed cannot pass for a
complete one, and unlike Scorecard the score does not silently change meaning when checks are
deselected: coverage drops instead.

The band is not derived from this score: it comes from gates over who controls each layer
(:mod:`auditor.spectrum`), so no average can hide a captured layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditor.check import Check
from auditor.models.report import (
    SCORED_STATUSES,
    Category,
    CategoryScore,
    CheckResult,
    Status,
)

SCORING_VERSION = "0.4"

CATEGORY_WEIGHTS: dict[Category, float] = {
    Category.IDENTITY: 0.30,
    Category.HOSTING: 0.20,
    Category.DISTRIBUTION: 0.15,
    Category.EXPORTABILITY: 0.15,
    Category.PORTABILITY: 0.20,
}
"""How much each layer counts in the overall score (sums to 1)."""


@dataclass(frozen=True, slots=True)
class Scores:
    """What scoring adds to a report."""

    categories: list[CategoryScore]
    score: float | None
    coverage: float


def _weighted_mean(pairs: Sequence[tuple[float, float]]) -> float | None:
    total = sum(weight for _, weight in pairs)
    if total <= 0:
        return None
    return sum(value * weight for value, weight in pairs) / total


def effective_weights(model: Sequence[Check]) -> dict[str, float]:
    """Each check's share of its network's whole model: category weight x its share within the
    category (an account is scored against its own network's checks only)."""
    per_category: dict[tuple[str, Category], float] = {}
    for check in model:
        key = (check.meta.protocol, check.meta.category)
        per_category[key] = per_category.get(key, 0.0) + check.meta.weight
    weights = {}
    for check in model:
        total = per_category[(check.meta.protocol, check.meta.category)]
        share = check.meta.weight / total if total > 0 else 0.0
        weights[check.meta.id] = CATEGORY_WEIGHTS[check.meta.category] * share
    return weights


def score_results(results: Sequence[CheckResult], model: Sequence[Check]) -> Scores:
    """Score ``results`` (the checks that ran) against ``model`` (every check available)."""
    categories = []
    for category, weight in CATEGORY_WEIGHTS.items():
        scored = [
            (r.score, r.weight)
            for r in results
            if r.category is category and r.status in SCORED_STATUSES and r.score is not None
        ]
        categories.append(
            CategoryScore(
                category=category,
                weight=weight,
                score=_weighted_mean(scored),
                checks_scored=len(scored),
            )
        )
    overall = _weighted_mean(
        [(c.score, c.weight) for c in categories if c.score is not None and c.checks_scored]
    )
    weights = effective_weights(model)
    ran = {r.id: r.status for r in results}
    scored_weight = sum(w for cid, w in weights.items() if ran.get(cid) in SCORED_STATUSES)
    # Weight that should have been scored: scored, errored, or not run at all (deselected).
    # Not-applicable and informative checks are outside this account's model.
    possible = sum(
        w for cid, w in weights.items() if ran.get(cid) not in (Status.NOT_APPLICABLE, Status.INFO)
    )
    coverage = scored_weight / possible if possible > 0 else 0.0
    return Scores(categories, None if overall is None else overall * 100.0, coverage)

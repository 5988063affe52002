"""The runner's guarantees (preconditions, bugs contained) and the scoring arithmetic."""

from __future__ import annotations

from typing import ClassVar

import pytest

from auditor.check import CheckMeta, Outcome, failed, partial, passed
from auditor.crypto import PrivateKey
from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import Evidence, NotCollected
from auditor.models.report import Category, CheckResult, Status
from auditor.runner import run_check, run_checks
from auditor.sandbox.identities import PlcIdentity
from auditor.scoring import CATEGORY_WEIGHTS, effective_weights, score_results
from tests.support.fakenet import FakeNet


def make_check(
    check_id: str,
    outcome: Outcome | Exception,
    *,
    category: Category = Category.IDENTITY,
    weight: float = 1.0,
    requires: tuple[str, ...] = (),
) -> object:
    class _Check:
        meta: ClassVar[CheckMeta] = CheckMeta(
            id=check_id,
            title="t",
            category=category,
            weight=weight,
            rationale="r",
            remediation="do this",
            requires=requires,
        )

        def evaluate(self, evidence: Evidence) -> Outcome:
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    return _Check()


@pytest.fixture
def evidence(fakenet: FakeNet) -> Evidence:
    identity = PlcIdentity(
        "alice.example.com", "https://pds.example.com", [PrivateKey.generate("k256")]
    )
    fakenet.account(identity)
    return fakenet.gather("alice.example.com")


def test_failed_required_evidence_is_error_with_the_probe_message(evidence: Evidence) -> None:
    broken = evidence.model_copy(
        update={
            "repo_export": ProbeFailure(
                kind=FailureKind.TIMEOUT,
                source="https://x/xrpc/_health",
                message="GET x: timed out",
            )
        }
    )
    result = run_check(make_check("needs-pds", passed("ok"), requires=("repo_export",)), broken)  # type: ignore[arg-type]
    assert result.status is Status.ERROR
    assert result.error == "GET x: timed out"
    assert result.error_reason == "evidence_unavailable"
    assert result.score is None
    assert result.remediation == ""


def test_skipped_required_evidence_is_not_applicable(evidence: Evidence) -> None:
    skipped = evidence.model_copy(
        update={"plc_audit_log": NotCollected(reason="did:web has no log")}
    )
    result = run_check(make_check("needs-log", passed("ok"), requires=("plc_audit_log",)), skipped)  # type: ignore[arg-type]
    assert result.status is Status.NOT_APPLICABLE
    assert result.summary == "did:web has no log"


def test_a_raising_check_is_contained_unless_strict(evidence: Evidence) -> None:
    check = make_check("buggy", ZeroDivisionError("division by zero"))
    result = run_check(check, evidence)  # type: ignore[arg-type]
    assert result.status is Status.ERROR
    assert result.error == "ZeroDivisionError: division by zero"
    assert result.error_reason == "bug"
    with pytest.raises(ZeroDivisionError):
        run_check(check, evidence, strict=True)  # type: ignore[arg-type]


def test_a_scored_status_without_score_is_a_bug(evidence: Evidence) -> None:
    check = make_check("no-score", Outcome(Status.PASS, "ok", None))
    assert run_check(check, evidence).status is Status.ERROR  # type: ignore[arg-type]


def test_remediation_defaults_to_meta_only_when_not_passing(evidence: Evidence) -> None:
    results = run_checks(
        evidence,
        [
            make_check("a", passed("ok")),
            make_check("b", failed("no")),
            make_check("c", partial("so-so", score=0.5), weight=2),
        ],  # type: ignore[list-item]
    )
    assert [r.remediation for r in results] == ["", "do this", "do this"]


def test_partial_rejects_scores_outside_the_open_interval() -> None:
    with pytest.raises(ValueError, match="strictly between"):
        partial("x", score=1.0)


def result(
    check_id: str, status: Status, score: float | None, category: Category, weight: float = 1.0
) -> CheckResult:
    return CheckResult(
        id=check_id,
        title="t",
        category=category,
        weight=weight,
        status=status,
        score=score,
        summary="s",
    )


def test_category_weights_sum_to_one() -> None:
    assert sum(CATEGORY_WEIGHTS.values()) == pytest.approx(1.0)


def test_weighted_mean_within_and_across_categories() -> None:
    model = [
        make_check("i1", passed("x"), weight=1),
        make_check("i2", passed("x"), weight=3),
        make_check("p1", passed("x"), category=Category.PORTABILITY),
    ]
    results = [
        result("i1", Status.PASS, 1.0, Category.IDENTITY, 1),
        result("i2", Status.FAIL, 0.0, Category.IDENTITY, 3),
        result("p1", Status.PARTIAL, 0.5, Category.PORTABILITY),
    ]
    scores = score_results(results, model)  # type: ignore[arg-type]
    identity = next(c for c in scores.categories if c.category is Category.IDENTITY)
    assert identity.score == pytest.approx(0.25)
    # overall: (0.25 * 0.30 + 0.5 * 0.20) / (0.30 + 0.20) = 0.35
    assert scores.score == pytest.approx(35.0)
    assert scores.coverage == pytest.approx(1.0)


def test_not_applicable_and_info_carry_no_weight_and_do_not_lower_coverage() -> None:
    model = [
        make_check("a", passed("x")),
        make_check("b", passed("x")),
        make_check("c", passed("x")),
    ]
    results = [
        result("a", Status.PASS, 1.0, Category.IDENTITY),
        result("b", Status.NOT_APPLICABLE, None, Category.IDENTITY),
        result("c", Status.INFO, None, Category.IDENTITY),
    ]
    scores = score_results(results, model)  # type: ignore[arg-type]
    assert scores.score == pytest.approx(100.0)
    assert scores.coverage == pytest.approx(1.0)


def test_errors_and_deselected_checks_lower_coverage_not_score() -> None:
    model = [
        make_check("a", passed("x")),
        make_check("b", passed("x")),
        make_check("c", passed("x")),
        make_check("d", passed("x")),
    ]
    results = [
        result("a", Status.PASS, 1.0, Category.IDENTITY),
        result("b", Status.ERROR, None, Category.IDENTITY),
        # c: deselected, d: not applicable
        result("d", Status.NOT_APPLICABLE, None, Category.IDENTITY),
    ]
    scores = score_results(results, model)  # type: ignore[arg-type]
    assert scores.score == pytest.approx(100.0)
    assert scores.coverage == pytest.approx(1 / 3)


def test_nothing_scored_means_no_score_and_no_band() -> None:
    model = [make_check("a", passed("x"))]
    scores = score_results([result("a", Status.ERROR, None, Category.IDENTITY)], model)  # type: ignore[arg-type]
    assert scores.score is None and scores.coverage == 0.0


def test_effective_weights_split_category_weight_by_check_weight() -> None:
    model = [make_check("a", passed("x"), weight=1), make_check("b", passed("x"), weight=3)]
    weights = effective_weights(model)  # type: ignore[arg-type]
    assert weights == pytest.approx({"a": 0.075, "b": 0.225})

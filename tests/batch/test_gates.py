"""CI gates: per-account requirements, ecosystem thresholds, regressions against a baseline."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.batch.gates import (
    GateSpecError,
    Requirement,
    account_failures,
    ecosystem_failures,
    parse_requirement,
    regressions,
)
from auditor.models.report import Status

IDS = ["repo-export", "rotation-key-custody"]


def report(score: float | None, **statuses: str) -> dict[str, Any]:
    return {
        "handle": "alice.test",
        "target": "alice.test",
        "score": score,
        "checks": [{"id": k.replace("_", "-"), "status": v} for k, v in statuses.items()],
    }


def summary(hhi: float, needed: int, mean: float, bands: dict[str, int], scoring: str = "0.2"):
    return {
        "scoring_version": scoring,
        "mean_score": mean,
        "bands": bands,
        "layers": {"pds_operator": {"hhi_points": hhi, "needed": {"50": needed}}},
    }


def test_requirements_parse_with_alternatives() -> None:
    assert parse_requirement("rotation-key-custody=pass|partial", IDS) == Requirement(
        "rotation-key-custody", frozenset({Status.PASS, Status.PARTIAL})
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("repo-export", "expected CHECK_ID=STATUS"),
        ("=pass", "expected CHECK_ID=STATUS"),
        ("repo-export=", "expected CHECK_ID=STATUS"),
        ("no-such-check=pass", "unknown check id 'no-such-check'"),
        ("repo-export=great", "'great' is not one of"),
    ],
)
def test_bad_requirements_are_refused(spec: str, message: str) -> None:
    with pytest.raises(GateSpecError, match=message):
        parse_requirement(spec, IDS)


def test_account_gates_name_the_account_and_what_failed() -> None:
    requirement = parse_requirement("rotation-key-custody=pass", IDS)
    bad = report(40.0, repo_export="pass", rotation_key_custody="fail")
    assert account_failures(bad, fail_under=50, requirements=[requirement]) == [
        "alice.test: score 40.0 is below --fail-under 50",
        "alice.test: rotation-key-custody is fail, required rotation-key-custody=pass",
    ]
    good = report(80.0, repo_export="pass", rotation_key_custody="pass")
    assert account_failures(good, fail_under=50, requirements=[requirement]) == []


def test_an_unresolved_account_fails_a_score_gate_and_a_requirement() -> None:
    requirement = parse_requirement("repo-export=pass", IDS)
    problems = account_failures(report(None), fail_under=10, requirements=[requirement])
    assert problems == [
        "alice.test: no score is below --fail-under 10",
        "alice.test: repo-export is not run, required repo-export=pass",
    ]


def test_ecosystem_thresholds() -> None:
    current = summary(hhi=8100, needed=1, mean=50, bands={"centralized": 9, "hybrid": 1})
    assert ecosystem_failures(current, max_hhi=2500, min_operators_for_50=3) == [
        "PDS-operator HHI is 8100, above --max-hhi 2500",
        "1 PDS operator(s) hold half the accounts, fewer than --min-operators-for-50 3",
    ]
    assert ecosystem_failures(current, max_hhi=8100, min_operators_for_50=1) == []


def test_regressions_name_the_metric_and_how_far_it_moved() -> None:
    then = summary(hhi=5000, needed=2, mean=60, bands={"centralized": 5, "decentralized": 5})
    now = summary(hhi=5200, needed=1, mean=58.5, bands={"centralized": 6, "decentralized": 4})
    assert regressions(now, then) == [
        "hhi regressed from 5000 to 5200 (tolerance 50)",
        "operators_for_50 regressed from 2 to 1 (tolerance 0)",
        "mean_score regressed from 60 to 58.5 (tolerance 1)",
        "decentralized_share regressed from 0.5 to 0.4 (tolerance 0.01)",
    ]
    assert regressions(then, then) == []
    small = summary(hhi=5040, needed=2, mean=59.5, bands={"centralized": 5, "decentralized": 5})
    assert regressions(small, then) == []  # within tolerance
    better = summary(hhi=3000, needed=4, mean=70, bands={"decentralized": 10})
    assert regressions(better, then) == []


def test_regressions_across_scoring_versions_are_marked() -> None:
    then = summary(hhi=5000, needed=2, mean=60, bands={}, scoring="0.1")
    now = summary(hhi=9000, needed=2, mean=60, bands={})
    assert regressions(now, then) == [
        "hhi regressed from 5000 to 9000 (tolerance 50) [baseline scoring 0.1]"
    ]

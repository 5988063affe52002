"""``decaudit demo``: audit the sandbox's scenario accounts in process, offline, in seconds.

Every audit runs the real pipeline (the same gatherers, checks, scoring and renderers as
``decaudit check``) through the sandbox's transport and resolver, over one session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.api import gather, rescore
from auditor.compare import Comparison, comparison_of
from auditor.models.evidence import Evidence
from auditor.models.report import Band, Report
from auditor.render import OutputFormat, render
from auditor.render.compare import render_comparison
from auditor.sandbox.clock import SANDBOX_NOW
from auditor.sandbox.scenarios import SCENARIOS, build_world
from auditor.session import Session

SUFFIXES = {
    OutputFormat.JSON: "json",
    OutputFormat.HTML: "html",
    OutputFormat.TEXT: "txt",
    OutputFormat.MD: "md",
}
TIMING_KEYS = frozenset({"elapsed_ms", "duration_ms", "seconds"})
COMPARED = ("bsky-default", "fedi-flagship", "matrix-flagship")
"""One person (alice) on the three networks: ``compare-alice.*`` lines them up."""
COMPARISON_NAME = "compare-alice"


@dataclass(frozen=True)
class DemoResult:
    scenario: str
    story: str
    expected_band: Band | None
    report: Report


def default_scenarios() -> list[str]:
    """Every scenario except the large and the deliberately slow ones."""
    return [scenario.id for scenario in SCENARIOS.values() if scenario.in_demo]


def _zero_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: 0.0 if k in TIMING_KEYS else _zero_timings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_zero_timings(item) for item in value]
    return value


def without_timings(evidence: Evidence) -> Evidence:
    """The evidence with every measured duration set to 0 (for byte-stable goldens)."""
    return Evidence.model_validate(_zero_timings(evidence.model_dump(mode="json")))


async def audit_scenarios(
    ids: Sequence[str] | None = None, *, stable: bool = False
) -> list[DemoResult]:
    """Build a sandbox with ``ids`` and audit each account concurrently over one session."""
    world = build_world(list(ids) if ids else default_scenarios())
    async with Session.open(
        world.settings(), resolver=world.zone.resolver(), transport=world.transport()
    ) as session:
        evidences = await asyncio.gather(
            *(gather(a.target, session=session, now=SANDBOX_NOW) for a in world.accounts)
        )
    results = []
    for account, evidence in zip(world.accounts, evidences, strict=True):
        report = rescore(without_timings(evidence) if stable else evidence)
        results.append(DemoResult(account.scenario, account.story, account.expected_band, report))
    return results


def comparison(results: Sequence[DemoResult]) -> Comparison | None:
    """alice's accounts on the three networks side by side, when all three were audited."""
    by_id = {r.scenario: r.report for r in results}
    if not all(scenario in by_id for scenario in COMPARED):
        return None
    return comparison_of([by_id[scenario] for scenario in COMPARED])


def write_reports(results: Sequence[DemoResult], out: Path) -> list[Path]:
    """Each report in every format under ``out``, and the three-network comparison; returns the
    files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for result in results:
        for fmt, suffix in SUFFIXES.items():
            path = out / f"{result.scenario}.{suffix}"
            path.write_text(render(result.report, fmt), encoding="utf-8")
            written.append(path)
    compared = comparison(results)
    if compared is not None:
        for fmt, suffix in SUFFIXES.items():
            path = out / f"{COMPARISON_NAME}.{suffix}"
            path.write_text(render_comparison(compared, fmt), encoding="utf-8")
            written.append(path)
    return written

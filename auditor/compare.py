"""``decaudit compare``: one person's accounts on several networks, side by side.

Each account is audited exactly as ``decaudit check`` would (same session, same checks, same
scoring), so a comparison never says anything a single report would not; it only lines the
answers up: who controls the identity, the name, the hosting and the distribution, which band
that gives, and what one operator's outage would do to each account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from auditor import __version__
from auditor.api import gather, rescore
from auditor.models.common import Model
from auditor.models.report import Report
from auditor.scoring import SCORING_VERSION
from auditor.session import Session
from auditor.syntax import Target

COMPARISON_VERSION = "1.0"
MAX_TARGETS = 12
"""More columns than this stop being a comparison (and a page)."""


class Comparison(Model):
    """Several reports, in the order the targets were given."""

    kind: Literal["decaudit-comparison"] = "decaudit-comparison"
    comparison_version: str = COMPARISON_VERSION
    tool_version: str = __version__
    scoring_version: str = SCORING_VERSION
    generated_at: datetime
    """The earliest evidence collection among the reports (never the rendering time)."""
    sandbox: bool
    """Any report came from decaudit's sandbox network."""
    reports: list[Report]


def comparison_of(reports: Sequence[Report]) -> Comparison:
    if not reports:
        raise ValueError("a comparison needs at least one report")
    return Comparison(
        generated_at=min(r.generated_at for r in reports),
        sandbox=any(r.sandbox for r in reports),
        reports=list(reports),
    )


async def compare(
    targets: Sequence[Target], session: Session, *, now: datetime | None = None
) -> Comparison:
    """Audit every target concurrently over ``session`` and line the reports up."""
    evidences = await asyncio.gather(*(gather(t, session=session, now=now) for t in targets))
    return comparison_of([rescore(evidence) for evidence in evidences])

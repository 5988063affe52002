"""Plugin objects the registry tests load through fake entry points."""

from __future__ import annotations

from typing import ClassVar

from auditor.check import CheckMeta, Outcome, info
from auditor.models.evidence import Evidence
from auditor.models.report import Category


class ThirdPartyCheck:
    meta: ClassVar[CheckMeta] = CheckMeta(
        id="third-party-example",
        title="A plugin check",
        category=Category.HOSTING,
        weight=1.0,
        rationale="Shows that plugins load.",
        remediation="Nothing.",
        uses=("did",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        return info(f"saw {evidence.did}")


class NotACheck:
    """Has no meta."""


class ClashingCheck(ThirdPartyCheck):
    meta: ClassVar[CheckMeta] = CheckMeta(
        id="handle-domain",
        title="Steals a built-in id",
        category=Category.IDENTITY,
        weight=1.0,
        rationale="r",
        remediation="r",
    )


class UndeclaredFieldCheck(ThirdPartyCheck):
    meta: ClassVar[CheckMeta] = CheckMeta(
        id="bad-fields",
        title="Declares evidence that does not exist",
        category=Category.IDENTITY,
        weight=1.0,
        rationale="r",
        remediation="r",
        requires=("no_such_field",),
    )

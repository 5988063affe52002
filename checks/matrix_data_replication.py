"""``matrix-data-replication``: does the account's data exist anywhere but its homeserver?"""

from __future__ import annotations

from typing import ClassVar

from auditor.check import CheckMeta, Outcome, failed, finding, partial, passed
from auditor.matrix import control
from auditor.matrix.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category

REPLICATED_SCORE = 0.5
"""Rooms are copied on every participating server; the account itself has no export."""


class MatrixDataReplicationCheck:
    """Matrix has no account export; what survives a server is what other servers copied."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="matrix-data-replication",
        protocol="matrix",
        title="Your Matrix conversations survive your homeserver",
        category=Category.EXPORTABILITY,
        weight=2.0,
        requires=("matrix",),
        uses=("sandbox",),
        rationale=(
            "The Matrix protocol defines no account export. What survives your server is the "
            "history of rooms shared with other servers, each of which keeps a full copy; a "
            "homeserver that does not federate keeps the only copy."
        ),
        remediation=(
            "Keep your encryption keys backed up (without them the copies are unreadable to "
            "you) and use rooms that span several servers; self-hosting gives you the database."
        ),
        data_keys={"federates": "the homeserver federates", "self_hosted": "you run it"},
        method="From matrix-federation's finding and the hosting controller.",
        scoring=(
            "pass 1.0: self-hosted (the database is yours); partial 0.5: federating (rooms "
            "are replicated, no export); fail 0: not federating."
        ),
        references=("https://spec.matrix.org/latest/#architecture",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        self_hosted = control.self_hosted(view, evidence)
        data = {"federates": bool(view.federates), "self_hosted": self_hosted}
        where = "/matrix/federation_version"
        if self_hosted:
            return passed(
                "You run the homeserver: its database is your copy",
                finding("The homeserver is on your own domain.", "/matrix/discovery"),
                data=data,
            )
        if view.federates:
            return partial(
                "Shared rooms are copied on every participating server, but Matrix has no "
                "account export: what only your server holds leaves with it",
                finding("The homeserver federates.", where),
                score=REPLICATED_SCORE,
                data=data,
            )
        return failed(
            "The homeserver does not federate: it keeps the only copy of everything",
            finding(view.federation_reason[0].upper() + view.federation_reason[1:] + ".", where),
            data=data,
        )

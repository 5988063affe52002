"""``matrix-name-domain``: whose domain is the Matrix ID's server name?"""

from __future__ import annotations

from typing import ClassVar

from auditor.check import CheckMeta, Outcome, failed, finding, passed
from auditor.matrix import control
from auditor.matrix.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category


class MatrixNameDomainCheck:
    """``@user:server`` names its server for life: the server name's holder owns the ID."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="matrix-name-domain",
        protocol="matrix",
        title="Your Matrix ID is on a domain you control",
        category=Category.IDENTITY,
        weight=2.0,
        requires=("matrix",),
        uses=("sandbox",),
        rationale=(
            "A Matrix ID is @user:server, and the server name is fixed forever. Whoever controls "
            "that domain decides which homeserver speaks for the ID, and could hand it to "
            "someone else."
        ),
        remediation=(
            "Use an ID on a domain you own; a provider can still run the homeserver for you "
            "behind it (/.well-known/matrix/server delegation)."
        ),
        data_keys={
            "server_name": "the ID's server name",
            "controller": "who controls it",
            "reason": "why decaudit says so",
        },
        method=(
            "The server name is attributed (decaudit's operator data); a domain no provider is "
            "known to control is presumed yours, as for an AT Protocol handle."
        ),
        scoring="pass 1.0: your domain; fail 0: an operator's.",
        references=("https://spec.matrix.org/latest/appendices/#user-identifiers",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        controller = control.name_control(view, evidence)
        data = {
            "server_name": view.server_name,
            "controller": controller.label,
            "reason": controller.reason,
        }
        found = finding(f"{view.user_id}: {controller.reason}.", "/matrix/server_name")
        if controller.is_user:
            return passed(f"{view.server_name} is yours: {controller.reason}", found, data=data)
        return failed(
            f"{controller.label} controls {view.server_name}, and with it your ID", found, data=data
        )

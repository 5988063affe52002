"""``matrix-identity-portability``: can the Matrix account move, keeping its ID?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, failed, finding, partial
from auditor.matrix import control
from auditor.matrix.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category

OWN_DOMAIN_SCORE = 0.5
"""On your own domain, you can change who runs the server behind it; the account still cannot
move."""


class MatrixIdentityPortabilityCheck:
    """Said plainly: a Matrix ID is bound to its server; no protocol moves an account."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="matrix-identity-portability",
        protocol="matrix",
        title="Your Matrix identity can outlive its homeserver",
        category=Category.PORTABILITY,
        weight=3.0,
        requires=("matrix",),
        uses=("sandbox",),
        rationale=(
            "A Matrix ID is bound to its server name: there is no account migration in the "
            "protocol, so leaving a server means a new ID, new room memberships and your "
            "contacts finding you again. Only on your own domain can you change the homeserver "
            "behind the name (by restoring its database elsewhere)."
        ),
        remediation=(
            "Use an ID on your own domain, so the server behind it can change hands; keep your "
            "encryption keys backed up (Secure Backup) either way."
        ),
        data_keys={"server_name": "the ID's server name", "own_domain": "it is yours"},
        method="The server name's controller, as matrix-name-domain finds it.",
        scoring="partial 0.5: your own domain; fail 0: an operator's (the ID ends with it).",
        references=("https://spec.matrix.org/latest/#identifiers",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        controller = control.name_control(view, evidence)
        data: dict[str, JsonValue] = {
            "server_name": view.server_name,
            "own_domain": controller.is_user,
        }
        found = finding(
            f"{view.user_id} is bound to {view.server_name} for life.", "/matrix/server_name"
        )
        if controller.is_user:
            return partial(
                "Your ID is on your own domain: the homeserver behind it can change, but the "
                "account itself cannot move to another server name",
                found,
                score=OWN_DOMAIN_SCORE,
                data=data,
            )
        return failed(
            f"Your ID is bound to {view.server_name}: leaving {controller.label} means a new ID "
            "(Matrix has no account migration)",
            found,
            data=data,
        )

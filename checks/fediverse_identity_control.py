"""``fediverse-identity-control``: who controls the actor URL, the account's identity?"""

from __future__ import annotations

from typing import ClassVar

from auditor.check import CheckMeta, EvidenceUnavailable, Outcome, failed, finding, passed
from auditor.fediverse import control
from auditor.fediverse.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category


class FediverseIdentityControlCheck:
    """On the fediverse the identity is the actor's URL: whoever runs its server holds it."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-identity-control",
        protocol="activitypub",
        title="Your fediverse identity is not held by a server operator",
        category=Category.PORTABILITY,
        weight=3.0,
        requires=("fediverse",),
        uses=("sandbox",),
        rationale=(
            "Other servers know you by your actor's URL and its key, both on your server. Its "
            "operator can change or delete them, and if the server disappears your identity "
            "does too: there is no identity apart from the server, unlike an AT Protocol DID."
        ),
        remediation=(
            "Run (or have someone run for you) a server on your own domain; before a server "
            "closes, move with the Move activity (Settings > Account > Move to a different "
            "account on Mastodon) so your followers follow you."
        ),
        data_keys={
            "actor": "the actor's URL",
            "controller": "who controls it",
            "reason": "why decaudit says so",
        },
        method="The actor's host is attributed; it is yours only on your own single-user server.",
        scoring="pass 1.0: your own server; fail 0: an operator's server.",
        references=("https://www.w3.org/TR/activitypub/#obj-id",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        controller = control.identity_control(view, evidence)
        assert view.actor is not None
        if controller is None:
            raise EvidenceUnavailable(
                f"who runs {view.host} cannot be said: it is no known operator's, and its size "
                "(NodeInfo) is unknown; audit with --own-domain if it is yours"
            )

        data = {"actor": view.actor.id, "controller": controller.label, "reason": controller.reason}
        found = finding(f"Actor {view.actor.id}: {controller.reason}.", "/fediverse/actor")
        if controller.is_user:
            return passed(
                f"Your identity is on your own server ({view.actor.host})", found, data=data
            )
        return failed(
            f"{controller.label} holds your identity: it is the URL {view.actor.id} on its "
            "server, and ends with it",
            found,
            data=data,
        )

"""``matrix-homeserver-operator``: who runs the homeserver?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.attribution import attribute_host, load_data
from auditor.check import (
    CheckMeta,
    EvidenceUnavailable,
    Outcome,
    failed,
    finding,
    partial,
    passed,
)
from auditor.matrix import control
from auditor.matrix.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category

PROVIDER_SCORE = 0.75
"""Someone else's homeserver, among many."""


class MatrixHomeserverOperatorCheck:
    """The homeserver holds the account, its login and its copy of every room it is in."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="matrix-homeserver-operator",
        protocol="matrix",
        title="Your homeserver is run by you, or by a provider you chose",
        category=Category.HOSTING,
        weight=3.0,
        requires=("matrix",),
        uses=("sandbox",),
        rationale=(
            "Your homeserver's operator can lock, reset or impersonate your account and sees "
            "your unencrypted messages; if it closes, the account closes with it."
        ),
        remediation=(
            "Run a homeserver on your own domain (Synapse, Conduit, Dendrite) or choose a "
            "provider that runs one behind your domain."
        ),
        data_keys={
            "operator": "who runs the homeserver (decaudit's data, else its registrable "
            "domain; also when self-hosted)",
            "host": "where it answers",
            "self_hosted": "on your own domain",
            "delegated": "the homeserver is on another host than the server name",
        },
        method=(
            "Server discovery's federation host (else the client API's host) is attributed; "
            "self-hosted means on the server name's own domain, which is yours."
        ),
        scoring="pass 1.0: self-hosted; partial 0.75: a provider.",
        references=("https://spec.matrix.org/latest/server-server-api/#resolving-server-names",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        controller = control.hosting_control(view, evidence)
        if controller is None or view.homeserver_host is None:
            raise EvidenceUnavailable("no homeserver was found for this ID")
        server = attribute_host(view.homeserver_host, sandbox=evidence.sandbox)
        data: dict[str, JsonValue] = {
            "operator": server.label,
            "host": view.homeserver_host,
            "self_hosted": controller.is_user,
            "delegated": view.delegated,
        }
        found = finding(f"{view.homeserver_host}: {controller.reason}.", "/matrix/discovery")
        if controller.is_user:
            return passed(f"Self-hosted: {controller.reason}", found, data=data)
        if controller.party in load_data().dominant:
            return failed(f"Hosted by {controller.label}, the dominant operator", found, data=data)
        return partial(
            f"Hosted by {controller.label} ({controller.reason}): a third party that can lock "
            "the account or close",
            found,
            score=PROVIDER_SCORE,
            data=data,
        )

"""``fediverse-instance-operator``: who runs the server, and could the user pick someone else?"""

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
from auditor.fediverse import control
from auditor.fediverse.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category

INDEPENDENT_SCORE = 0.75
"""A server of someone else's, among thousands: chosen, but a third party can still end it."""


class FediverseInstanceOperatorCheck:
    """Self-hosted beats someone else's server; the network's dominant operator, if one is ever
    listed in the data file, fails."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-instance-operator",
        protocol="activitypub",
        title="Your fediverse server is run by you, or by an operator you chose among many",
        category=Category.HOSTING,
        weight=3.0,
        requires=("fediverse",),
        uses=("sandbox",),
        rationale=(
            "Your server holds your posts and followers and speaks for you. Its operator can "
            "suspend you, defederate from others, or shut down; the fediverse's answer is that "
            "there are thousands of servers to choose from, and you can run your own."
        ),
        remediation=(
            "Pick a server whose operator you trust, or run your own (GoToSocial is light enough "
            "for one person); move with the Move activity."
        ),
        data_keys={
            "operator": "who runs the server (decaudit's data, else its registrable domain; "
            "also when self-hosted)",
            "host": "the server's host",
            "self_hosted": "your own server (your domain, at most 5 accounts)",
            "users": "accounts on the server (NodeInfo)",
            "software": "server software (NodeInfo)",
        },
        method=(
            "The actor's host is attributed; self-hosted means on the address's own domain with "
            "at most 5 accounts in NodeInfo, and not a known operator."
        ),
        scoring="pass 1.0: self-hosted; partial 0.75: another operator's server.",
        references=("https://nodeinfo.diaspora.software/protocol",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        controller = control.hosting_control(view, evidence)
        assert view.host is not None
        if controller is None:
            raise EvidenceUnavailable(
                f"who runs {view.host} cannot be said: it is no known operator's, and its size "
                "(NodeInfo) is unknown; audit with --own-domain if it is yours"
            )
        info = view.nodeinfo
        server = attribute_host(view.host, sandbox=evidence.sandbox)
        data: dict[str, JsonValue] = {
            "operator": server.label,
            "host": view.host,
            "self_hosted": controller.is_user,
            "users": info.users if info else None,
            "software": info.software if info else None,
        }
        found = finding(f"{view.host}: {controller.reason}.", "/fediverse/nodeinfo")
        if controller.is_user:
            return passed(f"Self-hosted: {controller.reason}", found, data=data)
        if controller.party in load_data().dominant:
            return failed(f"Hosted by {controller.label}, the dominant operator", found, data=data)
        return partial(
            f"Hosted by {controller.label} ({controller.reason}): one server among many, but a "
            "third party that can suspend the account or close",
            found,
            score=INDEPENDENT_SCORE,
            data=data,
        )

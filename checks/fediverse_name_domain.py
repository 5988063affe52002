"""``fediverse-name-domain``: whose domain is the address on?"""

from __future__ import annotations

from typing import ClassVar

from auditor.check import CheckMeta, EvidenceUnavailable, Outcome, failed, finding, passed
from auditor.fediverse import control
from auditor.fediverse.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category


class FediverseNameDomainCheck:
    """The address (``user@domain``) is the name people know; its domain's holder owns it."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-name-domain",
        protocol="activitypub",
        title="Your fediverse address is on a domain you control",
        category=Category.IDENTITY,
        weight=2.0,
        requires=("fediverse",),
        uses=("sandbox",),
        rationale=(
            "Your address is user@domain. Whoever holds the domain decides whether the address "
            "keeps pointing at you; on a server's domain, the address ends with the server."
        ),
        remediation=(
            "Use an address on a domain you own: run a server on it, or use a server that "
            "supports a custom domain (Mastodon's LOCAL_DOMAIN, GoToSocial's account-domain)."
        ),
        data_keys={
            "domain": "the address's domain",
            "controller": "who controls it (you, or the operator)",
            "reason": "why decaudit says so",
        },
        method=(
            "The domain is attributed (decaudit's operator data, else its registrable domain); "
            "on the server's own domain it is the server operator's unless the server is yours "
            "(your domain, at most 5 accounts in NodeInfo)."
        ),
        scoring="pass 1.0: your domain; fail 0: an operator's domain.",
        references=("https://docs.joinmastodon.org/admin/config/#local_domain",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        controller = control.name_control(view, evidence)
        if controller is None:
            raise EvidenceUnavailable(
                f"who runs {view.host} cannot be said: it is no known operator's, and its size "
                "(NodeInfo) is unknown; audit with --own-domain if it is yours"
            )
        data = {"domain": view.domain, "controller": controller.label, "reason": controller.reason}
        found = finding(f"{view.account}: {controller.reason}.", "/fediverse/webfinger")
        if controller.is_user:
            return passed(f"{view.domain} is yours: {controller.reason}", found, data=data)
        return failed(
            f"{controller.label} controls {view.domain}: {controller.reason}", found, data=data
        )

"""``account-status``: is the account active where it lives, and where it is carried?

Status is hop-by-hop (the account spec): a relay can take an account down while its PDS serves it,
and the reverse. Such a disagreement shows where the power to silence the account sits.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import hosting
from auditor.check import CheckMeta, Outcome, expect, failed, finding, info, partial, passed
from auditor.hosting import RelayState
from auditor.models.evidence import Evidence, PdsProbes
from auditor.models.report import Category, Finding

OWNER_CHOICES = frozenset({"deactivated", "deleted"})
"""Statuses the account's owner sets; not a third party's decision."""


class AccountStatusCheck:
    """Active on the PDS and on every relay that carries it."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="account-status",
        title="Your account is active on its PDS and on the relays",
        category=Category.HOSTING,
        weight=1.0,
        requires=("pds",),
        uses=("relays", "sandbox"),
        rationale=(
            "A PDS and each relay keep their own status for an account. A takedown at a relay "
            "while the PDS still serves the account (or the reverse) shows who can silence it: "
            "the relay's operator can hide it from every app that reads that relay."
        ),
        remediation=(
            "Ask the operator that took the account down for the reason and the appeal process; "
            "being carried by several independent relays (see relay-carriage) limits what one "
            "operator's decision can do."
        ),
        data_keys={
            "pds_status": "active, or the status the PDS reports (takendown, deactivated...)",
            "relay_statuses": "per relay: {url, operator, state, status}",
            "refused_by": "operators whose relays refuse the account",
        },
        method=(
            "com.atproto.sync.getRepoStatus on the PDS and on every relay (with getHostStatus "
            "for the PDS host); a relay refusing what the PDS serves is singled out."
        ),
        scoring=(
            "pass 1.0: active, no relay refuses it; partial 0.5: refused by some relays, carried "
            "by others; fail 0: refused everywhere, or inactive by the host's decision; info: "
            "deactivated by its owner."
        ),
        references=("https://atproto.com/specs/account",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        probes = expect(evidence.pds, PdsProbes)
        status_body = hosting.body(probes.repo_status)
        pds_status: str | None = None
        if status_body is not None:
            raw = status_body.get("status")
            pds_status = "active" if status_body.get("active") is True else str(raw or "inactive")
        _, pds_rev = hosting.pds_head(evidence)
        views = [hosting.relay_view(r, pds_rev, evidence.sandbox) for r in evidence.relays]
        refused = sorted({v.operator.label for v in views if v.state is RelayState.TAKEN_DOWN})
        carried = [v for v in views if v.state in (RelayState.CURRENT, RelayState.STALE)]
        data: dict[str, JsonValue] = {
            "pds_status": pds_status,
            "relay_statuses": [
                {
                    "url": v.url,
                    "operator": v.operator.label,
                    "state": v.state.value,
                    "status": v.status,
                }
                for v in views
            ],
            "refused_by": list[JsonValue](refused),
        }
        findings: list[Finding] = [
            finding(f"{v.url} ({v.operator.label}): {v.detail}", f"/relays/{i}/repo_status")
            for i, v in enumerate(views)
        ]
        if pds_status is None:
            return failed(
                f"The PDS does not report the account's status: "
                f"{hosting.failure_text(probes.repo_status)}",
                finding(hosting.failure_text(probes.repo_status), "/pds/repo_status"),
                *findings,
                data=data,
            )
        if pds_status in OWNER_CHOICES:
            return info(
                f"The account is {pds_status} on its PDS: its owner's choice, not a third party's",
                finding(f"PDS status: {pds_status}.", "/pds/repo_status"),
                *findings,
                data=data,
            )
        if pds_status != "active":
            return failed(
                f"The PDS reports the account {pds_status}: its host has taken it out of the "
                "network",
                finding(f"PDS status: {pds_status}.", "/pds/repo_status"),
                *findings,
                data=data,
            )
        if refused:
            others = "; other relays still carry it" if carried else "; no relay carries it"
            summary = (
                f"Active on its PDS but refused at {', '.join(refused)}'s relay(s){others}: "
                "that operator can hide the account from every app that reads its relays"
            )
            if carried:
                return partial(summary, *findings, score=0.5, data=data)
            return failed(summary, *findings, data=data)
        return passed("Active on its PDS, and no relay refuses it", *findings, data=data)

"""``relay-carriage``: which relays carry the account, currently, and how many operators is that?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import hosting
from auditor.check import CheckMeta, Outcome, failed, finding, not_applicable, partial, passed
from auditor.hosting import RelayState
from auditor.models.evidence import Evidence
from auditor.models.report import Category


def _crawl_requests(evidence: Evidence, views: list[hosting.RelayView]) -> str | None:
    """The concrete crawl requests for the relays that do not carry the account currently."""
    pds = hosting.pds_attribution(evidence)
    missing = [v.url for v in views if v.state is not RelayState.CURRENT]
    if pds is None or not missing:
        return None
    body = '{"hostname": "' + pds.host + '"}'
    commands = "; ".join(
        f"`curl -X POST {url}/xrpc/com.atproto.sync.requestCrawl "
        f"-H 'content-type: application/json' -d '{body}'`"
        for url in missing[:3]
    )
    return (
        f"Ask relays that do not carry it yet to crawl your PDS ({pds.host}): {commands}. "
        "On a self-hosted PDS, `pdsadmin request-crawl <relay>` does the same; a provider's "
        "PDS needs its operator to do it."
    )


class RelayCarriageCheck:
    """Carried, at the PDS's revision, by relays of at least two independent operators."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="relay-carriage",
        title="Relays of more than one operator carry your account, up to date",
        category=Category.DISTRIBUTION,
        weight=3.0,
        requires=("pds",),
        uses=("relays", "sandbox"),
        rationale=(
            "Apps do not read your PDS; they read relays, which crawl PDSes and pass every change "
            "on. If only one operator's relays carry your account, that operator's outage or "
            "decision takes your posts out of every app at once, wherever your data lives."
        ),
        remediation=(
            "Ask independent relays to crawl your PDS: `POST https://<relay>/xrpc/com.atproto."
            'sync.requestCrawl` with `{"hostname": "<your PDS host>"}` (or `pdsadmin '
            "request-crawl <relay>` on a self-hosted PDS); a provider's PDS needs its operator to "
            "do it."
        ),
        data_keys={
            "relays": "per relay: {url, operator, state, rev}; state is current, stale, "
            "not_carried, taken_down, inactive or unreachable",
            "current_operators": "distinct operators whose relays carry the account currently",
            "pds_rev": "the repository revision the PDS reports",
        },
        method=(
            "Each relay: getRepoStatus and getLatestCommit for the DID, getHostStatus for the PDS "
            "host; its rev is compared with the PDS's (TIDs sort as text). States: current, "
            "stale, not_carried, taken_down, inactive, unreachable."
        ),
        scoring=(
            "pass 1.0: relays of two or more operators carry it currently; partial 0.4: of one "
            "operator; fail 0: of none."
        ),
        references=(
            "https://atproto.com/specs/sync",
            "https://docs.bsky.app/blog/relay-sync-updates",
        ),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        if not evidence.relays:
            return not_applicable("No relay was consulted (--relay lists none)")
        _, pds_rev = hosting.pds_head(evidence)
        views = [hosting.relay_view(r, pds_rev, evidence.sandbox) for r in evidence.relays]
        current = sorted(
            {
                v.operator.operator_id: v.operator.label
                for v in views
                if v.state is RelayState.CURRENT
            }.values()
        )
        data: dict[str, JsonValue] = {
            "relays": [
                {"url": v.url, "operator": v.operator.label, "state": v.state.value, "rev": v.rev}
                for v in views
            ],
            "current_operators": len(current),
            "pds_rev": pds_rev,
        }
        findings = [
            finding(f"{v.url} ({v.operator.label}): {v.detail}", f"/relays/{i}")
            for i, v in enumerate(views)
        ]
        unreachable = sum(v.state is RelayState.UNREACHABLE for v in views)
        if len(current) >= 2:
            return passed(
                f"Carried currently by relays of {len(current)} operators: {', '.join(current)}",
                *findings,
                data=data,
            )
        remedy = _crawl_requests(evidence, views)
        if len(current) == 1:
            return partial(
                f"Carried currently only by {current[0]}'s relays: one operator's outage or "
                "decision hides it from apps",
                *findings,
                score=0.4,
                remediation=remedy,
                data=data,
            )
        note = f" ({unreachable} relay(s) could not be asked)" if unreachable else ""
        return failed(
            f"No relay carries the account at its current revision{note}: apps do not see it",
            *findings,
            remediation=remedy,
            data=data,
        )

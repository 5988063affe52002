"""``appview-dependence``: which AppViews show the account, and which labelers label it?

The outage story itself: an account whose posts only Bluesky PBC's AppView shows is invisible in
apps when that AppView fails, even if its PDS and relays are independent.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import hosting
from auditor.attribution import attribute_host, load_data
from auditor.check import CheckMeta, Outcome, failed, finding, not_applicable, partial, passed
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.report import Category


class AppViewDependenceCheck:
    """AppViews of at least two operators index the account."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="appview-dependence",
        title="Apps of more than one operator can show your posts",
        category=Category.DISTRIBUTION,
        weight=2.0,
        requires=("did_document",),
        uses=("appviews", "labelers", "did", "sandbox"),
        rationale=(
            "Apps do not show your PDS; they show an AppView's index of the network. If only one "
            "operator's AppView indexes you, its outage or moderation decision makes you "
            "invisible in apps, even with an independent PDS and relays."
        ),
        remediation=(
            "Independent AppViews index from the relays: being carried by relays they read (see "
            "relay-carriage) is how they find you. Tell your followers about apps built on an "
            "independent AppView."
        ),
        data_keys={
            "appviews": "per AppView: {url, operator, indexed}",
            "indexing_operators": "distinct operators whose AppViews index the account",
            "labels": "per labeler: {url, operator, labels} (label values applied)",
        },
        method=(
            "app.bsky.actor.getProfile on each AppView (indexed when it returns this DID), and "
            "com.atproto.label.queryLabels on each labeler."
        ),
        scoring=(
            "pass 1.0: AppViews of two or more operators index it; partial 0.5: only one "
            "independent AppView does; fail 0: only the dominant operator's, or none."
        ),
        references=("https://atproto.com/guides/glossary#app-view",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        if not evidence.appviews:
            return not_applicable("No AppView was consulted (--appview lists none)")
        rows: list[JsonValue] = []
        findings = []
        indexing: dict[str, str] = {}
        for index, probe in enumerate(evidence.appviews):
            operator = attribute_host(probe.url, sandbox=evidence.sandbox)
            profile = hosting.body(probe.profile) or {}
            indexed = isinstance(probe.profile, JsonAnswer) and profile.get("did") == evidence.did
            if indexed:
                indexing[operator.operator_id] = operator.label
            state = "indexes it" if indexed else hosting.failure_text(probe.profile)
            rows.append({"url": probe.url, "operator": operator.label, "indexed": indexed})
            findings.append(
                finding(f"{probe.url} ({operator.label}): {state}", f"/appviews/{index}")
            )
        labels: list[JsonValue] = []
        for index, labeler in enumerate(evidence.labelers):
            operator = attribute_host(labeler.url, sandbox=evidence.sandbox)
            answer = hosting.body(labeler.labels) or {}
            values = [
                str(item.get("val"))
                for item in answer.get("labels", [])
                if isinstance(item, dict) and item.get("val") is not None
            ]
            labels.append(
                {"url": labeler.url, "operator": operator.label, "labels": list[JsonValue](values)}
            )
            if values:
                findings.append(
                    finding(
                        f"{labeler.url} ({operator.label}) labels it: {', '.join(values)}",
                        f"/labelers/{index}",
                    )
                )
        data: dict[str, JsonValue] = {
            "appviews": rows,
            "indexing_operators": len(indexing),
            "labels": labels,
        }
        dominant = load_data().dominant
        if len(indexing) >= 2:
            return passed(
                f"Indexed by AppViews of {len(indexing)} operators: "
                f"{', '.join(sorted(indexing.values()))}",
                *findings,
                data=data,
            )
        if len(indexing) == 1:
            ((operator_id, label),) = indexing.items()
            if operator_id in dominant:
                return failed(
                    f"Only {label}'s AppView shows this account: if it fails, the account is "
                    "invisible in apps",
                    *findings,
                    data=data,
                )
            return partial(
                f"Only {label}'s AppView shows this account (an independent one)",
                *findings,
                score=0.5,
                data=data,
            )
        return failed("No AppView consulted indexes this account", *findings, data=data)

"""``pds-operator``: who serves the account's data, and could the user pick someone else?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import hosting
from auditor.attribution import load_data
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import Evidence, PdsProbes
from auditor.models.report import Category

INDEPENDENT_SCORE = 0.75
"""An independent provider: the account is off the dominant operator, but a third party still
hosts it and can take it down."""


class PdsOperatorCheck:
    """Self-hosted beats an independent provider beats the network's dominant operator."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="pds-operator",
        title="Your data is hosted by you, or by a provider other than the dominant one",
        category=Category.HOSTING,
        weight=3.0,
        requires=("pds",),
        uses=("did_document", "sandbox"),
        rationale=(
            "Your PDS holds your posts, follows and media, and speaks for your account. Whoever "
            "runs it can suspend the account, lose the data, or refuse to let it leave. When "
            "nearly everyone is on one operator's servers, that operator's outage is everyone's "
            "outage."
        ),
        remediation=(
            "Move to an independent PDS provider, or run your own PDS (bluesky-social/pds is "
            "the reference server), with `goat account migrate`; keep a rotation key of your own "
            "first (see rotation-key-custody)."
        ),
        data_keys={
            "operator": "who runs the PDS (attribution data, else its registrable domain)",
            "host": "the PDS hostname",
            "self_hosted": "the PDS is on the account's own domain and is not a service",
            "self_hosted_reason": "why decaudit says so",
            "dominant_operator": "the PDS belongs to the network's dominant operator",
            "version": "software version from /xrpc/_health, when given",
        },
        method=(
            "The PDS endpoint is attributed; self-hosted means on the account's own domain "
            "(handle or did:web) and at most 5 accounts on the first listRepos page; the "
            "dominant operator is the one public measurements show hosting nearly every account."
        ),
        scoring=(
            "pass 1.0: self-hosted; partial 0.75: an independent provider; fail 0: the dominant "
            "operator."
        ),
        references=(
            "https://atproto.com/guides/self-hosting",
            "https://atproto.com/guides/account-migration",
        ),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        probes = expect(evidence.pds, PdsProbes)
        owner = hosting.pds_attribution(evidence)
        assert owner is not None
        verdict = hosting.self_hosting(evidence)
        health = hosting.body(probes.health) or {}
        version = health.get("version") if isinstance(health.get("version"), str) else None
        dominant = owner.operator_id in load_data().dominant
        data: dict[str, JsonValue] = {
            "operator": owner.label,
            "host": owner.host,
            "self_hosted": verdict.self_hosted,
            "self_hosted_reason": verdict.reason,
            "dominant_operator": dominant,
            "version": version,
        }
        where = "/pds"
        found = finding(f"PDS {probes.endpoint}: {owner.label} ({owner.source}).", where)
        if verdict.self_hosted:
            return passed(
                f"Self-hosted: {verdict.reason}", found, finding(verdict.reason, where), data=data
            )
        if dominant:
            return failed(
                f"Hosted by {owner.label}, the operator that hosts nearly every account on the "
                "network: its outage or decision is yours too",
                found,
                data=data,
            )
        return partial(
            f"Hosted by {owner.label}, an independent provider: not the dominant operator, but a "
            "third party that can still suspend the account or go away",
            found,
            score=INDEPENDENT_SCORE,
            data=data,
        )

"""``fediverse-discovery``: does the address lead, verifiably, to this account?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, finding, partial, passed
from auditor.fediverse.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category

NO_KEY_SCORE = 0.5
"""Found, but without a public key other servers cannot check what it signs."""


class FediverseDiscoveryCheck:
    """WebFinger, then the actor, then (for a custom domain) the actor's own server agreeing."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-discovery",
        protocol="activitypub",
        title="Your address leads other servers to your account, and they can verify it",
        category=Category.IDENTITY,
        weight=1.0,
        requires=("fediverse",),
        uses=("sandbox",),
        rationale=(
            "Other servers find a fediverse account by asking WebFinger on the address's domain, "
            "then fetch the actor it links to and check its signatures with the actor's public "
            "key. If that chain breaks, people cannot follow you or trust what you post."
        ),
        remediation=(
            "Ask your server's administrator to fix WebFinger and the actor document (RFC 7033, "
            "ActivityPub); for a custom domain, forward /.well-known/webfinger to your server."
        ),
        data_keys={
            "account": "the address audited",
            "actor": "the actor's id (its URL)",
            "server": "the host that serves the actor",
            "custom_domain": "the address's domain is not the server's",
            "public_key": "the actor publishes a public key",
        },
        method=(
            "WebFinger on the address's domain must name an actor whose document carries that "
            "URL as its id; when the actor is on another host, that host's WebFinger for the "
            "actor's name must name the same actor and give this address as its subject."
        ),
        scoring=(
            "pass 1.0: verified with a public key; partial 0.5: verified, but no public key, or "
            "the actor's server answers unsigned requests only in part (authorized fetch) or "
            "not at all (401)."
        ),
        references=(
            "https://www.rfc-editor.org/rfc/rfc7033",
            "https://docs.joinmastodon.org/spec/webfinger/",
        ),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        actor = view.actor
        assert actor is not None
        data: dict[str, JsonValue] = {
            "account": view.account,
            "actor": actor.id,
            "server": actor.host,
            "custom_domain": view.delegated,
            "public_key": actor.has_public_key,
        }
        found = (
            finding(f"WebFinger on {view.domain} links to {actor.id}.", "/fediverse/webfinger"),
            finding(view.reason.capitalize() + ".", "/fediverse/actor"),
        )
        if actor.signed_fetch_only:
            return partial(
                f"{view.account} leads to {actor.id}, whose server answers only signed requests: "
                "decaudit could not read the actor itself",
                *found,
                score=NO_KEY_SCORE,
                data=data,
            )
        if actor.restricted:
            return partial(
                f"{view.account} leads to {actor.id}, but its server gives unsigned requests only "
                "a restricted actor (authorized fetch): its outbox, collections and any move are "
                "not known",
                *found,
                score=NO_KEY_SCORE,
                data=data,
            )
        if not actor.has_public_key:
            return partial(
                f"{view.account} leads to {actor.id}, which publishes no public key",
                *found,
                score=NO_KEY_SCORE,
                data=data,
            )
        return passed(f"{view.account} leads to {actor.id}, verified", *found, data=data)

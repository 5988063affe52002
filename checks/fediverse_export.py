"""``fediverse-export``: can the account holder take their data away?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, failed, finding, partial, passed
from auditor.fediverse import control
from auditor.fediverse.account import required_view
from auditor.fediverse.software import exit_of
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.fediverse import FediverseProbes
from auditor.models.report import Category

DOCUMENTED_SCORE = 0.5
"""An export the software documents, which decaudit cannot download without the login."""
PUBLIC_OUTBOX_SCORE = 0.25
"""Only the public posts are readable by anyone (a copy is possible, not an export)."""


class FediverseExportCheck:
    """An ActivityPub account has no public, verifiable export like an AT Protocol repository:
    what there is depends on the software, behind the login."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-export",
        protocol="activitypub",
        title="You can take a copy of your fediverse data",
        category=Category.EXPORTABILITY,
        weight=2.0,
        requires=("fediverse",),
        uses=("sandbox",),
        rationale=(
            "Without a copy of your posts, media and social graph, leaving a server means "
            "losing them. ActivityPub defines no export: each server software offers its own, "
            "behind your login, and no other server can import your posts."
        ),
        remediation=(
            "Download your archive regularly (Mastodon: Preferences > Import and export > "
            "Request your archive); keep the CSV of follows for a move."
        ),
        data_keys={
            "self_hosted": "you run the server (you hold its database)",
            "software": "server software",
            "documented_export": "what the software's export contains (null: unknown)",
            "public_posts": "posts in the public outbox (null: not readable)",
        },
        method=(
            "Self-hosted passes (the database is yours); otherwise the software from NodeInfo is "
            "looked up in decaudit's table of documented exports (not verified: it needs your "
            "login), and the outbox is read to see whether public posts are copyable."
        ),
        scoring=(
            "pass 1.0: self-hosted; partial 0.5: a documented export; partial 0.25: only a "
            "public outbox; fail 0: neither."
        ),
        references=("https://docs.joinmastodon.org/user/moving/#export",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        probes = evidence.fediverse
        assert isinstance(probes, FediverseProbes)
        software = view.nodeinfo.software if view.nodeinfo else None
        known = exit_of(software)
        outbox = probes.outbox.body if isinstance(probes.outbox, JsonAnswer) else None
        total = outbox.get("totalItems") if isinstance(outbox, dict) else None
        posts = total if isinstance(total, int) and not isinstance(total, bool) else None
        self_hosted = control.self_hosted(view, evidence)
        data: dict[str, JsonValue] = {
            "self_hosted": self_hosted,
            "software": software,
            "documented_export": known.export if known else None,
            "public_posts": posts,
        }
        outbox_note = finding(
            f"The public outbox lists {posts:,} posts."
            if posts is not None
            else "The outbox could not be read.",
            "/fediverse/outbox",
        )
        if self_hosted:
            return passed("You run the server: its database is your copy", outbox_note, data=data)
        if known is not None:
            return partial(
                f"{software} documents an export ({known.export}); decaudit cannot verify it "
                "without your login",
                finding(f"Documented at {known.source}.", "/fediverse/nodeinfo"),
                outbox_note,
                score=DOCUMENTED_SCORE,
                data=data,
            )
        if posts is not None:
            return partial(
                "No documented export is known for this server; only your public posts can be "
                "copied from its outbox",
                outbox_note,
                score=PUBLIC_OUTBOX_SCORE,
                data=data,
            )
        return failed("No way to take your data elsewhere was found", outbox_note, data=data)

"""``fediverse-account-move``: can the account move to another server, and has it?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, failed, finding, info, partial
from auditor.fediverse.account import required_view
from auditor.fediverse.documents import read_actor
from auditor.fediverse.software import can_move, exit_of
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.fediverse import FediverseProbes
from auditor.models.report import Category

MOVE_SCORE = 0.5
"""A Move takes followers along; posts, media and the address stay behind."""


class FediverseAccountMoveCheck:
    """Moving on the fediverse is a redirect: followers follow, the rest does not."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-account-move",
        protocol="activitypub",
        title="You can move your fediverse account to another server",
        category=Category.PORTABILITY,
        weight=2.0,
        requires=("fediverse",),
        rationale=(
            "If your server closes or turns against you, moving is your exit. The ActivityPub "
            "Move activity redirects your followers to a new account; your posts, media and "
            "address do not come along, and the old server must still be up to announce it."
        ),
        remediation=(
            "Move while your server is up: create the new account, add the old one as an alias, "
            "then start the move from the old one; keep your data export too."
        ),
        data_keys={
            "software": "server software (NodeInfo)",
            "version": "its version",
            "can_move": "its documentation says it can send a Move (null: unknown software)",
            "moved_to": "the account this one moved to, if it has",
            "move_confirmed": "the new account names this one in alsoKnownAs",
        },
        method=(
            "The actor's movedTo is followed and the new actor's alsoKnownAs checked; otherwise "
            "the software and version from NodeInfo are compared with what the software "
            "documents (Mastodon since 3.0, GoToSocial)."
        ),
        scoring=(
            "partial 0.5: the software documents Move (followers only); fail 0: it documents no "
            "way; info: the account has already moved, or the software is unknown."
        ),
        references=(
            "https://docs.joinmastodon.org/user/moving/",
            "https://docs.gotosocial.org/en/latest/user_guide/migration/",
        ),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        probes = evidence.fediverse
        assert isinstance(probes, FediverseProbes) and view.actor is not None
        software = view.nodeinfo.software if view.nodeinfo else None
        version = view.nodeinfo.version if view.nodeinfo else None
        movable = can_move(software, version)
        data: dict[str, JsonValue] = {
            "software": software,
            "version": version,
            "can_move": movable,
            "moved_to": view.actor.moved_to,
            "move_confirmed": None,
        }
        if view.actor.moved_to is not None:
            return self._moved(view.actor.id, view.actor.moved_to, probes, data)
        known = exit_of(software)
        where = "/fediverse/nodeinfo"
        hidden = view.actor.restricted or view.actor.signed_fetch_only
        note = (
            (
                finding(
                    "Whether it has moved is not known: the actor was not readable whole.",
                    "/fediverse/actor",
                ),
            )
            if hidden
            else ()
        )
        if movable:
            assert known is not None
            return partial(
                f"{software} {version} can move the account: followers follow, posts and the "
                "address stay behind",
                finding(f"{software} documents the Move activity ({known.source}).", where),
                *note,
                score=MOVE_SCORE,
                data=data,
            )
        if movable is False:
            return failed(
                f"{software} {version} documents no way to move an account",
                finding("Its documentation names no Move support for this version.", where),
                *note,
                data=data,
            )
        return info(
            f"Whether {software or 'this server software'} can move an account is not known to "
            "decaudit",
            finding("The software is not in decaudit's table of documented exits.", where),
            *note,
            data=data,
        )

    def _moved(
        self, old: str, new: str, probes: FediverseProbes, data: dict[str, JsonValue]
    ) -> Outcome:
        target = probes.moved_to
        actor = read_actor(target.body, new) if isinstance(target, JsonAnswer) else None
        confirmed = actor is not None and not isinstance(actor, str) and old in actor.also_known_as
        data["move_confirmed"] = confirmed
        how = (
            f"{new} names this account in alsoKnownAs"
            if confirmed
            else f"{new} does not confirm it (no alsoKnownAs naming this account)"
        )
        return info(
            f"This account has moved to {new}; {how}",
            finding(f"movedTo: {new}.", "/fediverse/actor"),
            finding(how[0].upper() + how[1:] + ".", "/fediverse/moved_to"),
            data=data,
        )

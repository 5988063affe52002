"""``fediverse-federation``: does the server federate, so the account reaches other servers?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, failed, finding, partial, passed
from auditor.fediverse.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.fediverse import FediverseProbes
from auditor.models.report import Category
from auditor.models.slots import failure_text

UNCONFIRMED_SCORE = 0.5
"""The server hides its peer list: it may federate, decaudit cannot tell."""


class FediverseFederationCheck:
    """Federation is the fediverse's distribution: posts are delivered to, and kept by, the
    servers of the account's followers."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-federation",
        protocol="activitypub",
        title="Your server federates: your posts reach, and are kept by, other servers",
        category=Category.DISTRIBUTION,
        weight=2.0,
        requires=("fediverse",),
        rationale=(
            "A federating server delivers your posts to your followers' servers, which keep "
            "copies for their users: many independent operators carry you. A server that "
            "federates with nobody keeps you to itself; one in Mastodon's limited federation "
            "mode, only with the servers its admins allow."
        ),
        remediation=(
            "Choose a server that federates openly, or ask its administrator why it does not."
        ),
        data_keys={
            "peers": "servers its peer list names, the servers it knows of (null: not public)",
            "sample": "a few of them",
        },
        method=(
            "Mastodon's /api/v1/instance/peers lists the servers it knows of (has exchanged "
            "with): a non-empty list shows it federates; an empty list, that it never has; a "
            "refusal (the setting off, or limited federation mode) leaves it unconfirmed."
        ),
        scoring="pass 1.0: peers listed; partial 0.5: peer list not public; fail 0: no peers.",
        references=("https://docs.joinmastodon.org/methods/instance/#peers",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        probes = evidence.fediverse
        assert isinstance(probes, FediverseProbes)
        where = "/fediverse/peers"
        if view.peers is None:
            why = failure_text(probes.peers)
            return partial(
                f"{view.host} does not publish its peer list: whether it federates is unconfirmed",
                finding(f"The peer list could not be had: {why}.", where),
                score=UNCONFIRMED_SCORE,
                data={"peers": None, "sample": []},
            )
        sample: list[JsonValue] = list(probes.peers.sample)  # type: ignore[union-attr]
        data: dict[str, JsonValue] = {"peers": view.peers, "sample": sample}
        if view.peers == 0:
            return failed(
                f"{view.host} has never federated: its peer list names no other server",
                finding("Its peer list is empty.", where),
                data=data,
            )
        return passed(
            f"{view.host} federates: its peer list names {view.peers:,} servers it knows of",
            finding(f"Its peer list names {view.peers:,} servers.", where),
            data=data,
        )

"""``fediverse-instance``: what the server says about itself (context, not scored)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, finding, info
from auditor.fediverse.account import required_view
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.fediverse import FediverseProbes
from auditor.models.report import Category


class FediverseInstanceCheck:
    """NodeInfo and Mastodon's instance API: software, size, whether newcomers can join."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="fediverse-instance",
        protocol="activitypub",
        title="What your fediverse server says about itself",
        category=Category.HOSTING,
        weight=0.0,
        requires=("fediverse",),
        rationale=(
            "A server's size and whether it takes new accounts show how concentrated the "
            "network is around it, and whether others could choose it as you did."
        ),
        remediation="Nothing to do: context only.",
        data_keys={
            "software": "server software",
            "version": "its version",
            "users": "accounts on the server",
            "open_registrations": "anyone can sign up",
            "approval_required": "sign-ups need approval (Mastodon instance API)",
        },
        method="NodeInfo 2.x and, where the server has it, Mastodon's /api/v2/instance.",
        scoring="info: not scored.",
        references=("https://nodeinfo.diaspora.software/protocol",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        probes = evidence.fediverse
        assert isinstance(probes, FediverseProbes)
        node = view.nodeinfo
        api = probes.instance.body if isinstance(probes.instance, JsonAnswer) else None
        registrations = api.get("registrations") if isinstance(api, dict) else None
        approval = (
            registrations.get("approval_required") if isinstance(registrations, dict) else None
        )
        data: dict[str, JsonValue] = {
            "software": node.software if node else None,
            "version": node.version if node else None,
            "users": node.users if node else None,
            "open_registrations": node.open_registrations if node else None,
            "approval_required": approval if isinstance(approval, bool) else None,
        }
        if node is None:
            return info(
                f"{view.host} publishes no NodeInfo",
                finding("No NodeInfo 2.x document could be had.", "/fediverse/nodeinfo"),
                data=data,
            )
        if node.users is None:
            users = "an unknown size"
        else:
            users = "1 account" if node.users == 1 else f"{node.users:,} accounts"
        joining = {True: "open to new accounts", False: "closed to new accounts", None: ""}[
            node.open_registrations
        ]
        summary = f"{view.host} runs {node.software} {node.version}, {users}"
        return info(
            summary + (f", {joining}" if joining else ""),
            finding(f"NodeInfo: {summary}.", "/fediverse/nodeinfo"),
            data=data,
        )

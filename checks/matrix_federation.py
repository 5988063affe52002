"""``matrix-federation``: can other servers find and talk to the homeserver?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, failed, finding, passed
from auditor.matrix.account import required_view
from auditor.models.evidence import Evidence
from auditor.models.report import Category


class MatrixFederationCheck:
    """Discovery, then the federation API, then the server's own signature on its keys."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="matrix-federation",
        protocol="matrix",
        title="Your homeserver federates: other servers can find it and verify it",
        category=Category.DISTRIBUTION,
        weight=2.0,
        requires=("matrix",),
        rationale=(
            "Federation is how a Matrix room lives on every participating server at once, so "
            "no single server owns the conversation. A homeserver others cannot reach is an "
            "island: its users talk only to each other."
        ),
        remediation=(
            "Publish /.well-known/matrix/server (or an SRV record) and open the federation "
            "port; ask your provider whether federation is disabled."
        ),
        data_keys={
            "federation_address": "host:port that discovery found",
            "discovery": "each discovery step",
            "software": "server software and version (federation API)",
            "keys_verified": "the key answer is signed by the server name",
        },
        method=(
            "Server-name resolution as the spec orders it (well-known, SRV, port 8448), then "
            "/_matrix/federation/v1/version and /_matrix/key/v2/server, whose self-signature "
            "is verified over canonical JSON with the key it lists."
        ),
        scoring="pass 1.0: reachable with verified keys; fail 0: not reachable, or not its keys.",
        references=("https://spec.matrix.org/latest/server-server-api/",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        probes = evidence.matrix
        steps = list(getattr(probes, "discovery", []))
        data: dict[str, JsonValue] = {
            "federation_address": getattr(probes, "federation_address", None),
            "discovery": list(steps),
            "software": view.software,
            "keys_verified": bool(view.keys and view.keys.valid),
        }
        found = [finding(step[0].upper() + step[1:] + ".", "/matrix/discovery") for step in steps]
        found.append(
            finding(
                view.federation_reason[0].upper() + view.federation_reason[1:] + ".",
                "/matrix/server_keys",
            )
        )
        if view.federates:
            return passed(
                f"{view.server_name} federates: {view.federation_reason}", *found, data=data
            )
        return failed(
            f"{view.server_name} does not federate: {view.federation_reason}", *found, data=data
        )

"""``matrix-homeserver``: what the homeserver says about itself (context, not scored)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, finding, info
from auditor.matrix.account import required_view
from auditor.models.evidence import Evidence, JsonAnswer
from auditor.models.matrix import MatrixProbes
from auditor.models.report import Category


class MatrixHomeserverCheck:
    """Software, the client API's spec versions, and whether the profile is public."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="matrix-homeserver",
        protocol="matrix",
        title="What your homeserver says about itself",
        category=Category.HOSTING,
        weight=0.0,
        requires=("matrix",),
        rationale="Which software runs the account, and which spec versions it speaks.",
        remediation="Nothing to do: context only.",
        data_keys={
            "software": "name and version from the federation API",
            "client_versions": "spec versions the client API supports",
            "profile_public": "the profile can be read without logging in (null: unknown)",
        },
        method="/_matrix/federation/v1/version, /_matrix/client/versions, the public profile.",
        scoring="info: not scored.",
        references=("https://spec.matrix.org/latest/client-server-api/#get_matrixclientversions",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        view = required_view(evidence)
        probes = evidence.matrix
        assert isinstance(probes, MatrixProbes)
        body = (
            probes.client_versions.body if isinstance(probes.client_versions, JsonAnswer) else None
        )
        raw = body.get("versions") if isinstance(body, dict) else None
        versions: list[JsonValue] = (
            [v for v in raw[:32] if isinstance(v, str)] if isinstance(raw, list) else []
        )
        data: dict[str, JsonValue] = {
            "software": view.software,
            "client_versions": versions,
            "profile_public": view.profile_found,
        }
        software = view.software or "unnamed software (its federation API did not say)"
        return info(
            f"{view.homeserver_host or view.server_name} runs {software}",
            finding(
                f"Client API versions: {', '.join(map(str, versions)) or 'none'}.",
                "/matrix/client_versions",
            ),
            data=data,
        )

"""``pds-availability``: does the server the DID document names answer at all?"""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor import hosting
from auditor.check import CheckMeta, Outcome, expect, failed, finding, partial, passed
from auditor.models.evidence import Evidence, JsonAnswer, PdsProbes
from auditor.models.report import Category


class PdsAvailabilityCheck:
    """The PDS answers its health check and describes itself."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="pds-availability",
        title="Your PDS is up and answering",
        category=Category.HOSTING,
        weight=1.0,
        requires=("pds",),
        rationale=(
            "An account lives where its DID document points. If that server does not answer, "
            "nothing new can be written and nobody can fetch what was written, however "
            "decentralized everything else is."
        ),
        remediation=(
            "If you run the server, bring it back (check /xrpc/_health). If a provider does, "
            "contact it; with a rotation key and a backup of your own you can move elsewhere "
            "without its help."
        ),
        data_keys={
            "reachable": "the PDS answered /xrpc/_health",
            "describes_itself": "the PDS answered com.atproto.server.describeServer",
            "error": "why it did not answer, when it did not",
        },
        method=(
            "/xrpc/_health and com.atproto.server.describeServer on the PDS the DID document names."
        ),
        scoring=("pass 1.0: both answer; partial 0.5: one does; fail 0: neither."),
        references=("https://atproto.com/specs/account",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        probes = expect(evidence.pds, PdsProbes)
        healthy = isinstance(probes.health, JsonAnswer)
        described = isinstance(probes.describe_server, JsonAnswer)
        error = None if healthy else hosting.failure_text(probes.health)
        data: dict[str, JsonValue] = {
            "reachable": healthy,
            "describes_itself": described,
            "error": error,
        }
        if healthy and described:
            return passed(
                f"{probes.endpoint} answers its health check and describes itself",
                finding("/xrpc/_health answered.", "/pds/health"),
                data=data,
            )
        if healthy or described:
            missing = "describeServer" if healthy else "/xrpc/_health"
            slot = probes.describe_server if healthy else probes.health
            return partial(
                f"{probes.endpoint} answers, but not {missing}: {hosting.failure_text(slot)}",
                finding(hosting.failure_text(slot), "/pds"),
                score=0.5,
                data=data,
            )
        return failed(
            f"{probes.endpoint} does not answer: {error}",
            finding(str(error), "/pds/health"),
            data=data,
        )

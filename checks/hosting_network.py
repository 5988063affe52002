"""``hosting-network``: whose network the PDS's addresses belong to (informational)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import JsonValue

from auditor.check import CheckMeta, Outcome, finding, info
from auditor.models.common import ProbeFailure
from auditor.models.evidence import Evidence, NetworkOrigins
from auditor.models.report import Category


def _fields(record: str) -> list[str]:
    return [part.strip() for part in record.split("|")]


class HostingNetworkCheck:
    """The autonomous systems (ASNs) announcing the PDS's addresses."""

    meta: ClassVar[CheckMeta] = CheckMeta(
        id="hosting-network",
        title="The network your PDS runs on",
        category=Category.HOSTING,
        weight=0.0,
        uses=("hosting_network",),
        rationale=(
            "Even an independent PDS usually runs in someone's data centre. If most of the "
            "network's servers sit in one cloud provider, that provider is a single point of "
            "failure no PDS operator controls. Shown for context; not scored."
        ),
        remediation="Nothing to do; shown for context.",
        data_keys={
            "host": "the PDS hostname",
            "addresses": "its addresses",
            "networks": "per AS: {asn, name, prefix, country}",
        },
        method=(
            "The PDS host's addresses, then Team Cymru's DNS origin records for each "
            "(origin.asn.cymru.com, AS<n>.asn.cymru.com); no other service is contacted."
        ),
        scoring=("informational: never scored."),
        references=("https://www.team-cymru.com/ip-asn-mapping",),
    )

    def evaluate(self, evidence: Evidence) -> Outcome:
        origins = evidence.hosting_network
        if not isinstance(origins, NetworkOrigins):
            reason = origins.message if isinstance(origins, ProbeFailure) else origins.reason
            return info(
                f"Skipped: the PDS's network could not be looked up over DNS ({reason})",
                data={"host": None, "addresses": [], "networks": []},
            )
        names: dict[str, str] = {}
        for lookup in origins.lookups:
            if lookup.name.lower().startswith("as") and lookup.records:
                fields = _fields(lookup.records[0])
                names[fields[0]] = fields[-1] if len(fields) >= 5 else ""
        networks: list[JsonValue] = []
        for lookup in origins.lookups:
            if ".origin" not in lookup.name or not lookup.records:
                continue
            fields = _fields(lookup.records[0])
            asn = fields[0].split(" ")[0]
            networks.append(
                {
                    "asn": asn,
                    "name": names.get(asn, ""),
                    "prefix": fields[1] if len(fields) > 1 else "",
                    "country": fields[2] if len(fields) > 2 else "",
                }
            )
        data: dict[str, JsonValue] = {
            "host": origins.host,
            "addresses": list[JsonValue](origins.addresses),
            "networks": networks,
        }
        if not networks:
            return info(
                f"No origin record for {origins.host}'s addresses: the network is unknown",
                finding(f"{origins.host}: {', '.join(origins.addresses)}", "/hosting_network"),
                data=data,
            )
        described = "; ".join(
            f"AS{n['asn']} {n['name']}".strip() for n in networks if isinstance(n, dict)
        )
        return info(
            f"{origins.host} is announced by {described}",
            finding(
                f"{origins.host} ({', '.join(origins.addresses)}): {described}", "/hosting_network"
            ),
            data=data,
        )

"""Who controls each layer of a Matrix account.

A Matrix ID names its server for life, so the identity and the name are one layer seen twice:
whoever controls the server name. Unlike an AT Protocol handle, a Matrix ID proves nothing about
who holds its domain, so a server name no operator data names is not presumed the account
holder's: it is the domain's (a third party, named after it) unless the person running the audit
declares it theirs with ``--own-domain`` (the report prints the claim). An IP literal is whoever
holds the address. The hosting is whoever runs the homeserver, which may be a provider behind
the holder's own domain. Distribution is federation: rooms are replicated on every
participating server.
"""

from __future__ import annotations

from auditor.attribution import AttributionBasis, attribute_host, registrable_domain
from auditor.control import FEDERATION, Controller, declared_own, you
from auditor.matrix.account import MatrixView
from auditor.models.evidence import Evidence


def name_control(view: MatrixView, evidence: Evidence) -> Controller:
    """Who controls the server name, and so the ID."""
    host = view.server_host
    owner = attribute_host(host, sandbox=evidence.sandbox)
    if owner.is_known_operator:
        return Controller(owner.operator_id, owner.label, f"{view.server_name} is its server name")
    if owner.basis is AttributionBasis.IP_ADDRESS:
        return Controller(host, host, f"the server name is the IP address {host}")
    if declared_own(host, evidence):
        return you(f"you declared {registrable_domain(host)} yours (--own-domain)")
    return Controller(
        owner.operator_id,
        owner.label,
        f"nothing shows whose {view.server_name} is (if it is yours, audit with --own-domain "
        f"{registrable_domain(host) or host})",
    )


def self_hosted(view: MatrixView, evidence: Evidence) -> bool:
    """The homeserver is on the server name's own domain, which is the account holder's."""
    if view.homeserver_host is None or not name_control(view, evidence).is_user:
        return False
    if attribute_host(view.homeserver_host, sandbox=evidence.sandbox).is_known_operator:
        return False
    homeserver, server = (
        registrable_domain(view.homeserver_host),
        registrable_domain(view.server_host),
    )
    return homeserver is not None and homeserver == server


def hosting_control(view: MatrixView, evidence: Evidence) -> Controller | None:
    if view.homeserver_host is None:
        return None
    if self_hosted(view, evidence):
        return you(f"{view.homeserver_host} is on your own domain")
    owner = attribute_host(view.homeserver_host, sandbox=evidence.sandbox)
    return Controller(owner.operator_id, owner.label, f"it runs {view.homeserver_host}")


def carriers(view: MatrixView, evidence: Evidence) -> dict[str, str] | None:
    host = hosting_control(view, evidence)
    if host is None or view.federates is None:
        return None
    found = {host.party: host.label}
    if view.federates:
        found[FEDERATION] = "every server in your rooms keeps a copy"
    return found

"""Who controls each layer of a Matrix account.

A Matrix ID names its server for life, so the identity and the name are one layer seen twice:
whoever controls the server name's domain. The hosting is whoever runs the homeserver, which may
be a provider behind the user's own domain. Distribution is federation: rooms are replicated on
every participating server.
"""

from __future__ import annotations

from auditor.attribution import attribute_host, registrable_domain
from auditor.control import FEDERATION, USER, Controller
from auditor.matrix.account import MatrixView


def _you(reason: str) -> Controller:
    return Controller(USER, "you", reason)


def name_control(view: MatrixView, sandbox: bool) -> Controller:
    """Who controls the server name (and so the ID): a known operator, else the domain's holder,
    presumed to be the account holder (as for an AT Protocol handle on an unknown domain)."""
    owner = attribute_host(view.server_host, sandbox=sandbox)
    if owner.is_known_operator:
        return Controller(owner.operator_id, owner.label, f"{view.server_name} is its server name")
    return _you(f"{view.server_name} is a domain no provider is known to control")


def self_hosted(view: MatrixView, sandbox: bool) -> bool:
    """The homeserver is on the server name's own domain, which is the account holder's."""
    if view.homeserver_host is None or not name_control(view, sandbox).is_user:
        return False
    owner = attribute_host(view.homeserver_host, sandbox=sandbox)
    return not owner.is_known_operator and registrable_domain(
        view.homeserver_host
    ) == registrable_domain(view.server_host)


def hosting_control(view: MatrixView, sandbox: bool) -> Controller | None:
    if view.homeserver_host is None:
        return None
    if self_hosted(view, sandbox):
        return _you(f"{view.homeserver_host} is on your own domain")
    owner = attribute_host(view.homeserver_host, sandbox=sandbox)
    return Controller(owner.operator_id, owner.label, f"it runs {view.homeserver_host}")


def carriers(view: MatrixView, sandbox: bool) -> dict[str, str] | None:
    host = hosting_control(view, sandbox)
    if host is None or view.federates is None:
        return None
    found = {host.party: host.label}
    if view.federates:
        found[FEDERATION] = "every server in your rooms"
    return found

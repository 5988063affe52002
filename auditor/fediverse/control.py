"""Who controls each layer of a fediverse account: the identity (the actor's URL), the name (the
address's domain), the hosting (the instance) and the distribution (federation).

The same :class:`~auditor.control.Controller` vocabulary as AT Protocol accounts, so one set of
gates and one dependency graph serve every network. A server counts as the account holder's own
when it is on the address's own domain, is no known operator's, and either serves at most
:data:`FEW_USERS` accounts (NodeInfo) or its domain was declared the holder's (``--own-domain``).
A server whose size is unknown and whose domain nobody declared is nobody decaudit can name:
the layer is then unknown, never guessed.
"""

from __future__ import annotations

from auditor.attribution import attribute_host, registrable_domain
from auditor.control import FEDERATION, Controller, declared_own, you
from auditor.fediverse.account import AccountView
from auditor.models.evidence import Evidence

FEW_USERS = 5
"""At most this many accounts: a personal server, not a service (as ``FEW_REPOS`` for a PDS)."""


def self_hosted(view: AccountView, evidence: Evidence) -> bool:
    """The server is the account holder's (see the module docstring)."""
    if view.host is None or attribute_host(view.host, sandbox=evidence.sandbox).is_known_operator:
        return False
    host_domain, address_domain = registrable_domain(view.host), registrable_domain(view.domain)
    if host_domain is None or host_domain != address_domain:
        return False
    users = view.nodeinfo.users if view.nodeinfo else None
    return (users is not None and users <= FEW_USERS) or declared_own(view.host, evidence)


def _users(view: AccountView) -> str:
    users = view.nodeinfo.users if view.nodeinfo else None
    if users is None:
        return "an unknown number of accounts"
    return "1 account" if users == 1 else f"{users:,} accounts"


def _server_owner(view: AccountView, evidence: Evidence, what: str) -> Controller | None:
    """The server's operator: known, or named after its domain when NodeInfo shows a service;
    None when neither (an unknown server of unknown size)."""
    assert view.host is not None
    owner = attribute_host(view.host, sandbox=evidence.sandbox)
    users = view.nodeinfo.users if view.nodeinfo else None
    if owner.is_known_operator or (users is not None and users > FEW_USERS):
        return Controller(owner.operator_id, owner.label, what)
    return None


def hosting_control(view: AccountView, evidence: Evidence) -> Controller | None:
    """Who runs the server that hosts the actor."""
    if view.host is None:
        return None
    if self_hosted(view, evidence):
        return you(f"{view.host} is on your own domain and serves {_users(view)}")
    return _server_owner(view, evidence, f"it runs {view.host} ({_users(view)})")


def identity_control(view: AccountView, evidence: Evidence) -> Controller | None:
    """Who controls the actor's URL, which *is* the account's identity on the network: whoever
    runs the server it is on."""
    if view.actor is None:
        return None
    if self_hosted(view, evidence):
        return you(f"the actor {view.actor.id} is on your own server")
    return _server_owner(view, evidence, f"the account's identity is the URL {view.actor.id}")


def name_control(view: AccountView, evidence: Evidence) -> Controller | None:
    """Who controls the address's domain (the name people see and type)."""
    if view.actor is None:
        return None
    owner = attribute_host(view.domain, sandbox=evidence.sandbox)
    if owner.is_known_operator:
        return Controller(owner.operator_id, owner.label, f"{view.domain} is its domain")
    hosting = hosting_control(view, evidence)
    if registrable_domain(view.domain) == registrable_domain(view.actor.host):
        # the server's own domain, even when its accounts' addresses use a shorter name
        if hosting is None:
            return None
        if hosting.is_user:
            return you(f"{view.domain} is your own server's domain")
        return Controller(hosting.party, hosting.label, f"{view.domain} is its server's domain")
    if declared_own(view.domain, evidence):
        return you(f"you declared {view.domain} yours; {view.actor.host} answers for it")
    return you(
        f"{view.domain} is not its server's domain and no provider is known to control it; "
        f"{view.actor.host} answers for it"
    )


def carriers(view: AccountView, evidence: Evidence) -> dict[str, str] | None:
    """Who delivers the account's posts to the network: its server, and (when its peer list
    names other servers) those servers, which keep copies for their users. None: not known."""
    host = hosting_control(view, evidence)
    if host is None or view.peers is None:
        return None
    found = {host.party: host.label}
    if view.peers > 0:
        named = "1 server" if view.peers == 1 else f"{view.peers:,} servers"
        found[FEDERATION] = f"its peer list names {named}"
    return found

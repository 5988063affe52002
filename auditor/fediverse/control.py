"""Who controls each layer of a fediverse account: the identity (the actor's URL), the name (the
address's domain), the hosting (the instance) and the distribution (federation).

The same :class:`~auditor.control.Controller` vocabulary as AT Protocol accounts, so one set of
gates and one dependency graph serve every network. A server counts as the account holder's own
when it is on the address's own domain and serves at most :data:`FEW_USERS` accounts (NodeInfo);
a known operator (decaudit's data file) never does.
"""

from __future__ import annotations

from auditor.attribution import attribute_host, registrable_domain
from auditor.control import FEDERATION, USER, Controller
from auditor.fediverse.account import AccountView

FEW_USERS = 5
"""At most this many accounts: a personal server, not a service (as ``FEW_REPOS`` for a PDS)."""


def _you(reason: str) -> Controller:
    return Controller(USER, "you", reason)


def self_hosted(view: AccountView, sandbox: bool) -> bool:
    """The server is the account holder's: on the address's own domain, not a known operator's,
    and with at most :data:`FEW_USERS` accounts."""
    if view.host is None or attribute_host(view.host, sandbox=sandbox).is_known_operator:
        return False
    users = view.nodeinfo.users if view.nodeinfo else None
    same_domain = registrable_domain(view.host) == registrable_domain(view.domain)
    return same_domain and users is not None and users <= FEW_USERS


def _users(view: AccountView) -> str:
    users = view.nodeinfo.users if view.nodeinfo else None
    if users is None:
        return "an unknown number of accounts"
    return "1 account" if users == 1 else f"{users:,} accounts"


def hosting_control(view: AccountView, sandbox: bool) -> Controller | None:
    """Who runs the server that hosts the actor."""
    if view.host is None:
        return None
    if self_hosted(view, sandbox):
        return _you(f"{view.host} is on your own domain and serves {_users(view)}")
    owner = attribute_host(view.host, sandbox=sandbox)
    return Controller(owner.operator_id, owner.label, f"it runs {view.host} ({_users(view)})")


def identity_control(view: AccountView, sandbox: bool) -> Controller | None:
    """Who controls the actor's URL, which *is* the account's identity on the network: whoever
    controls the actor host's domain (and can serve, or rewrite, what is there)."""
    if view.actor is None:
        return None
    if self_hosted(view, sandbox):
        return _you(f"the actor {view.actor.id} is on your own server")
    owner = attribute_host(view.actor.host, sandbox=sandbox)
    return Controller(
        owner.operator_id, owner.label, f"the account's identity is the URL {view.actor.id}"
    )


def name_control(view: AccountView, sandbox: bool) -> Controller | None:
    """Who controls the address's domain (the name people see and type)."""
    if view.actor is None:
        return None
    owner = attribute_host(view.domain, sandbox=sandbox)
    if owner.is_known_operator:
        return Controller(owner.operator_id, owner.label, f"{view.domain} is its domain")
    if not view.delegated:
        host = hosting_control(view, sandbox)
        if host is not None and not host.is_user:
            return Controller(host.party, host.label, f"{view.domain} is its server's domain")
        return _you(f"{view.domain} is your own server's domain")
    return _you(f"{view.domain} is your domain; {view.actor.host} answers for it")


def carriers(view: AccountView, sandbox: bool) -> dict[str, str] | None:
    """Who delivers the account's posts to the network: its server, and (when it federates) the
    servers it federates with, which keep copies for their users. None: not known."""
    host = hosting_control(view, sandbox)
    if host is None or view.peers is None:
        return None
    found = {host.party: host.label}
    if view.peers > 0:
        found[FEDERATION] = "1 server" if view.peers == 1 else f"{view.peers:,} servers"
    return found

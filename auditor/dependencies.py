"""The dependency graph and the outage what-if: every party an account depends on, and what each
one alone could break.

Built from the evidence with the same readings the checks use (:mod:`auditor.control`), so a
report's dependency list, its checks and its band never disagree. A party is an operator (or the
account holder, who is listed but never counted as a third party). A capability is broken by a
party *alone* when no other party could provide it: the only operator serving the identity, the
PDS operator (unless self-hosted), the only operator whose relays carry the account, the only
AppView operator indexing it, whoever holds a rotation key, whoever controls the handle's domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from auditor import control, hosting
from auditor.attribution import attribute_host
from auditor.fediverse import control as fediverse_control
from auditor.fediverse.account import view_of as fediverse_view
from auditor.matrix import control as matrix_control
from auditor.matrix.account import view_of as matrix_view
from auditor.models.evidence import DidDocumentFetch, Evidence, JsonAnswer
from auditor.models.report import Capability, Dependency

OFFLINE = frozenset(
    {
        Capability.RESOLVE_IDENTITY,
        Capability.SERVE_DATA,
        Capability.PUBLISH,
        Capability.SHOW_IN_APPS,
        Capability.MOVE,
    }
)
"""What an operator breaks merely by disappearing (the others need it to act)."""

RELEVANT: dict[str, frozenset[Capability]] = {
    "activitypub": OFFLINE - {Capability.SHOW_IN_APPS},
    "matrix": OFFLINE - {Capability.SHOW_IN_APPS, Capability.MOVE},
}
"""What the what-if may speak of on the other networks: whether apps would still show the
account is not asked of them (no AppView probe), and a Matrix ID never could move at all."""

PHRASES: dict[Capability, str] = {
    Capability.RESOLVE_IDENTITY: "be resolved by apps",
    Capability.SERVE_DATA: "serve its data",
    Capability.PUBLISH: "publish to the network",
    Capability.SHOW_IN_APPS: "be seen in apps",
    Capability.MOVE: "move to another host",
    Capability.REWRITE_IDENTITY: "keep others from rewriting its identity",
    Capability.KEEP_NAME: "keep its name",
}


@dataclass
class _Party:
    id: str
    label: str
    roles: list[str] = field(default_factory=list)
    breaks: set[Capability] = field(default_factory=set)
    evidence: list[str] = field(default_factory=list)


class _Graph:
    def __init__(self) -> None:
        self.parties: dict[str, _Party] = {}

    def add(
        self,
        party: str,
        label: str,
        role: str,
        where: str,
        breaks: Iterable[Capability] = (),
    ) -> None:
        entry = self.parties.setdefault(party, _Party(party, label))
        if role not in entry.roles:
            entry.roles.append(role)
        if where not in entry.evidence:
            entry.evidence.append(where)
        if party != control.USER:  # the account holder is never a third party
            entry.breaks.update(breaks)


def _identity(graph: _Graph, evidence: Evidence) -> None:
    document = evidence.did_document
    if not isinstance(document, DidDocumentFetch):
        return
    identity = control.identity_control(evidence)
    if document.method == "web":
        if identity is not None:
            graph.add(
                identity.party,
                identity.label,
                "did:web domain",
                "/did_document",
                {Capability.RESOLVE_IDENTITY, Capability.REWRITE_IDENTITY},
            )
        return
    servers = control.identity_servers(evidence)
    directory = attribute_host(document.exchange.url, sandbox=evidence.sandbox)
    graph.add(
        directory.operator_id,
        directory.label,
        "PLC directory",
        "/did_document/exchange",
        # it alone takes every write, so a move needs it; resolving needs it only if alone
        {Capability.MOVE} | ({Capability.RESOLVE_IDENTITY} if len(servers) < 2 else set()),
    )
    for index, mirror in enumerate(evidence.plc_mirrors):
        if isinstance(mirror.audit_log, JsonAnswer):
            operator = attribute_host(mirror.url, sandbox=evidence.sandbox)
            if operator.operator_id in servers:
                graph.add(
                    operator.operator_id, operator.label, "PLC mirror", f"/plc_mirrors/{index}"
                )
    custody = control.custody(evidence)
    if custody is None:
        return
    self_hosted = custody.self_hosted
    pds = hosting.pds_attribution(evidence)
    for key in custody.keys:
        role = f"rotation key #{key.priority}"
        breaks = {Capability.REWRITE_IDENTITY}
        if key.priority == 0:
            breaks.add(Capability.MOVE)  # the top key can undo a move signed with any other
        if key.operator is not None:
            graph.add(
                key.operator.operator_id, key.operator.operator_name, role, "/plc_audit_log", breaks
            )
        elif key.kind in ("host", "shared") and pds is not None and not self_hosted:
            graph.add(pds.operator_id, pds.label, role + " (presumed)", "/plc_audit_log", breaks)
        else:
            graph.add(control.USER, "you", role, "/plc_audit_log")


def _hosting(graph: _Graph, evidence: Evidence) -> None:
    controller = control.hosting_control(evidence)
    if controller is None:
        return
    breaks = {Capability.SERVE_DATA, Capability.PUBLISH}
    identity = control.identity_control(evidence)
    if identity is None or not identity.is_user:
        breaks.add(Capability.MOVE)  # without a key of your own, leaving needs its signature
    graph.add(controller.party, controller.label, "PDS", "/pds", breaks)


def _name(graph: _Graph, evidence: Evidence) -> None:
    view = control.name_control(evidence)
    if view.controller is None or view.handle is None:
        return
    role = f"handle domain ({view.domain})"
    graph.add(
        view.controller.party,
        view.controller.label,
        role,
        "/handle_resolutions",
        {Capability.KEEP_NAME},
    )


def _distribution(graph: _Graph, evidence: Evidence) -> None:
    carriers = control.carriers(evidence)
    for index, probe in enumerate(evidence.relays):
        operator = attribute_host(probe.url, sandbox=evidence.sandbox)
        if operator.operator_id in carriers:
            breaks = {Capability.PUBLISH} if len(carriers) == 1 else set()
            graph.add(operator.operator_id, operator.label, "relay", f"/relays/{index}", breaks)
    indexing: dict[str, tuple[str, int]] = {}
    for index, appview in enumerate(evidence.appviews):
        profile = hosting.body(appview.profile) or {}
        if profile.get("did") == evidence.did:
            operator = attribute_host(appview.url, sandbox=evidence.sandbox)
            indexing.setdefault(operator.operator_id, (operator.label, index))
    for operator_id, (label, index) in indexing.items():
        breaks = {Capability.SHOW_IN_APPS} if len(indexing) == 1 else set()
        graph.add(operator_id, label, "AppView", f"/appviews/{index}", breaks)
    for index, labeler in enumerate(evidence.labelers):
        if isinstance(labeler.labels, JsonAnswer):
            operator = attribute_host(labeler.url, sandbox=evidence.sandbox)
            graph.add(operator.operator_id, operator.label, "labeler", f"/labelers/{index}")


def what_if(label: str, breaks: set[Capability], relevant: frozenset[Capability] = OFFLINE) -> str:
    """The outage sentence: what the account could no longer, and still, do without ``label``
    (among the ``relevant`` capabilities: a Matrix account never could move, so moving is
    neither lost nor kept there)."""
    lost = [PHRASES[c] for c in Capability if c in breaks and c in relevant]
    kept = [PHRASES[c] for c in Capability if c not in breaks and c in relevant]
    if not lost:
        return f"If {label} went offline tomorrow, this account could still do everything it does."
    sentence = f"If {label} went offline tomorrow, this account could no longer {_join(lost, 'or')}"
    return sentence + (f"; it could still {_join(kept, 'and')}." if kept else ".")


def _join(items: list[str], conjunction: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def _fediverse(graph: _Graph, evidence: Evidence) -> None:
    """The server holds the actor (the identity), its keys and its posts, and delivers them; the
    address's domain, when another, answers WebFinger for the name."""
    view = fediverse_view(evidence)
    if view is None or view.actor is None:
        return
    host = fediverse_control.hosting_control(view, evidence)
    name = fediverse_control.name_control(view, evidence)
    if host is not None:
        breaks = {
            Capability.SERVE_DATA,
            Capability.PUBLISH,
            Capability.RESOLVE_IDENTITY,
            Capability.REWRITE_IDENTITY,
            Capability.MOVE,  # a Move is announced by the old server: gone, followers stay put
        }
        graph.add(host.party, host.label, f"server ({view.actor.host})", "/fediverse/actor", breaks)
    if name is not None:
        breaks = {Capability.KEEP_NAME}
        if view.delegated:
            breaks.add(Capability.RESOLVE_IDENTITY)  # WebFinger for the address is asked there
        role = f"address domain ({view.domain})"
        graph.add(name.party, name.label, role, "/fediverse/webfinger", breaks)


def _matrix(graph: _Graph, evidence: Evidence) -> None:
    """The server name's holder owns the ID (and its discovery); the homeserver's operator holds
    the account, its login and its rooms' copies."""
    view = matrix_view(evidence)
    if view is None:
        return
    name = matrix_control.name_control(view, evidence)
    breaks = {Capability.KEEP_NAME, Capability.RESOLVE_IDENTITY, Capability.REWRITE_IDENTITY}
    role = f"server name ({view.server_name})"
    graph.add(name.party, name.label, role, "/matrix/well_known_server", breaks)
    host = matrix_control.hosting_control(view, evidence)
    if host is not None:
        breaks = {Capability.SERVE_DATA, Capability.PUBLISH, Capability.REWRITE_IDENTITY}
        role = f"homeserver ({view.homeserver_host})"
        graph.add(host.party, host.label, role, "/matrix/federation_version", breaks)


def dependencies(evidence: Evidence) -> list[Dependency]:
    """Every party the account depends on, single points of failure first."""
    graph = _Graph()
    if evidence.protocol == "activitypub":
        _fediverse(graph, evidence)
    elif evidence.protocol == "matrix":
        _matrix(graph, evidence)
    else:
        _identity(graph, evidence)
        _name(graph, evidence)
        _hosting(graph, evidence)
        _distribution(graph, evidence)
    relevant = RELEVANT.get(evidence.protocol, OFFLINE)
    ordered = sorted(
        graph.parties.values(),
        key=lambda p: (p.id == control.USER, -len(p.breaks & OFFLINE), -len(p.breaks), p.label),
    )
    return [
        Dependency(
            party=p.id,
            label=p.label,
            third_party=p.id != control.USER,
            roles=p.roles,
            can_break_alone=[c for c in Capability if c in p.breaks],
            single_point_of_failure=bool(p.breaks),
            if_offline=what_if(p.label, p.breaks, relevant) if p.id != control.USER else "",
            evidence=p.evidence,
        )
        for p in ordered
    ]

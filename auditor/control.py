"""Who controls each layer of an account: the identity, the name, the hosting, the distribution.

Pure functions over the evidence, shared by the checks (which explain one layer each) and by the
spectrum gates (which look at all layers at once), so a report never says one thing in a check
and another in its band. A layer's controller is either the account holder (:data:`USER`) or a
third party, named by operator id; the account holder is never counted as a third party.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from auditor import hosting, plc
from auditor.attribution import KeyAttribution, attribute_host, attribute_key, registrable_domain
from auditor.hosting import RelayState
from auditor.identity import shown_handle, verify_handle
from auditor.models.evidence import (
    DidDocumentFetch,
    Evidence,
    JsonAnswer,
    PdsPeers,
    PlcAuditLogFetch,
)
from auditor.syntax import did_web_host

USER = "user"
"""The account holder, as a controller."""
FEDERATION = "federation"
"""The servers a fediverse or Matrix server federates with, as a carrier: many independent
operators, never one party."""


@dataclass(frozen=True, slots=True)
class Controller:
    """Who controls a layer, and why decaudit says so."""

    party: str
    """:data:`USER`, or the third party's operator id."""
    label: str
    """For people: "you", or the operator's name."""
    reason: str

    @property
    def is_user(self) -> bool:
        return self.party == USER


def you(reason: str) -> Controller:
    """The account holder as a layer's controller (every network's readings use this)."""
    return Controller(USER, "you", reason)


def declared_own(host: str | None, evidence: Evidence) -> bool:
    """``host``'s registrable domain is one the auditor declared the holder's (``--own-domain``)."""
    domain = registrable_domain(host) if host else None
    return domain is not None and domain in evidence.settings.own_domains


# --- rotation keys --------------------------------------------------------------------------------


def _pds(state: plc.PlcState) -> str | None:
    service = state.services.get("atproto_pds")
    return service.endpoint.rstrip("/") if service else None


def presumed_host_keys(log: plc.LogVerification, pds: str | None) -> set[str]:
    """Keys presumed to be ``pds``'s own: those that signed operations while the account was on it
    (recoveries excluded), narrowed to the genesis signer when the account was created there.

    A reference PDS creates the identity and signs every change it makes with its own rotation key;
    a recovery (a fork that nullified another key's operations) is a key acting *against* the host,
    so it does not count. When the account was created on ``pds``, the PDS signed the genesis: any
    other key that signed later is one the user added and used directly at the directory (found
    against the reference PDS: counting it as the host's called a user-held identity
    "presumed your PDS operator's").
    """
    nullified_prevs = {op.prev for op in log.operations if op.nullified}
    chain = [op for op in log.operations if not op.nullified]
    keys: set[str] = set()
    for position, op in enumerate(chain):
        before = chain[position - 1].state_after if position else op.state_after
        is_recovery = op.prev is not None and op.prev in nullified_prevs
        if op.signer_key and _pds(before) == pds and not is_recovery:
            keys.add(op.signer_key)
    genesis = chain[0] if chain else None
    if genesis is not None and genesis.signer_key in keys and _pds(genesis.state_after) == pds:
        return {genesis.signer_key}
    return keys


KeyKind = Literal["operator", "host", "shared", "other"]
"""How a rotation key is classified: attributed to an operator by decaudit's data; presumed the
PDS's (it signed for the PDS); shared with other accounts of the same PDS (an operator's
recovery key, ``PDS_RECOVERY_DID_KEY``: from one account's log it looks like a key the user
gave at sign-up, from its neighbours it does not); or none of those (possibly the user's)."""


@dataclass(frozen=True, slots=True)
class KeyView:
    key: str
    priority: int
    kind: KeyKind
    operator: KeyAttribution | None


@dataclass(frozen=True, slots=True)
class Custody:
    """The rotation keys of a valid did:plc log, in priority order, each classified."""

    keys: tuple[KeyView, ...]
    hosting_label: str | None
    self_hosted: bool

    def of(self, kind: KeyKind) -> list[str]:
        return [k.key for k in self.keys if k.kind == kind]


def shared_keys(evidence: Evidence) -> set[str]:
    """Rotation keys that other accounts of the same PDS list too."""
    peers = evidence.pds_peers
    if not isinstance(peers, PdsPeers):
        return set()
    return {key for account in peers.accounts for key in account.rotation_keys}


def custody(evidence: Evidence) -> Custody | None:
    """Classify the rotation keys; None without a verified did:plc log."""
    log_fetch = evidence.plc_audit_log
    document = evidence.did_document
    if not isinstance(log_fetch, PlcAuditLogFetch) or not isinstance(document, DidDocumentFetch):
        return None
    log = log_fetch.verification
    if not log.valid or log.state is None:
        return None
    pds = document.parsed.pds_endpoint
    host_keys = presumed_host_keys(log, pds)
    shared = shared_keys(evidence)
    views = []
    for priority, key in enumerate(log.state.rotation_keys):
        known = attribute_key(key, sandbox=evidence.sandbox)
        kind: KeyKind = "operator" if known else "host" if key in host_keys else "other"
        if kind == "other" and key in shared:
            kind = "shared"
        views.append(KeyView(key, priority, kind, known))
    label = attribute_host(pds, sandbox=evidence.sandbox).label if pds else None
    return Custody(tuple(views), label, hosting.self_hosting(evidence).self_hosted)


def identity_control(evidence: Evidence) -> Controller | None:
    """Who can rewrite the identity: the top rotation key's holder, or the did:web domain's."""
    document = evidence.did_document
    if not isinstance(document, DidDocumentFetch):
        return None
    if document.method == "web":
        host = did_web_host(document.did).split(":")[0]
        owner = attribute_host(host, sandbox=evidence.sandbox)
        handle = verify_handle(evidence)
        own = handle.verified and handle.handle is not None
        if own and registrable_domain(str(handle.handle)) == registrable_domain(host):
            return you(f"did:web on {host}, the domain of your verified handle")
        return Controller(owner.operator_id, owner.label, f"did:web on {host}")
    view = custody(evidence)
    if view is None or not view.keys:
        return None
    top = view.keys[0]
    if top.operator is not None:
        return Controller(
            top.operator.operator_id, top.operator.operator_name, "it holds the top rotation key"
        )
    if top.kind in ("host", "shared"):
        if view.self_hosted:
            return you("the top rotation key is your own server's")
        pds = hosting.pds_attribution(evidence)
        if pds is None:
            return None
        if top.kind == "shared":
            reason = "the top rotation key is on other accounts of its PDS too: its operator's"
        else:
            reason = "the top rotation key acts for its PDS"
        return Controller(pds.operator_id, pds.label, reason)
    return you("the top rotation key is held apart from every operator")


# --- the name -----------------------------------------------------------------------------------

DomainType = Literal["provider_subdomain", "pds_domain", "custom_domain", "none"]


@dataclass(frozen=True, slots=True)
class NameView:
    handle: str | None
    verified: bool
    domain: str | None
    domain_type: DomainType
    controller: Controller | None


def name_control(evidence: Evidence) -> NameView:
    """Who controls the handle apps would show (:func:`auditor.identity.shown_handle`)."""
    verification = shown_handle(evidence)
    handle = verification.handle
    if handle is None:
        return NameView(None, False, None, "none", None)
    owner = attribute_host(handle, sandbox=evidence.sandbox)
    domain = registrable_domain(handle)
    if owner.is_known_operator and "handle_domain" in owner.roles:
        controller = Controller(owner.operator_id, owner.label, f"{handle} is a name it gives out")
        return NameView(handle, verification.verified, domain, "provider_subdomain", controller)
    pds = hosting.pds_attribution(evidence)
    pds_domain = registrable_domain(pds.host) if pds else None
    if pds is not None and domain == pds_domain and handle != domain:
        if hosting.self_hosting(evidence).self_hosted:
            own = you(f"{handle} is under your own server's domain")
            return NameView(handle, verification.verified, domain, "custom_domain", own)
        controller = Controller(pds.operator_id, pds.label, f"{handle} is under its PDS's domain")
        return NameView(handle, verification.verified, domain, "pds_domain", controller)
    given = hosting.user_domain_of(evidence, handle)
    if pds is not None and given is not None and not hosting.self_hosting(evidence).self_hosted:
        controller = Controller(
            pds.operator_id,
            pds.label,
            f"{handle} is under {given}, which its PDS gives out to users (describeServer "
            "availableUserDomains)",
        )
        return NameView(handle, verification.verified, domain, "pds_domain", controller)
    if owner.is_known_operator:
        controller = Controller(owner.operator_id, owner.label, f"{domain} is its own domain")
        return NameView(handle, verification.verified, domain, "custom_domain", controller)
    return NameView(
        handle,
        verification.verified,
        domain,
        "custom_domain",
        you(f"{handle} is on {domain}, which no provider is known to control"),
    )


# --- hosting and distribution --------------------------------------------------------------------


def hosting_control(evidence: Evidence) -> Controller | None:
    owner = hosting.pds_attribution(evidence)
    if owner is None:
        return None
    verdict = hosting.self_hosting(evidence)
    if verdict.self_hosted:
        return you(verdict.reason)
    return Controller(owner.operator_id, owner.label, f"it runs {owner.host}")


def carriers(evidence: Evidence) -> dict[str, str]:
    """Operators (id -> label) whose relays carry the account at its current revision."""
    _, pds_rev = hosting.pds_head(evidence)
    views = [hosting.relay_view(r, pds_rev, evidence.sandbox) for r in evidence.relays]
    return {
        v.operator.operator_id: v.operator.label for v in views if v.state is RelayState.CURRENT
    }


def mirror_state(directory: Sequence[object], mirrored: object) -> str:
    """same, behind (a prefix of the directory's log), diverging, or invalid."""
    if not isinstance(mirrored, list):
        return "invalid"
    cids = [e.get("cid") for e in directory if isinstance(e, dict)]
    theirs = [e.get("cid") if isinstance(e, dict) else None for e in mirrored]
    if theirs == cids:
        return "same"
    if len(theirs) < len(cids) and cids[: len(theirs)] == theirs:
        return "behind"
    return "diverging"


def identity_servers(evidence: Evidence) -> dict[str, str]:
    """Operators (id -> label) serving the did:plc log exactly as the directory does, the
    directory's own operator included (its log must verify)."""
    log = evidence.plc_audit_log
    if not isinstance(log, PlcAuditLogFetch) or not log.verification.valid:
        return {}
    directory = attribute_host(log.exchange.url, sandbox=evidence.sandbox)
    entries = list(log.entries) if isinstance(log.entries, list) else []
    servers = {directory.operator_id: directory.label}
    for mirror in evidence.plc_mirrors:
        if isinstance(mirror.audit_log, JsonAnswer):
            if mirror_state(entries, mirror.audit_log.body) == "same":
                operator = attribute_host(mirror.url, sandbox=evidence.sandbox)
                servers.setdefault(operator.operator_id, operator.label)
    return servers

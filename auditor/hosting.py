"""Interpret hosting and distribution evidence: who hosts the account, who carries it, who shows it.

Pure functions over :mod:`auditor.models.evidence`, shared by several checks so they always agree
(whether the PDS is self-hosted matters to the PDS, handle and custody checks alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from auditor.attribution import Attribution, attribute_host, registrable_domain
from auditor.check import Outcome, failed, finding, not_applicable
from auditor.models.common import ProbeFailure
from auditor.models.evidence import (
    DidDocumentFetch,
    Evidence,
    JsonAnswer,
    JsonSlot,
    PdsProbes,
    RelayProbes,
)
from auditor.models.slots import failure_text as failure_text  # checks read it from here
from auditor.syntax import did_web_host
from auditor.text import one_line

FEW_REPOS = 5
"""At most this many accounts on the first ``listRepos`` page: a personal server, not a service."""


def body(slot: JsonSlot) -> dict[str, Any] | None:
    """The JSON object a probe returned, or None (failed, skipped, or not an object)."""
    if isinstance(slot, JsonAnswer) and isinstance(slot.body, dict):
        return slot.body
    return None


def xrpc_error(slot: JsonSlot) -> str | None:
    """The XRPC error name of a failed probe (``RepoNotFound``...), if the server gave one."""
    return slot.error_name if isinstance(slot, ProbeFailure) else None


def pds_of(evidence: Evidence) -> PdsProbes | None:
    return evidence.pds if isinstance(evidence.pds, PdsProbes) else None


def pds_attribution(evidence: Evidence) -> Attribution | None:
    probes = pds_of(evidence)
    return attribute_host(probes.endpoint, sandbox=evidence.sandbox) if probes else None


@dataclass(frozen=True, slots=True)
class SelfHosting:
    """Whether the account runs its own PDS, and the evidence for saying so."""

    self_hosted: bool
    reason: str


def _identity_domains(evidence: Evidence) -> set[str]:
    domains: set[str] = set()
    document = evidence.did_document
    if isinstance(document, DidDocumentFetch):
        if document.parsed.handle:
            domains.add(registrable_domain(document.parsed.handle) or "")
        if document.method == "web":
            domains.add(registrable_domain(did_web_host(document.did).split(":")[0]) or "")
    domains.discard("")
    return domains


def self_hosting(evidence: Evidence) -> SelfHosting:
    """Self-hosted: the PDS's domain is the user's own (that of the handle or the did:web), and
    the server is not a service (its first ``listRepos`` page has at most :data:`FEW_REPOS`).

    A provider that gives out handles under its own domain fails the second test; a self-hoster
    whose server cannot be listed right now is judged by the domain alone, and the reason says so.
    """
    probes = pds_of(evidence)
    owner = pds_attribution(evidence)
    if probes is None or owner is None:
        return SelfHosting(False, "no PDS to judge")
    if owner.is_known_operator:
        return SelfHosting(False, f"the PDS is operated by {owner.label}")
    pds_domain = registrable_domain(owner.host)
    if pds_domain is None or pds_domain not in _identity_domains(evidence):
        return SelfHosting(False, f"the PDS's domain ({owner.host}) is not the account's own")
    listing = body(probes.list_repos)
    repos = listing.get("repos") if listing else None
    if isinstance(repos, list):
        if len(repos) > FEW_REPOS:
            return SelfHosting(
                False, f"{owner.host} hosts more than {FEW_REPOS} accounts: a service, not yours"
            )
        return SelfHosting(
            True, f"{owner.host} is on the account's own domain and hosts {len(repos)} account(s)"
        )
    return SelfHosting(
        True, f"{owner.host} is on the account's own domain (its account list was not available)"
    )


def export_refusal(refusal: ProbeFailure, what: str, pointer: str) -> Outcome:
    """The verdict on a PDS that definitely refused to hand over ``what`` (an XRPC 4xx error
    recorded at ``pointer`` in the evidence).

    A deactivation is the owner's own choice and is undone by reactivating, so the question does
    not arise; any other refusal (a takedown, a suspension, an unknown repository) means the data
    cannot leave this host now: a fail.
    """
    name = one_line(refusal.error_name or "an error", limit=64)  # the server's words
    where = f"HTTP {refusal.http_status} {name}"
    if name == "RepoDeactivated":
        return not_applicable(
            f"The account is deactivated: the PDS hands out no {what} until it is reactivated",
            finding(f"The PDS answered {where}.", pointer),
        )
    return failed(
        f"The PDS refuses to hand over your {what} ({name}): it cannot leave this host now",
        finding(f"The PDS answered {where}: {refusal.message}", pointer),
        remediation=(
            f"Ask the PDS operator why it answers {name}. Keep verified backups while a PDS "
            "still serves your data (`decaudit check <you> --save-export DIR`): when an operator "
            "takes an account down, a backup is the only copy its owner controls."
        ),
    )


def user_domain_of(evidence: Evidence, handle: str) -> str | None:
    """The domain of the PDS's ``availableUserDomains`` that ``handle`` sits under, if any.

    A PDS lists the suffixes it hands out handles under (``.bsky.social``); a handle under one is
    the PDS operator's to give and take back, whatever domain it is on, even when decaudit's data
    does not know that operator.
    """
    probes = pds_of(evidence)
    answer = body(probes.describe_server) if probes is not None else None
    domains = answer.get("availableUserDomains") if answer else None
    if not isinstance(domains, list):
        return None
    name = handle.rstrip(".").lower()
    for entry in domains:
        if not isinstance(entry, str):
            continue
        suffix = entry.strip().rstrip(".").lower().lstrip(".")
        # A bare public suffix (".com", or ".test" on a private network) is nobody's to give.
        if registrable_domain(suffix) and name.endswith("." + suffix):
            return suffix
    return None


def pds_head(evidence: Evidence) -> tuple[str | None, str | None]:
    """(commit CID, rev) the PDS reports for the account."""
    probes = pds_of(evidence)
    if probes is None:
        return None, None
    commit = body(probes.latest_commit) or {}
    status = body(probes.repo_status) or {}
    cid = commit.get("cid") if isinstance(commit.get("cid"), str) else None
    rev = commit.get("rev") if isinstance(commit.get("rev"), str) else None
    if rev is None and isinstance(status.get("rev"), str):
        rev = status["rev"]
    return cid, rev


class RelayState(StrEnum):
    """What a relay does with the account."""

    CURRENT = "current"
    """Carried, at the PDS's revision (or later)."""
    STALE = "stale"
    """Carried, behind the PDS."""
    NOT_CARRIED = "not_carried"
    """The relay does not know the account (``RepoNotFound``)."""
    TAKEN_DOWN = "taken_down"
    """The relay carries it but refuses it: taken down, suspended, or its host banned."""
    INACTIVE = "inactive"
    """Carried, but inactive there (deactivated, deleted...) as the account's own status says."""
    UNREACHABLE = "unreachable"
    """The relay could not be asked (network, timeout, garbage)."""


RELAY_REFUSALS = frozenset({"takendown", "suspended", "banned"})


@dataclass(frozen=True, slots=True)
class RelayView:
    url: str
    operator: Attribution
    state: RelayState
    rev: str | None
    status: str | None
    host_status: str | None
    detail: str


def relay_view(probe: RelayProbes, pds_rev: str | None, sandbox: bool) -> RelayView:
    """Classify one relay's answers (revision compared with the PDS's, TIDs sort as strings)."""
    operator = attribute_host(probe.url, sandbox=sandbox)
    status_body = body(probe.repo_status)
    commit_body = body(probe.latest_commit) or {}
    host_body = body(probe.host_status) or {}
    host_status = host_body.get("status") if isinstance(host_body.get("status"), str) else None
    rev = next(
        (
            value
            for value in (commit_body.get("rev"), (status_body or {}).get("rev"))
            if isinstance(value, str)
        ),
        None,
    )

    def view(state: RelayState, status: str | None, detail: str) -> RelayView:
        return RelayView(probe.url, operator, state, rev, status, host_status, detail)

    if status_body is None:
        if xrpc_error(probe.repo_status) == "RepoNotFound":
            return view(RelayState.NOT_CARRIED, None, "RepoNotFound: the relay does not carry it")
        return view(RelayState.UNREACHABLE, None, failure_text(probe.repo_status))
    status = status_body.get("status") if isinstance(status_body.get("status"), str) else None
    if host_status == "banned" or status in RELAY_REFUSALS:
        return view(RelayState.TAKEN_DOWN, status or "banned", f"{status or 'host banned'} here")
    if status_body.get("active") is not True:
        return view(RelayState.INACTIVE, status, f"inactive here ({status or 'no status'})")
    if pds_rev is not None and (rev is None or rev < pds_rev):
        return view(RelayState.STALE, status, f"at rev {rev}, the PDS is at {pds_rev}")
    return view(RelayState.CURRENT, status, f"current at rev {rev}")

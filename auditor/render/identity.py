"""Who a report is about, in its own network's words: shared by the text, Markdown and HTML
renderers so the three say the same thing.

An AT Protocol account is a handle and a DID; a fediverse account is a ``user@domain`` address,
the ActivityPub actor it leads to and the server that hosts that actor; a Matrix account is a
user ID, the homeserver that answers for its server name and whether it federates. Every value
here comes from the report (its evidence included) and can be hostile: the renderers make it inert
and escape it; the labels, notes and placeholders are fixed words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from auditor.fediverse.account import view_of as fediverse_view
from auditor.fediverse.documents import read_jrd
from auditor.matrix.account import view_of as matrix_view
from auditor.models.common import ProbeFailure
from auditor.models.evidence import JsonAnswer, JsonSlot, NotCollected
from auditor.models.fediverse import FediverseProbes
from auditor.models.matrix import MatrixProbes
from auditor.models.report import Report
from auditor.render.appendix_probes import text_field
from auditor.syntax import Network

NETWORK_NAMES: Mapping[Network, str] = {
    "atproto": "AT Protocol (Bluesky)",
    "activitypub": "the fediverse (ActivityPub)",
    "matrix": "Matrix",
}
"""The network's name, as a noun phrase."""
ACCOUNT_KINDS: Mapping[Network, str] = {
    "atproto": "an AT Protocol account",
    "activitypub": "a fediverse (ActivityPub) account",
    "matrix": "a Matrix account",
}
"""What kind of account it is ("Decentralization audit of ...")."""
NAME_NOUNS: Mapping[Network, str] = {
    "atproto": "the handle",
    "activitypub": "the address",
    "matrix": "the user ID",
}
"""What the account's name is called on its network (the ``keep_name`` capability)."""
UNRESOLVED_NOTES: Mapping[Network, str] = {
    "atproto": "Without a DID document nothing about the account can be judged.",
    "activitypub": "Without an actor that the address's domain and the actor's own server agree "
    "on, nothing about the account can be judged.",
    "matrix": "Without a homeserver that answers for the server name, nothing about the account "
    "can be judged.",
}
"""Why there is no verdict without a resolved identity, one sentence."""


@dataclass(frozen=True, slots=True)
class IdentityRow:
    """One line of the identity block: a fixed label and a value from the report."""

    label: str
    value: str | None
    """From the report (untrusted); None when there is none."""
    missing: str = ""
    """Fixed words shown instead of a missing value, e.g. ``(not found)``."""
    note: str = ""
    """Fixed words shown after the value, in parentheses (``verified both ways``)."""
    identifier: bool = True
    """The value is an identifier (code in Markdown, monospace in HTML), not prose."""

    @property
    def shown(self) -> str:
        """The value, or the placeholder when there is none."""
        return self.missing if self.value is None else self.value


@dataclass(frozen=True, slots=True)
class Clue:
    """One piece of evidence behind "what failed": what was asked and what it said."""

    label: str
    """Fixed words: what was asked."""
    detail: str
    """What it answered (values from the evidence: untrusted)."""
    anchor: str
    """The evidence appendix entry (a fixed id of :mod:`auditor.render.html`)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """The account as the three renderers present it."""

    protocol: Network
    network: str
    """:data:`NETWORK_NAMES`."""
    kind: str
    """:data:`ACCOUNT_KINDS`."""
    name: str
    """What the report is titled with: the handle, else the account, else the DID, else the
    target (untrusted)."""
    rows: tuple[IdentityRow, ...]
    name_noun: str
    """:data:`NAME_NOUNS`."""
    unresolved_note: str
    """:data:`UNRESOLVED_NOTES`."""

    @property
    def is_at(self) -> bool:
        return self.protocol == "atproto"


def display_name(report: Report) -> str:
    """The handle, else the fediverse address or Matrix user ID, else the DID, else the target."""
    return report.handle or report.account or report.did or report.target


def _at_rows(report: Report) -> tuple[IdentityRow, ...]:
    verified = "verified both ways" if report.handle_verified else "NOT verified"
    return (
        IdentityRow("Handle", report.handle, "(none)", verified),
        IdentityRow("DID", report.did, "(unresolved)"),
    )


def _fediverse_rows(report: Report) -> tuple[IdentityRow, ...]:
    view = fediverse_view(report.evidence)
    network = IdentityRow("Network", NETWORK_NAMES["activitypub"], identifier=False)
    address = report.account or report.evidence.account or report.target
    if view is None:
        return (
            network,
            IdentityRow("Address", address),
            IdentityRow("Actor", None, "(not found)"),
            IdentityRow("Server", None, "(not found)"),
        )
    confirmed = "confirmed by its server" if view.confirmed else "NOT confirmed"
    return (
        network,
        IdentityRow("Address", view.account, note=confirmed),
        IdentityRow("Actor", view.actor.id if view.actor else None, "(not found)"),
        IdentityRow(
            "Server",
            view.host,
            "(not found)",
            "a custom domain points to it" if view.delegated and view.confirmed else "",
        ),
    )


def _matrix_rows(report: Report) -> tuple[IdentityRow, ...]:
    view = matrix_view(report.evidence)
    network = IdentityRow("Network", NETWORK_NAMES["matrix"], identifier=False)
    user_id = report.account or report.evidence.account or report.target
    if view is None:
        return (
            network,
            IdentityRow("User ID", user_id),
            IdentityRow("Homeserver", None, "(not found)"),
            IdentityRow("Federation", "unknown", identifier=False),
        )
    federation = {True: "federates", False: "does not federate", None: "unknown"}[view.federates]
    return (
        network,
        IdentityRow("User ID", view.user_id),
        IdentityRow(
            "Homeserver",
            view.homeserver_host,
            "(not found)",
            "delegated by the server name" if view.delegated else "",
        ),
        IdentityRow("Federation", federation, identifier=False),
    )


def identity_of(report: Report) -> Identity:
    """The account's network, name and identity rows."""
    protocol = report.protocol
    if protocol == "activitypub":
        rows = _fediverse_rows(report)
    elif protocol == "matrix":
        rows = _matrix_rows(report)
    else:
        rows = _at_rows(report)
    return Identity(
        protocol=protocol,
        network=NETWORK_NAMES[protocol],
        kind=ACCOUNT_KINDS[protocol],
        name=display_name(report),
        rows=rows,
        name_noun=NAME_NOUNS[protocol],
        unresolved_note=UNRESOLVED_NOTES[protocol],
    )


# --- what failed ---------------------------------------------------------------------------------


def _problem(slot: JsonSlot) -> str:
    if isinstance(slot, ProbeFailure):
        return f"failed: {slot.message}"
    if isinstance(slot, NotCollected):
        return f"not asked: {slot.reason}" if not slot.reason.startswith("not ") else slot.reason
    return ""


def _webfinger(slot: JsonSlot) -> str:
    if not isinstance(slot, JsonAnswer):
        return _problem(slot)
    jrd = read_jrd(slot.body)
    subject = jrd.subject or "(no subject)"
    actor = jrd.actor_url or "no ActivityPub actor"
    return f"{slot.exchange.url}: HTTP {slot.exchange.status}, subject {subject}, links to {actor}"


def _actor(slot: JsonSlot) -> str:
    if not isinstance(slot, JsonAnswer):
        return _problem(slot)
    body = slot.body
    parts = [f"{slot.exchange.url}: HTTP {slot.exchange.status}"]
    parts.append(f"id {text_field(body, 'id') or '(none)'}")
    parts.append(f"preferredUsername {text_field(body, 'preferredUsername') or '(none)'}")
    return ", ".join(parts)


def _fediverse_clues(probes: FediverseProbes) -> list[Clue]:
    return [
        Clue(
            "WebFinger on the address's domain",
            _webfinger(probes.webfinger),
            "ev-fediverse-webfinger",
        ),
        Clue("The actor it links to", _actor(probes.actor), "ev-fediverse-actor"),
        Clue(
            "WebFinger on the actor's own server",
            _webfinger(probes.server_webfinger),
            "ev-fediverse-server-webfinger",
        ),
    ]


def _answered(slot: JsonSlot) -> str:
    if not isinstance(slot, JsonAnswer):
        return _problem(slot)
    return f"{slot.exchange.url}: HTTP {slot.exchange.status}"


def _matrix_clues(probes: MatrixProbes) -> list[Clue]:
    clues = [Clue("Server discovery", step, "ev-matrix-discovery") for step in probes.discovery]
    if not probes.discovery:
        clues.append(Clue("Server discovery", "no step was recorded", "ev-matrix-discovery"))
    keys = _answered(probes.server_keys)
    if isinstance(probes.server_keys, JsonAnswer):
        claimed = text_field(probes.server_keys.body, "server_name") or "(none)"
        keys += f", keys for the server name {claimed}"
    return [
        *clues,
        Clue(
            "Federation version",
            _answered(probes.federation_version),
            "ev-matrix-federation-version",
        ),
        Clue("Federation signing keys", keys, "ev-matrix-server-keys"),
        Clue("Client API versions", _answered(probes.client_versions), "ev-matrix-client-versions"),
    ]


def failure_clues(report: Report) -> list[Clue]:
    """For a report without a verdict: what each key probe of a fediverse or Matrix account
    answered (none for AT Protocol, whose handle and DID rows already say it)."""
    evidence = report.evidence
    if report.protocol == "activitypub" and isinstance(evidence.fediverse, FediverseProbes):
        return _fediverse_clues(evidence.fediverse)
    if report.protocol == "matrix" and isinstance(evidence.matrix, MatrixProbes):
        return _matrix_clues(evidence.matrix)
    return []


def name_noun(protocol: Network) -> str:
    """What the account's name is called on ``protocol`` (``the handle``, ``the address``)."""
    return NAME_NOUNS[protocol]

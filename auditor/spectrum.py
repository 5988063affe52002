"""The centralization spectrum: bands decided by gates over who controls each layer.

The 0-100 score is a weighted mean, good for trends; a band must not be reachable by averaging
strong layers with a captured one. So the band comes from gates (named after the three
architectures of the article decaudit answers):

* **centralized**: one third party controls every critical layer it could be judged on:
  the identity (who can rewrite it), the name, the hosting and the distribution (the only
  operator whose relays carry the account). The account holder is never a third party.
* **decentralized**: no single third party can, alone, make the account unreachable or take over
  its identity: the identity is controlled by the account holder (the top rotation key held
  apart from every operator, or a did:web on the holder's own domain), the name is the
  holder's, the data is exportable (verified, when the export was checked), relays of at least
  two independent operators carry it currently, and a did:plc identity is served identically by
  at least two operators (a did:web on the holder's domain is served by the holder).
* **hybrid**: everything in between.

A layer whose check did not run (``--select``/``--skip``, ``--skip-export``) or could not be
judged is left out of the gates: "centralized" then needs every judged layer to be one party's,
and "decentralized" cannot be claimed without the layers it requires. The report lists the basis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from auditor import control
from auditor.control import FEDERATION
from auditor.fediverse import control as fediverse_control
from auditor.fediverse.account import AccountView
from auditor.fediverse.account import view_of as fediverse_view
from auditor.matrix import control as matrix_control
from auditor.matrix.account import MatrixView
from auditor.matrix.account import view_of as matrix_view
from auditor.models.evidence import DidDocumentFetch, Evidence
from auditor.models.report import SCORED_STATUSES, Band, CheckResult, LayerControl, Status

LAYER_CHECKS: Mapping[str, str] = {
    "identity": "rotation-key-custody",
    "name": "handle-domain",
    "hosting": "pds-operator",
    "distribution": "relay-carriage",
    "identity_service": "identity-availability",
    "export": "repo-export",
}
"""Each layer the gates read, and the check whose having run makes it judgeable (AT Protocol)."""

FEDIVERSE_LAYER_CHECKS: Mapping[str, str] = {
    "identity": "fediverse-identity-control",
    "name": "fediverse-name-domain",
    "hosting": "fediverse-instance-operator",
    "distribution": "fediverse-federation",
    "export": "fediverse-export",
}
MATRIX_LAYER_CHECKS: Mapping[str, str] = {
    "identity": "matrix-name-domain",
    "name": "matrix-name-domain",
    "hosting": "matrix-homeserver-operator",
    "distribution": "matrix-federation",
    "export": "matrix-data-replication",
}
"""A Matrix ID is its server name: identity and name are one layer, judged by one check."""


@dataclass(frozen=True, slots=True)
class Verdict:
    band: Band
    basis: list[str]
    control: list[LayerControl]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one protocol's evidence says about the layers the gates read."""

    layers: dict[str, control.Controller | None]
    """identity / name / hosting, for those that could be judged (None: judged, but nobody
    could be named)."""
    carriers: dict[str, str] | None
    """Who distributes the account (operator id -> label); None when not judged."""
    distribution: str
    """The distribution line of the basis."""
    gaps: list[str]
    """Reasons, beyond the identity and the name, the account cannot be called decentralized
    (distribution included: how many carriers are enough is the protocol's to say)."""
    centralizable: bool = True
    """False when distribution was judged but could not be known and the protocol's default is
    many carriers (a fediverse server hiding its peer list federates, as most do): one party
    cannot then be said to control every layer."""


def _ran(results: Mapping[str, CheckResult], check_id: str) -> bool:
    result = results.get(check_id)
    return result is not None and (
        result.status in SCORED_STATUSES or result.status is Status.NOT_APPLICABLE
    )


def _is_did_web(evidence: Evidence) -> bool:
    document = evidence.did_document
    return isinstance(document, DidDocumentFetch) and document.method == "web"


def _single_party(
    layers: Mapping[str, control.Controller | None], carriers: Mapping[str, str] | None
) -> str | None:
    """The one third party controlling every judged layer, if there is one."""
    parties = {c.party for c in layers.values() if c is not None}
    if len(parties) != 1 or None in layers.values():
        return None
    (party,) = parties
    if party == control.USER:
        return None
    if carriers is not None and set(carriers) != {party}:
        return None
    return party


def gate(evidence: Evidence, results: list[CheckResult]) -> Verdict:
    """The band of a resolved account, from the layers its checks could judge."""
    by_id = {r.id: r for r in results}
    readers = {"atproto": _at_reading, "activitypub": _fediverse_reading, "matrix": _matrix_reading}
    reading = readers[evidence.protocol](evidence, by_id)
    layers, carriers = reading.layers, reading.carriers
    basis = [
        f"{layer}: {c.label} ({c.reason})" if c else f"{layer}: unknown"
        for layer, c in layers.items()
    ]
    who = [
        LayerControl(
            layer=layer,
            label=c.label if c else "unknown",
            yours=c.is_user if c else None,
            reason=c.reason if c else "",
        )
        for layer, c in layers.items()
    ]
    if carriers is not None:
        basis.append(f"distribution: {reading.distribution}")
        # yours only when you alone carry it; federation is many parties, neither yours nor not
        yours = None if control.FEDERATION in carriers else set(carriers) == {control.USER}
        who.append(LayerControl(layer="distribution", label=reading.distribution, yours=yours))

    def verdict(band: Band, headline: str) -> Verdict:
        return Verdict(band, [headline, *basis], who)

    third_party = _single_party(layers, carriers) if reading.centralizable else None
    if third_party is not None and {"identity", "name", "hosting"} <= set(layers):
        label = next(c.label for c in layers.values() if c is not None)
        return verdict(Band.CENTRALIZED, f"{label} controls every layer judged")

    missing = []
    for layer in ("identity", "name"):
        controller = layers.get(layer)
        if layer not in layers or controller is None:
            missing.append(f"the {layer} layer could not be judged")
        elif not controller.is_user:
            missing.append(f"{controller.label} controls the {layer}")
    missing.extend(reading.gaps)
    if not missing:
        return verdict(Band.DECENTRALIZED, "no single third party controls the account")
    return verdict(Band.HYBRID, f"not decentralized: {'; '.join(missing)}")


# --- AT Protocol ---------------------------------------------------------------------------------


def _at_reading(evidence: Evidence, results: Mapping[str, CheckResult]) -> Reading:
    identity_check = "did-method" if _is_did_web(evidence) else LAYER_CHECKS["identity"]
    # (a did:web has no rotation keys: its domain is the control)
    layers: dict[str, control.Controller | None] = {}
    if _ran(results, identity_check):
        layers["identity"] = control.identity_control(evidence)
    if _ran(results, LAYER_CHECKS["name"]):
        layers["name"] = control.name_control(evidence).controller
    if _ran(results, LAYER_CHECKS["hosting"]):
        layers["hosting"] = control.hosting_control(evidence)
    carriers = control.carriers(evidence) if _ran(results, LAYER_CHECKS["distribution"]) else None
    gaps = []
    export = results.get(LAYER_CHECKS["export"])
    if export is not None and export.status is not Status.PASS:
        gaps.append(_export_gap(export.status))
    if carriers is None:
        gaps.append("relay carriage could not be judged")
    elif len(set(carriers) - {control.USER}) < 2:
        gaps.append(f"relays of {len(carriers)} operator(s) carry it (2 needed)")
    if not _is_did_web(evidence):
        servers = control.identity_servers(evidence)
        if not _ran(results, LAYER_CHECKS["identity_service"]):
            gaps.append("who serves the identity could not be judged")
        elif len(servers) < 2:
            gaps.append(f"{len(servers)} operator(s) serve the identity (2 needed)")
    names = ", ".join(sorted((carriers or {}).values())) or "nobody"
    return Reading(layers, carriers, f"relays of {names}", gaps)


def _export_gap(status: Status) -> str:
    """Why the export keeps an account from the decentralized band, as the export check found."""
    if status is Status.FAIL:
        return "the export did not verify"
    if status is Status.PARTIAL:
        return "the export verified but does not match what the PDS reports"
    return "the export was not verified"  # not downloaded, refused while deactivated, skipped


# --- the fediverse and Matrix --------------------------------------------------------------------


def _federation_line(carriers: Mapping[str, str] | None) -> str:
    if carriers is None:
        return "unknown"
    server = next((label for party, label in carriers.items() if party != FEDERATION), "")
    if FEDERATION in carriers:
        return f"{server}, federating: {carriers[FEDERATION]}"
    return f"{server} alone (it does not federate)"


def _federation_gap(carriers: Mapping[str, str] | None) -> list[str]:
    """A federating server hands the account's posts to many independent servers, which keep
    them for their users; without federation, its own server is all there is."""
    if carriers is None:
        return ["whether it federates could not be judged"]
    if FEDERATION not in carriers:
        return ["its server does not federate: nobody else carries it"]
    return []


def _exit_gap(export: CheckResult | None) -> list[str]:
    """As for AT Protocol: the data must be verifiably the holder's to take (a self-hosted
    server's database is); a documented but unverifiable export is not enough."""
    if export is None or export.status is Status.PASS:
        return []
    if export.status is Status.FAIL:
        return ["no way to take the data elsewhere was found"]
    return ["no export of the data could be verified"]


V = TypeVar("V")
LayerReader = Callable[[V, Evidence], control.Controller | None]


def _federated_reading(
    evidence: Evidence,
    results: Mapping[str, CheckResult],
    view: V | None,
    checks: Mapping[str, str],
    readers: Mapping[str, LayerReader[V]],
    carriers_of: Callable[[V, Evidence], dict[str, str] | None],
) -> Reading:
    """The layers of a fediverse or Matrix account, each read when its check ran."""
    layers: dict[str, control.Controller | None] = {}
    carriers = None
    if view is not None:
        for layer, read in readers.items():
            if _ran(results, checks[layer]):
                layers[layer] = read(view, evidence)
        if _ran(results, checks["distribution"]):
            carriers = carriers_of(view, evidence)
    gaps = _exit_gap(results.get(checks["export"])) + _federation_gap(carriers)
    unknown = _ran(results, checks["distribution"]) and carriers is None
    return Reading(layers, carriers, _federation_line(carriers), gaps, not unknown)


def _fediverse_reading(evidence: Evidence, results: Mapping[str, CheckResult]) -> Reading:
    readers: dict[str, LayerReader[AccountView]] = {
        "identity": fediverse_control.identity_control,
        "name": fediverse_control.name_control,
        "hosting": fediverse_control.hosting_control,
    }
    return _federated_reading(
        evidence,
        results,
        fediverse_view(evidence),
        FEDIVERSE_LAYER_CHECKS,
        readers,
        fediverse_control.carriers,
    )


def _matrix_reading(evidence: Evidence, results: Mapping[str, CheckResult]) -> Reading:
    # a Matrix ID is its server name: the identity and the name are one reading
    readers: dict[str, LayerReader[MatrixView]] = {
        "identity": matrix_control.name_control,
        "name": matrix_control.name_control,
        "hosting": matrix_control.hosting_control,
    }
    return _federated_reading(
        evidence,
        results,
        matrix_view(evidence),
        MATRIX_LAYER_CHECKS,
        readers,
        matrix_control.carriers,
    )

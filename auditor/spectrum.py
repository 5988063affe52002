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

from collections.abc import Mapping
from dataclasses import dataclass

from auditor import control
from auditor.models.evidence import DidDocumentFetch, Evidence
from auditor.models.report import SCORED_STATUSES, Band, CheckResult, Status

LAYER_CHECKS: Mapping[str, str] = {
    "identity": "rotation-key-custody",
    "name": "handle-domain",
    "hosting": "pds-operator",
    "distribution": "relay-carriage",
    "identity_service": "identity-availability",
    "export": "repo-export",
}
"""Each layer the gates read, and the check whose having run makes it judgeable."""


@dataclass(frozen=True, slots=True)
class Verdict:
    band: Band
    basis: list[str]


def _judged(results: Mapping[str, CheckResult], layer: str, evidence: Evidence) -> bool:
    check_id = LAYER_CHECKS[layer]
    if layer == "identity" and _is_did_web(evidence):
        check_id = "did-method"  # a did:web has no rotation keys: its domain is the control
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
    judged = {layer: _judged(by_id, layer, evidence) for layer in LAYER_CHECKS}
    layers: dict[str, control.Controller | None] = {}
    if judged["identity"]:
        layers["identity"] = control.identity_control(evidence)
    if judged["name"]:
        layers["name"] = control.name_control(evidence).controller
    if judged["hosting"]:
        layers["hosting"] = control.hosting_control(evidence)
    carriers = control.carriers(evidence) if judged["distribution"] else None
    basis = [
        f"{layer}: {c.label} ({c.reason})" if c else f"{layer}: unknown"
        for layer, c in layers.items()
    ]
    if carriers is not None:
        basis.append(f"distribution: relays of {', '.join(sorted(carriers.values())) or 'nobody'}")

    third_party = _single_party(layers, carriers)
    if third_party is not None and {"identity", "name", "hosting"} <= set(layers):
        label = next(c.label for c in layers.values() if c is not None)
        return Verdict(Band.CENTRALIZED, [f"{label} controls every layer judged", *basis])

    missing = _decentralized_gaps(evidence, by_id, judged, layers, carriers)
    if not missing:
        return Verdict(Band.DECENTRALIZED, ["no single third party controls the account", *basis])
    return Verdict(Band.HYBRID, [f"not decentralized: {'; '.join(missing)}", *basis])


def _decentralized_gaps(
    evidence: Evidence,
    results: Mapping[str, CheckResult],
    judged: Mapping[str, bool],
    layers: Mapping[str, control.Controller | None],
    carriers: Mapping[str, str] | None,
) -> list[str]:
    gaps = []
    for layer in ("identity", "name"):
        controller = layers.get(layer)
        if controller is None:
            gaps.append(f"the {layer} layer could not be judged")
        elif not controller.is_user:
            gaps.append(f"{controller.label} controls the {layer}")
    export = results.get(LAYER_CHECKS["export"])
    if export is not None and export.status is not Status.PASS:
        gaps.append(_export_gap(export.status))
    if carriers is None:
        gaps.append("relay carriage could not be judged")
    elif len(set(carriers) - {control.USER}) < 2:
        gaps.append(f"relays of {len(carriers)} operator(s) carry it (2 needed)")
    if not _is_did_web(evidence):
        servers = control.identity_servers(evidence)
        if not judged["identity_service"]:
            gaps.append("who serves the identity could not be judged")
        elif len(servers) < 2:
            gaps.append(f"{len(servers)} operator(s) serve the identity (2 needed)")
    return gaps


def _export_gap(status: Status) -> str:
    """Why the export keeps an account from the decentralized band, as the export check found."""
    if status is Status.FAIL:
        return "the export did not verify"
    if status is Status.PARTIAL:
        return "the export verified but does not match what the PDS reports"
    return "the export was not verified"  # not downloaded, refused while deactivated, skipped

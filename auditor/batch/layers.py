"""What one account contributes to the ecosystem metrics: its value on each layer.

Read from a report's JSON (the batch output's lines), so metrics can be recomputed from any batch
output, an old one included, without re-auditing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.attribution import attribute_host

LAYERS = (
    "network",
    "hosting_operator",
    "name_domain",
    "pds_operator",
    "relay_operators",
    "appview_operators",
    "identity_directory",
    "did_method",
    "handle_domain",
    "custody",
    "band",
)
"""Every layer measured. ``network``, ``hosting_operator`` (PDS, fediverse server or Matrix
homeserver) and ``name_domain`` (the name on the holder's own domain or an operator's) count
accounts of every network; the others are AT Protocol's own. ``relay_operators`` and
``appview_operators`` count one entry per operator that carries (indexes) the account, so their
shares are shares of carriage."""

CRITICAL = ("hosting_operator", "relay_operators", "appview_operators", "identity_directory")
"""The layers an account cannot do without: the Nakamoto coefficient is their minimum. (For AT
Protocol accounts ``hosting_operator`` is ``pds_operator``, so an AT-only batch's coefficient is
what it was before other networks were counted.)"""
CRITICAL_ACROSS_NETWORKS = ("hosting_operator",)
"""In a batch of several networks only the hosting layer counts every account: the others are AT
Protocol's own, and a minimum over layers counting different accounts would mean nothing."""

HOSTING_CHECK = {
    "atproto": "pds-operator",
    "activitypub": "fediverse-instance-operator",
    "matrix": "matrix-homeserver-operator",
}
"""The check whose ``data.operator`` names each network's hosting operator."""
NAME_CHECK = {"activitypub": "fediverse-name-domain", "matrix": "matrix-name-domain"}
OWN_DOMAIN, OPERATOR_DOMAIN = "the holder's own domain", "an operator's domain"


def critical_layers(networks: set[str]) -> tuple[str, ...]:
    """The layers the Nakamoto coefficient is taken over, for a batch of ``networks``."""
    return CRITICAL if networks <= {"atproto"} else CRITICAL_ACROSS_NETWORKS


def _check(report: Mapping[str, Any], check_id: str) -> Mapping[str, Any] | None:
    for check in report.get("checks") or []:
        if isinstance(check, dict) and check.get("id") == check_id:
            return check
    return None


def _data(report: Mapping[str, Any], check_id: str) -> Mapping[str, Any]:
    check = _check(report, check_id)
    data = check.get("data") if check else None
    return data if isinstance(data, dict) else {}


def _custody(report: Mapping[str, Any]) -> str | None:
    if _data(report, "did-method").get("method") == "web":
        return "did:web (domain owner)"
    data = _data(report, "rotation-key-custody")
    rows = data.get("rotation_keys")
    if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
        return None
    top = rows[0]
    if top.get("operator"):
        return f"operator key ({top['operator']})"
    if top.get("host_key"):
        return "PDS key (presumed)"
    if top.get("shared_key"):
        return "PDS operator's shared key (presumed)"
    return "held apart from operators"


def _name_domain(report: Mapping[str, Any], network: str) -> str | None:
    if network in NAME_CHECK:
        controller = _data(report, NAME_CHECK[network]).get("controller")
        if not isinstance(controller, str):
            return None
        return OWN_DOMAIN if controller == "you" else OPERATOR_DOMAIN
    domain = _data(report, "handle-domain").get("domain_type")
    if not isinstance(domain, str) or domain == "none":
        return None
    return OWN_DOMAIN if domain == "custom_domain" else OPERATOR_DOMAIN


def account_layers(report: Mapping[str, Any]) -> dict[str, list[str]]:
    """The account's value(s) on each layer it could be judged on (absent layers are skipped)."""
    layers: dict[str, list[str]] = {}
    network = report.get("protocol") or "atproto"  # reports before schema 1.1 are AT Protocol's
    layers["network"] = [str(network)]
    hosting = _data(report, HOSTING_CHECK.get(network, "pds-operator"))
    if isinstance(hosting.get("operator"), str):
        layers["hosting_operator"] = [hosting["operator"]]
    name = _name_domain(report, network)
    if name:
        layers["name_domain"] = [name]
    pds = _data(report, "pds-operator")
    if isinstance(pds.get("operator"), str):
        layers["pds_operator"] = [pds["operator"]]
    relays = _data(report, "relay-carriage").get("relays")
    if isinstance(relays, list):
        carriers = {
            str(r["operator"])
            for r in relays
            if isinstance(r, dict) and r.get("state") == "current" and r.get("operator")
        }
        layers["relay_operators"] = sorted(carriers)
    appviews = _data(report, "appview-dependence").get("appviews")
    if isinstance(appviews, list):
        layers["appview_operators"] = sorted(
            {str(a["operator"]) for a in appviews if isinstance(a, dict) and a.get("indexed")}
        )
    method = _data(report, "did-method")
    if method.get("method") in ("plc", "web"):
        layers["did_method"] = [f"did:{method['method']}"]
        directory = method.get("directory_operator") or method.get("web_domain_operator")
        if isinstance(directory, str):
            layers["identity_directory"] = [directory]
    domain = _data(report, "handle-domain").get("domain_type")
    if isinstance(domain, str):
        layers["handle_domain"] = [domain]
    custody = _custody(report)
    if custody:
        layers["custody"] = [custody]
    if isinstance(report.get("band"), str):
        layers["band"] = [report["band"]]
    return layers


def is_bridged(report: Mapping[str, Any]) -> bool:
    """The account lives on a bridge (e.g. Bridgy Fed): not a native AT Protocol user."""
    host = _data(report, "pds-operator").get("host")
    return isinstance(host, str) and "bridge" in attribute_host(host).roles

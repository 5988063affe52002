"""The hosting, distribution and export checks, judged on sandbox accounts whose truth is known."""

from __future__ import annotations

import asyncio

import pytest

from auditor.api import rescore
from auditor.models.evidence import (
    NotCollected,
    PdsPeers,
    PeerAccount,
    PlcAuditLogFetch,
)
from auditor.models.report import CheckResult, Report, Status
from auditor.sandbox.demo import audit_scenarios

SCENARIOS = [
    "bsky-default",
    "independent-pds",
    "self-sovereign",
    "did-web-selfhosted",
    "migrated-away",
    "deactivated",
    "relay-takedown",
    "pds-down",
    "bad-export",
    "stale-relay",
    "hostile-garbage",
]


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {r.scenario: r.report for r in asyncio.run(audit_scenarios(SCENARIOS))}


def check(reports: dict[str, Report], scenario: str, check_id: str) -> CheckResult:
    return next(c for c in reports[scenario].checks if c.id == check_id)


@pytest.mark.parametrize(
    ("scenario", "status", "self_hosted", "operator"),
    [
        ("bsky-default", Status.FAIL, False, "Bluesky Social PBC"),
        ("independent-pds", Status.PARTIAL, False, "Blacksky Algorithms (attribution unverified)"),
        ("self-sovereign", Status.PASS, True, "dana.test"),
        ("did-web-selfhosted", Status.PASS, True, "erin.test"),
        ("migrated-away", Status.PARTIAL, False, "Northwind Social (sandbox)"),
    ],
)
def test_pds_operator(
    reports: dict[str, Report], scenario: str, status: Status, self_hosted: bool, operator: str
) -> None:
    result = check(reports, scenario, "pds-operator")
    assert result.status is status, result.summary
    assert result.data["self_hosted"] is self_hosted
    assert result.data["operator"] == operator


def test_pds_availability(reports: dict[str, Report]) -> None:
    assert check(reports, "bsky-default", "pds-availability").status is Status.PASS
    down = check(reports, "pds-down", "pds-availability")
    assert down.status is Status.FAIL
    assert down.data["reachable"] is False
    garbage = check(reports, "hostile-garbage", "pds-availability")
    assert garbage.status is Status.FAIL
    assert "invalid" in str(garbage.data["error"]).lower() or "JSON" in str(garbage.data["error"])


@pytest.mark.parametrize(
    ("scenario", "status", "current_operators"),
    [
        ("bsky-default", Status.PARTIAL, 1),
        ("self-sovereign", Status.PASS, 3),
        ("independent-pds", Status.PASS, 2),
        ("stale-relay", Status.PARTIAL, 1),
        ("relay-takedown", Status.PARTIAL, 1),
    ],
)
def test_relay_carriage(
    reports: dict[str, Report], scenario: str, status: Status, current_operators: int
) -> None:
    result = check(reports, scenario, "relay-carriage")
    assert result.status is status, result.summary
    assert result.data["current_operators"] == current_operators


def test_relay_states_are_classified(reports: dict[str, Report]) -> None:
    def states(scenario: str) -> dict[str, str]:
        rows = check(reports, scenario, "relay-carriage").data["relays"]
        assert isinstance(rows, list)
        return {str(r["url"]): str(r["state"]) for r in rows if isinstance(r, dict)}

    assert states("stale-relay")["https://atproto.africa"] == "stale"
    assert states("stale-relay")["https://bsky.network"] == "current"
    assert states("relay-takedown")["https://bsky.network"] == "taken_down"
    assert states("bsky-default")["https://atproto.africa"] == "not_carried"


def test_account_status(reports: dict[str, Report]) -> None:
    assert check(reports, "bsky-default", "account-status").status is Status.PASS
    takedown = check(reports, "relay-takedown", "account-status")
    assert takedown.status is Status.PARTIAL
    assert takedown.data["pds_status"] == "active"
    assert takedown.data["refused_by"] == ["Bluesky Social PBC"]
    deactivated = check(reports, "deactivated", "account-status")
    assert deactivated.status is Status.INFO
    assert deactivated.data["pds_status"] == "deactivated"


def test_identity_availability(reports: dict[str, Report]) -> None:
    # plc.wtf serves the same log; us-west.plc.wtf lags one operation behind
    result = check(reports, "migrated-away", "identity-availability")
    assert result.status is Status.PASS
    rows = {str(r["url"]): r["state"] for r in result.data["mirrors"] if isinstance(r, dict)}  # type: ignore[union-attr]
    assert rows == {"https://plc.wtf": "same", "https://us-west.plc.wtf": "behind"}
    assert result.data["consistent_operators"] == 2
    assert (
        check(reports, "did-web-selfhosted", "identity-availability").status
        is Status.NOT_APPLICABLE
    )


def test_appview_dependence(reports: dict[str, Report]) -> None:
    only_bluesky = check(reports, "bsky-default", "appview-dependence")
    assert only_bluesky.status is Status.FAIL
    assert only_bluesky.data["indexing_operators"] == 1
    both = check(reports, "self-sovereign", "appview-dependence")
    assert both.status is Status.PASS
    assert both.data["indexing_operators"] == 2


def test_repo_export_verifies_real_exports(reports: dict[str, Report]) -> None:
    result = check(reports, "self-sovereign", "repo-export")
    assert result.status is Status.PASS, result.summary
    assert result.data["signature_valid"] is True
    assert result.data["mst_complete"] is True
    assert result.data["records"] == 13
    assert result.data["commit_matches_pds"] is True
    assert result.data["collections_match"] is True


def test_bad_export_is_never_called_verified(reports: dict[str, Report]) -> None:
    result = check(reports, "bad-export", "repo-export")
    assert result.status is Status.FAIL
    assert result.data["signature_valid"] is False
    assert result.data["mst_complete"] is False


def test_unreachable_pds_export_is_an_error_not_a_verdict(reports: dict[str, Report]) -> None:
    result = check(reports, "pds-down", "repo-export")
    assert result.status is Status.ERROR
    assert result.error_reason == "evidence_unavailable"


def test_blob_export(reports: dict[str, Report]) -> None:
    result = check(reports, "self-sovereign", "blob-export")
    assert result.status is Status.PASS
    assert result.data == {
        "blobs_listed": 1,
        "blobs_checked": 1,
        "blobs_valid": 1,
        "listing_complete": True,
    }


def test_hosting_network_is_informational(reports: dict[str, Report]) -> None:
    result = check(reports, "bsky-default", "hosting-network")
    assert result.status is Status.INFO and result.score is None
    networks = result.data["networks"]
    assert isinstance(networks, list) and networks
    assert networks[0] == {  # type: ignore[comparison-overlap]
        "asn": "64601",
        "name": "SANDBOX-CLOUD - simulated large cloud provider",
        "prefix": "127.16.0.0/12",
        "country": "ZZ",
    }


def test_every_scenario_gets_its_designed_band() -> None:
    from auditor.sandbox.demo import default_scenarios

    results = asyncio.run(audit_scenarios(default_scenarios()))
    wrong = {
        r.scenario: (r.report.band, r.expected_band, r.report.band_basis)
        for r in results
        if r.expected_band is not None and r.report.band is not r.expected_band
    }
    assert not wrong, wrong


def test_an_operator_recovery_key_on_every_account_is_not_called_the_users() -> None:
    """PDS_RECOVERY_DID_KEY: one account's log alone would credit the key to the user."""
    (result,) = asyncio.run(audit_scenarios(["operator-recovery-key"], stable=True))
    report = result.report
    peers = report.evidence.pds_peers
    assert isinstance(peers, PdsPeers) and len(peers.accounts) == 2
    custody = next(c for c in report.checks if c.id == "rotation-key-custody")
    assert custody.status.value == "partial" and custody.data["shared_keys"]
    assert report.band is not None and report.band.value == "hybrid"
    assert "its operator's" in report.band_basis[1]
    # Without the neighbours, the same log reads as the user's: the false pass this prevents.
    alone = report.evidence.model_copy(update={"pds_peers": NotCollected(reason="not asked")})
    assert rescore(alone).band is not None and rescore(alone).band.value == "decentralized"


def test_a_self_hosted_server_sharing_its_key_across_its_accounts_stays_yours() -> None:
    (result,) = asyncio.run(audit_scenarios(["self-sovereign"], stable=True))
    report = result.report
    top = report.evidence.plc_audit_log
    assert isinstance(top, PlcAuditLogFetch) and top.verification.state is not None
    keys = top.verification.state.rotation_keys
    peers = PdsPeers(accounts=[PeerAccount(did="did:plc:" + "a" * 24, rotation_keys=keys)])
    again = rescore(report.evidence.model_copy(update={"pds_peers": peers}))
    assert again.band is not None and again.band.value == "decentralized"

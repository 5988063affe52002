"""decaudit against the unmodified reference PDS and PLC directory, over real sockets on 127.0.0.1.

The harness (``harness/server.mjs``) seeds accounts through the servers' own APIs and reports what
is true about each one: its DID, its handles over time, its rotation keys and which of them the
user holds, the records and blobs written, the commit, its status. Each test runs nothing but
the installed ``decaudit check`` (see ``conftest.audits``) and compares its report with those
truths, so a claim that holds only against decaudit's own sandbox fails here.

Known disagreements between decaudit and the truth are ``xfail(strict=True)`` with the reason:
they are bugs to fix in decaudit, and the test turns red (XPASS) the day one is fixed, to be
un-marked.
"""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reference.conftest import Audit, run_audit
from tests.reference.network import HarnessStartError, ReferenceNetwork, reference_network
from tests.reference.toolchain import Toolchain

ACTIVE = ("default", "recovery-key", "renamed", "plc-direct-update", "did-web")
PLC_ROLES = ("default", "recovery-key", "renamed", "plc-direct-update", "deactivated", "taken-down")


def data(audit: Audit, check_id: str) -> dict[str, Any]:
    found: dict[str, Any] = audit.check(check_id)["data"]
    return found


# --- the network itself ----------------------------------------------------------------------


def _listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket ``pid`` listens on, from /proc (IPv4 and IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address_hex, port_hex = local.split(":")
            raw = bytes.fromhex(address_hex)
            # /proc prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, width // 2, 4))
            family = socket.AF_INET if width == 8 else socket.AF_INET6
            found.append((socket.inet_ntop(family, words), int(port_hex, 16)))
    return found


def test_the_servers_listen_on_127_0_0_1_only(reference: ReferenceNetwork) -> None:
    sockets = _listening_sockets(reference.harness.process.pid)
    ports = {port for _, port in sockets}
    description = reference.description
    expected = {description[name]["port"] for name in ("plc", "pds", "web")}
    assert expected <= ports
    assert {address for address, _ in sockets} == {"127.0.0.1"}, sockets


def test_the_pds_asked_the_stub_relay_to_crawl_it(reference: ReferenceNetwork) -> None:
    """The reference PDS calls requestCrawl on its first write, with its own hostname."""
    deadline = time.monotonic() + 10
    while not reference.relay.crawl_requests and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reference.relay.crawl_requests[:1] == ["localhost"]


def test_the_servers_are_the_pinned_reference_versions(reference: ReferenceNetwork) -> None:
    pds = reference.description["pds"]
    assert pds["version"] == "0.5.35"
    assert pds["did"] == "did:web:localhost"
    assert pds["available_user_domains"] == [".test"]


# --- every audit ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", sorted((*ACTIVE, "deactivated", "taken-down")))
def test_every_audit_resolves_the_account_and_is_not_a_sandbox_report(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    account = reference.account(role)
    report = audits[role].report
    assert report["did"] == account["did"]
    assert report["handle"] == account["handle"]
    assert report["handle_verified"] is True
    assert report["sandbox"] is False and report["evidence"]["sandbox"] is False
    assert report["unresolved_reason"] is None


@pytest.mark.parametrize("role", sorted(ACTIVE))
def test_no_request_left_the_reference_network(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    """Every URL decaudit fetched is on loopback or one --connect-to sends there."""
    allowed = {"localhost", "127.0.0.1", "relay.test", "mirror.test", *reference.handles()}
    urls: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                if isinstance(item, str) and item.startswith(("http://", "https://")):
                    urls.append(item)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(audits[role].evidence)
    assert urls
    assert {httpx.URL(url).host for url in urls} <= allowed


# --- handle resolution ---------------------------------------------------------------------


def test_a_handle_resolves_by_dns_and_by_https_to_the_same_did(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    did = reference.account("default")["did"]
    result = data(audits["default"], "handle-resolution")
    assert result == {
        "handle": "alice.test",
        "verified": True,
        "dns_did": did,
        "https_did": did,
        "method": "dns",
        "methods_disagree": False,
    }
    resolution = audits["default"].evidence["handle_resolutions"][0]
    assert resolution["dns"]["records"] == [f"did={did}"]
    # served by the PDS from the Host header --connect-to kept
    assert resolution["https"]["exchange"]["url"] == "https://alice.test/.well-known/atproto-did"
    assert resolution["https"]["body"] == did


def test_a_handle_without_a_txt_record_resolves_by_https_alone(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    account = reference.account("renamed")
    assert account["txt"] is False
    result = data(audits["renamed"], "handle-resolution")
    assert result["dns_did"] is None
    assert result["https_did"] == account["did"]
    assert result["method"] == "https"
    assert result["verified"] is True


@pytest.mark.parametrize("role", ["deactivated", "taken-down"])
def test_an_inactive_account_s_handle_resolves_by_dns_only(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    """The reference PDS stops serving /.well-known/atproto-did for an inactive account."""
    result = data(audits[role], "handle-resolution")
    assert result["dns_did"] == reference.account(role)["did"]
    assert result["https_did"] is None
    https = audits[role].evidence["handle_resolutions"][0]["https"]
    assert https["outcome"] == "failed" and https["http_status"] == 404


# --- DID documents and PLC logs -------------------------------------------------------------


@pytest.mark.parametrize("role", PLC_ROLES)
def test_the_plc_log_verifies_with_every_operation_the_harness_made(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    account = reference.account(role)
    check = audits[role].check("plc-log-integrity")
    assert check["status"] == "pass"
    assert check["data"]["valid"] is True
    assert check["data"]["operations"] == account["plc_operations"]
    assert check["data"]["nullified"] == 0
    assert check["data"]["document_matches_log"] is True


@pytest.mark.parametrize("role", PLC_ROLES)
def test_the_reference_plc_document_s_legacy_key_is_read_as_the_signing_key(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    """@did-plc/server serves ``#atproto`` relative, typed EcdsaSecp256k1VerificationKey2019,
    with an uncompressed multibase key; decaudit must still find the account's did:key."""
    account = reference.account(role)
    method = audits[role].evidence["did_document"]["document"]["verificationMethod"][0]
    assert method["id"] == "#atproto"
    assert method["type"] == "EcdsaSecp256k1VerificationKey2019"
    check = audits[role].check("did-document")
    assert check["status"] == "pass"
    assert check["data"]["signing_key"] == account["signing_key"]
    assert check["data"]["key_type"] == "EcdsaSecp256k1VerificationKey2019"
    assert check["data"]["pds_endpoint"] == reference.description["pds"]["url"]
    assert check["data"]["problems"] == []


def test_a_did_web_identity_is_read_from_its_own_host(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    account = reference.account("did-web")
    audit = audits["did-web"]
    assert data(audit, "did-method")["method"] == "web"
    assert (
        data(audit, "did-method")["web_domain"]
        == f"localhost:{reference.description['web']['port']}"
    )
    assert audit.evidence["did_document"]["document"] == account["did_document"]
    assert data(audit, "did-document")["signing_key"] == account["signing_key"]
    assert data(audit, "did-document")["key_type"] == "Multikey"
    for check_id in ("plc-log-integrity", "rotation-key-custody", "identity-history"):
        assert audit.check(check_id)["status"] == "not_applicable"


def test_identity_history_shows_the_handle_change(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    account = reference.account("renamed")
    history = data(audits["renamed"], "identity-history")
    assert [h["handle"] for h in history["handles"]] == account["handles"]
    assert account["handles"] == ["carol-was.test", "carol.test"]
    assert [h["operation"] for h in history["handles"]] == [0, 1]
    assert [p["endpoint"] for p in history["pds_endpoints"]] == [
        reference.description["pds"]["url"]
    ]
    assert history["operator_moves"] == 0


def test_the_identity_is_the_same_at_the_mirror(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    result = data(audits["renamed"], "identity-availability")
    assert [m["state"] for m in result["mirrors"]] == ["same"]


# --- rotation-key custody -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["default", "renamed", "deactivated", "taken-down"])
def test_a_pds_held_identity_is_not_called_the_user_s(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    """createAccount without recoveryKey: the PDS's key (which signed every op) is the only one."""
    pds_key = reference.description["pds"]["rotation_key"]
    assert reference.account(role)["rotation_keys"] == [pds_key]
    check = audits[role].check("rotation-key-custody")
    assert check["status"] == "partial"
    assert check["data"]["host_keys"] == [pds_key]
    assert check["data"]["other_keys"] == []
    assert check["data"]["rotation_keys"][0]["host_key"] is True


def test_a_recovery_key_given_at_signup_outranks_the_pds(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    account = reference.account("recovery-key")
    user_key = account["user_keys"][0]["did_key"]
    pds_key = reference.description["pds"]["rotation_key"]
    assert account["rotation_keys"] == [user_key, pds_key]
    check = audits["recovery-key"].check("rotation-key-custody")
    assert check["status"] == "pass"
    assert [k["key"] for k in check["data"]["rotation_keys"]] == [user_key, pds_key]
    assert check["data"]["other_keys"] == [user_key]
    assert check["data"]["host_keys"] == [pds_key]
    assert check["data"]["top_key_operator"] is None


def test_the_directly_updated_identity_lists_the_user_s_keys_first(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    account = reference.account("plc-direct-update")
    user_keys = [k["did_key"] for k in account["user_keys"]]
    pds_key = reference.description["pds"]["rotation_key"]
    assert account["rotation_keys"] == [*user_keys, pds_key]
    check = audits["plc-direct-update"].check("rotation-key-custody")
    assert [k["key"] for k in check["data"]["rotation_keys"]] == [*user_keys, pds_key]


def test_the_directly_updated_identity_is_in_the_user_s_custody(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    user_key = reference.account("plc-direct-update")["user_keys"][0]["did_key"]
    check = audits["plc-direct-update"].check("rotation-key-custody")
    assert check["data"]["rotation_keys"][0]["host_key"] is False
    assert user_key not in check["data"]["host_keys"]
    assert check["status"] == "pass"


# --- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ACTIVE)
def test_the_export_verifies_with_exactly_the_records_written(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    account = reference.account(role)
    audit = audits[role]
    check = audit.check("repo-export")
    assert check["status"] == "pass"
    assert check["data"]["signature_valid"] is True
    assert check["data"]["mst_complete"] is True
    assert check["data"]["commit_matches_pds"] is True
    assert check["data"]["collections_match"] is True
    verification = audit.evidence["repo_export"]["verification"]
    assert verification["verified"] is True
    assert verification["cid_mismatches"] == 0
    assert verification["missing_blocks"] == 0
    assert verification["did_matches"] is True
    assert verification["version_ok"] is True
    assert verification["commit_cid"] == account["commit"]["cid"]
    assert verification["rev"] == account["commit"]["rev"]
    assert verification["records"] == len(account["records"])
    assert verification["collections"] == sorted({r["collection"] for r in account["records"]})


@pytest.mark.parametrize("role", ACTIVE)
def test_an_independent_mst_reader_finds_the_same_records_in_the_saved_export(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    """atmst (not decaudit's code) walks the CAR decaudit saved: path and CID of every record."""
    atmst = pytest.importorskip("atmst.all")
    cbrrr = pytest.importorskip("cbrrr")
    account = reference.account(role)
    car = (audits[role].export_dir / "repo.car").read_bytes()
    store = atmst.ReadOnlyCARBlockStore(io.BytesIO(car))
    assert store.car_root.encode() == account["commit"]["cid"]
    commit = cbrrr.decode_dag_cbor(store.get_block(bytes(store.car_root)))
    walker = atmst.NodeWalker(atmst.NodeStore(store), commit["data"])
    found = {key: value.encode() for key, value in walker.iter_kv()}
    written = {f"{r['collection']}/{r['rkey']}": r["cid"] for r in account["records"]}
    assert found == written


def test_every_blob_written_is_listed_fetched_and_verified(
    reference: ReferenceNetwork, audits: dict[str, Audit]
) -> None:
    account = reference.account("default")
    audit = audits["default"]
    assert audit.check("blob-export")["status"] == "pass"
    assert data(audit, "blob-export") == {
        "blobs_listed": len(account["blobs"]),
        "blobs_checked": len(account["blobs"]),
        "blobs_valid": len(account["blobs"]),
        "listing_complete": True,
    }
    checked = audit.evidence["blobs"]["checked"]
    assert sorted(b["cid"] for b in checked) == sorted(account["blobs"])
    saved = audit.export_dir / "blobs"
    assert sorted(p.name for p in saved.iterdir()) == sorted(account["blobs"])


# --- account status -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status", "error"),
    [
        ("deactivated", "deactivated", "RepoDeactivated"),
        ("taken-down", "takendown", "RepoTakendown"),
    ],
)
def test_an_inactive_account_is_detected_on_the_pds_and_through_the_relay(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str, status: str, error: str
) -> None:
    account = reference.account(role)
    assert account["status"] == status
    audit = audits[role]
    result = data(audit, "account-status")
    assert result["pds_status"] == status
    assert [r["status"] for r in result["relay_statuses"]] == [status]
    repo_status = audit.evidence["pds"]["repo_status"]
    assert repo_status["exchange"]["status"] == 200
    assert repo_status["body"] == {"did": account["did"], "active": False, "status": status}
    for slot in (audit.evidence["repo_export"], audit.evidence["blobs"]):
        assert slot["outcome"] == "failed"
        assert (slot["http_status"], slot["error_name"]) == (400, error)


def test_a_takedown_fails_account_status_and_a_deactivation_does_not(
    audits: dict[str, Audit],
) -> None:
    assert audits["taken-down"].check("account-status")["status"] == "fail"
    assert audits["deactivated"].check("account-status")["status"] == "info"
    assert audits["default"].check("account-status")["status"] == "pass"


def test_a_refused_export_is_judged_not_left_unjudged(audits: dict[str, Audit]) -> None:
    """The real PDS's RepoTakendown is a fail (the data cannot leave); RepoDeactivated is the
    owner's choice (not applicable); neither is an "evidence unavailable" error."""
    for check_id in ("repo-export", "blob-export"):
        taken = audits["taken-down"].check(check_id)
        assert (taken["status"], taken["score"]) == ("fail", 0.0)
        assert "RepoTakendown" in taken["summary"]
        assert audits["deactivated"].check(check_id)["status"] == "not_applicable"


@pytest.mark.parametrize("role", sorted(ACTIVE))
def test_the_relay_carries_the_current_commit(
    reference: ReferenceNetwork, audits: dict[str, Audit], role: str
) -> None:
    result = data(audits[role], "relay-carriage")
    assert [r["state"] for r in result["relays"]] == ["current"]
    assert result["relays"][0]["rev"] == reference.account(role)["commit"]["rev"]


def test_an_account_the_pds_does_not_host_is_reported_as_such(reference: ReferenceNetwork) -> None:
    """A DID the PLC directory does not know: decaudit says so instead of inventing a report."""
    report = run_audit(reference, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")
    assert report["did"] == "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    fetch = report["evidence"]["did_document"]
    assert fetch["outcome"] == "failed" and fetch["http_status"] == 404


# --- harness behaviour ----------------------------------------------------------------------


def test_a_pds_port_in_use_is_a_clear_error_not_a_hang(
    toolchain: Toolchain, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        with (
            pytest.raises(
                HarnessStartError, match=f"PDS port {port} on 127.0.0.1 is already in use"
            ),
            reference_network(
                toolchain, tmp_path, harness_args=("--pds-port", str(port)), start_timeout=60
            ),
        ):
            pass
        assert time.monotonic() - started < 60


def test_every_process_is_stopped_when_the_session_fails(
    toolchain: Toolchain, tmp_path: Path
) -> None:
    """An exception inside the ``with`` block (a failing test) still stops the whole group."""
    seen: dict[str, Any] = {}
    with (
        pytest.raises(RuntimeError, match="a test failed"),
        reference_network(toolchain, tmp_path) as network,
    ):
        seen["pid"] = network.harness.process.pid
        seen["ports"] = [network.description[n]["port"] for n in ("plc", "pds", "web")]
        raise RuntimeError("a test failed")
    assert network.harness.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(seen["pid"], 0)
    for port in seen["ports"]:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0

"""The gatherer over a fake network: each probe's evidence, and every failure kept as evidence."""

from __future__ import annotations

import pytest

from auditor.crypto import PrivateKey
from auditor.hosting import pds_head, relay_view
from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import (
    DidDocumentFetch,
    DnsTxtAnswer,
    JsonAnswer,
    NotCollected,
    PdsProbes,
    PlcAuditLogFetch,
    WellKnownAnswer,
)
from auditor.sandbox.identities import PlcIdentity
from tests.support.fakenet import FakeNet

PDS = "https://pds.example.com"


def alice(handle: str = "alice.example.com") -> PlcIdentity:
    return PlcIdentity(handle, PDS, rotation=[PrivateKey.generate("k256")])


def test_handle_target_records_both_methods_document_log_and_pds(fakenet: FakeNet) -> None:
    # Given a well-formed account
    identity = alice()
    fakenet.account(identity)
    # When it is gathered by handle
    evidence = fakenet.gather("alice.example.com")
    # Then each probe is recorded on its own
    (resolution,) = evidence.handle_resolutions
    assert isinstance(resolution.dns, DnsTxtAnswer)
    assert resolution.dns.records == [f"did={identity.did}"]
    assert isinstance(resolution.https, WellKnownAnswer)
    assert resolution.https.body == identity.did
    assert resolution.https.exchange.url == "https://alice.example.com/.well-known/atproto-did"
    assert evidence.did == identity.did
    assert isinstance(evidence.did_document, DidDocumentFetch)
    assert evidence.did_document.parsed.pds_endpoint == PDS
    assert isinstance(evidence.plc_audit_log, PlcAuditLogFetch)
    assert evidence.plc_audit_log.verification.valid
    assert isinstance(evidence.pds, PdsProbes)
    assert isinstance(evidence.pds.health, JsonAnswer)
    assert evidence.unresolved_reason is None


def test_did_target_resolves_the_claimed_handle(fakenet: FakeNet) -> None:
    identity = alice()
    fakenet.account(identity)
    evidence = fakenet.gather(identity.did)
    assert evidence.input_handle is None
    assert [r.handle for r in evidence.handle_resolutions] == ["alice.example.com"]


def test_handle_claiming_another_handle_resolves_both(fakenet: FakeNet) -> None:
    # Given a domain pointing at a DID whose document claims a different handle
    identity = alice("bob.example.net")
    fakenet.account(identity)
    fakenet.handle_dns("impostor.example.org", f"did={identity.did}")
    fakenet.handle_https("impostor.example.org", "", status=404)
    evidence = fakenet.gather("impostor.example.org")
    assert [r.handle for r in evidence.handle_resolutions] == [
        "impostor.example.org",
        "bob.example.net",
    ]


def test_unresolvable_handle_keeps_both_failures_and_stops(fakenet: FakeNet) -> None:
    # Given a handle with no TXT record (NXDOMAIN) and a 404 well-known
    fakenet.handle_https("ghost.example.com", "Not Found", status=404)
    evidence = fakenet.gather("ghost.example.com")
    (resolution,) = evidence.handle_resolutions
    assert isinstance(resolution.dns, ProbeFailure)
    assert resolution.dns.kind is FailureKind.DNS_NXDOMAIN
    assert isinstance(resolution.https, ProbeFailure)
    assert resolution.https.kind is FailureKind.HTTP_STATUS
    assert resolution.https.http_status == 404
    assert evidence.did is None
    assert evidence.unresolved_reason is not None
    assert "ghost.example.com did not resolve" in evidence.unresolved_reason
    assert isinstance(evidence.did_document, NotCollected)


def test_did_document_404_is_unresolved_with_the_reason(fakenet: FakeNet) -> None:
    did = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    fakenet.route(
        f"https://plc.directory/{did}", status_code=404, json={"message": "DID not registered"}
    )
    evidence = fakenet.gather(did)
    assert isinstance(evidence.did_document, ProbeFailure)
    assert evidence.did_document.http_status == 404
    assert evidence.unresolved_reason and "could not be had" in evidence.unresolved_reason


def test_reserved_tld_is_not_looked_up(fakenet: FakeNet) -> None:
    evidence = fakenet.gather("alice.onion")
    (resolution,) = evidence.handle_resolutions
    assert isinstance(resolution.dns, NotCollected)
    assert "reserved" in resolution.dns.reason
    assert fakenet.router.calls.call_count == 0


def test_did_web_reads_the_well_known_document(fakenet: FakeNet) -> None:
    key = PrivateKey.generate("p256")
    document = {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": "did:web:alice.example.com",
        "alsoKnownAs": ["at://alice.example.com"],
        "verificationMethod": [
            {
                "id": "#atproto",
                "type": "Multikey",
                "controller": "did:web:alice.example.com",
                "publicKeyMultibase": key.public_key.multibase,
            }
        ],
        "service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": PDS}
        ],
    }
    fakenet.route("https://alice.example.com/.well-known/did.json", json=document)
    fakenet.handle_dns("alice.example.com", "did=did:web:alice.example.com")
    fakenet.handle_https("alice.example.com", "did:web:alice.example.com")
    fakenet.pds(PDS)
    evidence = fakenet.gather("did:web:alice.example.com")
    assert isinstance(evidence.did_document, DidDocumentFetch)
    assert evidence.did_document.method == "web"
    parsed = evidence.did_document.parsed
    assert parsed.signing_key is not None and parsed.signing_key.curve == "p256"
    assert isinstance(evidence.plc_audit_log, NotCollected)


def test_pds_on_link_local_address_is_blocked_not_requested(fakenet: FakeNet) -> None:
    # Given a DID document whose PDS points at the cloud metadata address
    identity = PlcIdentity(
        "alice.example.com", "http://169.254.169.254", rotation=[PrivateKey.generate("k256")]
    )
    fakenet.plc(identity)
    fakenet.handle_dns(identity.handle, f"did={identity.did}")
    fakenet.handle_https(identity.handle, identity.did)
    metadata = fakenet.router.get(url__startswith="http://169.254.169.254")
    # When audited, even with private destinations allowed
    evidence = fakenet.gather(identity.handle, allow_private=True)
    # Then the probe is a blocked_address failure and no request was made
    assert isinstance(evidence.pds, PdsProbes)
    assert isinstance(evidence.pds.health, ProbeFailure)
    assert evidence.pds.health.kind is FailureKind.BLOCKED_ADDRESS
    assert not metadata.called


def test_pds_on_loopback_needs_allow_private(fakenet: FakeNet) -> None:
    identity = PlcIdentity(
        "alice.example.com", "https://pds.internal.example", rotation=[PrivateKey.generate("k256")]
    )
    fakenet.account(identity)
    fakenet.addresses["pds.internal.example"] = ["127.0.0.1"]
    refused = fakenet.gather(identity.handle)
    assert isinstance(refused.pds, PdsProbes)
    assert isinstance(refused.pds.health, ProbeFailure)
    assert refused.pds.health.kind is FailureKind.BLOCKED_ADDRESS
    allowed = fakenet.gather(identity.handle, allow_private=True)
    assert isinstance(allowed.pds, PdsProbes)
    assert isinstance(allowed.pds.health, JsonAnswer)


def test_garbage_json_document_is_invalid_response(fakenet: FakeNet) -> None:
    did = "did:plc:bbbbbbbbbbbbbbbbbbbbbbbb"
    fakenet.route(
        f"https://plc.directory/{did}",
        text="{not json",
        headers={"content-type": "application/json"},
    )
    fakenet.route(f"https://plc.directory/{did}/log/audit", json=[])
    evidence = fakenet.gather(did)
    assert isinstance(evidence.did_document, ProbeFailure)
    assert evidence.did_document.kind is FailureKind.INVALID_RESPONSE


def test_evidence_round_trips_through_json(fakenet: FakeNet) -> None:
    identity = alice()
    fakenet.account(identity)
    evidence = fakenet.gather("alice.example.com")
    again = type(evidence).model_validate_json(evidence.model_dump_json())
    assert again == evidence


RELAY = "https://relay.example.net"
ACTIVE_AT = {"active": True, "rev": "3mzanr5on2222"}


@pytest.mark.parametrize(
    ("status", "asked"),
    [
        (ACTIVE_AT, False),  # the status gives the revision
        ({"active": True}, True),  # an older relay: only the commit gives it
        ({"active": False, "status": "deactivated"}, False),  # nothing to compare
        (None, False),  # RepoNotFound: judged on the status alone
    ],
)
def test_relay_commit_is_asked_only_when_the_status_lacks_the_revision(
    fakenet: FakeNet, status: dict[str, object] | None, asked: bool
) -> None:
    identity = alice()
    fakenet.account(identity)
    if status is None:
        fakenet.route(
            f"{RELAY}/xrpc/com.atproto.sync.getRepoStatus",
            status_code=400,
            json={"error": "RepoNotFound", "message": "no such repo"},
        )
    else:
        fakenet.route(
            f"{RELAY}/xrpc/com.atproto.sync.getRepoStatus", json={"did": identity.did, **status}
        )
    commit = fakenet.route(
        f"{RELAY}/xrpc/com.atproto.sync.getLatestCommit",
        json={"cid": "bafyreiavy4n3wki3ookkojmnyythwobgunutbcpnisah2apxhplzialrb4", "rev": "3z"},
    )
    fakenet.route(f"{RELAY}/xrpc/com.atproto.sync.getHostStatus", json={"status": "active"})
    evidence = fakenet.gather("alice.example.com", relays=[RELAY])
    (probe,) = evidence.relays
    assert commit.called is asked
    assert isinstance(probe.latest_commit, JsonAnswer if asked else NotCollected)
    view = relay_view(probe, pds_rev="3a", sandbox=False)
    if asked:
        assert view.rev == "3z"  # the revision came from the commit
    elif status == ACTIVE_AT:
        assert view.rev == ACTIVE_AT["rev"]


@pytest.mark.parametrize("skip_export", [True, False])
def test_pds_commit_is_asked_up_front_only_when_an_export_will_be_checked(
    fakenet: FakeNet, skip_export: bool
) -> None:
    identity = alice()
    fakenet.account(identity)
    fakenet.route(
        f"{PDS}/xrpc/com.atproto.sync.getRepoStatus", json={"did": identity.did, **ACTIVE_AT}
    )
    commit = fakenet.route(
        f"{PDS}/xrpc/com.atproto.sync.getLatestCommit",
        json={"cid": "bafyreiavy4n3wki3ookkojmnyythwobgunutbcpnisah2apxhplzialrb4", "rev": "3z"},
    )
    evidence = fakenet.gather("alice.example.com", skip_export=skip_export)
    assert isinstance(evidence.pds, PdsProbes)
    assert commit.called is not skip_export
    if skip_export:
        assert isinstance(evidence.pds.latest_commit, NotCollected)
        assert pds_head(evidence) == (None, ACTIVE_AT["rev"])
    else:
        assert (
            pds_head(evidence)[0] == "bafyreiavy4n3wki3ookkojmnyythwobgunutbcpnisah2apxhplzialrb4"
        )


def test_pds_without_repo_status_is_asked_for_its_commit(fakenet: FakeNet) -> None:
    identity = alice()
    fakenet.account(identity)
    fakenet.route(f"{PDS}/xrpc/com.atproto.sync.getRepoStatus", status_code=501, json={})
    fakenet.route(
        f"{PDS}/xrpc/com.atproto.sync.getLatestCommit",
        json={"cid": "bafyreiavy4n3wki3ookkojmnyythwobgunutbcpnisah2apxhplzialrb4", "rev": "3z"},
    )
    evidence = fakenet.gather("alice.example.com")
    assert pds_head(evidence) == (
        "bafyreiavy4n3wki3ookkojmnyythwobgunutbcpnisah2apxhplzialrb4",
        "3z",
    )

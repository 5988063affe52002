"""Pure interpreters: DID documents, handle-resolution evidence, operator attribution."""

from __future__ import annotations

import json
from pathlib import Path

import libipld
import pytest

from auditor import attribution, diddoc, identity
from auditor.attribution import AttributionBasis, attribute_host, attribute_key, registrable_domain
from auditor.crypto import PrivateKey
from auditor.models.common import FailureKind, HttpExchange, ProbeFailure
from auditor.models.evidence import DnsTxtAnswer, HandleResolution, NotCollected, WellKnownAnswer

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
KEY = PrivateKey.from_bytes("k256", bytes(range(1, 33))).public_key


def document(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": DID,
        "alsoKnownAs": ["at://alice.example.com"],
        "verificationMethod": [
            {
                "id": f"{DID}#atproto",
                "type": "Multikey",
                "controller": DID,
                "publicKeyMultibase": KEY.multibase,
            }
        ],
        "service": [
            {
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://pds.example.com",
            }
        ],
    }
    base.update(overrides)
    return base


# --- DID documents ------------------------------------------------------------------------------


def test_reads_handle_key_and_pds() -> None:
    parsed = diddoc.parse_did_document(document(), DID)
    assert parsed.handle == "alice.example.com"
    assert parsed.signing_key is not None and parsed.signing_key.did_key == KEY.did_key
    assert parsed.pds_endpoint == "https://pds.example.com"
    assert parsed.problems == ()


def test_relative_key_id_and_legacy_type_are_accepted() -> None:
    # what the reference PLC server and old did:web documents serve
    legacy = diddoc.parse_did_document(
        document(
            verificationMethod=[
                {
                    "id": "#atproto",
                    "type": "EcdsaSecp256k1VerificationKey2019",
                    "controller": DID,
                    "publicKeyMultibase": libipld.encode_multibase("z", KEY.compressed),
                }
            ]
        ),
        DID,
    )
    assert legacy.signing_key is not None
    assert legacy.signing_key.did_key == KEY.did_key
    assert legacy.signing_key.type == "EcdsaSecp256k1VerificationKey2019"


def test_first_valid_at_alias_is_the_handle() -> None:
    parsed = diddoc.parse_did_document(
        document(
            alsoKnownAs=[
                "https://alice.example.com",
                "at://not_valid",
                "at://Bob.Example.COM",
                "at://carol.example",
            ]
        ),
        DID,
    )
    assert parsed.handle == "bob.example.com"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"verificationMethod": []}, "no #atproto verification method"),
        ({"service": []}, "no #atproto_pds service"),
        ({"id": "did:plc:someoneelse000000000000"}, "differs from the DID asked for"),
        (
            {"service": [{"id": "#atproto_pds", "type": "Other", "serviceEndpoint": "https://x"}]},
            "has type 'Other'",
        ),
        (
            {
                "service": [
                    {
                        "id": "#atproto_pds",
                        "type": "AtprotoPersonalDataServer",
                        "serviceEndpoint": "ftp://x",
                    }
                ]
            },
            "not an http(s) URL",
        ),
        (
            {
                "verificationMethod": [
                    {
                        "id": "#atproto",
                        "type": "Multikey",
                        "controller": DID,
                        "publicKeyMultibase": "zgarbage",
                    }
                ]
            },
            "malformed",
        ),
        ({"verificationMethod": "nope"}, "not a list"),
    ],
)
def test_problems_are_recorded_not_raised(overrides: dict[str, object], problem: str) -> None:
    parsed = diddoc.parse_did_document(document(**overrides), DID)
    assert any(problem in p for p in parsed.problems), parsed.problems


@pytest.mark.parametrize("raw", [None, [], "text", 42, {"alsoKnownAs": "x", "service": {"a": 1}}])
def test_hostile_shapes_do_not_raise(raw: object) -> None:
    parsed = diddoc.parse_did_document(raw, DID)
    assert parsed.handle is None and parsed.pds_endpoint is None


# --- handle resolution --------------------------------------------------------------------------

EXCHANGE = HttpExchange(
    url="https://a/.well-known/atproto-did",
    final_url="https://a/.well-known/atproto-did",
    status=200,
    elapsed_ms=1.0,
)


def resolution(records: list[str] | None, body: str | None) -> HandleResolution:
    dns = (
        DnsTxtAnswer(name="_atproto.a.example", records=records, elapsed_ms=1.0)
        if records is not None
        else ProbeFailure(
            kind=FailureKind.DNS_NXDOMAIN,
            source="_atproto.a.example",
            message="TXT _atproto.a.example: NXDOMAIN",
        )
    )
    https = (
        WellKnownAnswer(exchange=EXCHANGE, body=body)
        if body is not None
        else NotCollected(reason="skipped")
    )
    return HandleResolution(handle="a.example", dns=dns, https=https)


def test_dns_is_preferred_and_disagreement_recorded() -> None:
    outcome = identity.interpret(resolution([f"did={DID}"], "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa\n"))
    assert outcome.did == DID and outcome.method == "dns" and outcome.conflict
    assert outcome.https.did == "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"


def test_multiple_did_records_fail_dns_even_if_identical() -> None:
    outcome = identity.interpret(resolution([f"did={DID}", f"did={DID}"], None))
    assert outcome.dns.did is None
    assert outcome.dns.problem is not None and "exactly one" in outcome.dns.problem
    assert outcome.did is None


def test_https_body_must_be_just_a_did() -> None:
    outcome = identity.interpret(resolution(None, "<html>did:plc:x</html>"))
    assert outcome.did is None
    assert outcome.https.problem is not None and "not a DID" in outcome.https.problem


def test_txt_values_without_did_prefix_are_ignored() -> None:
    outcome = identity.interpret(resolution(["google-site-verification=x", f"did={DID}"], None))
    assert outcome.did == DID


# --- attribution --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "operator", "basis"),
    [
        ("https://morel.us-east.host.bsky.network", "bluesky", AttributionBasis.KNOWN),
        ("https://bsky.social", "bluesky", AttributionBasis.KNOWN),
        ("alice.bsky.social", "bluesky", AttributionBasis.KNOWN),
        ("relay1.us-west.bsky.network", "bluesky", AttributionBasis.KNOWN),
        ("plc.directory", "bluesky", AttributionBasis.KNOWN),
        ("atproto.africa", "blacksky", AttributionBasis.KNOWN),
        ("https://pds.alice.example:8443/", "alice.example", AttributionBasis.REGISTRABLE_DOMAIN),
        ("alice.github.io", "alice.github.io", AttributionBasis.REGISTRABLE_DOMAIN),
        ("deep.sub.example.co.uk", "example.co.uk", AttributionBasis.REGISTRABLE_DOMAIN),
        ("http://127.0.0.1:2583", "127.0.0.1", AttributionBasis.IP_ADDRESS),
        ("http://[::1]:2583", "::1", AttributionBasis.IP_ADDRESS),
        ("com", "com", AttributionBasis.UNKNOWN),
    ],
)
def test_attribute_host(host: str, operator: str, basis: AttributionBasis) -> None:
    result = attribute_host(host)
    assert (result.operator_id, result.basis) == (operator, basis)
    assert result.source


def test_lookalike_hosts_are_not_bluesky() -> None:
    for host in (
        "bsky.social.evil.example",
        "host.bsky.network.evil.example",
        "xbsky.social",
        "plc.directory.example",
    ):
        assert attribute_host(host).operator_id != "bluesky", host


def test_unverified_rows_say_so() -> None:
    assert attribute_host("relay.fire.hose.cam").verified is False
    assert attribute_host("bsky.network").verified is True


def test_every_row_has_a_source_and_known_operator() -> None:
    raw = json.loads(
        Path(attribution.__file__).with_name("data").joinpath("operators.json").read_text()
    )
    patterns = [row["pattern"] for row in raw["hosts"]]
    assert len(patterns) == len(set(patterns))
    for row in raw["hosts"] + raw["keys"]:
        assert row["source"].strip(), row
        assert row["operator"] in raw["operators"], row


def test_bluesky_rotation_keys_are_known_and_derived() -> None:
    known = attribute_key("did:key:zQ3shpKnbdPx3g3CmPf5cRVTPe1HtSwVn5ish3wSnDPQCbLJK")
    assert known is not None and known.operator_id == "bluesky" and known.derived
    assert attribute_key(KEY.did_key) is None


def test_registrable_domain() -> None:
    assert registrable_domain("a.b.bsky.social") == "bsky.social"
    assert registrable_domain("10.0.0.1") is None

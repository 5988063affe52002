"""Tests for auditor.crypto: interop signature and did:key vectors, low-S, strict base64url."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import libipld
import pytest

from auditor import crypto
from auditor.crypto import (
    KeyFormatError,
    PrivateKey,
    PublicKey,
    SignatureFormatError,
    b64url_decode_strict,
    b64url_encode,
    parse_did_key,
    parse_legacy_key,
    parse_multikey,
)

CRYPTO_VECTORS = Path(__file__).parent / "conformance" / "atproto-interop-tests" / "crypto"

K256_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ORDERS = {"k256": K256_ORDER, "p256": P256_ORDER}


def load(name: str) -> Any:
    """One JSON vector file."""
    return json.loads((CRYPTO_VECTORS / name).read_text(encoding="utf-8"))


def std_b64(text: str) -> bytes:
    """Decode the fixtures' *standard* base64 without padding (not the atproto encoding)."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


SIGNATURE_FIXTURES = load("signature-fixtures.json")


def fixture_id(fixture: dict[str, Any]) -> str:
    return f"{fixture['algorithm']}-{'-'.join(fixture['tags']) or 'valid'}"


# --------------------------------------------------------------------------------------------
# Interop vectors
# --------------------------------------------------------------------------------------------


def test_signature_fixtures_cover_valid_high_s_and_der() -> None:
    tags = {tag for fixture in SIGNATURE_FIXTURES for tag in fixture["tags"]}
    assert tags == {"high-s", "der-encoded"}
    assert sum(fixture["validSignature"] for fixture in SIGNATURE_FIXTURES) == 2


@pytest.mark.parametrize("fixture", SIGNATURE_FIXTURES, ids=fixture_id)
def test_signature_fixture(fixture: dict[str, Any]) -> None:
    key = parse_did_key(fixture["publicKeyDid"])
    assert key.curve == {"ES256": "p256", "ES256K": "k256"}[fixture["algorithm"]]
    message = std_b64(fixture["messageBase64"])
    signature = std_b64(fixture["signatureBase64"])
    assert key.verify(message, signature) is fixture["validSignature"]


@pytest.mark.parametrize("fixture", SIGNATURE_FIXTURES, ids=fixture_id)
def test_signature_fixture_legacy_key_is_the_same_key(fixture: dict[str, Any]) -> None:
    # publicKeyMultibase is the legacy form (no multicodec) of the same compressed point.
    legacy = parse_legacy_key(fixture["didDocSuite"], fixture["publicKeyMultibase"])
    assert legacy == parse_did_key(fixture["publicKeyDid"])
    assert legacy.did_key == fixture["publicKeyDid"]


VALID_FIXTURES = [fixture for fixture in SIGNATURE_FIXTURES if fixture["validSignature"]]


@pytest.mark.parametrize("fixture", VALID_FIXTURES, ids=fixture_id)
def test_high_s_twin_of_each_valid_signature_is_rejected(fixture: dict[str, Any]) -> None:
    key = parse_did_key(fixture["publicKeyDid"])
    signature = std_b64(fixture["signatureBase64"])
    order = ORDERS[key.curve]
    r, s = signature[:32], int.from_bytes(signature[32:], "big")
    twin = r + (order - s).to_bytes(32, "big")  # mathematically valid ECDSA, but high-S
    assert key.is_high_s(twin) and not key.is_high_s(signature)
    assert not key.verify(std_b64(fixture["messageBase64"]), twin)


@pytest.mark.parametrize("vector", load("w3c_didkey_K256.json"), ids=lambda v: v["publicDidKey"])
def test_w3c_k256_did_key_round_trip(vector: dict[str, str]) -> None:
    private = PrivateKey.from_hex("k256", vector["privateKeyBytesHex"])
    public = private.public_key
    assert public.did_key == vector["publicDidKey"]
    assert parse_did_key(vector["publicDidKey"]) == public
    assert public.multibase.startswith("zQ3s")


@pytest.mark.parametrize("vector", load("w3c_didkey_P256.json"), ids=lambda v: v["publicDidKey"])
def test_w3c_p256_did_key_round_trip(vector: dict[str, str]) -> None:
    _, secret = libipld.decode_multibase("z" + vector["privateKeyBytesBase58"])
    public = PrivateKey.from_bytes("p256", secret).public_key
    assert public.did_key == vector["publicDidKey"]
    assert parse_did_key(vector["publicDidKey"]) == public
    assert public.multibase.startswith("zDna")


def test_legacy_uncompressed_k256_key() -> None:
    # The pre-Multikey form of bsky.app-era signing keys: a 65-byte uncompressed point.
    key = parse_legacy_key(
        "EcdsaSecp256k1VerificationKey2019",
        "zQYEBzXeuTM9UR3rfvNag6L3RNAs5pQZyYPsomTsgQhsxLdEgCrPTLgFna8yqCnxPpNT7DBk6Ym3dgPKNu86vt9GR",
    )
    assert key.did_key == "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"


# --------------------------------------------------------------------------------------------
# Sign / verify
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", ["k256", "p256"])
def test_sign_verify_round_trip(curve: crypto.Curve) -> None:
    private = PrivateKey.generate(curve)
    public = private.public_key
    message = b"plc operation bytes"
    for _ in range(20):  # ECDSA is randomised: every signature must come out low-S
        signature = private.sign(message)
        assert len(signature) == 64
        assert int.from_bytes(signature[32:], "big") <= ORDERS[curve] // 2
        assert public.verify(message, signature)
    assert not public.verify(b"another message", signature)
    assert not PrivateKey.generate(curve).public_key.verify(message, signature)


def test_signature_from_one_curve_does_not_verify_on_the_other() -> None:
    k256 = PrivateKey.from_bytes("k256", bytes(range(1, 33)))
    p256 = PrivateKey.from_bytes("p256", bytes(range(1, 33)))
    signature = k256.sign(b"m")
    assert k256.public_key.verify(b"m", signature)
    assert not p256.public_key.verify(b"m", signature)


def test_generate_defaults_to_k256() -> None:
    assert PrivateKey.generate().curve == "k256"


def test_private_key_repr_hides_the_secret() -> None:
    private = PrivateKey.from_bytes("k256", bytes(range(1, 33)))
    assert bytes(range(1, 33)).hex() not in repr(private)
    assert "secret" not in repr(private)


@pytest.mark.parametrize(
    ("curve", "secret", "message"),
    [
        ("k256", b"\x01" * 31, "private key must be 32 bytes, not 31"),
        ("k256", b"\x00" * 32, "private key scalar is out of range for the curve"),
        (
            "p256",
            P256_ORDER.to_bytes(32, "big"),
            "private key scalar is out of range for the curve",
        ),
        ("ed25519", b"\x01" * 32, "unsupported curve 'ed25519' (atproto uses k256 and p256)"),
    ],
)
def test_bad_private_keys(curve: str, secret: bytes, message: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        PrivateKey.from_bytes(curve, secret)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_private_key_from_bad_hex() -> None:
    with pytest.raises(KeyFormatError, match="not valid hexadecimal"):
        PrivateKey.from_hex("k256", "zz" * 32)


# --------------------------------------------------------------------------------------------
# Garbage never raises from verify
# --------------------------------------------------------------------------------------------

KEY = PrivateKey.from_bytes("p256", bytes(range(1, 33)))
GOOD = KEY.sign(b"m")


@pytest.mark.parametrize(
    "signature",
    [
        b"",
        b"\x00" * 64,  # r = s = 0
        b"\xff" * 64,  # r, s >= n
        GOOD[:63],
        GOOD + b"\x00",
        b"\x00" * 32 + GOOD[32:],  # r = 0
        GOOD[:32] + b"\x00" * 32,  # s = 0
        P256_ORDER.to_bytes(32, "big") + GOOD[32:],  # r = n
        "not bytes",
        None,
        12345,
    ],
)
def test_verify_rejects_garbage_without_raising(signature: Any) -> None:
    assert KEY.public_key.verify(b"m", signature) is False


def test_verify_rejects_non_bytes_message() -> None:
    assert KEY.public_key.verify("m", GOOD) is False  # type: ignore[arg-type]
    assert KEY.public_key.verify(bytearray(b"m"), bytearray(GOOD)) is True  # type: ignore[arg-type]


def test_verify_rejects_der_encoding_of_a_valid_signature() -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    der = encode_dss_signature(int.from_bytes(GOOD[:32], "big"), int.from_bytes(GOOD[32:], "big"))
    assert not KEY.public_key.verify(b"m", der)


# --------------------------------------------------------------------------------------------
# Key parsing
# --------------------------------------------------------------------------------------------

K256_DID = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"
P256_DID = "did:key:zDnaeTiq1PdzvZXUaMdezchcMJQpBdH2VN4pgrrEhMCCbmwSb"


def test_multikey_and_did_key_agree() -> None:
    key = parse_did_key(K256_DID)
    assert parse_multikey(key.multibase) == key
    assert key.did_key == K256_DID
    assert key.multibase == K256_DID.removeprefix("did:key:")
    raw = libipld.decode_multibase(key.multibase)[1]
    assert raw[:2] == bytes([0xE7, 0x01]) and raw[2:] == key.compressed
    p256 = parse_did_key(P256_DID)
    assert libipld.decode_multibase(p256.multibase)[1][:2] == bytes([0x80, 0x24])


def multikey(prefix: bytes, body: bytes) -> str:
    return str(libipld.encode_multibase("z", prefix + body))


UNCOMPRESSED_P256 = b"\x04" + bytes(64)  # shape only; the point check comes later
P256 = bytes([0x80, 0x24])
ED25519 = bytes([0xED, 0x01])
P256_POINT = parse_did_key(P256_DID).compressed


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "multikey must be base58btc multibase text starting with 'z'"),
        ("mAAAA", "multikey must be base58btc multibase text starting with 'z'"),
        ("z0OIl", "multikey is not valid base58btc"),
        (
            multikey(P256, UNCOMPRESSED_P256),
            "p256 multikey holds 65 key bytes; atproto requires the 33-byte compressed form",
        ),
        (multikey(ED25519, bytes(32)), "ed25519 keys are not supported by atproto"),
        (multikey(bytes([0x12, 0x00]), P256_POINT), "multikey has an unknown multicodec prefix"),
        (multikey(P256, b"\x02" + b"\xff" * 32), "not a valid p256 public key point"),
        (multikey(P256, b"\x05" + P256_POINT[1:]), "public key must be a 33-byte compressed point"),
    ],
)
def test_bad_multikeys(value: str, message: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_multikey(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    "value",
    ["zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", "did:plc:abc", "did:key:", None, 5],
)
def test_bad_did_keys(value: Any) -> None:
    with pytest.raises(KeyFormatError):
        parse_did_key(value)


LEGACY_P256 = "EcdsaSecp256r1VerificationKey2019"
LEGACY_K256 = "EcdsaSecp256k1VerificationKey2019"


@pytest.mark.parametrize(
    ("key_type", "value", "message"),
    [
        ("Multikey", P256_DID[8:], "unsupported legacy key type 'Multikey'"),
        (LEGACY_P256, "xyz", "legacy key must be base58btc"),
        (LEGACY_P256, "z0OIl", "legacy key is not valid base58btc"),
        (LEGACY_P256, multikey(b"", bytes(20)), "legacy p256 key is 20 bytes"),
        (LEGACY_K256, multikey(b"", b"\x02" + b"\xff" * 32), "not a valid k256"),
    ],
)
def test_bad_legacy_keys(key_type: str, value: str, message: str) -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_legacy_key(key_type, value)
    assert str(caught.value).startswith(message)


def test_public_key_validates_its_point() -> None:
    with pytest.raises(KeyFormatError):
        PublicKey("k256", b"\x02" + b"\xff" * 32)  # x >= p: not on the curve
    with pytest.raises(KeyFormatError):
        PublicKey("p256", P256_POINT[:32])


def test_key_format_errors_are_value_errors() -> None:
    assert issubclass(KeyFormatError, ValueError)
    assert issubclass(SignatureFormatError, ValueError)


# --------------------------------------------------------------------------------------------
# Strict base64url
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", range(0, 70))
def test_b64url_round_trip(length: int) -> None:
    data = bytes((i * 37 + length) % 256 for i in range(length))
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode_strict(text) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("QQ==", "base64url must not use '=' padding"),
        ("QQ\n", "'\\n' is not a base64url character"),
        ("QQ ", "' ' is not a base64url character"),
        ("Q+Q", "'+' is not a base64url character"),
        ("Q/Q", "'/' is not a base64url character"),
        ("QQé", "'é' is not a base64url character"),
        ("QUJDR", "5 characters is not a possible base64url length"),
        ("QR", "base64url has non-zero padding bits (non-canonical encoding)"),
        ("QUJ", "base64url has non-zero padding bits (non-canonical encoding)"),
    ],
)
def test_b64url_strictness(text: str, message: str) -> None:
    with pytest.raises(SignatureFormatError) as caught:
        b64url_decode_strict(text)
    assert str(caught.value) == message


def test_b64url_canonical_neighbours() -> None:
    # "QQ" and "QR" both decode to b"A" under a lenient decoder; only "QQ" is canonical.
    assert b64url_decode_strict("QQ") == b"A"
    assert base64.urlsafe_b64decode("QR==") == b"A"
    assert b64url_decode_strict("QUI") == b"AB"


def test_b64url_rejects_non_text() -> None:
    with pytest.raises(SignatureFormatError):
        b64url_decode_strict(b"QQ")  # type: ignore[arg-type]


@pytest.mark.parametrize("curve", ["k256", "p256"])
def test_signing_is_deterministic_rfc6979(curve: crypto.Curve) -> None:
    # Reproducible sandbox data and goldens depend on it.
    key = PrivateKey.from_bytes(curve, bytes(range(1, 33)))
    first, second = key.sign(b"message"), key.sign(b"message")
    assert first == second
    assert key.sign(b"other") != first
    assert key.public_key.verify(b"message", first)

"""Public keys, signatures and their encodings, as AT Protocol uses them.

An audit is only as good as its signature checks: a PLC operation or a repository commit counts as
evidence only if it verifies under the key the protocol says must have signed it. This module is the
single place where key encodings are parsed and ECDSA signatures are checked, with atproto's strict
rules (spec: cryptography; did:plc spec "Operation Serialization, Signing, and Validation"):

* two curves only: secp256k1 ("k256") and NIST P-256 ("p256");
* keys travel as *multikeys* (``z`` + base58btc of a multicodec varint and the 33-byte compressed
  point) or as ``did:key:`` + multikey; old did:web documents may still carry the legacy
  ``EcdsaSecp256{k,r}1VerificationKey2019`` encodings (base58btc point, no multicodec);
* signatures are ECDSA over SHA-256, exactly 64 bytes ``r || s``, and **low-S only**: a high-S
  twin of a valid signature must be rejected, otherwise anyone could change an operation's hash
  without invalidating its signature;
* base64url signature text is decoded strictly (no padding, no whitespace, zero padding bits).

Verification never raises on garbage input; parsing raises :class:`KeyFormatError` or
:class:`SignatureFormatError` (both ``ValueError``) with a message fit for a report. The private-key
half exists for the in-process sandbox network, which signs real PLC operations and commits.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final, Literal

import coincurve
import libipld
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

__all__ = [
    "LEGACY_KEY_TYPES",
    "Curve",
    "KeyFormatError",
    "PrivateKey",
    "PublicKey",
    "SignatureFormatError",
    "b64url_decode_strict",
    "b64url_encode",
    "parse_did_key",
    "parse_legacy_key",
    "parse_multikey",
]

Curve = Literal["k256", "p256"]

DID_KEY_PREFIX: Final = "did:key:"

_MULTICODEC_PREFIX: Final[dict[Curve, bytes]] = {
    "k256": bytes([0xE7, 0x01]),  # secp256k1-pub, varint of 0xE7
    "p256": bytes([0x80, 0x24]),  # p256-pub, varint of 0x1200
}
_KNOWN_OTHER_CODECS: Final[dict[bytes, str]] = {
    bytes([0xED, 0x01]): "ed25519",
    bytes([0xEC, 0x01]): "x25519",
    bytes([0x81, 0x24]): "p384",
    bytes([0x82, 0x24]): "p521",
    bytes([0x85, 0x24]): "rsa",
}

LEGACY_KEY_TYPES: Final[dict[str, Curve]] = {
    "EcdsaSecp256k1VerificationKey2019": "k256",
    "EcdsaSecp256r1VerificationKey2019": "p256",
}
"""Pre-Multikey verification-method types that may still appear in did:web documents."""

_ORDER: Final[dict[Curve, int]] = {
    "k256": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "p256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}
"""Group order n of each curve: low-S means s <= n // 2."""

_SIGNATURE_LENGTH: Final = 64
_COMPRESSED_LENGTH: Final = 33
_B64URL_ALPHABET: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


class KeyFormatError(ValueError):
    """A public or private key string or byte string is not in an encoding atproto accepts."""


class SignatureFormatError(ValueError):
    """A signature's text encoding is not strict, canonical base64url."""


def _is_bytes(value: object) -> bool:
    """True for bytes or bytearray (callers may pass anything; verification must not raise)."""
    return isinstance(value, bytes | bytearray)


def _ec_curve(curve: Curve) -> ec.EllipticCurve:
    """The ``cryptography`` curve object for one of atproto's two curves."""
    return ec.SECP256K1() if curve == "k256" else ec.SECP256R1()


# --------------------------------------------------------------------------------------------
# base64url
# --------------------------------------------------------------------------------------------


def b64url_encode(data: bytes) -> str:
    """base64url without ``=`` padding, the encoding of atproto signatures."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode_strict(s: str) -> bytes:
    """Decode unpadded base64url, rejecting every non-canonical spelling.

    Padding characters, whitespace (including a trailing newline), characters outside the
    base64url alphabet, an impossible length, and non-zero unused trailing bits (RFC 4648 §3.5)
    all raise SignatureFormatError: each would let the same bytes be written several ways.
    """
    if not isinstance(s, str):
        raise SignatureFormatError(f"expected base64url text, got {type(s).__name__}")
    if "=" in s:
        raise SignatureFormatError("base64url must not use '=' padding")
    bad = next((char for char in s if char not in _B64URL_ALPHABET), None)
    if bad is not None:
        raise SignatureFormatError(f"{bad!r} is not a base64url character")
    if len(s) % 4 == 1:
        raise SignatureFormatError(f"{len(s)} characters is not a possible base64url length")
    data = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if b64url_encode(data) != s:
        raise SignatureFormatError("base64url has non-zero padding bits (non-canonical encoding)")
    return data


# --------------------------------------------------------------------------------------------
# Public keys
# --------------------------------------------------------------------------------------------


def _load_point(curve: Curve, point: bytes) -> ec.EllipticCurvePublicKey:
    """Load an X9.62 point (compressed or not) of ``curve``; KeyFormatError if it is not one."""
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_ec_curve(curve), point)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a valid {curve} public key point: {exc}") from None


def _compress(key: ec.EllipticCurvePublicKey) -> bytes:
    """The 33-byte compressed X9.62 encoding of a public key."""
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)


def _load_k256(point: bytes) -> coincurve.PublicKey:
    """Load a secp256k1 point with libsecp256k1; KeyFormatError if it is not one.

    Why not ``cryptography`` for this curve too: OpenSSL's generic secp256k1 code verifies a
    signature in about 350 us, libsecp256k1 (Bitcoin's library, via coincurve) in about 40 us. A
    batch audit verifies at least one PLC operation per account, so this was the largest single
    cost of a batch. P-256 stays on OpenSSL, which is fast for that curve.
    """
    try:
        return coincurve.PublicKey(point)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a valid k256 public key point: {exc}") from None


@dataclass(frozen=True)
class PublicKey:
    """An atproto public key: a curve and a 33-byte compressed point (validated on creation)."""

    curve: Curve
    compressed: bytes
    _key: ec.EllipticCurvePublicKey | coincurve.PublicKey = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Check that ``compressed`` really is a compressed point on ``curve``."""
        if self.curve not in _ORDER:
            raise KeyFormatError(f"unsupported curve {self.curve!r} (atproto uses k256 and p256)")
        if len(self.compressed) != _COMPRESSED_LENGTH or self.compressed[0] not in (2, 3):
            raise KeyFormatError("public key must be a 33-byte compressed point")
        key = (
            _load_k256(self.compressed)
            if self.curve == "k256"
            else _load_point(self.curve, self.compressed)
        )
        object.__setattr__(self, "_key", key)

    @property
    def multibase(self) -> str:
        """The multikey form: ``z`` + base58btc(multicodec varint + compressed point)."""
        encoded: str = libipld.encode_multibase(
            "z", _MULTICODEC_PREFIX[self.curve] + self.compressed
        )
        return encoded

    @property
    def did_key(self) -> str:
        """The ``did:key:`` form used in PLC operations."""
        return DID_KEY_PREFIX + self.multibase

    def is_high_s(self, signature: bytes) -> bool:
        """True if ``signature`` is 64 bytes whose S is above n/2 for this curve (non-canonical)."""
        if len(signature) != _SIGNATURE_LENGTH:
            return False
        return int.from_bytes(signature[32:], "big") > _ORDER[self.curve] // 2

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Check an atproto signature over ``message``: ECDSA-SHA256, raw 64-byte r||s, low-S.

        Returns False, never raises, for anything that is not a valid signature: wrong length,
        DER encoding, r or s out of range, high S, or a mathematically wrong signature.
        """
        if not _is_bytes(signature) or not _is_bytes(message):
            return False
        if len(signature) != _SIGNATURE_LENGTH:
            return False
        order = _ORDER[self.curve]
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < order and 0 < s <= order // 2):
            return False
        der = encode_dss_signature(r, s)
        if isinstance(self._key, coincurve.PublicKey):
            # libsecp256k1 rejects high-S itself too; it hashes ``message`` with SHA-256.
            return bool(self._key.verify(der, bytes(message)))
        try:
            self._key.verify(der, bytes(message), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def parse_multikey(multibase: str) -> PublicKey:
    """Parse a multikey (``zQ3s…`` for k256, ``zDna…`` for p256) into a PublicKey.

    Only compressed points are accepted, as the atproto cryptography spec requires.
    """
    if not isinstance(multibase, str) or not multibase.startswith("z"):
        raise KeyFormatError("multikey must be base58btc multibase text starting with 'z'")
    return _parse_multikey_text(multibase)


@lru_cache(maxsize=4096)
def _parse_multikey_text(multibase: str) -> PublicKey:
    """The parse itself, cached (a PublicKey is immutable): a batch meets the same few provider
    rotation keys in every account's PLC log, and loading a point costs tens of microseconds.
    Errors are not cached, so a bad key is reported every time it is met."""
    try:
        _, data = libipld.decode_multibase(multibase)
    except ValueError:
        raise KeyFormatError("multikey is not valid base58btc") from None
    for curve, prefix in _MULTICODEC_PREFIX.items():
        if data.startswith(prefix):
            point = data[len(prefix) :]
            if len(point) != _COMPRESSED_LENGTH:
                raise KeyFormatError(
                    f"{curve} multikey holds {len(point)} key bytes; atproto requires the "
                    f"{_COMPRESSED_LENGTH}-byte compressed form"
                )
            return PublicKey(curve, point)
    other = _KNOWN_OTHER_CODECS.get(data[:2])
    if other:
        raise KeyFormatError(f"{other} keys are not supported by atproto (only k256 and p256)")
    raise KeyFormatError("multikey has an unknown multicodec prefix (expected k256 or p256)")


def parse_did_key(s: str) -> PublicKey:
    """Parse a ``did:key:z…`` string (k256 or p256, compressed) into a PublicKey."""
    if not isinstance(s, str) or not s.startswith(DID_KEY_PREFIX):
        raise KeyFormatError("expected a did:key: string")
    return parse_multikey(s[len(DID_KEY_PREFIX) :])


def parse_legacy_key(key_type: str, multibase: str) -> PublicKey:
    """Parse a legacy ``EcdsaSecp256k1VerificationKey2019`` / ``…r1…`` key.

    These carry a base58btc (``z``) point with no multicodec prefix, compressed or uncompressed.
    """
    curve = LEGACY_KEY_TYPES.get(key_type) if isinstance(key_type, str) else None
    if curve is None:
        raise KeyFormatError(f"unsupported legacy key type {key_type!r}")
    if not isinstance(multibase, str) or not multibase.startswith("z"):
        raise KeyFormatError("legacy key must be base58btc multibase text starting with 'z'")
    try:
        _, point = libipld.decode_multibase(multibase)
    except ValueError:
        raise KeyFormatError("legacy key is not valid base58btc") from None
    if len(point) not in (_COMPRESSED_LENGTH, 65):
        raise KeyFormatError(f"legacy {curve} key is {len(point)} bytes (expected 33 or 65)")
    return PublicKey(curve, _compress(_load_point(curve, point)))


# --------------------------------------------------------------------------------------------
# Private keys (sandbox signing)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateKey:
    """A k256 or p256 private key that produces atproto signatures (raw, low-S)."""

    curve: Curve
    secret: bytes = field(repr=False)
    """The 32-byte big-endian private scalar."""
    _key: ec.EllipticCurvePrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate the scalar and build the ``cryptography`` key."""
        if self.curve not in _ORDER:
            raise KeyFormatError(f"unsupported curve {self.curve!r} (atproto uses k256 and p256)")
        if len(self.secret) != 32:
            raise KeyFormatError(f"private key must be 32 bytes, not {len(self.secret)}")
        value = int.from_bytes(self.secret, "big")
        if not 0 < value < _ORDER[self.curve]:
            raise KeyFormatError("private key scalar is out of range for the curve")
        object.__setattr__(self, "_key", ec.derive_private_key(value, _ec_curve(self.curve)))

    @classmethod
    def generate(cls, curve: Curve = "k256") -> PrivateKey:
        """A fresh random key (k256 by default, like the reference implementation)."""
        key = ec.generate_private_key(_ec_curve(curve))
        return cls(curve, key.private_numbers().private_value.to_bytes(32, "big"))

    @classmethod
    def from_bytes(cls, curve: Curve, secret: bytes) -> PrivateKey:
        """A key from its 32-byte scalar."""
        return cls(curve, bytes(secret))

    @classmethod
    def from_hex(cls, curve: Curve, secret_hex: str) -> PrivateKey:
        """A key from its scalar as 64 hex digits."""
        try:
            return cls(curve, bytes.fromhex(secret_hex))
        except ValueError as exc:
            if isinstance(exc, KeyFormatError):
                raise
            raise KeyFormatError("private key hex is not valid hexadecimal") from None

    @property
    def public_key(self) -> PublicKey:
        """The matching public key."""
        return PublicKey(self.curve, _compress(self._key.public_key()))

    def sign(self, message: bytes) -> bytes:
        """Sign ``message`` (ECDSA-SHA256) and return the 64-byte low-S ``r || s`` signature."""
        # RFC 6979 deterministic nonces: no dependence on the RNG at signing time, and the same
        # key and message always give the same signature (reproducible sandbox data and goldens).
        der = self._key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        order = _ORDER[self.curve]
        if s > order // 2:
            s = order - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

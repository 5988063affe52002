"""A homeserver's signing keys (``/_matrix/key/v2/server``), verified as the spec requires.

The answer must name the server name the user ID is bound to, and be signed by one of the
``verify_keys`` it lists, over its canonical JSON (keys sorted, no insignificant whitespace,
UTF-8) with ``signatures`` and ``unsigned`` removed. A server that answers with another server's
name, or whose signature does not verify, is not the homeserver of that name, whatever it says.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def canonical_json(value: object) -> bytes:
    """Matrix canonical JSON (appendix "Canonical JSON")."""
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode("utf-8")


def unpadded_b64decode(text: str) -> bytes:
    """Matrix's unpadded base64 (standard alphabet; padding tolerated)."""
    text = text.rstrip("=")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """What the key answer proves."""

    server_name: str | None
    """The name the answer claims."""
    valid: bool
    """Claims the expected name and carries a verifying self-signature."""
    key_ids: tuple[str, ...]
    problem: str | None


def verify_server_keys(body: object, expected: str) -> KeyCheck:
    """Check that the key answer is ``expected``'s and self-signed."""
    if not isinstance(body, dict):
        return KeyCheck(None, False, (), "the key answer is not a JSON object")
    name = body.get("server_name") if isinstance(body.get("server_name"), str) else None
    keys = body.get("verify_keys")
    key_ids = tuple(k for k in keys if isinstance(k, str))[:16] if isinstance(keys, dict) else ()
    if name != expected:
        return KeyCheck(name, False, key_ids, f"the keys are for {name!r}, not {expected!r}")
    signatures = body.get("signatures")
    mine = signatures.get(expected) if isinstance(signatures, dict) else None
    if not isinstance(mine, dict) or not isinstance(keys, dict):
        return KeyCheck(name, False, key_ids, "the key answer is not signed by its server")
    signed = canonical_json({k: v for k, v in body.items() if k not in ("signatures", "unsigned")})
    for key_id, signature in mine.items():
        entry = keys.get(key_id)
        if not key_id.startswith("ed25519:") or not isinstance(entry, dict):
            continue
        try:
            public = Ed25519PublicKey.from_public_bytes(unpadded_b64decode(str(entry.get("key"))))
            public.verify(unpadded_b64decode(str(signature)), signed)
        except (InvalidSignature, ValueError, binascii.Error):
            continue
        return KeyCheck(name, True, key_ids, None)
    return KeyCheck(name, False, key_ids, "no signature verifies with the keys it lists")

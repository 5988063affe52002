"""did:plc operations and independent verification of a PLC directory's audit log.

A did:plc identity is only as decentralised as the rules that govern its history: whoever holds a
rotation key can rewrite the identity, a higher-priority key can undo a lower one's changes for 72
hours, and the PLC directory is trusted only to *order* operations, not to invent them. To say who
really controls an account, decaudit therefore replays the directory's full audit log
(``GET /{did}/log/audit``) itself, the way the did:plc spec's "Audit Logs" section asks:

* the genesis operation must hash to the DID;
* every later operation must point (``prev``) at an earlier operation that was still valid, and
  be signed by a rotation key of the state it builds on;
* a fork (two operations with the same ``prev``) nullifies the older branch only if the new
  operation is signed by a strictly higher-priority key (lower index in ``rotationKeys``) than the
  one that signed the first nullified operation, and at most 72 hours after it;
* nothing may follow a tombstone, the legacy ``create`` format may only be the genesis, and the
  directory's ``nullified`` flags must match what the rules imply.

Signatures are checked with :mod:`auditor.crypto` (strict base64url, raw 64-byte, low-S).
:func:`verify_audit_log` never raises, whatever the input: a hostile or broken directory yields a
:class:`LogVerification` with a machine ``reason`` from :data:`REASONS` and a human ``detail``.
The same module builds and signs operations for the in-process sandbox network, and renders the DID
document a directory should serve for a state, so that the served document can be checked against
the directory's own log.

The rules were re-derived from the spec (did-method-plc ``website/spec/v0.1/did-plc.md``) and
cross-checked against the reference implementations' behaviour and the interop audit-log vectors.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import libipld

from auditor.crypto import (
    KeyFormatError,
    PrivateKey,
    PublicKey,
    SignatureFormatError,
    b64url_decode_strict,
    b64url_encode,
    parse_did_key,
)
from auditor.text import shown

__all__ = [
    "PDS_SERVICE_TYPE",
    "REASONS",
    "RECOVERY_WINDOW",
    "TOMBSTONED",
    "LogVerification",
    "OpVerification",
    "OperationType",
    "PlcService",
    "PlcState",
    "Reason",
    "did_from_genesis",
    "document_from_state",
    "operation_cid",
    "operation_state",
    "sign_operation",
    "unsigned_bytes",
    "verify_audit_log",
]

RECOVERY_WINDOW: Final = timedelta(hours=72)
"""How long after an operation a higher-priority rotation key may still nullify it (inclusive)."""

OperationType = Literal["plc_operation", "plc_tombstone", "create"]

Reason = Literal[
    "malformed_log",
    "empty_log",
    "invalid_did",
    "malformed_entry",
    "malformed_operation",
    "did_mismatch",
    "cid_mismatch",
    "duplicate_operation",
    "invalid_genesis",
    "genesis_hash_mismatch",
    "unexpected_genesis",
    "broken_prev_chain",
    "prev_nullified",
    "operation_after_tombstone",
    "invalid_signature_encoding",
    "invalid_signature",
    "nullification_by_lower_priority_key",
    "nullification_too_slow",
    "timestamp_out_of_order",
    "nullified_flag_mismatch",
]

REASONS: Final[dict[str, str]] = {
    "malformed_log": "the audit log is not a JSON array",
    "empty_log": "the audit log has no entries (not even a genesis operation)",
    "invalid_did": "the DID being audited is not a syntactically valid did:plc",
    "malformed_entry": (
        "an entry is not an object with string did, object operation, string cid, "
        "boolean nullified and an RFC 3339 createdAt"
    ),
    "malformed_operation": (
        "an operation is not a well-formed plc_operation, plc_tombstone or legacy create "
        "(missing, extra or mistyped fields, or not encodable as DAG-CBOR)"
    ),
    "did_mismatch": "an entry belongs to a different DID than the one audited",
    "cid_mismatch": "an entry's cid is not the hash of its operation",
    "duplicate_operation": "the same operation (same CID) appears twice in the log",
    "invalid_genesis": "the first operation is not a creation operation (its prev is not null)",
    "genesis_hash_mismatch": "the genesis operation does not hash to the DID",
    "unexpected_genesis": (
        "a later operation has prev null (a second genesis, or a legacy create after the first)"
    ),
    "broken_prev_chain": "an operation's prev names no earlier operation in the log",
    "prev_nullified": "an operation builds on an operation that had already been nullified",
    "operation_after_tombstone": "an operation builds on a tombstone (the DID was deactivated)",
    "invalid_signature_encoding": (
        "a signature is not strict unpadded base64url of exactly 64 bytes "
        "(padding characters, whitespace, non-zero padding bits, wrong length)"
    ),
    "invalid_signature": (
        "no rotation key of the state the operation builds on produced its signature "
        "(includes high-S and DER-encoded signatures, which atproto forbids)"
    ),
    "nullification_by_lower_priority_key": (
        "a fork is signed by a rotation key that does not outrank (lower index) the key "
        "that signed the operation it nullifies"
    ),
    "nullification_too_slow": (
        "a fork nullifies an operation more than 72 hours after that operation was created"
    ),
    "timestamp_out_of_order": "an operation's createdAt is earlier than the operation before it",
    "nullified_flag_mismatch": (
        "an entry's nullified flag disagrees with what the recovery rules imply"
    ),
}
"""Every reason code :func:`verify_audit_log` can return, with what it means."""

_PLC_DID_RE = re.compile(r"^did:plc:[a-z2-7]{24}$")
_DATETIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)
_OPERATION_FIELDS: Final = frozenset(
    {"type", "rotationKeys", "verificationMethods", "alsoKnownAs", "services", "prev", "sig"}
)
_TOMBSTONE_FIELDS: Final = frozenset({"type", "prev", "sig"})
_CREATE_FIELDS: Final = frozenset(
    {"type", "signingKey", "recoveryKey", "handle", "service", "prev", "sig"}
)
_ENTRY_FIELDS: Final = ("did", "operation", "cid", "nullified", "createdAt")
_CID_PREFIX: Final = bytes([0x01, 0x71, 0x12, 0x20])  # CIDv1, dag-cbor, sha2-256, 32 bytes
PDS_SERVICE_TYPE: Final = "AtprotoPersonalDataServer"
"""The ``type`` of an ``atproto_pds`` service entry."""


# --------------------------------------------------------------------------------------------
# State and results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlcService:
    """One entry of an identity's ``services`` map."""

    type: str
    endpoint: str


@dataclass(frozen=True)
class PlcState:
    """The identity data one operation establishes (what ``/{did}/data`` serves)."""

    rotation_keys: tuple[str, ...]
    """did:key strings in priority order: index 0 has the most authority."""
    verification_methods: Mapping[str, str]
    """Service id (e.g. ``atproto``, no ``#``) -> did:key signing key."""
    also_known_as: tuple[str, ...]
    """Aliases in priority order, e.g. ``at://alice.example.com``."""
    services: Mapping[str, PlcService]
    """Service id (e.g. ``atproto_pds``, no ``#``) -> service."""
    tombstoned: bool = False
    """True after a tombstone: the DID is deactivated and every other field is empty."""


TOMBSTONED: Final = PlcState((), {}, (), {}, tombstoned=True)
"""The state after a tombstone (shared; treat as read-only)."""


@dataclass(frozen=True)
class OpVerification:
    """What verification established about one entry of the audit log."""

    index: int
    """Position in the audit log (0 = genesis)."""
    cid: str
    type: OperationType
    created_at: datetime
    """The directory's timestamp (timezone-aware)."""
    nullified: bool
    """Whether the recovery rules nullify this operation (it then matches the log's flag)."""
    prev: str | None
    signer_key: str | None
    """The did:key that produced the signature."""
    signer_index: int | None
    """Priority of the signer in the rotationKeys of the state the operation builds on (0 = top);
    for the genesis, in its own rotationKeys."""
    state_after: PlcState


@dataclass(frozen=True)
class LogVerification:
    """The outcome of replaying an audit log."""

    valid: bool
    reason: Reason | None
    """None when valid; otherwise one of :data:`REASONS`."""
    detail: str | None
    """One human sentence saying what is wrong, naming the entry."""
    failed_index: int | None
    """Index of the entry where verification failed, if the failure belongs to one entry."""
    operations: list[OpVerification]
    """Every entry verified (all of them when valid; those before the failure otherwise)."""
    state: PlcState | None
    """The current state (of the last valid operation) when valid, else None."""


# --------------------------------------------------------------------------------------------
# Encoding, hashing, signing
# --------------------------------------------------------------------------------------------


def _b32(data: bytes) -> str:
    """Lowercase RFC 4648 base32 without padding (multibase ``b`` body)."""
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def _dag_cbor(value: Mapping[str, Any]) -> bytes:
    """DAG-CBOR bytes of ``value``; ValueError if it has no DAG-CBOR encoding."""
    try:
        encoded: bytes = libipld.encode_dag_cbor(dict(value))
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"operation cannot be encoded as DAG-CBOR: {exc}") from None
    return encoded


def unsigned_bytes(op: Mapping[str, Any]) -> bytes:
    """The bytes a PLC signature covers: DAG-CBOR of the operation without its ``sig`` field."""
    return _dag_cbor({key: value for key, value in op.items() if key != "sig"})


def operation_cid(op: Mapping[str, Any]) -> str:
    """The CID of a signed operation: CIDv1, dag-cbor, sha2-256, base32 (``bafyrei…``)."""
    digest = hashlib.sha256(_dag_cbor(op)).digest()
    return "b" + _b32(_CID_PREFIX + digest)


def did_from_genesis(op: Mapping[str, Any]) -> str:
    """The DID a signed genesis operation creates: ``did:plc:`` + 24 base32 chars of its hash."""
    return "did:plc:" + _b32(hashlib.sha256(_dag_cbor(op)).digest())[:24]


def sign_operation(op: Mapping[str, Any], key: PrivateKey) -> dict[str, Any]:
    """A copy of ``op`` with a fresh ``sig`` by ``key`` (any previous ``sig`` is replaced)."""
    unsigned = {name: value for name, value in op.items() if name != "sig"}
    return {**unsigned, "sig": b64url_encode(key.sign(unsigned_bytes(unsigned)))}


# --------------------------------------------------------------------------------------------
# Operation parsing
# --------------------------------------------------------------------------------------------


class _Malformed(ValueError):
    """An operation or entry does not have the required shape (message says how)."""


def _shown(value: object) -> str:
    """A value quoted for a detail sentence (long enough for a whole CID)."""
    return shown(value, limit=64)


def _string_list(op: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """Field ``name`` as a tuple of strings."""
    value = op.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _Malformed(f"{name} must be a list of strings")
    return tuple(value)


def _string_map(op: Mapping[str, Any], name: str) -> dict[str, str]:
    """Field ``name`` as a map of strings to strings."""
    value = op.get(name)
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise _Malformed(f"{name} must be a map of strings")
    return dict(value)


def _services(op: Mapping[str, Any]) -> dict[str, PlcService]:
    """The ``services`` field as PlcService objects."""
    value = op.get("services")
    if not isinstance(value, dict):
        raise _Malformed("services must be a map")
    services: dict[str, PlcService] = {}
    for name, entry in value.items():
        if not isinstance(entry, dict):
            raise _Malformed(f"service {_shown(name)} must be a map")
        kind, endpoint = entry.get("type"), entry.get("endpoint")
        if not isinstance(kind, str) or not isinstance(endpoint, str):
            raise _Malformed(f"service {_shown(name)} needs string type and endpoint")
        services[name] = PlcService(kind, endpoint)
    return services


def _check_fields(op: Mapping[str, Any], expected: frozenset[str], kind: str) -> None:
    """Require exactly the fields a ``kind`` operation has, and a string ``sig``."""
    missing = sorted(expected - op.keys())
    if missing:
        raise _Malformed(f"{kind} is missing field {missing[0]!r}")
    extra = sorted(str(name) for name in op.keys() - expected)
    if extra:
        raise _Malformed(f"{kind} has unexpected field {_shown(extra[0])}")
    if not isinstance(op["sig"], str):
        raise _Malformed(f"{kind} sig must be a string")


def _ensure_at_prefix(handle: str) -> str:
    """Legacy ``handle`` -> ``at://`` alias, as the reference normalisation does it."""
    if handle.startswith("at://"):
        return handle
    return "at://" + handle.replace("http://", "", 1).replace("https://", "", 1)


def _ensure_http_prefix(service: str) -> str:
    """Legacy ``service`` -> URL, assuming https when no scheme is given."""
    if service.startswith(("http://", "https://")):
        return service
    return "https://" + service


def _regular_state(op: Mapping[str, Any]) -> PlcState:
    """State from a ``plc_operation``."""
    _check_fields(op, _OPERATION_FIELDS, "plc_operation")
    if op["prev"] is not None and not isinstance(op["prev"], str):
        raise _Malformed("plc_operation prev must be a CID string or null")
    return PlcState(
        rotation_keys=_string_list(op, "rotationKeys"),
        verification_methods=_string_map(op, "verificationMethods"),
        also_known_as=_string_list(op, "alsoKnownAs"),
        services=_services(op),
    )


def _tombstone_state(op: Mapping[str, Any]) -> PlcState:
    """State after a ``plc_tombstone`` (its prev may not be null)."""
    _check_fields(op, _TOMBSTONE_FIELDS, "plc_tombstone")
    if not isinstance(op["prev"], str):
        raise _Malformed("plc_tombstone prev must be a CID string")
    return TOMBSTONED


def _legacy_state(op: Mapping[str, Any]) -> PlcState:
    """State from a legacy genesis ``create``, normalised as the did:plc reference does."""
    _check_fields(op, _CREATE_FIELDS, "create")
    if op["prev"] is not None:
        raise _Malformed("legacy create operation must have prev null")
    for name in ("signingKey", "recoveryKey", "handle", "service"):
        if not isinstance(op[name], str):
            raise _Malformed(f"create {name} must be a string")
    return PlcState(
        rotation_keys=(op["recoveryKey"], op["signingKey"]),
        verification_methods={"atproto": op["signingKey"]},
        also_known_as=(_ensure_at_prefix(op["handle"]),),
        services={"atproto_pds": PlcService(PDS_SERVICE_TYPE, _ensure_http_prefix(op["service"]))},
    )


_OPERATION_TYPES: Final[tuple[OperationType, ...]] = ("plc_operation", "plc_tombstone", "create")
_STATE_BUILDERS: Final = {
    "plc_operation": _regular_state,
    "plc_tombstone": _tombstone_state,
    "create": _legacy_state,
}


def _operation_type(op: object) -> OperationType:
    """The type of an operation object, or _Malformed."""
    if not isinstance(op, dict):
        raise _Malformed(f"operation must be an object, not {type(op).__name__}")
    if not all(isinstance(name, str) for name in op):
        raise _Malformed("operation field names must be strings")
    kind = op.get("type")
    for known in _OPERATION_TYPES:
        if kind == known:
            return known
    raise _Malformed(f"unknown operation type {_shown(kind)}")


def operation_state(op: Mapping[str, Any]) -> PlcState:
    """The identity state an operation establishes (legacy ``create`` normalised).

    Raises ValueError, naming the problem, if ``op`` is not a well-formed operation.
    """
    return _STATE_BUILDERS[_operation_type(op)](op)


# --------------------------------------------------------------------------------------------
# Audit-log verification
# --------------------------------------------------------------------------------------------


class _Failure(Exception):
    """Verification stopped: carries the reason code and detail sentence."""

    def __init__(self, reason: Reason, detail: str, index: int | None = None) -> None:
        super().__init__(detail)
        self.reason: Reason = reason
        self.detail = detail
        self.index = index


@dataclass
class _Entry:
    """One well-formed audit-log entry."""

    index: int
    cid: str
    op: dict[str, Any]
    type: OperationType
    state: PlcState
    created_at: datetime
    claimed_nullified: bool

    @property
    def prev(self) -> str | None:
        """The operation's prev CID (None for a genesis)."""
        prev: str | None = self.op["prev"]
        return prev


@dataclass
class _Node:
    """An accepted operation while the log is replayed (mutable bookkeeping)."""

    entry: _Entry
    signer_key: str
    signer_index: int
    allowed_keys: tuple[str, ...]
    """Keys that may still sign a child: shrinks below each child's signer (recovery rule)."""
    last_child: str | None = None
    """CID of the most recent accepted operation built on this one."""
    nullified: bool = False


@dataclass
class _Replay:
    """The state of a replay: accepted operations by CID, the head, and parsed keys."""

    did: str
    nodes: dict[str, _Node] = field(default_factory=dict)
    head: _Node | None = None
    keys: dict[str, PublicKey | None] = field(default_factory=dict)

    def public_key(self, did_key: str) -> PublicKey | None:
        """The parsed rotation key, or None if it is not a usable k256/p256 did:key."""
        if did_key not in self.keys:
            try:
                self.keys[did_key] = parse_did_key(did_key)
            except KeyFormatError:
                self.keys[did_key] = None
        return self.keys[did_key]


def _parse_datetime(value: object) -> datetime:
    """Parse an RFC 3339 timestamp with a timezone (as UTC); ValueError if it is not one."""
    match = _DATETIME_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"createdAt {_shown(value)} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros, UTC
        )
        if zone != "Z":
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            moment = moment - offset if zone[0] == "+" else moment + offset
    except (ValueError, OverflowError):
        raise ValueError(f"createdAt {_shown(value)} is not a real date and time") from None
    return moment


def _parse_entry(index: int, raw: object, did: str) -> _Entry:
    """Check an entry's shape, DID and CID; returns it parsed or raises _Failure."""
    if not isinstance(raw, dict):
        raise _Failure("malformed_entry", f"entry {index} is not an object")
    for name in _ENTRY_FIELDS:
        if name not in raw:
            raise _Failure("malformed_entry", f"entry {index} has no {name!r} field")
    entry_did, cid, nullified, created = (raw[n] for n in ("did", "cid", "nullified", "createdAt"))
    if not isinstance(entry_did, str) or not isinstance(cid, str):
        raise _Failure("malformed_entry", f"entry {index} did and cid must be strings")
    if not isinstance(nullified, bool):
        raise _Failure("malformed_entry", f"entry {index} nullified must be true or false")
    try:
        created_at = _parse_datetime(created)
    except ValueError as exc:
        raise _Failure("malformed_entry", f"entry {index}: {exc}") from None
    if entry_did != did:
        raise _Failure(
            "did_mismatch", f"entry {index} is for {_shown(entry_did)}, not the audited {did}"
        )
    op = raw["operation"]
    try:
        kind = _operation_type(op)
        state = operation_state(op)
        computed = operation_cid(op)
    except ValueError as exc:
        raise _Failure("malformed_operation", f"entry {index}: {exc}") from None
    if computed != cid:
        raise _Failure(
            "cid_mismatch",
            f"entry {index} claims cid {_shown(cid)} but its operation hashes to {computed}",
        )
    return _Entry(index, cid, op, kind, state, created_at, nullified)


def _decode_signature(entry: _Entry) -> bytes:
    """The raw signature bytes, or _Failure("invalid_signature_encoding")."""
    try:
        signature = b64url_decode_strict(entry.op["sig"])
    except SignatureFormatError as exc:
        raise _Failure(
            "invalid_signature_encoding", f"entry {entry.index} signature: {exc}"
        ) from None
    if len(signature) != 64:
        raise _Failure(
            "invalid_signature_encoding",
            f"entry {entry.index} signature is {len(signature)} bytes; atproto signatures are "
            "64 raw bytes (r || s), not DER",
        )
    return signature


def _first_signer(
    replay: _Replay, keys: Sequence[str], message: bytes, signature: bytes, start: int = 0
) -> int | None:
    """Index (in ``keys``, from ``start``) of the first key whose signature this is, or None."""
    for position in range(start, len(keys)):
        key = replay.public_key(keys[position])
        if key is not None and key.verify(message, signature):
            return position
    return None


def _no_signer_detail(replay: _Replay, entry: _Entry, keys: Sequence[str], sig: bytes) -> str:
    """Why no key verified: says so when the signature is a high-S (non-canonical) one."""
    parsed = [replay.public_key(key) for key in keys]
    usable = [key for key in parsed if key is not None]
    base = (
        f"entry {entry.index} ({entry.cid}) is not signed by any of the "
        f"{len(keys)} rotation key(s) of the state it builds on"
    )
    if not usable:
        return base + " (none of them is a usable k256/p256 did:key)"
    if any(key.is_high_s(sig) for key in usable):
        return base + "; its S value is high, and atproto accepts only low-S signatures"
    return base


def _check_signature(replay: _Replay, entry: _Entry, parent: _Node | None) -> tuple[str, int]:
    """Verify the signature against the keys allowed to sign; returns (did:key, priority)."""
    signature = _decode_signature(entry)
    message = unsigned_bytes(entry.op)
    full = entry.state.rotation_keys if parent is None else parent.entry.state.rotation_keys
    allowed = full if parent is None else parent.allowed_keys
    position = _first_signer(replay, allowed, message, signature)
    if position is not None:
        return full[position], position
    outranked = _first_signer(replay, full, message, signature, start=len(allowed))
    if outranked is not None and parent is not None and parent.last_child is not None:
        disputed = replay.nodes[parent.last_child]
        raise _Failure(
            "nullification_by_lower_priority_key",
            f"entry {entry.index} forks from {parent.entry.cid} signed by rotation key "
            f"#{outranked}, which does not outrank key #{disputed.signer_index} that signed the "
            f"operation it would nullify ({disputed.entry.cid})",
        )
    raise _Failure("invalid_signature", _no_signer_detail(replay, entry, full, signature))


def _parent(replay: _Replay, entry: _Entry) -> _Node | None:
    """The accepted operation ``entry`` builds on (None for the genesis), or _Failure."""
    prev = entry.prev
    if entry.index == 0:
        if prev is not None:
            raise _Failure(
                "invalid_genesis", f"entry 0 has prev {_shown(prev)}; a genesis must have prev null"
            )
        return None
    if prev is None:
        raise _Failure(
            "unexpected_genesis",
            f"entry {entry.index} ({entry.type}) has prev null, but only the first "
            "operation may be a genesis",
        )
    parent = replay.nodes.get(prev)
    if parent is None:
        raise _Failure(
            "broken_prev_chain", f"entry {entry.index} has prev {prev}, which no earlier entry has"
        )
    if parent.nullified:
        raise _Failure(
            "prev_nullified",
            f"entry {entry.index} builds on {prev} (entry {parent.entry.index}), which an earlier "
            "recovery operation had already nullified",
        )
    if parent.entry.state.tombstoned:
        raise _Failure(
            "operation_after_tombstone",
            f"entry {entry.index} builds on the tombstone {prev} (entry {parent.entry.index})",
        )
    return parent


def _check_genesis_hash(entry: _Entry, did: str) -> None:
    """The genesis must hash to the DID."""
    derived = did_from_genesis(entry.op)
    if derived != did:
        raise _Failure(
            "genesis_hash_mismatch", f"the genesis operation hashes to {derived}, not {did}"
        )


def _check_timing(replay: _Replay, entry: _Entry, parent: _Node) -> list[_Node]:
    """Check createdAt order and the recovery window; returns the operations a fork nullifies."""
    head = replay.head
    assert head is not None  # a genesis was accepted before any entry with a parent
    # Equal timestamps are tolerated: the reference server does not enforce order at all, and
    # two operations in one millisecond must not make a real identity look tampered with.
    if entry.created_at < head.entry.created_at:
        raise _Failure(
            "timestamp_out_of_order",
            f"entry {entry.index} createdAt {entry.created_at.isoformat()} is before the "
            f"current head's (entry {head.entry.index}, {head.entry.created_at.isoformat()})",
        )
    nullified: list[_Node] = []
    child = parent.last_child
    while child is not None:
        nullified.append(replay.nodes[child])
        child = replay.nodes[child].last_child
    if nullified:
        first = nullified[0].entry
        elapsed = entry.created_at - first.created_at
        if elapsed > RECOVERY_WINDOW:
            raise _Failure(
                "nullification_too_slow",
                f"entry {entry.index} would nullify entry {first.index} ({first.cid}) "
                f"{elapsed} after it was created; the recovery window is 72 hours",
            )
    return nullified


def _accept(replay: _Replay, entry: _Entry) -> None:
    """Apply every rule to one entry and, if it passes, add it to the replay."""
    if entry.cid in replay.nodes:
        raise _Failure(
            "duplicate_operation",
            f"entry {entry.index} repeats operation {entry.cid} "
            f"(entry {replay.nodes[entry.cid].entry.index})",
        )
    parent = _parent(replay, entry)
    if parent is None:
        _check_genesis_hash(entry, replay.did)
    signer_key, signer_index = _check_signature(replay, entry, parent)
    if parent is not None:
        for node in _check_timing(replay, entry, parent):
            node.nullified = True
        parent.allowed_keys = parent.allowed_keys[:signer_index]
        parent.last_child = entry.cid
    node = _Node(entry, signer_key, signer_index, entry.state.rotation_keys)
    replay.nodes[entry.cid] = node
    replay.head = node


def _check_flags(replay: _Replay, entries: list[_Entry]) -> None:
    """Each entry's ``nullified`` flag must equal what the replay concluded."""
    for entry in entries:
        actual = replay.nodes[entry.cid].nullified
        if actual != entry.claimed_nullified:
            should = "nullified" if actual else "valid"
            raise _Failure(
                "nullified_flag_mismatch",
                f"entry {entry.index} ({entry.cid}) is marked "
                f"nullified={str(entry.claimed_nullified).lower()}, but the recovery rules make "
                f"it {should}",
                entry.index,
            )


def _op_verification(node: _Node) -> OpVerification:
    """The public record of one accepted operation."""
    entry = node.entry
    return OpVerification(
        index=entry.index,
        cid=entry.cid,
        type=entry.type,
        created_at=entry.created_at,
        nullified=node.nullified,
        prev=entry.prev,
        signer_key=node.signer_key,
        signer_index=node.signer_index,
        state_after=entry.state,
    )


def _replay_log(replay: _Replay, entries: Sequence[object]) -> list[_Entry]:
    """Parse and accept every entry in order; raises _Failure at the first broken rule."""
    parsed: list[_Entry] = []
    for index, raw in enumerate(entries):
        try:
            entry = _parse_entry(index, raw, replay.did)
            _accept(replay, entry)
        except _Failure as failure:
            failure.index = index
            raise
        parsed.append(entry)
    _check_flags(replay, parsed)
    return parsed


def _failed(
    reason: Reason, detail: str, index: int | None, replay: _Replay | None
) -> LogVerification:
    """A failed verification, listing the operations accepted before the failure."""
    operations = [_op_verification(node) for node in replay.nodes.values()] if replay else []
    return LogVerification(False, reason, detail, index, operations, None)


def _as_list(value: object) -> Sequence[object] | None:
    """The log as a sequence of entries, or None if it is not a JSON array (list or tuple)."""
    return value if isinstance(value, list | tuple) else None


def verify_audit_log(did: str, entries: Sequence[object]) -> LogVerification:
    """Replay a PLC audit log (``GET /{did}/log/audit``) and check every did:plc rule.

    ``entries`` is the decoded JSON array (a list; a tuple also works), oldest first, nullified
    operations included. Never raises: malformed input of any shape, including a non-array,
    gives ``valid=False`` with a reason from :data:`REASONS`.
    """
    if not isinstance(did, str) or not _PLC_DID_RE.fullmatch(did):
        return _failed("invalid_did", f"{_shown(did)} is not a did:plc DID", None, None)
    log = _as_list(entries)
    if log is None:
        return _failed(
            "malformed_log", f"the audit log is a {type(entries).__name__}, not a list", None, None
        )
    if not log:
        return _failed("empty_log", "the audit log has no entries", None, None)
    replay = _Replay(did)
    try:
        _replay_log(replay, log)
    except _Failure as failure:
        return _failed(failure.reason, failure.detail, failure.index, replay)
    assert replay.head is not None
    operations = [_op_verification(node) for node in replay.nodes.values()]
    return LogVerification(True, None, None, None, operations, replay.head.entry.state)


# --------------------------------------------------------------------------------------------
# DID document
# --------------------------------------------------------------------------------------------

_DID_CONTEXT: Final = "https://www.w3.org/ns/did/v1"
_MULTIKEY_CONTEXT: Final = "https://w3id.org/security/multikey/v1"
_CURVE_CONTEXT: Final = {
    "p256": "https://w3id.org/security/suites/ecdsa-2019/v1",
    "k256": "https://w3id.org/security/suites/secp256k1-2019/v1",
}


def _key_context(did_key: str) -> str | None:
    """The JSON-LD context a verification key adds, or None for a key type PLC doesn't know."""
    try:
        return _CURVE_CONTEXT[parse_did_key(did_key).curve]
    except KeyFormatError:
        return None


def document_from_state(did: str, state: PlcState) -> dict[str, Any]:
    """The DID document a PLC directory serves for ``state`` (did:plc spec, "Presentation").

    Verification methods become ``Multikey`` entries with id ``{did}#{name}``; services get id
    ``#{name}``; each k256/p256 key adds its suite's context after the DID and Multikey ones.
    Raises ValueError for a tombstoned state, which has no document.
    """
    if state.tombstoned:
        raise ValueError(f"{did} is tombstoned; a deactivated DID has no document")
    context = [_DID_CONTEXT, _MULTIKEY_CONTEXT]
    methods = []
    for name, did_key in state.verification_methods.items():
        extra = _key_context(did_key)
        if extra and extra not in context:
            context.append(extra)
        methods.append(
            {
                "id": f"{did}#{name}",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": did_key.removeprefix("did:key:"),
            }
        )
    services = [
        {"id": f"#{name}", "type": service.type, "serviceEndpoint": service.endpoint}
        for name, service in state.services.items()
    ]
    return {
        "@context": context,
        "id": did,
        "alsoKnownAs": list(state.also_known_as),
        "verificationMethod": methods,
        "service": services,
    }

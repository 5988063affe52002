"""Tests for auditor.plc: interop audit logs, each rejection reason, hostile input, sandbox logs."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor import plc
from auditor.crypto import PrivateKey, parse_did_key
from auditor.plc import (
    REASONS,
    LogVerification,
    PlcService,
    PlcState,
    did_from_genesis,
    document_from_state,
    operation_cid,
    operation_state,
    sign_operation,
    unsigned_bytes,
    verify_audit_log,
)

AUDIT_LOGS = Path(__file__).parent / "conformance" / "plc-audit-logs"

# Each invalid interop log, and the reason its file name gives, mapped to our reason code.
INVALID_REASONS: dict[str, str] = {
    "log_invalid_nullification_reused_key.json": "nullification_by_lower_priority_key",
    "log_invalid_nullification_too_slow.json": "nullification_too_slow",
    "log_invalid_sig_b64_newline.json": "invalid_signature_encoding",
    "log_invalid_sig_b64_padding_bits.json": "invalid_signature_encoding",
    "log_invalid_sig_b64_padding_chars.json": "invalid_signature_encoding",
    # 64 bytes of DER (r is 29 bytes): decodes to the right length, then fails as r || s.
    "log_invalid_sig_der.json": "invalid_signature",
    "log_invalid_sig_k256_high_s.json": "invalid_signature",
    "log_invalid_sig_p256_high_s.json": "invalid_signature",
    "log_invalid_update_nullified.json": "prev_nullified",
    "log_invalid_update_tombstoned.json": "operation_after_tombstone",
}
# Where each invalid log must fail (the entry that breaks the rule).
INVALID_INDEX: dict[str, int] = {
    "log_invalid_nullification_reused_key.json": 2,
    "log_invalid_nullification_too_slow.json": 2,
    "log_invalid_update_nullified.json": 4,
    "log_invalid_update_tombstoned.json": 2,
}


def load_log(path: Path) -> list[Any]:
    """One audit log as decoded JSON."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    return entries


def valid_files() -> list[Path]:
    return sorted((AUDIT_LOGS / "valid").glob("*.json"))


def invalid_files() -> list[Path]:
    return sorted((AUDIT_LOGS / "invalid").glob("*.json"))


def verify(entries: list[Any]) -> LogVerification:
    """Verify a log for the DID its first entry names."""
    return verify_audit_log(entries[0]["did"], entries)


# --------------------------------------------------------------------------------------------
# Interop audit logs
# --------------------------------------------------------------------------------------------


def test_every_invalid_vector_has_an_expected_reason() -> None:
    assert {path.name for path in invalid_files()} == set(INVALID_REASONS)
    assert len(valid_files()) == 10
    assert set(INVALID_REASONS.values()) <= set(REASONS)


@pytest.mark.parametrize("path", valid_files(), ids=lambda p: p.name)
def test_valid_vector_verifies(path: Path) -> None:
    entries = load_log(path)
    result = verify(entries)
    assert result.valid, (result.reason, result.detail)
    assert result.reason is None and result.detail is None and result.failed_index is None
    assert [op.cid for op in result.operations] == [entry["cid"] for entry in entries]
    assert [op.nullified for op in result.operations] == [entry["nullified"] for entry in entries]
    assert all(
        op.signer_key is not None and op.signer_index is not None for op in result.operations
    )
    # The current state is the one the last non-nullified operation established.
    last_valid = [op for op in result.operations if not op.nullified][-1]
    assert result.state == last_valid.state_after
    assert result.state == operation_state(entries[last_valid.index]["operation"])


@pytest.mark.parametrize("path", invalid_files(), ids=lambda p: p.name)
def test_invalid_vector_is_rejected_for_its_named_reason(path: Path) -> None:
    result = verify(load_log(path))
    assert not result.valid
    assert result.reason == INVALID_REASONS[path.name], result.detail
    assert result.detail and "\n" not in result.detail
    assert result.state is None
    assert result.failed_index == INVALID_INDEX.get(path.name, 0)
    # Operations accepted before the failure are reported; the failing one is not.
    assert len(result.operations) == result.failed_index


def test_cids_and_dids_of_real_logs_are_reproduced() -> None:
    for path in valid_files() + invalid_files():
        entries = load_log(path)
        for entry in entries:
            assert operation_cid(entry["operation"]) == entry["cid"], path.name
        assert did_from_genesis(entries[0]["operation"]) == entries[0]["did"], path.name


def test_bskyapp_state_and_signers() -> None:
    result = verify(load_log(AUDIT_LOGS / "valid" / "log_bskyapp.json"))
    assert result.state == PlcState(
        rotation_keys=(
            "did:key:zQ3shhCGUqDKjStzuDxPkTxN6ujddP4RkEKJJouJGRRkaLGbg",
            "did:key:zQ3shpKnbdPx3g3CmPf5cRVTPe1HtSwVn5ish3wSnDPQCbLJK",
        ),
        verification_methods={
            "atproto": "did:key:zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF"
        },
        also_known_as=("at://bsky.app",),
        services={"atproto_pds": PlcService("AtprotoPersonalDataServer", "https://bsky.social")},
    )
    # Both operations were signed by the second (lower-priority) rotation key.
    assert [op.signer_index for op in result.operations] == [1, 1]
    assert {op.signer_key for op in result.operations} == {result.state.rotation_keys[1]}
    assert result.operations[0].created_at == datetime(2023, 4, 12, 4, 53, 57, 57000, tzinfo=UTC)
    assert result.operations[1].prev == result.operations[0].cid
    assert result.operations[0].prev is None


def test_legacy_create_genesis_is_normalised() -> None:
    result = verify(load_log(AUDIT_LOGS / "valid" / "log_legacy_dholms.json"))
    genesis = result.operations[0]
    assert genesis.type == "create"
    assert genesis.state_after == PlcState(
        rotation_keys=(  # [recoveryKey, signingKey]
            "did:key:zQ3shhCGUqDKjStzuDxPkTxN6ujddP4RkEKJJouJGRRkaLGbg",
            "did:key:zQ3shP5TBe1sQfSttXty15FAEHV1DZgcxRZNxvEWnPfLFwLxJ",
        ),
        verification_methods={
            "atproto": "did:key:zQ3shP5TBe1sQfSttXty15FAEHV1DZgcxRZNxvEWnPfLFwLxJ"
        },
        also_known_as=("at://dan.bsky.social",),
        services={"atproto_pds": PlcService("AtprotoPersonalDataServer", "https://bsky.social")},
    )
    # The legacy genesis was self-signed by its signingKey, which is rotation key #1.
    assert (genesis.signer_index, genesis.signer_key) == (1, genesis.state_after.rotation_keys[1])


@pytest.mark.parametrize(
    ("name", "signers", "nullified"),
    [
        ("log_nullification.json", [1, 1, 0], [False, True, False]),
        ("log_nullification_at_exactly_72h.json", [1, 1, 1, 0], [False, False, True, False]),
        ("log_nullified_tombstone.json", [1, 1, 1, 0], [False, False, True, False]),
        (
            "log_nullification_nontrivial.json",
            [1, 1, 1, 1, 1, 0, 1, 0],
            [False, False, True, True, True, True, True, False],
        ),
    ],
)
def test_recovery_signer_priorities(name: str, signers: list[int], nullified: list[bool]) -> None:
    result = verify(load_log(AUDIT_LOGS / "valid" / name))
    assert [op.signer_index for op in result.operations] == signers
    assert [op.nullified for op in result.operations] == nullified


def test_tombstoned_log_has_tombstoned_state() -> None:
    result = verify(load_log(AUDIT_LOGS / "valid" / "log_tombstone.json"))
    assert result.valid and result.state is not None
    assert result.state.tombstoned and result.state.rotation_keys == ()
    assert result.operations[-1].type == "plc_tombstone"


def test_empty_rotation_keys_freeze_the_identity() -> None:
    result = verify(load_log(AUDIT_LOGS / "valid" / "log_empty_rotation_keys.json"))
    assert result.valid and result.state is not None
    assert result.state.rotation_keys == ()


# --------------------------------------------------------------------------------------------
# Mutations of a real log: one broken rule each
# --------------------------------------------------------------------------------------------


@pytest.fixture
def bsky() -> list[Any]:
    return load_log(AUDIT_LOGS / "valid" / "log_bskyapp.json")


@pytest.fixture
def nullification() -> list[Any]:
    return load_log(AUDIT_LOGS / "valid" / "log_nullification.json")


def assert_rejected(entries: Any, reason: str, index: int | None, did: str | None = None) -> None:
    result = verify_audit_log(did or "did:plc:z72i7hdynmk6r22z27h6tvur", entries)
    assert (result.valid, result.reason, result.failed_index) == (False, reason, index), (
        result.detail
    )
    assert result.detail and "\n" not in result.detail


def test_entry_for_another_did(bsky: list[Any]) -> None:
    bsky[1]["did"] = "did:plc:yk4dd2qkboz2yv6tpubpc6co"
    assert_rejected(bsky, "did_mismatch", 1)


def test_log_audited_under_another_did(bsky: list[Any]) -> None:
    assert_rejected(bsky, "did_mismatch", 0, did="did:plc:yk4dd2qkboz2yv6tpubpc6co")


def test_genesis_not_hashing_to_the_did(bsky: list[Any]) -> None:
    for entry in bsky:
        entry["did"] = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    assert_rejected(bsky, "genesis_hash_mismatch", 0, did="did:plc:aaaaaaaaaaaaaaaaaaaaaaaa")


def test_wrong_cid(bsky: list[Any]) -> None:
    bsky[1]["cid"] = bsky[0]["cid"]
    assert_rejected(bsky, "cid_mismatch", 1)


def test_tampered_operation_changes_its_cid(bsky: list[Any]) -> None:
    bsky[1]["operation"]["alsoKnownAs"] = ["at://attacker.example"]
    assert_rejected(bsky, "cid_mismatch", 1)


def test_tampered_operation_with_recomputed_cid_fails_its_signature(bsky: list[Any]) -> None:
    bsky[1]["operation"]["alsoKnownAs"] = ["at://attacker.example"]
    bsky[1]["cid"] = operation_cid(bsky[1]["operation"])
    assert_rejected(bsky, "invalid_signature", 1)


def test_operation_reordering_breaks_the_chain(bsky: list[Any]) -> None:
    assert_rejected([bsky[1], bsky[0]], "invalid_genesis", 0)


def test_missing_genesis(bsky: list[Any]) -> None:
    assert_rejected(bsky[1:], "invalid_genesis", 0)


def test_prev_pointing_nowhere(bsky: list[Any]) -> None:
    bsky[1]["operation"]["prev"] = "bafyreie7wzkpryp3abzh4avjqmby3kuznuz3dwlqqgyfui25pecveba5oe"
    bsky[1]["cid"] = operation_cid(bsky[1]["operation"])
    assert_rejected(bsky, "broken_prev_chain", 1)


def test_second_genesis(bsky: list[Any]) -> None:
    assert_rejected([bsky[0], bsky[1], bsky[0]], "duplicate_operation", 2)
    second = copy.deepcopy(bsky[0])
    second["operation"]["alsoKnownAs"] = ["at://other.example"]
    second["cid"] = operation_cid(second["operation"])
    assert_rejected([bsky[0], second], "unexpected_genesis", 1)


def test_legacy_create_after_genesis() -> None:
    legacy = load_log(AUDIT_LOGS / "valid" / "log_legacy_dholms.json")
    bsky = load_log(AUDIT_LOGS / "valid" / "log_bskyapp.json")
    late = dict(legacy[0], did=bsky[0]["did"])
    assert_rejected([bsky[0], late], "unexpected_genesis", 1)


def test_nullified_flag_must_match(nullification: list[Any]) -> None:
    did = nullification[0]["did"]
    flipped = copy.deepcopy(nullification)
    flipped[1]["nullified"] = False
    assert_rejected(flipped, "nullified_flag_mismatch", 1, did=did)
    flipped = copy.deepcopy(nullification)
    flipped[2]["nullified"] = True
    assert_rejected(flipped, "nullified_flag_mismatch", 2, did=did)
    flipped = copy.deepcopy(nullification)
    flipped[0]["nullified"] = True
    assert_rejected(flipped, "nullified_flag_mismatch", 0, did=did)


def test_timestamps_must_not_go_backwards(bsky: list[Any]) -> None:
    # the same millisecond is tolerated (the reference server does not order operations at all)
    bsky[1]["createdAt"] = bsky[0]["createdAt"]
    assert verify(bsky).valid
    bsky[1]["createdAt"] = "2023-04-12T04:53:57.056Z"
    assert_rejected(bsky, "timestamp_out_of_order", 1)


def test_timezone_offsets_are_understood(bsky: list[Any]) -> None:
    bsky[1]["createdAt"] = "2023-04-12T06:53:57.058+02:00"  # 1 ms after the genesis
    assert verify(bsky).valid
    bsky[1]["createdAt"] = "2023-04-12T06:53:57.056+02:00"  # 1 ms before the genesis
    assert_rejected(bsky, "timestamp_out_of_order", 1)


def test_signature_encoding_errors_on_real_entry(bsky: list[Any]) -> None:
    bsky[1]["operation"]["sig"] += "=="
    bsky[1]["cid"] = operation_cid(bsky[1]["operation"])
    assert_rejected(bsky, "invalid_signature_encoding", 1)


def test_short_signature_is_an_encoding_error(bsky: list[Any]) -> None:
    bsky[1]["operation"]["sig"] = bsky[1]["operation"]["sig"][:-4]
    bsky[1]["cid"] = operation_cid(bsky[1]["operation"])
    assert_rejected(bsky, "invalid_signature_encoding", 1)


def test_high_s_detail_says_why() -> None:
    result = verify(load_log(AUDIT_LOGS / "invalid" / "log_invalid_sig_k256_high_s.json"))
    assert result.detail is not None and "low-S" in result.detail


# --------------------------------------------------------------------------------------------
# Hostile input: never raises
# --------------------------------------------------------------------------------------------

BSKY_DID = "did:plc:z72i7hdynmk6r22z27h6tvur"


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        (None, "malformed_log"),
        ({"did": BSKY_DID}, "malformed_log"),
        ("[]", "malformed_log"),
        (42, "malformed_log"),
        ([], "empty_log"),
    ],
)
def test_non_list_logs(entries: Any, reason: str) -> None:
    result = verify_audit_log(BSKY_DID, entries)
    assert (result.valid, result.reason, result.failed_index) == (False, reason, None)
    assert result.operations == []


@pytest.mark.parametrize(
    "did", [None, 5, "", "did:web:example.com", "did:plc:short", BSKY_DID.upper()]
)
def test_invalid_audited_did(did: Any, bsky: list[Any]) -> None:
    result = verify_audit_log(did, bsky)
    assert (result.valid, result.reason) == (False, "invalid_did")


def broken_entries() -> Iterator[tuple[str, Any, str]]:
    """(case id, replacement for entry 1 of the bsky.app log, expected reason)."""
    good = load_log(AUDIT_LOGS / "valid" / "log_bskyapp.json")[1]

    def without(field: str) -> dict[str, Any]:
        return {k: v for k, v in good.items() if k != field}

    def with_op(**changes: Any) -> dict[str, Any]:
        return dict(good, operation=dict(good["operation"], **changes))

    def op_without(field: str) -> dict[str, Any]:
        return dict(good, operation={k: v for k, v in good["operation"].items() if k != field})

    yield "null", None, "malformed_entry"
    yield "list", [good], "malformed_entry"
    yield "string", "entry", "malformed_entry"
    for field in ("did", "operation", "cid", "nullified", "createdAt"):
        yield f"no-{field}", without(field), "malformed_entry"
    yield "did-int", dict(good, did=7), "malformed_entry"
    yield "cid-null", dict(good, cid=None), "malformed_entry"
    yield "nullified-string", dict(good, nullified="false"), "malformed_entry"
    yield "nullified-int", dict(good, nullified=0), "malformed_entry"
    yield "createdAt-int", dict(good, createdAt=1681275117), "malformed_entry"
    yield "createdAt-garbage", dict(good, createdAt="yesterday"), "malformed_entry"
    yield "createdAt-no-zone", dict(good, createdAt="2023-04-12T17:26:46.468"), "malformed_entry"
    yield "createdAt-month-13", dict(good, createdAt="2023-13-12T17:26:46.468Z"), "malformed_entry"
    yield "createdAt-feb-30", dict(good, createdAt="2023-02-30T17:26:46.468Z"), "malformed_entry"
    yield "createdAt-newline", dict(good, createdAt="2023-04-12T17:26:46.468Z\n"), "malformed_entry"
    yield "createdAt-arabic-digits", dict(good, createdAt="٢٠٢٣-04-12T17:26:46Z"), "malformed_entry"
    yield "createdAt-overflow", dict(good, createdAt="9999-12-31T23:59:59-05:00"), "malformed_entry"
    yield "operation-list", dict(good, operation=[]), "malformed_operation"
    yield "operation-string", dict(good, operation="op"), "malformed_operation"
    yield "type-unknown", with_op(type="plc_delete"), "malformed_operation"
    yield "type-missing", op_without("type"), "malformed_operation"
    yield "sig-missing", op_without("sig"), "malformed_operation"
    yield "prev-missing", op_without("prev"), "malformed_operation"
    yield "sig-int", with_op(sig=5), "malformed_operation"
    yield "prev-int", with_op(prev=5), "malformed_operation"
    yield "extra-field", with_op(handle="x"), "malformed_operation"
    yield "rotationKeys-string", with_op(rotationKeys="did:key:z"), "malformed_operation"
    yield "rotationKeys-ints", with_op(rotationKeys=[1, 2]), "malformed_operation"
    yield "aka-map", with_op(alsoKnownAs={}), "malformed_operation"
    yield "vm-list", with_op(verificationMethods=[]), "malformed_operation"
    yield "vm-int-value", with_op(verificationMethods={"atproto": 1}), "malformed_operation"
    yield "services-list", with_op(services=[]), "malformed_operation"
    yield "service-string", with_op(services={"atproto_pds": "x"}), "malformed_operation"
    yield (
        "service-no-type",
        with_op(services={"atproto_pds": {"endpoint": "x"}}),
        "malformed_operation",
    )
    yield (
        "service-float",
        with_op(services={"p": {"type": "t", "endpoint": "e", "x": float("nan")}}),
        ("malformed_operation"),
    )
    yield (
        "huge-int",
        with_op(services={"p": {"type": "t", "endpoint": "e", "x": 2**80}}),
        ("malformed_operation"),
    )
    yield "lone-surrogate", with_op(alsoKnownAs=["at://\ud800"]), "malformed_operation"
    tombstone = {"type": "plc_tombstone", "prev": None, "sig": good["operation"]["sig"]}
    yield "tombstone-null-prev", dict(good, operation=tombstone), "malformed_operation"
    create = {
        "type": "create",
        "signingKey": "did:key:zS",
        "recoveryKey": "did:key:zR",
        "handle": "a.test",
        "service": "https://pds.test",
        "prev": good["cid"],
        "sig": good["operation"]["sig"],
    }
    yield "create-with-prev", dict(good, operation=create), "malformed_operation"
    yield "create-handle-int", dict(good, operation=dict(create, handle=5)), "malformed_operation"
    yield "huge-strings", with_op(alsoKnownAs=["at://" + "a" * 1_000_000]), "cid_mismatch"
    garbage_sig = with_op(sig="!!!")
    yield (
        "sig-garbage",
        dict(garbage_sig, cid=operation_cid(garbage_sig["operation"])),
        ("invalid_signature_encoding"),
    )
    no_sig_key = with_op(rotationKeys=[])
    yield (
        "no-rotation-keys-in-own-op",
        dict(no_sig_key, cid=operation_cid(no_sig_key["operation"])),
        ("invalid_signature"),
    )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [(entry, reason) for _, entry, reason in broken_entries()],
    ids=[case for case, _, _ in broken_entries()],
)
def test_hostile_entries_are_reported_not_raised(entry: Any, reason: str) -> None:
    entries = load_log(AUDIT_LOGS / "valid" / "log_bskyapp.json")
    entries[1] = entry
    result = verify_audit_log(BSKY_DID, entries)
    assert (result.valid, result.reason, result.failed_index) == (False, reason, 1), result.detail
    assert [op.index for op in result.operations] == [0]


def test_deeply_nested_garbage_does_not_raise(bsky: list[Any]) -> None:
    nested: Any = "x"
    for _ in range(100_000):
        nested = [nested]
    bsky[1]["operation"]["services"] = {"p": {"type": "t", "endpoint": "e", "deep": nested}}
    result = verify_audit_log(BSKY_DID, bsky)
    assert (result.valid, result.reason) == (False, "malformed_operation")


def test_ten_thousand_entries(bsky: list[Any]) -> None:
    assert verify_audit_log(BSKY_DID, [bsky[0]] * 10_000).reason == "duplicate_operation"
    assert verify_audit_log(BSKY_DID, [None] * 10_000).reason == "malformed_entry"
    result = verify_audit_log(BSKY_DID, [bsky[0], *([bsky[1]] * 9_999)])
    assert (result.reason, result.failed_index) == ("duplicate_operation", 2)


def test_tuple_logs_are_accepted(bsky: list[Any]) -> None:
    assert verify_audit_log(BSKY_DID, tuple(bsky)).valid


def test_input_is_not_modified(nullification: list[Any]) -> None:
    before = copy.deepcopy(nullification)
    verify(nullification)
    assert nullification == before


# --------------------------------------------------------------------------------------------
# Sandbox logs: sign -> verify round trips
# --------------------------------------------------------------------------------------------

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    """The PLC directory's createdAt format (millisecond precision, Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Sandbox:
    """Builds a signed audit log the way a PLC directory would record it."""

    def __init__(self, rotation: list[PrivateKey], signer: PrivateKey) -> None:
        genesis = self.operation([key.public_key.did_key for key in rotation], "alice.test", None)
        genesis = sign_operation(genesis, signer)
        self.did = did_from_genesis(genesis)
        self.entries: list[dict[str, Any]] = []
        self.record(genesis, T0)

    @staticmethod
    def operation(rotation_keys: list[str], handle: str, prev: str | None) -> dict[str, Any]:
        return {
            "type": "plc_operation",
            "rotationKeys": rotation_keys,
            "verificationMethods": {"atproto": SIGNING.public_key.did_key},
            "alsoKnownAs": [f"at://{handle}"],
            "services": {
                "atproto_pds": {"type": "AtprotoPersonalDataServer", "endpoint": "https://pds.test"}
            },
            "prev": prev,
        }

    def record(self, op: dict[str, Any], at: datetime) -> int:
        self.entries.append(
            {
                "did": self.did,
                "operation": op,
                "cid": operation_cid(op),
                "nullified": False,
                "createdAt": stamp(at),
            }
        )
        return len(self.entries) - 1

    def update(
        self, prev: int, signer: PrivateKey, at: datetime, keys: list[PrivateKey], handle: str
    ) -> int:
        op = self.operation([k.public_key.did_key for k in keys], handle, self.entries[prev]["cid"])
        return self.record(sign_operation(op, signer), at)

    def tombstone(self, prev: int, signer: PrivateKey, at: datetime) -> int:
        op = {"type": "plc_tombstone", "prev": self.entries[prev]["cid"]}
        return self.record(sign_operation(op, signer), at)

    def nullify(self, *indexes: int) -> None:
        for index in indexes:
            self.entries[index]["nullified"] = True

    def verify(self) -> LogVerification:
        return verify_audit_log(self.did, copy.deepcopy(self.entries))


SIGNING = PrivateKey.generate("k256")
RECOVERY = PrivateKey.from_hex("p256", "11" * 32)  # user-held, highest priority
PDS = PrivateKey.from_hex("k256", "22" * 32)  # the PDS's key
NEW_PDS = PrivateKey.from_hex("k256", "33" * 32)
ATTACKER = PrivateKey.from_hex("k256", "44" * 32)


def did_key(key: PrivateKey) -> str:
    return key.public_key.did_key


def test_sandbox_rotation_recovery_and_tombstone() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    # 1. The PDS updates the handle.  2. The PDS hands over to a new PDS key (rotation).
    box.update(0, PDS, T0 + timedelta(hours=1), [RECOVERY, PDS], "alice2.test")
    box.update(1, PDS, T0 + timedelta(hours=2), [RECOVERY, NEW_PDS], "alice2.test")
    # 3. The new PDS key is stolen: the attacker replaces every key with its own.
    box.update(2, NEW_PDS, T0 + timedelta(days=10), [ATTACKER], "evil.test")
    # 4. Within 72 h the user's recovery key forks from entry 2, nullifying entry 3.
    box.update(2, RECOVERY, T0 + timedelta(days=12), [RECOVERY], "alice3.test")
    # 5. Later the user deactivates the DID.
    box.tombstone(4, RECOVERY, T0 + timedelta(days=20))
    box.nullify(3)

    result = box.verify()
    assert result.valid, result.detail
    ops = result.operations
    assert [op.nullified for op in ops] == [False, False, False, True, False, False]
    assert [op.signer_index for op in ops] == [1, 1, 1, 1, 0, 0]
    assert [op.signer_key for op in ops] == [
        did_key(PDS),
        did_key(PDS),
        did_key(PDS),
        did_key(NEW_PDS),
        did_key(RECOVERY),
        did_key(RECOVERY),
    ]
    assert ops[4].prev == ops[2].cid == ops[3].prev  # the fork
    assert ops[3].state_after.rotation_keys == (did_key(ATTACKER),)
    assert ops[4].state_after.also_known_as == ("at://alice3.test",)
    assert ops[5].type == "plc_tombstone" and ops[5].state_after.tombstoned
    assert result.state is not None and result.state.tombstoned
    # Before the tombstone, the current state was the recovered one.
    before = verify_audit_log(box.did, copy.deepcopy(box.entries[:5]))
    assert before.valid and before.state == ops[4].state_after


def test_sandbox_nothing_after_tombstone() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.tombstone(0, PDS, T0 + timedelta(hours=1))
    box.update(1, RECOVERY, T0 + timedelta(hours=2), [RECOVERY], "back.test")
    result = box.verify()
    assert (result.reason, result.failed_index) == ("operation_after_tombstone", 2)


def test_sandbox_nothing_builds_on_a_nullified_operation() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.update(0, PDS, T0 + timedelta(hours=1), [RECOVERY, PDS], "taken.test")
    box.update(0, RECOVERY, T0 + timedelta(hours=2), [RECOVERY, PDS], "back.test")
    box.update(1, RECOVERY, T0 + timedelta(hours=3), [RECOVERY], "again.test")  # on entry 1
    box.nullify(1)
    result = box.verify()
    assert (result.reason, result.failed_index) == ("prev_nullified", 3)


def test_sandbox_tombstone_can_be_undone_within_72h() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.tombstone(0, PDS, T0 + timedelta(hours=1))
    box.update(0, RECOVERY, T0 + timedelta(hours=2), [RECOVERY], "back.test")
    box.nullify(1)
    result = box.verify()
    assert result.valid and result.state is not None and not result.state.tombstoned


@pytest.mark.parametrize(
    ("delay", "reason"),
    [
        (timedelta(hours=72), None),  # exactly 72 h is allowed
        (timedelta(hours=72, milliseconds=1), "nullification_too_slow"),
        (timedelta(seconds=1), None),
    ],
)
def test_sandbox_recovery_window_boundary(delay: timedelta, reason: str | None) -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.update(0, PDS, T0 + timedelta(days=1), [PDS], "taken.test")
    box.update(0, RECOVERY, T0 + timedelta(days=1) + delay, [RECOVERY], "back.test")
    box.nullify(1)
    result = box.verify()
    assert result.reason == reason, result.detail
    if reason:
        assert result.failed_index == 2 and "72 hours" in (result.detail or "")


def test_sandbox_window_counts_from_the_first_nullified_op_not_the_fork_point() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    # The fork point is 30 days old, but the operation being undone is 1 day old: allowed.
    box.update(0, PDS, T0 + timedelta(days=30), [PDS], "taken.test")
    box.update(0, RECOVERY, T0 + timedelta(days=31), [RECOVERY], "back.test")
    box.nullify(1)
    assert box.verify().valid


def test_sandbox_window_counts_from_the_first_of_several_nullified_ops() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.update(0, PDS, T0 + timedelta(days=1), [RECOVERY, PDS], "one.test")
    box.update(1, PDS, T0 + timedelta(days=3), [RECOVERY, PDS], "two.test")
    # 71 h after entry 2, but 4 days after entry 1, which this fork also nullifies.
    box.update(0, RECOVERY, T0 + timedelta(days=3, hours=71), [RECOVERY], "back.test")
    box.nullify(1, 2)
    result = box.verify()
    assert (result.reason, result.failed_index) == ("nullification_too_slow", 3)


def test_sandbox_fork_by_same_priority_key_is_rejected() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.update(0, PDS, T0 + timedelta(hours=1), [RECOVERY, PDS], "a.test")
    box.update(0, PDS, T0 + timedelta(hours=2), [RECOVERY, PDS], "b.test")  # PDS forks itself
    box.nullify(1)
    result = box.verify()
    assert (result.reason, result.failed_index) == ("nullification_by_lower_priority_key", 2)
    assert "#1" in (result.detail or "")


def test_sandbox_fork_by_lower_priority_key_is_rejected() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.update(0, RECOVERY, T0 + timedelta(hours=1), [RECOVERY, PDS], "user.test")
    box.update(0, PDS, T0 + timedelta(hours=2), [PDS], "pds.test")  # PDS tries to undo the user
    box.nullify(1)
    result = box.verify()
    assert (result.reason, result.failed_index) == ("nullification_by_lower_priority_key", 2)


def test_sandbox_each_fork_needs_a_strictly_higher_key_than_the_last() -> None:
    third = PrivateKey.from_hex("k256", "55" * 32)
    box = Sandbox([RECOVERY, PDS, third], signer=third)
    box.update(0, third, T0 + timedelta(hours=1), [RECOVERY, PDS, third], "a.test")
    box.update(0, PDS, T0 + timedelta(hours=2), [RECOVERY, PDS, third], "b.test")  # outranks #2
    box.update(0, RECOVERY, T0 + timedelta(hours=3), [RECOVERY], "c.test")  # outranks #1
    box.nullify(1, 2)
    result = box.verify()
    assert result.valid, result.detail
    assert [op.signer_index for op in result.operations] == [2, 2, 1, 0]
    # A fourth fork from the genesis can't outrank key #0.
    box.update(0, RECOVERY, T0 + timedelta(hours=4), [RECOVERY], "d.test")
    box.nullify(3)
    result = box.verify()
    assert (result.reason, result.failed_index) == ("nullification_by_lower_priority_key", 4)


def test_sandbox_key_outside_rotation_keys_is_an_invalid_signature() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.update(0, ATTACKER, T0 + timedelta(hours=1), [ATTACKER], "evil.test")
    result = box.verify()
    assert (result.reason, result.failed_index) == ("invalid_signature", 1)


def test_sandbox_signing_key_is_not_a_rotation_key() -> None:
    box = Sandbox([PDS], signer=PDS)
    box.update(0, SIGNING, T0 + timedelta(hours=1), [SIGNING], "evil.test")
    assert box.verify().reason == "invalid_signature"


def test_sandbox_genesis_must_be_signed_by_its_own_rotation_key() -> None:
    box = Sandbox([RECOVERY], signer=PDS)
    assert (box.verify().reason, box.verify().failed_index) == ("invalid_signature", 0)


def test_sandbox_rotated_out_key_cannot_sign() -> None:
    box = Sandbox([RECOVERY, PDS], signer=PDS)
    box.update(0, PDS, T0 + timedelta(hours=1), [RECOVERY, NEW_PDS], "a.test")
    box.update(1, PDS, T0 + timedelta(hours=2), [RECOVERY, PDS], "b.test")
    assert (box.verify().reason, box.verify().failed_index) == ("invalid_signature", 2)


def test_sandbox_duplicate_rotation_keys_use_the_first_index() -> None:
    box = Sandbox([PDS, PDS], signer=PDS)
    box.update(0, PDS, T0 + timedelta(hours=1), [PDS], "a.test")
    result = box.verify()
    assert result.valid and [op.signer_index for op in result.operations] == [0, 0]


def test_sandbox_long_chain() -> None:
    box = Sandbox([PDS], signer=PDS)
    for index in range(300):
        box.update(index, PDS, T0 + timedelta(minutes=index + 1), [PDS], f"h{index}.test")
    result = box.verify()
    assert result.valid and len(result.operations) == 301
    assert result.state is not None and result.state.also_known_as == ("at://h299.test",)


def test_sandbox_unparseable_rotation_keys_are_skipped() -> None:
    box = Sandbox([PDS], signer=PDS)
    op = Sandbox.operation(
        ["did:key:zBogus", "not a key", did_key(PDS)], "a.test", box.entries[0]["cid"]
    )
    box.record(sign_operation(op, PDS), T0 + timedelta(hours=1))
    box.update(1, PDS, T0 + timedelta(hours=2), [PDS], "b.test")
    result = box.verify()
    assert result.valid and result.operations[2].signer_index == 2


def test_legacy_create_signed_in_sandbox() -> None:
    create = {
        "type": "create",
        "signingKey": did_key(PDS),
        "recoveryKey": did_key(RECOVERY),
        "handle": "old.bsky.social",
        "service": "bsky.social",
        "prev": None,
    }
    genesis = sign_operation(create, PDS)
    did = did_from_genesis(genesis)
    entry = {
        "did": did,
        "operation": genesis,
        "cid": operation_cid(genesis),
        "nullified": False,
        "createdAt": stamp(T0),
    }
    result = verify_audit_log(did, [entry])
    assert result.valid and result.state is not None
    assert result.state.rotation_keys == (did_key(RECOVERY), did_key(PDS))
    assert result.state.also_known_as == ("at://old.bsky.social",)
    assert result.state.services["atproto_pds"].endpoint == "https://bsky.social"
    assert result.operations[0].signer_index == 1


# --------------------------------------------------------------------------------------------
# Encoding helpers
# --------------------------------------------------------------------------------------------


def test_sign_operation_signs_the_unsigned_bytes() -> None:
    op = Sandbox.operation([did_key(PDS)], "a.test", None)
    signed = sign_operation({**op, "sig": "stale"}, PDS)
    assert signed["sig"] != "stale" and set(signed) == {*op, "sig"}
    assert unsigned_bytes(signed) == unsigned_bytes(op)
    from auditor.crypto import b64url_decode_strict

    assert PDS.public_key.verify(unsigned_bytes(op), b64url_decode_strict(signed["sig"]))


def test_cid_and_did_formats() -> None:
    op = sign_operation(Sandbox.operation([did_key(PDS)], "a.test", None), PDS)
    cid = operation_cid(op)
    assert cid.startswith("bafyrei") and len(cid) == 59 and cid == cid.lower()
    did = did_from_genesis(op)
    assert did.startswith("did:plc:") and len(did) == 32
    other = "A" if op["sig"][-1] != "A" else "Q"
    assert cid != operation_cid({**op, "sig": op["sig"][:-1] + other})  # the sig is hashed too


def test_unsigned_bytes_is_canonical_dag_cbor() -> None:
    # Field order in the JSON must not matter: DAG-CBOR sorts map keys.
    op = Sandbox.operation([did_key(PDS)], "a.test", None)
    assert unsigned_bytes(op) == unsigned_bytes(dict(reversed(list(op.items()))))


def test_operation_state_rejects_malformed_operations() -> None:
    with pytest.raises(ValueError, match="unknown operation type"):
        operation_state({"type": "nope"})
    with pytest.raises(ValueError, match="plc_operation is missing field 'alsoKnownAs'"):
        operation_state({"type": "plc_operation", "prev": None, "sig": "x"})


def test_legacy_normalisation_keeps_existing_prefixes() -> None:
    state = operation_state(
        {
            "type": "create",
            "signingKey": "did:key:zS",
            "recoveryKey": "did:key:zR",
            "handle": "https://old.example",
            "service": "http://pds.example",
            "prev": None,
            "sig": "x",
        }
    )
    assert state.also_known_as == ("at://old.example",)
    assert state.services["atproto_pds"] == PlcService(
        "AtprotoPersonalDataServer", "http://pds.example"
    )


def test_every_reason_is_documented() -> None:
    assert set(REASONS) == set(plc.Reason.__args__)  # type: ignore[attr-defined]
    assert all(meaning and "\n" not in meaning for meaning in REASONS.values())


# --------------------------------------------------------------------------------------------
# DID documents
# --------------------------------------------------------------------------------------------


def test_document_for_bskyapp() -> None:
    result = verify(load_log(AUDIT_LOGS / "valid" / "log_bskyapp.json"))
    assert result.state is not None
    assert document_from_state(BSKY_DID, result.state) == {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            "https://w3id.org/security/suites/secp256k1-2019/v1",
        ],
        "id": BSKY_DID,
        "alsoKnownAs": ["at://bsky.app"],
        "verificationMethod": [
            {
                "id": BSKY_DID + "#atproto",
                "type": "Multikey",
                "controller": BSKY_DID,
                "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF",
            }
        ],
        "service": [
            {
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": "https://bsky.social",
            }
        ],
    }


def test_document_contexts_follow_key_types() -> None:
    p256 = did_key(RECOVERY)
    state = PlcState(
        rotation_keys=(),
        verification_methods={
            "atproto": p256,
            "other": did_key(PDS),
            "ed": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "again": p256,
        },
        also_known_as=("at://a.test", "https://a.test"),
        services={
            "atproto_pds": PlcService("AtprotoPersonalDataServer", "https://pds.test"),
            "bsky_fg": PlcService("BskyFeedGenerator", "https://feed.test"),
        },
    )
    doc = document_from_state("did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", state)
    assert doc["@context"] == [
        "https://www.w3.org/ns/did/v1",
        "https://w3id.org/security/multikey/v1",
        "https://w3id.org/security/suites/ecdsa-2019/v1",
        "https://w3id.org/security/suites/secp256k1-2019/v1",
    ]
    assert [m["id"] for m in doc["verificationMethod"]] == [
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#atproto",
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#other",
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#ed",
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa#again",
    ]
    assert doc["verificationMethod"][2]["publicKeyMultibase"].startswith("z6Mk")
    assert (
        parse_did_key("did:key:" + doc["verificationMethod"][0]["publicKeyMultibase"]).curve
        == "p256"
    )
    assert [s["id"] for s in doc["service"]] == ["#atproto_pds", "#bsky_fg"]
    assert doc["alsoKnownAs"] == ["at://a.test", "https://a.test"]


def test_tombstoned_state_has_no_document() -> None:
    result = verify(load_log(AUDIT_LOGS / "valid" / "log_tombstone.json"))
    assert result.state is not None
    with pytest.raises(ValueError, match="tombstoned"):
        document_from_state(result.operations[0].cid, result.state)

"""Commits and whole repositories: fields, signatures, CAR layout, determinism, broken exports."""

from __future__ import annotations

from typing import Any

import libipld
import pytest

from auditor.crypto import PrivateKey
from auditor.repo import (
    COMMIT_VERSION,
    Link,
    Repository,
    Tid,
    UnsignedCommit,
    blob_ref,
    build_repository,
    cid_for_raw,
    cid_matches,
    iter_car,
    iter_mst,
    to_json,
)
from auditor.repo.mst import MissingBlockError
from tests.repo import ACCOUNT_KEY, DID, OTHER_KEY, post

REV = str(Tid.from_parts(1_714_564_800_000_000, clock_id=1))
AVATAR = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def records() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        "app.bsky.actor.profile/self": {
            "$type": "app.bsky.actor.profile",
            "displayName": "Alice",
            "avatar": blob_ref(AVATAR, "image/png"),
        },
        "app.bsky.graph.follow/3kabc2222222a": {
            "$type": "app.bsky.graph.follow",
            "subject": "did:plc:abcdefghijklmnopqrstuvwx",
            "createdAt": "2024-05-01T12:00:00.000Z",
        },
    }
    for i in range(40):
        out[f"app.bsky.feed.post/{Tid.from_parts(1_714_564_800_000_000 + i, 0)}"] = post(i)
    out["app.bsky.feed.post/3kduplicate22"] = post(0)  # same content as another post: same CID
    return out


@pytest.fixture(scope="module")
def snapshot() -> Any:
    return build_repository(DID, ACCOUNT_KEY, records(), rev=REV)


def test_commit_has_the_v3_fields(snapshot: Any) -> None:
    commit_block = snapshot.blocks[snapshot.commit_cid]
    commit = libipld.decode_dag_cbor(commit_block)
    assert set(commit) == {"did", "version", "data", "rev", "prev", "sig"}
    assert commit["did"] == DID
    assert commit["version"] == COMMIT_VERSION == 3
    assert commit["rev"] == REV == snapshot.rev
    assert commit["prev"] is None  # present, and null
    assert Link(commit["data"]) == Link(snapshot.root)
    assert len(commit["sig"]) == 64
    assert cid_matches(snapshot.commit_cid, commit_block)


def test_commit_signature_is_over_the_commit_without_sig(snapshot: Any) -> None:
    commit = libipld.decode_dag_cbor(snapshot.blocks[snapshot.commit_cid])
    sig = commit.pop("sig")
    unsigned = libipld.encode_dag_cbor(commit)
    assert unsigned == snapshot.commit.unsigned.signing_bytes()
    assert ACCOUNT_KEY.public_key.verify(unsigned, sig)
    assert snapshot.commit.verify(ACCOUNT_KEY.public_key)
    assert not snapshot.commit.verify(OTHER_KEY.public_key)
    assert not snapshot.forged and snapshot.signed_by == snapshot.key == ACCOUNT_KEY.public_key


def test_car_layout(snapshot: Any) -> None:
    roots, blocks = iter_car(snapshot.car_bytes())
    found = list(blocks)
    assert roots == [Link(snapshot.commit_cid)]
    cids = [str(cid) for cid, _ in found]
    nodes = len(snapshot.mst_node_cids)
    assert cids[0] == snapshot.commit_cid
    assert tuple(cids[1 : 1 + nodes]) == snapshot.mst_node_cids
    assert snapshot.mst_node_cids[0] == snapshot.root
    # Records follow in key order, each distinct block once (the duplicate post shares a CID).
    by_key = sorted(snapshot.record_cids.items())
    expected_records = list(dict.fromkeys(cid for _, cid in by_key))
    assert cids[1 + nodes :] == expected_records
    assert len(cids) == len(set(cids)) == len(snapshot.blocks)
    assert all(cid_matches(cid, data) for cid, data in found)
    assert list(snapshot.blocks) == cids  # blocks mapping is in CAR order


def test_tree_holds_exactly_the_records(snapshot: Any) -> None:
    _, blocks = iter_car(snapshot.car_bytes())
    store = dict(blocks)
    entries = list(iter_mst(snapshot.root, store))
    assert [key for key, _ in entries] == sorted(records())
    for key, cid in entries:
        assert str(cid) == snapshot.record_cids[key]
        assert libipld.decode_dag_cbor(store[cid]) == libipld.decode_dag_cbor(
            libipld.encode_dag_cbor(records()[key])
        )
    assert snapshot.record_count == len(records()) == 43
    assert snapshot.collections == (
        "app.bsky.actor.profile",
        "app.bsky.feed.post",
        "app.bsky.graph.follow",
    )


def test_profile_references_its_avatar_blob(snapshot: Any) -> None:
    profile_cid = snapshot.record_cids["app.bsky.actor.profile/self"]
    profile = libipld.decode_dag_cbor(snapshot.blocks[profile_cid])
    avatar = profile["avatar"]
    assert avatar["$type"] == "blob" and avatar["mimeType"] == "image/png"
    assert avatar["size"] == len(AVATAR)
    assert libipld.encode_cid(avatar["ref"]) == cid_for_raw(AVATAR)
    assert cid_matches(libipld.encode_cid(avatar["ref"]), AVATAR)
    # The raw bytes of the block hold a real link (tag 42), not a byte string.
    assert b"\xd8\x2a\x58\x25\x00" + Link(cid_for_raw(AVATAR)) in snapshot.blocks[profile_cid]
    served = to_json(snapshot.records["app.bsky.actor.profile/self"])
    assert served["avatar"]["ref"] == {"$link": cid_for_raw(AVATAR)}


def test_blob_ref_rejects_a_non_mime_type() -> None:
    with pytest.raises(ValueError, match="MIME"):
        blob_ref(b"x", "png")


def test_builds_are_byte_identical(snapshot: Any) -> None:
    again = build_repository(DID, ACCOUNT_KEY, dict(reversed(records().items())), rev=REV)
    assert again.car_bytes() == snapshot.car_bytes()
    later = build_repository(DID, ACCOUNT_KEY, records(), rev=Tid(Tid.parse(REV).value + 1))
    assert later.root == snapshot.root and later.commit_cid != snapshot.commit_cid


def test_p256_accounts_sign_too() -> None:
    key = PrivateKey.from_hex("p256", "2" * 64)
    snap = build_repository(DID, key, {"app.bsky.feed.post/3kabc2222222a": post(1)}, rev=REV)
    assert snap.commit.verify(key.public_key)


def test_empty_repository() -> None:
    snap = build_repository(DID, ACCOUNT_KEY, {}, rev=REV)
    assert snap.record_count == 0 and snap.collections == ()
    _, blocks = iter_car(snap.car_bytes())
    assert [str(cid) for cid, _ in blocks] == [snap.commit_cid, snap.root]


def test_signature_that_looks_like_a_cid_stays_a_byte_string() -> None:
    """About 1 signature in 1000 starts with bytes libipld takes for a CID (and would write as
    tag 42, making the commit unreadable to other implementations). This rev gives one (found by
    trying revs in order; signatures are deterministic); the commit must carry it as bytes."""
    empty_root = build_repository(DID, ACCOUNT_KEY, {}, rev=REV).root
    commit = UnsignedCommit(DID, Link(empty_root), "3krggwxmh6222").sign(ACCOUNT_KEY)
    assert libipld.encode_dag_cbor(commit.sig)[:2] == b"\xd8\x2a"  # the hazard is real here
    _, block = commit.block()
    assert b"\x63sig\x58\x40" + commit.sig in block  # key "sig", then a 64-byte byte string
    assert commit.verify(ACCOUNT_KEY.public_key)


# --------------------------------------------------------------------------------------------
# Broken exports (bad-export scenario)
# --------------------------------------------------------------------------------------------


def test_forged_signature_does_not_verify_against_the_account_key() -> None:
    forged = build_repository(DID, ACCOUNT_KEY, records(), rev=REV, sign_with=OTHER_KEY)
    assert forged.forged
    assert forged.key == ACCOUNT_KEY.public_key and forged.signed_by == OTHER_KEY.public_key
    commit = libipld.decode_dag_cbor(forged.blocks[forged.commit_cid])
    sig = commit.pop("sig")
    unsigned = libipld.encode_dag_cbor(commit)
    assert not ACCOUNT_KEY.public_key.verify(unsigned, sig)
    assert OTHER_KEY.public_key.verify(unsigned, sig)  # a real signature, by the wrong key


def test_omitted_mst_block_is_really_absent(snapshot: Any) -> None:
    victim = snapshot.mst_node_cids[-1]
    car = snapshot.car_bytes(omit={victim})
    _, blocks = iter_car(car)
    store = dict(blocks)
    assert Link(victim) not in store  # ...but not there as a block
    assert bytes(Link(victim)) in car  # still linked from its parent node...
    assert len(store) == len(snapshot.blocks) - 1
    with pytest.raises(MissingBlockError):
        list(iter_mst(snapshot.root, store))
    assert snapshot.car_bytes() != car  # the snapshot itself is unchanged


def test_omit_must_name_blocks_of_the_repository(snapshot: Any) -> None:
    with pytest.raises(ValueError, match="not in the repository"):
        snapshot.car_chunks(omit={cid_for_raw(b"not here")})


# --------------------------------------------------------------------------------------------
# Repository (incremental) and input validation
# --------------------------------------------------------------------------------------------


def test_repository_put_and_delete() -> None:
    repo = Repository(DID, ACCOUNT_KEY)
    first = repo.put("app.bsky.feed.post/3kabc2222222a", post(1))
    repo.put("app.bsky.feed.post/3kabc2222222b", post(2))
    assert len(repo) == 2
    repo.delete("app.bsky.feed.post/3kabc2222222b")
    snap = repo.snapshot(rev=REV)
    assert dict(snap.record_cids) == {"app.bsky.feed.post/3kabc2222222a": first}
    single = build_repository(
        DID, ACCOUNT_KEY, {"app.bsky.feed.post/3kabc2222222a": post(1)}, rev=REV
    )
    assert snap.car_bytes() == single.car_bytes()
    with pytest.raises(KeyError):
        repo.delete("app.bsky.feed.post/none")


@pytest.mark.parametrize(
    ("did", "path", "record", "error"),
    [
        ("not-a-did", "a.b.c/x", {}, ValueError),
        (DID, "no-slash", {}, ValueError),
        (DID, "a.b.c/x", ["not", "a", "mapping"], TypeError),
        (DID, "a.b.c/x", {"float": 1.5}, ValueError),
    ],
)
def test_bad_input_is_rejected(did: str, path: str, record: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        build_repository(did, ACCOUNT_KEY, {path: record}, rev=REV)


def test_rev_must_be_a_tid() -> None:
    with pytest.raises(ValueError, match="TID"):
        build_repository(DID, ACCOUNT_KEY, {}, rev="2024-05-01")

"""Independent implementations accept what auditor.repo writes (test-only oracles).

* ``atproto`` (MarshalX's SDK): ``atproto_core.car.CAR`` parses the CAR and names the root;
  ``atproto_crypto.verify.verify_signature`` checks the commit signature. The SDK has no MST and
  no DAG-CBOR encoder, so:
* ``atmst`` (D. Buchanan's MST library) reads the CAR with its own parser (checking every
  block's hash), walks the tree with its own node decoder (which rejects unsorted keys, mixed
  heights and non-optimal prefix compression), and separately builds the same tree by inserting
  the records one at a time with its own algorithm;
* ``cbrrr`` (atmst's DAG-CBOR codec) decodes and re-encodes every block, which must give the same
  bytes (so every block is canonical), and produces the commit's signing input independently.

None of their code is used by auditor.repo. Each oracle is skipped if its package is absent (they
are test-only dependencies, not in pyproject).
"""

from __future__ import annotations

import io
import random
from typing import Any

import libipld
import pytest

from auditor.repo import Link, RepoSnapshot, Tid, UnsignedCommit, blob_ref, build_repository
from tests.repo import ACCOUNT_KEY, DID, OTHER_KEY, post

car_module = pytest.importorskip("atproto_core.car")
verify_module = pytest.importorskip("atproto_crypto.verify")
cbrrr = pytest.importorskip("cbrrr")
atmst_all = pytest.importorskip("atmst.all")

REV = "3krggwxmh6222"
AVATAR = b"GIF89a" + bytes(range(200))


def records(n: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        "app.bsky.actor.profile/self": {
            "$type": "app.bsky.actor.profile",
            "displayName": "Oracle",
            "avatar": blob_ref(AVATAR, "image/gif"),
        }
    }
    for i in range(n):
        rkey = Tid.from_parts(1_714_564_800_000_000 + 7919 * i, i % 1024)
        out[f"app.bsky.feed.post/{rkey}"] = post(i)
        if i % 3 == 0:
            out[f"app.bsky.feed.like/{rkey}"] = {
                "$type": "app.bsky.feed.like",
                "subject": {"uri": f"at://{DID}/app.bsky.feed.post/{rkey}", "cid": "bafyrei"},
                "createdAt": "2024-05-01T12:00:00.000Z",
            }
    return out


@pytest.fixture(scope="module")
def snapshot() -> RepoSnapshot:
    return build_repository(DID, ACCOUNT_KEY, records(600), rev=REV)


def sdk_commit(car_bytes: bytes) -> tuple[Any, dict[str, Any]]:
    """The root and decoded commit as the atproto SDK sees them."""
    car = car_module.CAR.from_bytes(car_bytes)
    return car.root, car.blocks[car.root]


def signing_input(commit: dict[str, Any]) -> bytes:
    """The unsigned commit re-encoded by cbrrr (not by auditor.repo, not by libipld)."""
    unsigned = {key: value for key, value in commit.items() if key != "sig"}
    if not isinstance(unsigned["data"], cbrrr.CID):  # the SDK decodes links as bytes
        unsigned["data"] = cbrrr.CID(unsigned["data"])
    encoded: bytes = cbrrr.encode_dag_cbor(unsigned)
    return encoded


def test_atproto_sdk_parses_the_car_and_accepts_the_signature(snapshot: RepoSnapshot) -> None:
    root, commit = sdk_commit(snapshot.car_bytes())
    assert str(root) == snapshot.commit_cid
    assert commit["did"] == DID and commit["version"] == 3 and commit["rev"] == REV
    assert "prev" in commit and commit["prev"] is None
    did_key = ACCOUNT_KEY.public_key.did_key
    assert verify_module.verify_signature(did_key, signing_input(commit), commit["sig"])
    assert not verify_module.verify_signature(
        OTHER_KEY.public_key.did_key, signing_input(commit), commit["sig"]
    )


def test_atproto_sdk_rejects_the_forged_commit() -> None:
    forged = build_repository(DID, ACCOUNT_KEY, records(20), rev=REV, sign_with=OTHER_KEY)
    _, commit = sdk_commit(forged.car_bytes())
    did_key = ACCOUNT_KEY.public_key.did_key
    assert not verify_module.verify_signature(did_key, signing_input(commit), commit["sig"])
    assert verify_module.verify_signature(
        OTHER_KEY.public_key.did_key, signing_input(commit), commit["sig"]
    )


def test_atmst_walks_exactly_the_records(snapshot: RepoSnapshot) -> None:
    store = atmst_all.ReadOnlyCARBlockStore(io.BytesIO(snapshot.car_bytes()))
    assert store.car_root.encode() == snapshot.commit_cid
    commit = cbrrr.decode_dag_cbor(store.get_block(bytes(store.car_root)))
    assert isinstance(commit["data"], cbrrr.CID) and commit["data"].encode() == snapshot.root
    assert type(commit["sig"]) is bytes
    walker = atmst_all.NodeWalker(atmst_all.NodeStore(store), commit["data"])
    found = [(key, value.encode()) for key, value in walker.iter_kv()]
    assert found == sorted(snapshot.record_cids.items())
    assert len(found) == snapshot.record_count == 801
    # Every record block is present and hashes to its CID (the store checks on read).
    for _, cid in found:
        record = cbrrr.decode_dag_cbor(store.get_block(bytes(Link(cid))))
        assert record["$type"].startswith("app.bsky.")
    walker = atmst_all.NodeWalker(atmst_all.NodeStore(store), commit["data"])
    assert [cid.encode() for cid in walker.iter_node_cids()] == list(snapshot.mst_node_cids)


def test_atmst_builds_the_same_tree_by_insertion(snapshot: RepoSnapshot) -> None:
    node_store = atmst_all.NodeStore(atmst_all.MemoryBlockStore())
    wrangler = atmst_all.NodeWrangler(node_store)
    root = node_store.get_node(None).cid
    items = list(snapshot.record_cids.items())
    random.Random(5).shuffle(items)
    for key, cid in items:
        root = wrangler.put_record(root, key, cbrrr.CID.decode(cid))
    assert root.encode() == snapshot.root
    # Deleting a few records and re-adding them lands on the same root again.
    for key, _ in items[:25]:
        root = wrangler.del_record(root, key)
    assert root.encode() != snapshot.root
    for key, cid in items[:25]:
        root = wrangler.put_record(root, key, cbrrr.CID.decode(cid))
    assert root.encode() == snapshot.root


def test_atmst_reports_the_omitted_block(snapshot: RepoSnapshot) -> None:
    victim = snapshot.mst_node_cids[len(snapshot.mst_node_cids) // 2]
    store = atmst_all.ReadOnlyCARBlockStore(io.BytesIO(snapshot.car_bytes(omit={victim})))
    assert bytes(Link(victim)) not in store.block_offsets
    walker = atmst_all.NodeWalker(atmst_all.NodeStore(store), cbrrr.CID.decode(snapshot.root))
    with pytest.raises(KeyError):
        list(walker.iter_kv())


def test_cbrrr_reencodes_every_block_identically(snapshot: RepoSnapshot) -> None:
    for cid, block in snapshot.blocks.items():
        assert cbrrr.encode_dag_cbor(cbrrr.decode_dag_cbor(block)) == block, cid
    profile = cbrrr.decode_dag_cbor(
        snapshot.blocks[snapshot.record_cids["app.bsky.actor.profile/self"]]
    )
    assert isinstance(profile["avatar"]["ref"], cbrrr.CID)
    assert profile["avatar"]["ref"] == cbrrr.CID.cidv1_raw_sha256_32_from(AVATAR)


def test_cid_like_signature_reads_as_bytes_elsewhere() -> None:
    """The libipld hazard seen from another implementation: the same commit value encoded by
    libipld would carry its signature as a *link*; the block written here carries bytes."""
    unsigned = UnsignedCommit(DID, Link(build_repository(DID, ACCOUNT_KEY, {}, rev=REV).root), REV)
    commit = unsigned.sign(ACCOUNT_KEY)
    ours = cbrrr.decode_dag_cbor(commit.block()[1])
    assert type(ours["sig"]) is bytes and ours["sig"] == commit.sig
    theirs = cbrrr.decode_dag_cbor(libipld.encode_dag_cbor(commit.to_value()))
    assert isinstance(theirs["sig"], cbrrr.CID)  # what libipld alone would have published
    assert verify_module.verify_signature(
        ACCOUNT_KEY.public_key.did_key, signing_input(ours), ours["sig"]
    )

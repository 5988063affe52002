"""The MST: interop key-height, prefix and commit-proof vectors, structure rules, the reader."""

from __future__ import annotations

import random
from typing import Any

import libipld
import pytest

from auditor.repo.cid import Link, cid_for_dag_cbor, link_for_block
from auditor.repo.mst import (
    MalformedMstError,
    MissingBlockError,
    MstTree,
    build_mst,
    common_prefix_len,
    iter_mst,
    key_height,
    mst_key_error,
)
from tests.repo import load_json

EMPTY_TREE_ROOT = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
"""CID of ``{"l": null, "e": []}``, the root of an empty repository (same in @atproto/repo)."""

VALUE = Link(cid_for_dag_cbor({"$type": "com.example.record", "n": 1})[0])

KEY_HEIGHTS = load_json("mst/key_heights.json")
COMMON_PREFIX = load_json("mst/common_prefix.json")
COMMIT_PROOFS = load_json("firehose/commit-proof-fixtures.json")


def test_vector_files_are_present() -> None:
    assert len(KEY_HEIGHTS) >= 9 and len(COMMON_PREFIX) >= 13 and len(COMMIT_PROOFS) >= 6


@pytest.mark.parametrize("case", KEY_HEIGHTS, ids=lambda case: case["key"] or "<empty>")
def test_key_height_vectors(case: dict[str, Any]) -> None:
    assert key_height(case["key"]) == case["height"]
    assert key_height(case["key"].encode()) == case["height"]


@pytest.mark.parametrize("case", COMMON_PREFIX, ids=lambda case: f"{case['left']}|{case['right']}")
def test_common_prefix_vectors(case: dict[str, Any]) -> None:
    assert common_prefix_len(case["left"], case["right"]) == case["len"]


@pytest.mark.parametrize("case", COMMIT_PROOFS, ids=lambda case: case["comment"])
def test_commit_proof_fixture_roots(case: dict[str, Any]) -> None:
    """Each fixture gives a key set, ops, and the reference roots before and after the commit.

    All keys map to the same ``leafValue``. The tree is built from scratch from each final key set
    (not by applying the ops), so matching both roots checks the structure rules exactly; the
    ``blocksInProof`` (nodes a firehose proof would carry) must all be nodes of the new tree.
    """
    leaf = case["leafValue"]
    before = build_mst(dict.fromkeys(case["keys"], leaf))
    assert str(before.root) == case["rootBeforeCommit"]
    final = (set(case["keys"]) | set(case["adds"])) - set(case["dels"])
    after = build_mst(dict.fromkeys(final, leaf))
    assert str(after.root) == case["rootAfterCommit"]
    assert set(case["blocksInProof"]) <= {str(cid) for cid, _ in after.nodes}


def test_empty_tree() -> None:
    tree = build_mst({})
    assert str(tree.root) == EMPTY_TREE_ROOT
    assert tree.layer == 0
    assert [libipld.decode_dag_cbor(block) for _, block in tree.nodes] == [{"l": None, "e": []}]
    assert list(iter_mst(tree.root, dict(tree.nodes))) == []


def test_single_entry_node_encoding() -> None:
    tree = build_mst({"com.example.record/3jqfcqzm3fo2j": VALUE})
    (cid, block), *_ = tree.nodes
    assert libipld.decode_dag_cbor(block) == {
        "l": None,
        "e": [{"p": 0, "k": b"com.example.record/3jqfcqzm3fo2j", "v": VALUE, "t": None}],
    }
    assert cid == tree.root == link_for_block(block)


def random_keys(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    collections = ["app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow"]
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return [
        f"{rng.choice(collections)}/3k{''.join(rng.choice(alphabet) for _ in range(11))}"
        for _ in range(n)
    ]


def check_structure(tree: MstTree) -> int:
    """Walk every node checking the structural rules; return the number of entries seen."""
    blocks = dict(tree.nodes)
    seen = 0

    def walk(cid: Link, layer: int, low: bytes | None, high: bytes | None) -> None:
        nonlocal seen
        node = libipld.decode_dag_cbor(blocks[cid])
        assert set(node) == {"l", "e"}
        previous = b""
        bound = low
        if node["l"] is not None:
            assert layer > 0
            walk(Link(node["l"]), layer - 1, low, None)
        for index, entry in enumerate(node["e"]):
            assert set(entry) == {"p", "k", "v", "t"}
            key = previous[: entry["p"]] + entry["k"]
            # mandatory, maximal prefix compression against the previous key in this node
            assert entry["p"] == (0 if index == 0 else common_prefix_len(previous, key))
            assert key_height(key) == layer
            assert (bound is None or bound < key) and (high is None or key < high)
            next_key = None
            if index + 1 < len(node["e"]):
                following = node["e"][index + 1]
                next_key = key[: following["p"]] + following["k"]
            if entry["t"] is not None:
                assert layer > 0
                walk(Link(entry["t"]), layer - 1, key, next_key)
            previous = bound = key
            seen += 1

    walk(tree.root, tree.layer, None, None)
    return seen


@pytest.mark.parametrize("n", [1, 2, 10, 100, 2000])
def test_structure_rules_hold(n: int) -> None:
    keys = random_keys(n, seed=n)
    tree = build_mst(dict.fromkeys(keys, VALUE))
    assert check_structure(tree) == len(set(keys))
    assert tree.layer == max(key_height(key) for key in keys)
    assert len({cid for cid, _ in tree.nodes}) == len(tree.nodes)


def test_nodes_are_in_preorder() -> None:
    tree = build_mst(dict.fromkeys(random_keys(500, seed=1), VALUE))
    position = {cid: index for index, (cid, _) in enumerate(tree.nodes)}
    assert tree.nodes[0][0] == tree.root
    for cid, block in tree.nodes:
        node = libipld.decode_dag_cbor(block)
        children = [node["l"], *(entry["t"] for entry in node["e"])]
        positions = [position[Link(child)] for child in children if child is not None]
        assert all(here > position[cid] for here in positions)
        assert positions == sorted(positions)


def test_structure_is_independent_of_insertion_order() -> None:
    keys = random_keys(300, seed=7)
    values = {key: Link(cid_for_dag_cbor({"key": key})[0]) for key in keys}
    shuffled = list(values.items())
    random.Random(3).shuffle(shuffled)
    assert build_mst(values) == build_mst(shuffled)
    assert build_mst(values).root != build_mst(dict.fromkeys(keys, VALUE)).root


def test_reader_yields_every_entry_in_order() -> None:
    values = {key: Link(cid_for_dag_cbor({"key": key})[0]) for key in random_keys(700, seed=9)}
    tree = build_mst(values)
    assert list(iter_mst(str(tree.root), dict(tree.nodes))) == sorted(values.items())


def test_reader_reports_a_missing_node() -> None:
    tree = build_mst(dict.fromkeys(random_keys(200, seed=2), VALUE))
    missing, _ = tree.nodes[5]
    blocks = {cid: block for cid, block in tree.nodes if cid != missing}
    with pytest.raises(MissingBlockError) as caught:
        list(iter_mst(tree.root, blocks))
    assert caught.value.cid == missing


def test_reader_rejects_malformed_nodes() -> None:
    bad_shape = libipld.encode_dag_cbor({"l": None})
    with pytest.raises(MalformedMstError, match="not"):
        list(iter_mst(link_for_block(bad_shape), {link_for_block(bad_shape): bad_shape}))
    not_cbor = b"\xff"
    with pytest.raises(MalformedMstError, match="DAG-CBOR"):
        list(iter_mst(link_for_block(not_cbor), {link_for_block(not_cbor): not_cbor}))
    entry = {"p": 0, "k": b"b/b", "v": VALUE, "t": None}
    unsorted = libipld.encode_dag_cbor({"l": None, "e": [entry, {**entry, "k": b"a/a"}]})
    with pytest.raises(MalformedMstError, match="order"):
        list(iter_mst(link_for_block(unsorted), {link_for_block(unsorted): unsorted}))
    missing_field = libipld.encode_dag_cbor({"l": None, "e": [{"p": 0, "k": b"a/a"}]})
    with pytest.raises(MalformedMstError, match="malformed entry"):
        list(
            iter_mst(link_for_block(missing_field), {link_for_block(missing_field): missing_field})
        )


@pytest.mark.parametrize(
    "key",
    [
        "",
        "nocollection",
        "/rkey",
        "coll/",
        "a/b/c",
        "coll/has space",
        "coll/ünicode",
        "coll/.",
        "coll/..",
        "coll/" + "k" * 1100,
    ],
)
def test_invalid_keys_are_rejected(key: str) -> None:
    assert mst_key_error(key) is not None
    with pytest.raises(ValueError):
        build_mst({key: VALUE})


@pytest.mark.parametrize("key", ["A0/374913", "app.bsky.feed.post/3k2a", "c/a:b_c~d-e.f"])
def test_valid_keys_are_accepted(key: str) -> None:
    assert mst_key_error(key) is None


def test_duplicate_keys_in_pairs_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        build_mst([("a/b", VALUE), ("a/b", VALUE)])

"""verify_export: valid exports verify, and every hostile export fails with the exact reason.

Hostile exports are made by rewriting the CAR of a real repository (replace, drop, reorder or
repeat blocks; a new commit) or by hand-crafting MST nodes with the package's strict encoder and
:class:`Link`. Every case checks ``verified is False`` and the exact first problem code and text.
Independent implementations (``atmst`` walking the tree, ``atproto``'s signature check) agree on
valid and forged repositories where installed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

import pytest

from auditor.crypto import PrivateKey, PublicKey
from auditor.repo import Link, RepoSnapshot, Tid, UnsignedCommit, build_repository
from auditor.repo import verify as verify_module
from auditor.repo.car import car_header, iter_car
from auditor.repo.cid import decode_varint, encode_varint, link_for_block, link_for_raw
from auditor.repo.dagcbor import encode
from auditor.repo.mst import build_mst, common_prefix_len, key_height
from auditor.repo.verify import (
    MAX_PROBLEM_LINES,
    PROBLEM_CODES,
    ExportVerification,
    _Problems,
    verify_blob,
    verify_export,
)
from tests.repo import ACCOUNT_KEY, DID, OTHER_KEY, load_json, post

REV = str(Tid.from_parts(1_714_564_800_000_000, clock_id=3))
KEY = ACCOUNT_KEY.public_key
N_K256 = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
RECORD = encode(post(0))
RECORD_CID = link_for_block(RECORD)

Blocks = list[tuple[Link, bytes]]


# --- building and rewriting CARs ----------------------------------------------------------------


def records(n: int) -> dict[str, dict[str, Any]]:
    """``n`` records over three collections."""
    kinds = ("app.bsky.feed.post", "app.bsky.feed.like", "app.bsky.graph.follow")
    return {
        f"{kinds[i % 3]}/{Tid.from_parts(1_700_000_000_000_000 + 997 * i, i % 1024)}": post(i)
        for i in range(n)
    }


@cache
def repo(n: int) -> RepoSnapshot:
    return build_repository(DID, ACCOUNT_KEY, records(n), rev=REV)


def car_of(roots: Sequence[bytes], blocks: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A CAR v1 file with exactly these roots and frames (nothing checked or deduplicated)."""
    out = [car_header([Link(root) for root in roots])]
    for cid, data in blocks:
        out += [encode_varint(len(cid) + len(data)), bytes(cid), data]
    return b"".join(out)


def split(car: bytes) -> tuple[list[Link], Blocks]:
    roots, frames = iter_car(car)
    return roots, list(frames)


def rewrite(car: bytes, change: dict[bytes, bytes | None]) -> bytes:
    """Replace (or, for None, drop) the blocks named in ``change``; keep their CIDs."""
    roots, blocks = split(car)
    kept: list[tuple[bytes, bytes]] = []
    for cid, data in blocks:
        new = change.get(cid, data)
        if new is not None:
            kept.append((cid, new))
    return car_of(roots, kept)


def frame_offset(car: bytes, cid: bytes) -> int:
    """Byte offset of the (first) frame holding ``cid``: where problem texts point."""
    length, pos = decode_varint(car, 0)
    pos += length
    while pos < len(car):
        length, start = decode_varint(car, pos)
        if car[start : start + len(cid)] == bytes(cid):
            return pos
        pos = start + length
    raise AssertionError(f"no frame for {cid!r}")


def header(value: Any) -> bytes:
    """A length-prefixed CAR header holding ``value``."""
    data = encode(value)
    return encode_varint(len(data)) + data


_DROP = object()
"""Marks a commit field to leave out."""


def with_commit(data: Link, blocks: Blocks, *, value: dict[str, Any] | None = None) -> bytes:
    """A CAR whose root is a commit over ``data`` (signed), followed by ``blocks``.

    ``value`` overrides the commit's fields (``_DROP`` removes one); ``sig`` is the account
    key's signature over the other fields unless ``value`` gives one.
    """
    unsigned = UnsignedCommit(did=DID, data=data, rev=REV).to_value()
    fields = {**unsigned, **(value or {})}
    fields = {name: item for name, item in fields.items() if item is not _DROP}
    if "sig" not in fields:
        signing = {name: item for name, item in fields.items() if name != "sig"}
        fields["sig"] = ACCOUNT_KEY.sign(encode(signing))
    block = encode(fields)
    commit = link_for_block(block)
    return car_of([commit], [(commit, block), *blocks])


def verify(car: bytes, **kwargs: Any) -> ExportVerification:
    kwargs.setdefault("did", DID)
    kwargs.setdefault("signing_key", KEY)
    return verify_export(car, **kwargs)


def failed(result: ExportVerification, code: str, text: str | None = None) -> None:
    """Not verified, ``code`` first, and (if given) exactly ``text`` as its line."""
    assert result.verified is False
    assert result.first_problem == code, result.problems
    assert result.problem_codes[0] == code and result.problems
    if text is not None:
        assert result.problems[0] == text


# --- crafted MST nodes --------------------------------------------------------------------------


@cache
def keys_of_height(height: int, count: int = 6) -> tuple[str, ...]:
    """The first ``count`` keys ``com.example.record/k<i>`` of MST height ``height``."""
    found: list[str] = []
    i = 0
    while len(found) < count:
        key = f"com.example.record/k{i}"
        if key_height(key) == height:
            found.append(key)
        i += 1
    return tuple(found)


def entries(
    keys: Sequence[str], subtrees: Sequence[Link | None] = (), value: Link = RECORD_CID
) -> list[dict[str, Any]]:
    """Entries with exact prefix compression (``t`` from ``subtrees``, default null)."""
    out = []
    previous = b""
    for i, text in enumerate(keys):
        key = text.encode()
        prefix = common_prefix_len(previous, key)
        subtree = subtrees[i] if i < len(subtrees) else None
        out.append({"p": prefix, "k": key[prefix:], "v": value, "t": subtree})
        previous = key
    return out


def node(items: list[dict[str, Any]], left: Link | None = None) -> tuple[Link, bytes]:
    block = encode({"l": left, "e": items})
    return link_for_block(block), block


def tree_car(root: tuple[Link, bytes], *more: tuple[Link, bytes]) -> bytes:
    """A signed export whose tree is ``root`` (and ``more`` nodes), every key -> RECORD."""
    return with_commit(root[0], [root, *more, (RECORD_CID, RECORD)])


# --- valid exports ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 40, 700])
def test_valid_repository_verifies(n: int) -> None:
    snapshot = repo(n)
    car = snapshot.car_bytes()
    result = verify(car, expected_commit=snapshot.commit_cid)
    assert result.verified, result.problems
    assert result.problems == [] and result.problem_codes == [] and result.first_problem is None
    assert result.records == n == snapshot.record_count
    assert result.collections == list(snapshot.collections)
    assert result.blocks == len(snapshot.blocks) and result.bytes == len(car)
    assert result.commit_cid == snapshot.commit_cid and result.rev == REV
    assert result.car_valid and result.root_is_commit and result.mst_complete
    assert result.did_matches and result.version_ok
    assert result.signature_valid is True and result.signature_high_s is False
    assert (result.duplicate_blocks, result.cid_mismatches, result.missing_blocks) == (0, 0, 0)


def test_p256_key_and_memoryview_input() -> None:
    key = PrivateKey.from_hex(
        "p256", "6e9a1c9f3e2b4d5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c"
    )
    car = build_repository(DID, key, records(30), rev=REV).car_bytes()
    assert verify_export(memoryview(car), did=DID, signing_key=key.public_key).verified
    framed = bytearray(b"xx" + car)  # a view into a larger, writable buffer
    view = memoryview(framed)[2:]
    assert verify_export(view, did=DID, signing_key=key.public_key).verified


def test_blocks_in_any_order_and_repeated_verify() -> None:
    roots, blocks = split(repo(40).car_bytes())
    shuffled = list(reversed(blocks)) + blocks[:5]
    result = verify(car_of(roots, shuffled))
    assert result.verified, result.problems
    assert result.duplicate_blocks == 5 and result.blocks == len(blocks) + 5


def test_result_is_flat_json() -> None:
    result = verify(repo(2).car_bytes())
    data = json.loads(json.dumps(dataclasses.asdict(result)))
    assert data["verified"] is True and data["collections"] == list(repo(2).collections)
    assert set(data) >= {"first_problem", "problems", "signature_valid", "missing_blocks"}


COMMIT_PROOFS = load_json("firehose/commit-proof-fixtures.json")


@pytest.mark.parametrize("case", COMMIT_PROOFS, ids=lambda case: case["comment"])
def test_interop_key_sets(case: dict[str, Any]) -> None:
    """The commit-proof fixtures' key sets, before and after their ops.

    As whole repositories they verify. As the fixture's own tree (every key -> ``leafValue``,
    whose record block nobody has) the structure is accepted as it stands: the reference root
    CIDs match and the only problem is the one absent record.
    """
    final = sorted((set(case["keys"]) | set(case["adds"])) - set(case["dels"]))
    for keys, root in ((case["keys"], case["rootBeforeCommit"]), (final, case["rootAfterCommit"])):
        result = verify(
            build_repository(DID, ACCOUNT_KEY, {k: post(1) for k in keys}, rev=REV).car_bytes()
        )
        assert result.verified and result.records == len(keys), result.problems
        tree = build_mst(dict.fromkeys(keys, case["leafValue"]))
        assert str(tree.root) == root
        partial = verify(with_commit(tree.root, list(tree.nodes)))
        if keys:
            assert partial.problem_codes == ["missing_block"] and partial.missing_blocks == 1
        assert partial.records == len(keys)


# --- framing and hashes -------------------------------------------------------------------------


def test_truncated_car() -> None:
    car = repo(40).car_bytes()
    _, blocks = split(car)
    last = frame_offset(car, blocks[-1][0])
    declared = len(blocks[-1][0]) + len(blocks[-1][1])
    result = verify(car[:-10])
    failed(
        result,
        "truncated",
        f"the CAR ends inside the block at byte {last}: it declares {declared} bytes "
        f"but {declared - 10} remain",
    )
    assert result.car_valid is False and result.blocks == len(blocks) - 1
    assert "missing_block" in result.problem_codes  # the lost record is reported as well


def test_truncated_inside_a_length() -> None:
    car = repo(2).car_bytes()
    failed(
        verify(car + b"\x80"),
        "truncated",
        f"the CAR ends inside the length of a block at byte {len(car)}",
    )


@pytest.mark.parametrize(
    ("tail", "code", "text"),
    [
        (b"\xff" * 8 + b"\x7f", "truncated", "it declares"),
        (b"\xff" * 9 + b"\x01", "car_framing", "varint longer than 63 bits"),
        (b"\x81\x00", "car_framing", "not minimally encoded"),
        (b"\x00", "car_framing", "empty block frame"),
        (b"\x05hello", "car_framing", "does not start with a CID"),
        (b"\x03\x01\x71\x12", "car_framing", "truncated"),
    ],
    ids=["huge-length", "overlong-varint", "non-minimal-varint", "empty", "garbage-cid", "short"],
)
def test_bad_frames(tail: bytes, code: str, text: str) -> None:
    result = verify(repo(2).car_bytes() + tail)
    failed(result, code)
    assert text in result.problems[0] and str(len(repo(2).car_bytes())) in result.problems[0]
    assert result.car_valid is False


@pytest.mark.parametrize(
    ("car", "text"),
    [
        (b"", "CAR header length is not a varint: truncated varint"),
        (b"\x0a\xa1", "CAR header declares 10 bytes but 1 follow"),
        (b"\x02\xff\xff", "CAR header is not DAG-CBOR: Failed to decode DAG-CBOR. "),
        (b"\x01\x01", "CAR header is a int, not a map"),
        (header({"version": 2, "roots": []}), "CAR header version is 2, not 1"),
        (header({"roots": [], "version": 1}), "CAR header names no roots"),
        (
            header({"roots": [b"\x01\x02"], "version": 1}),
            "CAR header root b'\\x01\\x02' is not a CID",
        ),
        (
            encode_varint(10001) + b"\x81" * 10000 + b"\x00",
            "CAR header is not DAG-CBOR: nested too deeply",
        ),
    ],
    ids=[
        "empty",
        "short",
        "not-cbor",
        "not-map",
        "version-2",
        "no-roots",
        "bad-root",
        "nesting-bomb",
    ],
)
def test_bad_header(car: bytes, text: str) -> None:
    result = verify(car)
    failed(result, "car_header")
    assert result.problems[0].startswith(text)
    assert result.car_valid is False and result.root_is_commit is False
    assert result.signature_valid is None


def test_block_with_wrong_bytes() -> None:
    snapshot = repo(40)
    car = snapshot.car_bytes()
    victim = Link(snapshot.record_cids[sorted(snapshot.record_cids)[7]])
    bad = rewrite(car, {victim: encode(post(999_999))})
    result = verify(bad)
    failed(
        result,
        "cid_mismatch",
        f"block {victim} at byte {frame_offset(bad, victim)} does not hash to its CID",
    )
    assert result.cid_mismatches == 1 and result.problem_codes == ["cid_mismatch"]
    assert result.mst_complete  # the tree is whole; one of its records is corrupt


def test_duplicate_with_other_bytes() -> None:
    roots, blocks = split(repo(40).car_bytes())
    cid, _ = blocks[-1]
    result = verify(car_of(roots, [*blocks, (cid, b"\xa0")]))
    failed(result, "cid_mismatch")
    assert result.cid_mismatches == 1 and result.duplicate_blocks == 1


def test_several_mismatches_are_one_line() -> None:
    snapshot = repo(40)
    victims = [Link(cid) for cid in list(snapshot.record_cids.values())[:3]]
    result = verify(rewrite(snapshot.car_bytes(), dict.fromkeys(victims, b"\xa0")))
    assert result.cid_mismatches == 3 and len(result.problems) == 1
    assert result.problems[0].endswith("does not hash to its CID (and 2 more like it)")


def test_unsupported_hash() -> None:
    roots, blocks = split(repo(2).car_bytes())
    sha512_cid = bytes([1, 0x71, 0x13, 64]) + bytes(64)
    bad = car_of(roots, [*blocks, (sha512_cid, b"\xa0")])
    result = verify(bad)
    failed(result, "unsupported_cid")
    assert result.problems[0].endswith(
        "uses a CID that is not CIDv1 sha2-256 dag-cbor/raw, so its bytes cannot be checked"
    )


def test_raw_blocks_are_checked_too() -> None:
    roots, blocks = split(repo(2).car_bytes())
    blob = b"\x89PNG not really"
    assert verify(car_of(roots, [*blocks, (link_for_raw(blob), blob)])).verified
    result = verify(car_of(roots, [*blocks, (link_for_raw(blob), blob + b"!")]))
    failed(result, "cid_mismatch")


# --- the commit ---------------------------------------------------------------------------------


def test_missing_record() -> None:
    snapshot = repo(40)
    key = sorted(snapshot.record_cids)[3]
    cid = snapshot.record_cids[key]
    result = verify(snapshot.car_bytes(omit={cid}))
    failed(result, "missing_block", f"record {cid} ({key!r}) is not in the CAR")
    assert result.missing_blocks == 1 and not result.mst_complete
    assert result.records == 40  # the tree itself is whole


def test_missing_node() -> None:
    snapshot = repo(700)
    victim = snapshot.mst_node_cids[len(snapshot.mst_node_cids) // 2]
    result = verify(snapshot.car_bytes(omit={victim}))
    failed(result, "missing_block", f"MST node {victim} is not in the CAR")
    assert result.missing_blocks == 1 and not result.mst_complete and result.records < 700


def test_missing_commit() -> None:
    snapshot = repo(2)
    result = verify(snapshot.car_bytes(omit={snapshot.commit_cid}))
    failed(
        result,
        "missing_block",
        f"the commit block {snapshot.commit_cid} (roots[0]) is not in the CAR",
    )
    assert result.root_is_commit is False and result.missing_blocks == 1
    assert result.signature_valid is None and result.mst_complete is False


def test_root_is_not_a_commit() -> None:
    snapshot = repo(2)
    _, blocks = split(snapshot.car_bytes())
    result = verify(car_of([Link(snapshot.root)], blocks))
    failed(
        result,
        "root_not_commit",
        f"the roots[0] block {snapshot.root} is not a commit (['e', 'l'])",
    )
    assert result.root_is_commit is False and result.commit_cid == snapshot.root


def test_commit_nesting_bomb() -> None:
    bomb = b"\x81" * 50_000 + b"\x00"
    cid = link_for_block(bomb)
    result = verify(car_of([cid], [(cid, bomb)]))
    failed(result, "root_not_commit", f"the roots[0] block {cid} is nested too deeply")


def test_commit_for_another_did() -> None:
    other = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    car = build_repository(other, ACCOUNT_KEY, records(5), rev=REV).car_bytes()
    result = verify(car)
    failed(result, "did_mismatch", f"the commit is for '{other}', not {DID}")
    assert result.did_matches is False and result.signature_valid is True
    assert result.problem_codes == ["did_mismatch"]


def test_forged_signature() -> None:
    car = build_repository(DID, ACCOUNT_KEY, records(5), rev=REV, sign_with=OTHER_KEY).car_bytes()
    result = verify(car)
    failed(
        result,
        "bad_signature",
        f"the commit signature does not verify under the account's signing key {KEY.did_key}",
    )
    assert result.signature_valid is False and result.signature_high_s is False
    assert verify(car, signing_key=OTHER_KEY.public_key).verified


def test_high_s_signature() -> None:
    snapshot = repo(5)
    sig = snapshot.commit.sig
    s = int.from_bytes(sig[32:], "big")
    high = sig[:32] + (N_K256 - s).to_bytes(32, "big")
    car = with_commit(Link(snapshot.root), split(snapshot.car_bytes())[1][1:], value={"sig": high})
    result = verify(car)
    failed(
        result,
        "high_s_signature",
        "the commit signature is high-S: its low-S twin verifies, but atproto accepts "
        "low-S signatures only",
    )
    assert result.signature_high_s is True and result.signature_valid is False


def test_no_signing_key_is_not_verified() -> None:
    result = verify(repo(5).car_bytes(), signing_key=None)
    failed(result, "no_signing_key", "the commit signature was not checked: no signing key")
    assert result.signature_valid is None and result.problem_codes == ["no_signing_key"]
    assert result.mst_complete and result.records == 5


def test_expected_commit() -> None:
    snapshot = repo(5)
    other = repo(2).commit_cid
    result = verify(snapshot.car_bytes(), expected_commit=other)
    failed(
        result,
        "commit_mismatch",
        f"the CAR's commit is {snapshot.commit_cid} but the PDS's latest commit is {other}",
    )
    failed(
        verify(snapshot.car_bytes(), expected_commit="nope"),
        "commit_mismatch",
        "the expected commit 'nope' is not a CID",
    )


def test_bad_version() -> None:
    snapshot = repo(5)
    blocks = split(snapshot.car_bytes())[1][1:]
    result = verify(with_commit(Link(snapshot.root), blocks, value={"version": 2}))
    failed(result, "bad_version", "the commit's version is 2, not 3")
    assert result.version_ok is False and result.signature_valid is True


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"prev": _DROP}, "the commit has no 'prev' field"),
        ({"extra": 1}, "the commit has unexpected fields ['extra']"),
        ({"did": 5}, "the commit's did is 5, not text"),
        ({"version": "3"}, "the commit's version is '3', not an integer"),
        ({"rev": "not-a-tid"}, "the commit's rev 'not-a-tid' is not a TID"),
        ({"rev": 7}, "the commit's rev 7 is not a TID"),
        ({"prev": "bafy"}, "the commit's prev is neither null nor a link"),
        ({"sig": b"\x01" * 63}, "the commit's sig is not a 64-byte byte string"),
        ({"sig": "c2ln"}, "the commit's sig is not a 64-byte byte string"),
        ({"data": "bafy"}, "the commit's data is not a link to a DAG-CBOR block"),
    ],
    ids=[
        "no-prev",
        "extra",
        "did",
        "version",
        "rev",
        "rev-type",
        "prev",
        "sig-length",
        "sig-type",
        "data",
    ],
)
def test_malformed_commit(value: dict[str, Any], text: str) -> None:
    snapshot = repo(5)
    blocks = split(snapshot.car_bytes())[1][1:]
    result = verify(with_commit(Link(snapshot.root), blocks, value=value))
    failed(result, "malformed_commit", text)
    assert result.root_is_commit is True


def test_commit_with_data_as_bytes_is_not_canonical() -> None:
    """``data`` written as a byte string reads back the same through libipld; only the
    schema-aware re-encoding sees that the block is not the commit it claims to be."""
    snapshot = repo(5)
    blocks = split(snapshot.car_bytes())[1][1:]
    unsigned = UnsignedCommit(DID, Link(snapshot.root), REV)
    value = {**unsigned.to_value(), "data": bytes(Link(snapshot.root))}
    value["sig"] = unsigned.sign(ACCOUNT_KEY).sig
    result = verify(with_commit(Link(snapshot.root), blocks, value=value))
    failed(
        result,
        "noncanonical_commit",
        "the commit block is not the canonical DAG-CBOR encoding of its fields",
    )
    assert result.signature_valid is True and result.problem_codes == ["noncanonical_commit"]


# --- the tree -----------------------------------------------------------------------------------


def test_unsorted_keys_in_a_node() -> None:
    low, high = sorted(keys_of_height(0)[:2])
    result = verify(tree_car(node(entries([high, low]))))
    failed(result, "mst_unsorted", f"MST key {low!r} comes after {high!r}")
    assert result.records == 2 and not result.mst_complete


def test_duplicate_keys() -> None:
    key = keys_of_height(0)[0]
    result = verify(tree_car(node(entries([key, key]))))
    failed(result, "mst_duplicate_key", f"MST key {key!r} occurs twice")


def test_unsorted_across_subtrees() -> None:
    top = keys_of_height(1)[0]
    beyond = max(k for k in keys_of_height(0, 40) if k > top)
    leaf = node(entries([beyond]))
    root = node(entries([top]), left=leaf[0])
    result = verify(tree_car(root, leaf))
    failed(result, "mst_unsorted", f"MST key {top!r} comes after {beyond!r}")


def test_key_at_the_wrong_layer() -> None:
    flat, tall = keys_of_height(0)[0], keys_of_height(1)[0]
    result = verify(tree_car(node(entries(sorted([flat, tall])))))
    failed(result, "mst_layering")
    wrong = tall if sorted([flat, tall])[0] == flat else flat
    height = key_height(wrong)
    layer = key_height(sorted([flat, tall])[0])
    assert result.problems == [f"MST key {wrong!r} has height {height} but sits at layer {layer}"]


def test_subtree_below_layer_zero() -> None:
    a, b = sorted(keys_of_height(0)[:2])
    leaf = node(entries([b]))
    root = node(entries([a], subtrees=[leaf[0]]))
    result = verify(tree_car(root, leaf))
    failed(result, "mst_layering", f"MST node {root[0]} is at layer 0 but has subtrees")


def test_empty_subtree_node() -> None:
    top = keys_of_height(1)[0]
    empty = node([])
    root = node(entries([top]), left=empty[0])
    result = verify(tree_car(root, empty))
    failed(result, "mst_layering", f"MST node {empty[0]} is empty: no entries, no subtree")


def test_untrimmed_root() -> None:
    inner = node(entries([keys_of_height(0)[0]]))
    top = node([], left=inner[0])
    result = verify(tree_car(top, inner))
    failed(
        result,
        "mst_layering",
        f"the top MST node {top[0]} has no entries, only a subtree (the tree is not trimmed to "
        "its highest key)",
    )


@pytest.mark.parametrize("case", ["not-maximal", "beyond-previous"])
def test_bad_prefix_compression(case: str) -> None:
    a, b = "com.example.record/aa", "com.example.record/ac"
    assert key_height(a) == key_height(b) == 0
    items = entries([a, b])
    if case == "not-maximal":
        items[1] = {**items[1], "p": 0, "k": b.encode()}
        shown, prefix = repr(b), 0
    else:
        items[1] = {**items[1], "p": 40, "k": b"b"}
        shown, prefix = "'b'", 40
    result = verify(tree_car(node(items)))
    failed(
        result,
        "mst_prefix",
        f"MST entry {shown} is stored with prefix length {prefix}, not the exact prefix it "
        f"shares with the key before it, {a!r}",
    )


def test_cycle() -> None:
    """A cycle needs a node that contains its own hash: its CID can only be a lie, so a cycle
    always comes with a CID mismatch; the walk still must not loop."""
    top = keys_of_height(2)[0]
    loop_cid = link_for_block(b"a lie")
    loop = (loop_cid, encode({"l": loop_cid, "e": []}))
    root = node(entries([top]), left=loop_cid)
    result = verify(tree_car(root, loop))
    failed(result, "cid_mismatch")
    assert result.problem_codes == ["cid_mismatch", "mst_cycle"]
    assert result.problems[1] == f"MST node {loop_cid} links back to itself (a cycle)"


def test_shared_subtree() -> None:
    a, b = keys_of_height(1)[:2]
    shared_key = keys_of_height(0)[0]
    shared = node(entries([shared_key]))
    root = node(entries(sorted([a, b]), subtrees=[shared[0]]), left=shared[0])
    result = verify(tree_car(root, shared))
    assert not result.verified
    assert "mst_shared_node" in result.problem_codes
    assert f"MST node {shared[0]} is linked from two places" in result.problems


def test_invalid_key() -> None:
    result = verify(tree_car(node(entries(["no-slash-here"]))))
    failed(result, "bad_key", "MST key 'no-slash-here' is not a valid collection/rkey")


@pytest.mark.parametrize(
    ("block", "text"),
    [
        (b"\xff\x00", "is not DAG-CBOR: Failed to decode DAG-CBOR."),
        (b"\x81" * 10_000 + b"\x00", "is not DAG-CBOR: nested too deeply"),
        (encode([1, 2]), "is not a map {l, e: [...]}"),
        (encode({"l": None, "e": [], "x": 1}), "is not a map {l, e: [...]}"),
        (encode({"l": None, "e": {}}), "is not a map {l, e: [...]}"),
        (encode({"l": 5, "e": []}), "has an l that is not a link"),
        (
            encode({"l": None, "e": [5]}),
            "has an entry that is not {p: int, k: bytes, v: link, t: link|null}",
        ),
        (
            encode({"l": None, "e": [{"p": 0, "k": "text", "v": RECORD_CID, "t": None}]}),
            "has an entry that is not {p: int, k: bytes, v: link, t: link|null}",
        ),
        (
            encode({"l": None, "e": [{"p": 0, "k": b"a/b", "v": RECORD_CID}]}),
            "has an entry that is not {p: int, k: bytes, v: link, t: link|null}",
        ),
        (
            encode({"l": None, "e": [{"p": 0, "k": b"a/b", "v": RECORD_CID, "t": None, "x": 1}]}),
            "has an entry that is not {p: int, k: bytes, v: link, t: link|null}",
        ),
        (
            encode({"l": None, "e": [{"p": True, "k": b"a/b", "v": RECORD_CID, "t": None}]}),
            "has an entry that is not {p: int, k: bytes, v: link, t: link|null}",
        ),
    ],
    ids=[
        "garbage",
        "nesting-bomb",
        "list",
        "extra-field",
        "e-map",
        "l-int",
        "entry-int",
        "k-text",
        "no-t",
        "extra-entry-field",
        "p-bool",
    ],
)
def test_malformed_node(block: bytes, text: str) -> None:
    cid = link_for_block(block)  # the CID is right: the content is what is wrong
    result = verify(tree_car((cid, block)))
    failed(result, "malformed_node")
    assert result.problems[0].startswith(f"MST node {cid} {text}")
    assert not result.mst_complete


def test_record_link_that_is_not_a_link() -> None:
    items = entries([keys_of_height(0)[0]])
    items[0]["v"] = b"\x01\x55\x12\x20" + bytes(32)  # a byte string, and a raw CID at that
    result = verify(tree_car(node(items)))
    failed(result, "noncanonical_node")
    assert "malformed_node" in result.problem_codes


def test_subtree_link_of_the_wrong_kind() -> None:
    raw = link_for_raw(b"not a node")
    root = node(entries([keys_of_height(1)[0]]), left=raw)
    result = verify(tree_car(root))
    failed(result, "malformed_node", f"an MST link {raw} is not a dag-cbor CID")


def test_huge_hostile_values_make_short_lines() -> None:
    snapshot = repo(2)
    blocks = split(snapshot.car_bytes())[1][1:]
    result = verify(with_commit(Link(snapshot.root), blocks, value={"did": "did:" + "x" * 10**6}))
    failed(result, "did_mismatch")
    assert len(result.problems[0]) < 200


def test_node_with_links_as_bytes_is_not_canonical() -> None:
    """``v`` written as a byte string decodes exactly like a link through libipld."""
    items = entries([keys_of_height(0)[0]])
    items[0]["v"] = bytes(RECORD_CID)
    root = node(items)
    result = verify(tree_car(root))
    failed(result, "noncanonical_node", f"MST node {root[0]} is not canonical DAG-CBOR")
    assert result.problem_codes == ["noncanonical_node"]


def test_overlong_key_stops_the_node() -> None:
    """Keys grow by prefix reuse, so a node could make every key longer than the last: each is
    cut off at 1,024 bytes, so rebuilding keys never costs more than that per entry."""
    items = [{"p": 0, "k": b"com.example.record/" + b"a" * 1000, "v": RECORD_CID, "t": None}]
    items += [{"p": 1019 + i * 10, "k": b"b" * 10, "v": RECORD_CID, "t": None} for i in range(5)]
    result = verify(tree_car(node(items)))
    failed(result, "bad_key")
    assert result.problems[0].endswith("... is 1029 bytes long (at most 1024)")


def test_too_many_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "MAX_COLLECTIONS", 2)
    result = verify(repo(40).car_bytes())
    failed(
        result,
        "too_many_collections",
        "the repository has more than 2 collections; only that many are listed",
    )
    assert len(result.collections) == 2 and result.records == 40 and result.mst_complete


def test_keys_are_checked_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "_BATCH", 7)
    snapshot = repo(700)
    assert verify(snapshot.car_bytes()).records == 700
    last = snapshot.record_cids[max(snapshot.record_cids)]
    result = verify(snapshot.car_bytes(omit={last}))
    failed(result, "missing_block")
    assert result.missing_blocks == 1 and result.records == 700


def test_problem_lines_are_capped() -> None:
    problems = _Problems()
    for i in range(30):
        problems.add(f"code{i}", f"problem {i}")
    lines = problems.lines()
    assert len(lines) == MAX_PROBLEM_LINES
    assert lines[-1] == f"... and {30 - MAX_PROBLEM_LINES + 1} more kinds of problem"
    assert problems.codes() == [f"code{i}" for i in range(30)]


def test_every_reported_code_is_documented() -> None:
    assert all(code == code.lower() and text for code, text in PROBLEM_CODES.items())
    assert len(PROBLEM_CODES) == len(set(PROBLEM_CODES.values()))


@pytest.mark.parametrize(
    "junk", [b"\x00" * 3, random.Random(4).randbytes(2000), b"\x3a" + bytes(range(256)) * 3]
)
def test_junk_never_raises(junk: bytes) -> None:
    result = verify(junk)
    assert result.verified is False and result.first_problem in PROBLEM_CODES


def test_fuzzed_exports_never_raise_or_verify() -> None:
    """Single-byte corruptions anywhere in a real export: never an exception, never verified."""
    car = repo(40).car_bytes()
    step = max(1, len(car) // 400)
    for at in range(0, len(car), step):
        for value in (0x00, 0xFF):
            if car[at] == value:
                continue
            result = verify(car[:at] + bytes([value]) + car[at + 1 :])
            assert result.verified is False, at
            assert result.first_problem in PROBLEM_CODES and result.problems


# --- blobs --------------------------------------------------------------------------------------


def test_verify_blob() -> None:
    blob = b"GIF89a" + bytes(range(100))
    cid = str(link_for_raw(blob))
    assert verify_blob(cid, blob) and verify_blob(cid, memoryview(blob))
    assert not verify_blob(cid, blob + b"\x00")
    assert not verify_blob(str(link_for_block(blob)), blob)  # a dag-cbor CID is not a blob CID
    assert not verify_blob("bafynotacid", blob) and not verify_blob(7, blob)  # type: ignore[arg-type]


# --- independent implementations ----------------------------------------------------------------


def test_atmst_walks_the_same_records() -> None:
    atmst_all = pytest.importorskip("atmst.all")
    cbrrr = pytest.importorskip("cbrrr")
    snapshot = repo(700)
    car = snapshot.car_bytes()
    store = atmst_all.ReadOnlyCARBlockStore(io.BytesIO(car))
    commit = cbrrr.decode_dag_cbor(store.get_block(bytes(store.car_root)))
    walker = atmst_all.NodeWalker(atmst_all.NodeStore(store), commit["data"])
    keys = [key for key, _ in walker.iter_kv()]
    result = verify(car)
    assert result.verified and result.records == len(keys) == 700
    assert result.collections == sorted({key.split("/")[0] for key in keys})


def test_atmst_also_rejects_the_unsorted_tree() -> None:
    atmst_all = pytest.importorskip("atmst.all")
    cbrrr = pytest.importorskip("cbrrr")
    low, high = sorted(keys_of_height(0)[:2])
    car = tree_car(node(entries([high, low])))
    store = atmst_all.ReadOnlyCARBlockStore(io.BytesIO(car))
    commit = cbrrr.decode_dag_cbor(store.get_block(bytes(store.car_root)))
    with pytest.raises(Exception):  # noqa: B017 - atmst's own exception type is not public
        list(atmst_all.NodeWalker(atmst_all.NodeStore(store), commit["data"]).iter_kv())
    assert verify(car).first_problem == "mst_unsorted"


@pytest.mark.parametrize("case", ["forged", "high-s"])
def test_atproto_rejects_the_signature_too(case: str) -> None:
    verify_module = pytest.importorskip("atproto_crypto.verify")
    if case == "forged":
        snapshot = build_repository(DID, ACCOUNT_KEY, records(5), rev=REV, sign_with=OTHER_KEY)
        sig = snapshot.commit.sig
    else:
        snapshot = repo(5)
        s = int.from_bytes(snapshot.commit.sig[32:], "big")
        sig = snapshot.commit.sig[:32] + (N_K256 - s).to_bytes(32, "big")
    message = snapshot.commit.unsigned.signing_bytes()
    assert not verify_module.verify_signature(KEY.did_key, message, sig)
    car = with_commit(Link(snapshot.root), split(snapshot.car_bytes())[1][1:], value={"sig": sig})
    assert verify(car).first_problem == (
        "bad_signature" if case == "forged" else "high_s_signature"
    )


# --- the large repository --------------------------------------------------------------


def test_large_repo_scenario_verifies() -> None:
    from auditor.sandbox.scenarios import build_world

    world = build_world(["large-repo"])
    (account,) = world.pdses["pds.max.test"].accounts.values()
    snapshot = account.repo
    key: PublicKey = snapshot.key
    result = verify_export(snapshot.car_bytes(), did=account.did, signing_key=key)
    assert result.verified, result.problems
    assert result.records == snapshot.record_count == 50_001

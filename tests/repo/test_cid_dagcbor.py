"""CIDs, links and the DAG-CBOR encoder: interop data-model vectors and the bytes-vs-link hazard."""

from __future__ import annotations

import base64
from typing import Any

import libipld
import pytest

from auditor.repo.cid import (
    DAG_CBOR,
    RAW,
    CidFormatError,
    Link,
    cid_for_dag_cbor,
    cid_for_raw,
    cid_matches,
    decode_varint,
    encode_varint,
    link,
    link_for_block,
    read_cid,
)
from auditor.repo.dagcbor import DagCborEncodeError, encode, from_json, to_json
from tests.repo import load_json

EMPTY_RAW_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
"""The well-known CID of zero bytes as a raw block (sha2-256 of the empty string)."""

SOME_CID = "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"  # from the interop vectors


def std_b64(text: str) -> bytes:
    """Standard base64, padding optional (the vectors omit it)."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


# --------------------------------------------------------------------------------------------
# Interop data-model vectors: JSON -> DAG-CBOR bytes -> CID
# --------------------------------------------------------------------------------------------

DATA_MODEL = load_json("data-model/data-model-fixtures.json")


def test_data_model_vectors_are_present() -> None:
    assert len(DATA_MODEL) >= 3


@pytest.mark.parametrize("case", DATA_MODEL, ids=lambda case: case["cid"][-8:])
def test_data_model_vector_encodes_byte_for_byte(case: dict[str, Any]) -> None:
    value = from_json(case["json"])
    block = encode(value)
    assert block == std_b64(case["cbor_base64"])
    cid, same_block = cid_for_dag_cbor(value)
    assert (cid, same_block) == (case["cid"], block)
    assert to_json(value) == case["json"]  # the JSON form round-trips


def test_data_model_vector_links_and_bytes_stay_distinct() -> None:
    value = from_json(DATA_MODEL[1]["json"])
    assert type(value["a"]) is Link
    assert type(value["b"]) is bytes
    assert type(value["c"]["ref"]) is Link and value["c"]["ref"].codec == RAW


# --------------------------------------------------------------------------------------------
# CIDs and links
# --------------------------------------------------------------------------------------------


def test_raw_cid_of_empty_bytes() -> None:
    assert cid_for_raw(b"") == EMPTY_RAW_CID
    assert cid_matches(EMPTY_RAW_CID, b"")
    assert not cid_matches(EMPTY_RAW_CID, b"x")


def test_dag_cbor_cid_matches_its_block() -> None:
    cid, block = cid_for_dag_cbor({"hello": "world"})
    assert block == libipld.encode_dag_cbor({"hello": "world"})
    assert cid.startswith("bafyrei")
    assert cid_matches(cid, block)
    assert Link(cid).codec == DAG_CBOR
    assert str(link_for_block(block)) == cid
    assert libipld.decode_cid(cid)["hash"]["digest"] == Link(cid).digest


def test_link_round_trips_text_and_binary() -> None:
    parsed = link(SOME_CID)
    assert str(parsed) == SOME_CID
    assert repr(parsed) == f"Link({SOME_CID!r})"
    assert Link(bytes(parsed)) == parsed
    assert Link(parsed) is parsed
    assert parsed == bytes(parsed)  # a link *is* its binary CID
    assert len(parsed) == 36 and parsed.digest == bytes(parsed)[4:]


@pytest.mark.parametrize(
    "bad",
    [
        "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",  # CIDv0 text
        "bafyrei",  # truncated
        "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",  # base58 multibase
        "b!!!!",
        "",
    ],
)
def test_link_rejects_bad_text(bad: str) -> None:
    with pytest.raises(CidFormatError):
        Link(bad)


def test_link_rejects_bad_binary() -> None:
    good = bytes(Link(SOME_CID))
    with pytest.raises(CidFormatError, match="trailing"):
        Link(good + b"\x00")  # libipld.decode_cid would accept this
    with pytest.raises(CidFormatError, match="truncated"):
        Link(good[:-1])
    with pytest.raises(CidFormatError, match="version"):
        Link(b"\x12\x20" + good[4:])  # CIDv0 binary
    with pytest.raises(TypeError):
        Link(42)  # type: ignore[arg-type]
    assert not cid_matches("not a cid", b"")


def test_read_cid_stops_at_the_digest() -> None:
    good = bytes(Link(SOME_CID))
    cid, end = read_cid(b"xx" + good + b"block data", 2)
    assert cid == good and end == 2 + len(good)


@pytest.mark.parametrize("n", [0, 1, 127, 128, 255, 300, 16384, 2**32, 2**63 - 1])
def test_varint_round_trip(n: int) -> None:
    encoded = encode_varint(n)
    assert decode_varint(encoded + b"\xff") == (n, len(encoded))


def test_varint_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="minimal"):
        decode_varint(b"\x80\x00")
    with pytest.raises(ValueError, match="truncated"):
        decode_varint(b"\x80")
    with pytest.raises(ValueError):
        encode_varint(-1)
    with pytest.raises(ValueError):
        decode_varint(b"\xff" * 10)


# --------------------------------------------------------------------------------------------
# The encoder
# --------------------------------------------------------------------------------------------


def test_cid_like_bytes_are_bytes_here_but_links_in_libipld() -> None:
    """The reason this package has its own encoder (see auditor.repo.dagcbor)."""
    looks_like_cid = b"\x01\x71\x12\x20" + bytes(32) + b"rest of a signature..........."
    assert libipld.encode_dag_cbor(looks_like_cid)[:2] == b"\xd8\x2a"  # libipld: tag 42
    ours = encode(looks_like_cid)
    assert ours[:2] == b"\x58\x42" and ours[2:] == looks_like_cid  # a byte string
    # Both encoders agree on an explicit Link: tag 42, 0x00 prefix, binary CID.
    cid = Link(SOME_CID)
    assert encode(cid) == libipld.encode_dag_cbor(cid) == b"\xd8\x2a\x58\x25\x00" + cid


def test_map_keys_sort_length_first() -> None:
    value = {"bb": 1, "a": 2, "aaa": 3, "c": 4, "ab": 5}
    block = encode(value)
    assert block == libipld.encode_dag_cbor(value)
    assert list(libipld.decode_dag_cbor(block)) == ["a", "c", "ab", "bb", "aaa"]


SAMPLES: list[Any] = [
    None,
    True,
    False,
    0,
    23,
    24,
    255,
    256,
    65535,
    65536,
    2**32,
    2**63 - 1,
    -1,
    -24,
    -25,
    -(2**63),
    "",
    "a" * 23,
    "b" * 24,
    "é☎😀",
    "x" * 70_000,
    b"",
    b"\x00" * 300,
    [],
    [1, [2, [3, []]]],
    {},
    {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2024-01-01T00:00:00Z"},
    {"nested": {"list": [{"k": b"\x02bytes"}, None, "s" * 300]}, "n": -5},
]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda value: repr(value)[:30])
def test_encoder_agrees_with_libipld(value: Any) -> None:
    """libipld is a separate, strict encoder; they must agree whenever no bytes look like CIDs."""
    assert encode(value) == libipld.encode_dag_cbor(value)
    assert libipld.decode_dag_cbor(encode(value)) == value


def test_tuples_and_subclasses_encode_like_their_base_types() -> None:
    class Text(str):
        pass

    assert encode((1, 2)) == encode([1, 2])
    assert encode(Text("x")) == encode("x")
    assert encode(bytearray(b"ab")) == encode(b"ab")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "float"),
        ({"a": 1.0}, "float"),
        ({1: "x"}, "keys must be text"),
        (2**63, "64-bit"),
        (-(2**63) - 1, "64-bit"),
        ("\ud800", "surrogate"),
        ("\ud800" * 100, "surrogate"),
        (object(), "cannot encode"),
        ({"a": {1, 2}}, "cannot encode"),
    ],
)
def test_encoder_rejects_what_the_data_model_lacks(value: Any, message: str) -> None:
    with pytest.raises(DagCborEncodeError, match=message):
        encode(value)


def test_encoder_rejects_absurd_nesting() -> None:
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(DagCborEncodeError, match="nested"):
        encode(deep)


def test_from_json_rejects_bad_bytes_and_links() -> None:
    with pytest.raises(ValueError):
        from_json({"$bytes": "not base64!"})
    with pytest.raises(CidFormatError):
        from_json({"$link": "nope"})
    # Objects that merely contain $link among other keys stay objects.
    assert from_json({"$link": SOME_CID, "x": 1}) == {"$link": SOME_CID, "x": 1}

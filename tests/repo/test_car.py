"""CAR v1: exact framing, streaming in bounded chunks, the reader, and libipld's reader agreeing."""

from __future__ import annotations

import io
from collections.abc import Iterator

import libipld
import pytest

from auditor.repo.car import CarFormatError, car_header, iter_car, iter_car_chunks, write_car
from auditor.repo.cid import Link, cid_for_dag_cbor, encode_varint, link_for_block, link_for_raw


def sample_blocks(n: int, size: int = 10) -> list[tuple[Link, bytes]]:
    out = []
    for i in range(n):
        _, block = cid_for_dag_cbor({"i": i, "pad": "x" * size})
        out.append((link_for_block(block), block))
    return out


def test_header_is_length_prefixed_dag_cbor() -> None:
    root = sample_blocks(1)[0][0]
    header = car_header([root])
    body = libipld.encode_dag_cbor({"version": 1, "roots": [root]})
    assert header == encode_varint(len(body)) + body
    assert libipld.decode_dag_cbor(body) == {"roots": [bytes(root)], "version": 1}


def test_block_framing_is_exact() -> None:
    [(cid, data)] = sample_blocks(1)
    car = b"".join(iter_car_chunks([cid], [(cid, data)]))
    assert car == car_header([cid]) + encode_varint(len(cid) + len(data)) + cid + data


def test_round_trip_through_reader_and_libipld() -> None:
    blocks = sample_blocks(50)
    car = b"".join(iter_car_chunks([blocks[0][0]], blocks))
    roots, found = iter_car(car)
    assert roots == [blocks[0][0]]
    assert list(found) == blocks
    header, decoded = libipld.decode_car(car)  # a second, independent CAR parser
    assert header == {"version": 1, "roots": [bytes(blocks[0][0])]}
    assert set(decoded) == {bytes(cid) for cid, _ in blocks}


def test_chunks_are_bounded_and_concatenate_to_the_file() -> None:
    blocks = sample_blocks(400, size=200)
    chunks = list(iter_car_chunks([blocks[0][0]], blocks, chunk_size=4096))
    largest_block = max(len(data) + 40 for _, data in blocks)
    assert len(chunks) > 10
    assert all(len(chunk) < 4096 + largest_block for chunk in chunks)
    out = io.BytesIO()
    assert write_car(out, [blocks[0][0]], blocks) == len(out.getvalue())
    assert out.getvalue() == b"".join(chunks)


def test_blocks_are_consumed_lazily() -> None:
    consumed = []

    def blocks() -> Iterator[tuple[Link, bytes]]:
        for cid, data in sample_blocks(1000, size=100):
            consumed.append(cid)
            yield cid, data

    chunks = iter_car_chunks([sample_blocks(1)[0][0]], blocks(), chunk_size=1024)
    next(chunks)
    assert 0 < len(consumed) < 50


def test_raw_blocks_are_carried_too() -> None:
    blob = b"\x89PNG not really"
    cid = link_for_raw(blob)
    _, found = iter_car(b"".join(iter_car_chunks([cid], [(cid, blob)])))
    assert list(found) == [(cid, blob)]


def test_reader_rejects_bad_framing() -> None:
    blocks = sample_blocks(3)
    car = b"".join(iter_car_chunks([blocks[0][0]], blocks))
    with pytest.raises(CarFormatError, match="header"):
        iter_car(b"")
    with pytest.raises(CarFormatError, match="header"):
        iter_car(b"\x05abc")
    with pytest.raises(CarFormatError, match="DAG-CBOR"):
        iter_car(b"\x01\xff")
    not_v1 = libipld.encode_dag_cbor({"version": 2, "roots": []})
    with pytest.raises(CarFormatError, match="version 1"):
        iter_car(encode_varint(len(not_v1)) + not_v1)
    bad_roots = libipld.encode_dag_cbor({"version": 1, "roots": "x"})
    with pytest.raises(CarFormatError, match="roots"):
        iter_car(encode_varint(len(bad_roots)) + bad_roots)
    _, truncated = iter_car(car[:-1])
    with pytest.raises(CarFormatError, match="past the end"):
        list(truncated)
    header = car_header([blocks[0][0]])
    _, bad_cid = iter_car(header + b"\x05\x12\x20abc")
    with pytest.raises(CarFormatError, match="CID"):
        list(bad_cid)
    _, short = iter_car(header + b"\x03\x01\x71\x12")
    with pytest.raises(CarFormatError):
        list(short)

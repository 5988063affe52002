"""CAR v1 files: how a whole repository travels (``com.atproto.sync.getRepo``, backups).

A CAR ("content-addressable archive", ipld.io/specs/transport/car/carv1) is a header naming the
root CIDs, then blocks, each prefixed with its length and CID:

* header: ``varint(len(h))`` + ``h``, where ``h`` is DAG-CBOR ``{"version": 1, "roots": [link]}``;
* each block: ``varint(len(cid) + len(data))`` + binary CID + data.

For a repository export the first root is the commit's CID (spec: repository, "CAR File
Serialization"). Exports of large accounts run to tens of megabytes, so the writer is a generator
of chunks (about ``chunk_size`` bytes each): a server can stream it without the file ever existing
twice in memory. The reader, :func:`iter_car`, is deliberately small and lenient about content:
it checks framing only and leaves hash checks to the caller (:func:`auditor.repo.cid.cid_matches`),
so a verifier can report *which* block is wrong instead of failing on the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, Final

import libipld

from auditor.repo.cid import CidFormatError, Link, decode_varint, encode_varint, read_cid
from auditor.repo.dagcbor import encode

__all__ = [
    "CAR_MEDIA_TYPE",
    "DEFAULT_CHUNK_SIZE",
    "CarFormatError",
    "car_header",
    "iter_car",
    "iter_car_chunks",
    "write_car",
]

CAR_MEDIA_TYPE: Final = "application/vnd.ipld.car"
DEFAULT_CHUNK_SIZE: Final = 64 * 1024


class CarFormatError(ValueError):
    """Bytes that are not a well-formed CAR v1 file."""


def car_header(roots: Sequence[Link]) -> bytes:
    """The length-prefixed CAR v1 header naming ``roots``."""
    header = encode({"version": 1, "roots": [Link(root) for root in roots]})
    return encode_varint(len(header)) + header


def iter_car_chunks(
    roots: Sequence[Link],
    blocks: Iterable[tuple[Link, bytes]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[bytes]:
    """Yield a CAR v1 file in chunks of about ``chunk_size`` bytes (a block is never split).

    ``blocks`` is consumed lazily and written in the order given; nothing is deduplicated or
    checked here, so callers control the exact bytes.
    """
    pending: list[bytes] = [car_header(roots)]
    size = len(pending[0])
    for cid, data in blocks:
        prefix = encode_varint(len(cid) + len(data))
        pending.extend((prefix, cid, data))
        size += len(prefix) + len(cid) + len(data)
        if size >= chunk_size:
            yield b"".join(pending)
            pending.clear()
            size = 0
    if pending:
        yield b"".join(pending)


def write_car(
    out: BinaryIO,
    roots: Sequence[Link],
    blocks: Iterable[tuple[Link, bytes]],
) -> int:
    """Write a CAR v1 file to the binary file object ``out``; return the number of bytes."""
    written = 0
    for chunk in iter_car_chunks(roots, blocks):
        out.write(chunk)
        written += len(chunk)
    return written


def _blocks(view: memoryview, offset: int) -> Iterator[tuple[Link, bytes]]:
    """The blocks after the header, as ``(cid, data)``; CarFormatError on bad framing."""
    end = len(view)
    while offset < end:
        try:
            length, start = decode_varint(view, offset)
        except ValueError as exc:
            raise CarFormatError(f"bad block length at byte {offset}: {exc}") from None
        stop = start + length
        if length == 0 or stop > end:
            raise CarFormatError(f"block at byte {offset} runs past the end of the file")
        try:
            cid, data_start = read_cid(view, start)
        except CidFormatError as exc:
            raise CarFormatError(f"bad block CID at byte {start}: {exc}") from None
        if data_start > stop:
            raise CarFormatError(f"block at byte {offset} is shorter than its CID")
        yield cid, bytes(view[data_start:stop])
        offset = stop


def iter_car(data: bytes) -> tuple[list[Link], Iterator[tuple[Link, bytes]]]:
    """Read a CAR v1 file: its roots now, its blocks lazily as ``(cid, data)`` in file order.

    Raises :class:`CarFormatError` for a bad header at once, and from the iterator for bad
    block framing. Block contents are not hashed or decoded; duplicates are yielded as found.
    """
    view = memoryview(data)
    try:
        length, start = decode_varint(view, 0)
    except ValueError as exc:
        raise CarFormatError(f"bad header length: {exc}") from None
    if length == 0 or start + length > len(view):
        raise CarFormatError("CAR header runs past the end of the file")
    try:
        header = libipld.decode_dag_cbor(bytes(view[start : start + length]))
    except ValueError as exc:
        raise CarFormatError(f"CAR header is not DAG-CBOR: {exc}") from None
    if not isinstance(header, dict) or header.get("version") != 1:
        raise CarFormatError("CAR header is not a version 1 header")
    raw_roots = header.get("roots")
    if not isinstance(raw_roots, list) or not all(isinstance(r, bytes) for r in raw_roots):
        raise CarFormatError("CAR header roots are not a list of links")
    try:
        roots = [Link(root) for root in raw_roots]
    except CidFormatError as exc:
        raise CarFormatError(f"CAR header root is not a CID: {exc}") from None
    return roots, _blocks(view, start + length)

"""Content identifiers (CIDs) for repository blocks, and the link type that carries them.

Everything in a repository is addressed by hash: the commit names the MST root by CID, MST nodes
name subtrees and records by CID, a profile names its avatar blob by CID. atproto uses exactly two
kinds of CID (spec: data-model, "Link and CID Formats"): CIDv1 + sha2-256 with the ``dag-cbor``
codec (0x71) for structured blocks, and with the ``raw`` codec (0x55) for blobs. Text form is
multibase base32 (``b…``), binary form is the varints and digest back to back.

:class:`Link` is a ``bytes`` subclass holding a *binary* CID. It is the one way to say "this value
is a link" inside a record or MST node:

* :func:`auditor.repo.dagcbor.encode` writes a ``Link`` as CBOR tag 42 and every other ``bytes``
  as a plain byte string, so a link is never confused with data;
* ``libipld.encode_dag_cbor`` also writes a ``Link`` as tag 42 (it accepts ``bytes`` subclasses and
  turns raw CID bytes into tag 42), so values built here stay usable with libipld. Beware the
  converse: libipld 3.5 turns **any** ``bytes`` whose start parses as a CID into tag 42, whatever
  the caller meant, and decodes tag 42 back to plain ``bytes``. That is why this package encodes
  with its own encoder (see :mod:`auditor.repo.dagcbor`).

``libipld.decode_cid`` ignores trailing bytes, so binary CIDs are parsed strictly here instead.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import libipld

__all__ = [
    "DAG_CBOR",
    "RAW",
    "SHA2_256",
    "CidFormatError",
    "Link",
    "cid_for_dag_cbor",
    "cid_for_raw",
    "cid_matches",
    "decode_varint",
    "encode_varint",
    "link",
    "link_for_block",
    "link_for_raw",
    "read_cid",
]

DAG_CBOR: Final = 0x71
"""Multicodec of DAG-CBOR blocks (commits, MST nodes, records)."""
RAW: Final = 0x55
"""Multicodec of raw blocks (blobs: images, video)."""
SHA2_256: Final = 0x12
"""Multihash code of SHA-256, the only hash atproto uses in CIDs."""

_CIDV1: Final = 1
_SHA256_SIZE: Final = 32
_PREFIX: Final[dict[int, bytes]] = {
    DAG_CBOR: bytes([_CIDV1, DAG_CBOR, SHA2_256, _SHA256_SIZE]),
    RAW: bytes([_CIDV1, RAW, SHA2_256, _SHA256_SIZE]),
}
_MAX_VARINT_BYTES: Final = 9  # 63 bits: larger values do not occur in CIDs or CAR lengths


class CidFormatError(ValueError):
    """Bytes or text that are not a well-formed CIDv1."""


def encode_varint(n: int) -> bytes:
    """Unsigned LEB128 varint (multiformats ``unsigned-varint``), as used in CIDs and CARs."""
    if n < 0 or n >= 1 << 63:
        raise ValueError(f"varint out of range: {n}")
    out = bytearray()
    while n > 0x7F:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def decode_varint(data: bytes | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode a minimally encoded varint at ``offset``; return ``(value, next_offset)``.

    Raises ValueError on truncation, on a non-minimal encoding (trailing ``0x00`` continuation
    byte) and on values of more than 63 bits.
    """
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if offset + i >= len(data):
            raise ValueError("truncated varint")
        byte = data[offset + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i and not byte:
                raise ValueError("varint is not minimally encoded")
            return value, offset + i + 1
    raise ValueError("varint longer than 63 bits")


def _cid_end(data: bytes | memoryview, offset: int) -> int:
    """Offset just past the binary CIDv1 starting at ``offset``; CidFormatError if malformed."""
    try:
        version, pos = decode_varint(data, offset)
        if version != _CIDV1:
            raise CidFormatError(f"CID version {version} (atproto uses CIDv1 only)")
        _, pos = decode_varint(data, pos)  # codec
        _, pos = decode_varint(data, pos)  # multihash code
        size, pos = decode_varint(data, pos)
    except CidFormatError:
        raise
    except ValueError as exc:
        raise CidFormatError(f"malformed CID: {exc}") from None
    end = pos + size
    if end > len(data):
        raise CidFormatError("truncated CID digest")
    return end


def read_cid(data: bytes | memoryview, offset: int = 0) -> tuple[Link, int]:
    """Parse one binary CIDv1 starting at ``offset``; return it and the offset just after it.

    Used by the CAR reader, where a block's CID is followed directly by the block's bytes.
    Raises CidFormatError for CIDv0, truncation or a bad varint.
    """
    end = _cid_end(data, offset)
    return bytes.__new__(Link, bytes(data[offset:end])), end


class Link(bytes):
    """A binary CIDv1 that DAG-CBOR encoders write as a link (tag 42), not as a byte string.

    Construct from text (``Link("bafy…")``) or binary CID bytes; both are checked strictly.
    ``str(link)`` is the base32 text form. Equality and hashing are those of the binary form.
    """

    __slots__ = ()

    def __new__(cls, cid: str | bytes) -> Link:
        """Parse ``cid`` (base32 ``b…`` text, or binary CIDv1) into a Link."""
        if isinstance(cid, Link):
            return cid
        if isinstance(cid, str):
            if not cid.startswith("b"):
                raise CidFormatError("CID text must be base32 multibase (starting with 'b')")
            try:
                _, raw = libipld.decode_multibase(cid)
            except ValueError:
                raise CidFormatError(f"not valid base32 CID text: {cid[:60]!r}") from None
        elif isinstance(cid, bytes | bytearray | memoryview):
            raw = bytes(cid)
        else:
            raise TypeError(f"a CID is text or bytes, not {type(cid).__name__}")
        if _cid_end(raw, 0) != len(raw):
            raise CidFormatError("trailing bytes after CID")
        return super().__new__(cls, raw)

    def __str__(self) -> str:
        """The base32 text form, e.g. ``bafyrei…``."""
        text: str = libipld.encode_cid(bytes(self))
        return text

    def __repr__(self) -> str:
        """``Link('bafy…')``."""
        return f"Link({str(self)!r})"

    @property
    def codec(self) -> int:
        """The multicodec: :data:`DAG_CBOR` or :data:`RAW` for atproto's blessed CIDs."""
        _, pos = decode_varint(self)
        codec, _ = decode_varint(self, pos)
        return codec

    @property
    def digest(self) -> bytes:
        """The hash digest (for sha2-256, 32 bytes)."""
        _, pos = decode_varint(self)
        for _ in range(3):  # codec, multihash code, digest size
            _, pos = decode_varint(self, pos)
        return bytes(self[pos:])


def _link_for(codec: int, data: bytes) -> Link:
    """The CIDv1 (sha2-256) of ``data`` under ``codec``, skipping re-validation."""
    return bytes.__new__(Link, _PREFIX[codec] + hashlib.sha256(data).digest())


def link_for_block(block: bytes) -> Link:
    """The link to an already encoded DAG-CBOR block."""
    return _link_for(DAG_CBOR, block)


def link_for_raw(data: bytes) -> Link:
    """The link to a raw block (a blob)."""
    return _link_for(RAW, data)


def link(cid: str | bytes) -> Link:
    """The link form of a CID string or binary CID (same as ``Link(cid)``).

    Put the result where a record or node holds a link; both this package's encoder and
    ``libipld.encode_dag_cbor`` write it as tag 42. Do not pass a CID *string* where a link is
    meant: both encoders would write it as text.
    """
    return Link(cid)


def cid_for_dag_cbor(value: Any) -> tuple[str, bytes]:
    """Encode ``value`` as DAG-CBOR; return ``(cid_text, block_bytes)``."""
    from auditor.repo.dagcbor import encode  # local import: dagcbor imports Link from here

    block = encode(value)
    return str(link_for_block(block)), block


def cid_for_raw(data: bytes) -> str:
    """The CID text of a blob: CIDv1, raw codec, sha2-256."""
    return str(link_for_raw(data))


def cid_matches(cid: str | bytes, data: bytes) -> bool:
    """True if ``data`` hashes to ``cid`` (a sha2-256 CIDv1 of either blessed codec)."""
    try:
        parsed = Link(cid)
    except (CidFormatError, TypeError):
        return False
    codec = parsed.codec
    return codec in _PREFIX and parsed == _link_for(codec, data)

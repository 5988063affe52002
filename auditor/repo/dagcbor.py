"""A strict DAG-CBOR encoder in which links and byte strings can never be confused.

Why not ``libipld.encode_dag_cbor``? libipld 3.5 decides *by looking at the bytes* whether a
``bytes`` value is a link: anything whose start parses as a CID is written as tag 42. A commit's
64-byte ECDSA signature starts with something CID-like about once in a thousand signatures (first
byte 0x01, then any varints), and would then be written as a link instead of a byte string; other
implementations (TypeScript, Go, cbrrr) read that as a malformed commit, while libipld itself reads
it back as plain bytes and hides the damage. Here the caller says what a value is: a
:class:`~auditor.repo.cid.Link` is a link, every other ``bytes`` is a byte string.

Encoding follows DAG-CBOR's strict rules as atproto profiles them (spec: data-model; DRISL):
shortest-form lengths and integers, map keys are text sorted length-first then bytewise, no
indefinite lengths, no tags but 42. Floats are rejected: the atproto data model has none.

Decoding is left to ``libipld.decode_dag_cbor`` (fast and strict); note that it returns links as
plain ``bytes``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from auditor.repo.cid import Link

__all__ = ["DagCborEncodeError", "encode", "from_json", "to_json"]

_INT_MIN: Final = -(1 << 63)
_INT_MAX: Final = (1 << 63) - 1
_LINK_TAG: Final = b"\xd8\x2a"  # tag 42, one-byte argument
_NULL: Final = b"\xf6"
_TRUE: Final = b"\xf5"
_FALSE: Final = b"\xf4"
_SMALL_HEADS: Final = tuple(tuple(bytes([major << 5 | n]) for n in range(24)) for major in range(8))


class DagCborEncodeError(ValueError):
    """A value that has no DAG-CBOR encoding in the atproto data model."""


def _head(major: int, n: int) -> bytes:
    """The shortest CBOR head for major type ``major`` with argument ``n``."""
    if n < 24:
        return _SMALL_HEADS[major][n]
    top = major << 5
    if n < 0x100:
        return bytes((top | 24, n))
    if n < 0x10000:
        return bytes((top | 25,)) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes((top | 26,)) + n.to_bytes(4, "big")
    return bytes((top | 27,)) + n.to_bytes(8, "big")


@lru_cache(maxsize=4096)
def _text(s: str) -> bytes:
    """Encoded text string (cached: map keys and ``$type`` values repeat endlessly)."""
    try:
        data = s.encode("utf-8")
    except UnicodeEncodeError:
        raise DagCborEncodeError("text contains lone surrogates (not valid UTF-8)") from None
    return _head(3, len(data)) + data


def _encode_into(value: Any, out: list[bytes], depth: int) -> None:
    """Append the encoding of ``value`` to ``out``."""
    kind = type(value)
    if kind is str:
        if len(value) < 64:
            out.append(_text(value))
        else:
            try:
                data = value.encode("utf-8")
            except UnicodeEncodeError:
                raise DagCborEncodeError("text contains lone surrogates") from None
            out.append(_head(3, len(data)))
            out.append(data)
    elif kind is Link:
        out.append(_LINK_TAG)
        out.append(_head(2, len(value) + 1))
        out.append(b"\x00")
        out.append(value)
    elif kind is bool:
        out.append(_TRUE if value else _FALSE)
    elif kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise DagCborEncodeError(f"integer {value} is outside the signed 64-bit range")
        out.append(_head(0, value) if value >= 0 else _head(1, -1 - value))
    elif value is None:
        out.append(_NULL)
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out.append(_head(2, len(data)))
        out.append(data)
    elif isinstance(value, Mapping):
        _encode_map(value, out, depth)
    elif isinstance(value, list | tuple):
        if depth > 256:
            raise DagCborEncodeError("value nested more than 256 levels deep")
        out.append(_head(4, len(value)))
        for item in value:
            _encode_into(item, out, depth + 1)
    elif isinstance(value, float):
        raise DagCborEncodeError("floats are not part of the atproto data model")
    elif isinstance(value, str | int):  # subclasses (e.g. str enums)
        _encode_into(str(value) if isinstance(value, str) else int(value), out, depth)
    else:
        raise DagCborEncodeError(f"cannot encode {type(value).__name__} as DAG-CBOR")


def _encode_map(value: Mapping[Any, Any], out: list[bytes], depth: int) -> None:
    """Append a map, keys sorted the DAG-CBOR way (shorter first, then bytewise)."""
    if depth > 256:
        raise DagCborEncodeError("value nested more than 256 levels deep")
    entries = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise DagCborEncodeError(f"map keys must be text, not {type(key).__name__}")
        entries.append((_text(key), item))
    # Sorting the encoded keys is the length-first order: the head encodes the length.
    entries.sort(key=lambda entry: entry[0])
    out.append(_head(5, len(entries)))
    for encoded_key, item in entries:
        out.append(encoded_key)
        _encode_into(item, out, depth + 1)


def encode(value: Any) -> bytes:
    """Encode ``value`` as strict DAG-CBOR.

    Accepts None, bool, int (signed 64-bit), str, bytes (a byte string), :class:`Link` (a link),
    lists/tuples, and mappings with text keys. Raises :class:`DagCborEncodeError` otherwise.
    """
    out: list[bytes] = []
    _encode_into(value, out, 0)
    return b"".join(out)


def to_json(value: Any) -> Any:
    """The atproto JSON form of a value built for :func:`encode` (e.g. to serve a record).

    A :class:`Link` becomes ``{"$link": "bafy…"}`` and other bytes ``{"$bytes": base64}``
    (standard alphabet, no padding), as the data-model spec says. Only values that use
    :class:`Link` for links convert correctly: after ``libipld.decode_dag_cbor`` a link is plain
    ``bytes`` and would come out as ``$bytes``.
    """
    if isinstance(value, Link):
        return {"$link": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii").rstrip("=")}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value


def from_json(value: Any) -> Any:
    """The data-model value of atproto JSON (inverse of :func:`to_json`).

    ``{"$link": "bafy…"}`` becomes a :class:`Link` and ``{"$bytes": base64}`` bytes (padding
    optional); objects with any other keys stay objects. Raises ValueError for a malformed
    ``$link`` or ``$bytes``.
    """
    if isinstance(value, Mapping):
        if len(value) == 1 and "$link" in value and isinstance(value["$link"], str):
            return Link(value["$link"])
        if len(value) == 1 and "$bytes" in value and isinstance(value["$bytes"], str):
            text = value["$bytes"]
            try:
                return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
            except ValueError:
                raise ValueError(f"$bytes is not base64: {text[:40]!r}") from None
        return {str(key): from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value

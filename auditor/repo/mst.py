"""The Merkle Search Tree (MST) that maps record paths to record CIDs in a repository.

A repository's commit signs one hash, the MST root; every record is reachable from it, and the
tree's shape is a pure function of its keys, so two honest hosts holding the same records hold the
same root CID (spec: repository, "Merkle Search Tree"). That determinism is what lets anyone check
a mirror or an export against the signed commit. The rules implemented here:

* a key is ``<collection>/<rkey>`` (ASCII, at most 1024 bytes, one ``/``);
* a key's *height* is the number of leading zero bits of SHA-256(key), halved and rounded down
  (about 4 children per node);
* a node at layer *L* holds, in key order, the keys of height *L* in its range; the keys between
  two of them (or before the first) form a subtree at layer *L-1*, linked from the entry on their
  left (``t``) or from the node (``l``); a range with no key of height *L-1* still gets a node
  at that layer, with no entries, so layers are never skipped;
* the root is at the greatest key height (layer 0 for an empty tree, whose root has no entries);
* node encoding: ``{"l": link|null, "e": [{"p": shared-prefix-length, "k": key-suffix-bytes,
  "v": record-link, "t": subtree-link|null}]}``, the prefix shared with the previous key in the
  same node (0 for the first) always factored out.

The tree is built bottom-up from the sorted keys in one pass per layer, O(n log n) overall.
A small in-order reader, :func:`iter_mst`, serves tests and tools; full verification (with
error reports) belongs to the verifier.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import libipld

from auditor.repo.cid import Link, link_for_block
from auditor.repo.dagcbor import encode

__all__ = [
    "MAX_KEY_LENGTH",
    "MalformedMstError",
    "MissingBlockError",
    "MstTree",
    "build_mst",
    "common_prefix_len",
    "iter_mst",
    "key_height",
    "mst_key_error",
]

MAX_KEY_LENGTH: Final = 1024
"""Longest MST key in bytes (spec: repository, "MST Structure")."""

_KEY_RE: Final = re.compile(r"^[a-zA-Z0-9_~\-:.]+/[a-zA-Z0-9_~\-:.]+$")


class MissingBlockError(KeyError):
    """A block the tree links to is not among the blocks given."""

    def __init__(self, cid: Link) -> None:
        """Record which CID is missing."""
        super().__init__(str(cid))
        self.cid = cid


class MalformedMstError(ValueError):
    """An MST node that does not decode to a valid node, or keys out of order."""


def key_height(key: str | bytes) -> int:
    """The layer of ``key``: leading zero bits of SHA-256(key), divided by 2 (floor)."""
    data = key.encode("utf-8") if isinstance(key, str) else key
    digest = hashlib.sha256(data).digest()
    return (256 - int.from_bytes(digest, "big").bit_length()) // 2


def common_prefix_len(a: str | bytes, b: str | bytes) -> int:
    """Length in bytes of the common prefix of two keys (text is compared as UTF-8)."""
    left = a.encode("utf-8") if isinstance(a, str) else a
    right = b.encode("utf-8") if isinstance(b, str) else b
    n = min(len(left), len(right))
    i = 0
    while i < n and left[i] == right[i]:
        i += 1
    return i


def mst_key_error(key: object) -> str | None:
    """Why ``key`` cannot be an MST key (``collection/rkey``), or None if it can."""
    if not isinstance(key, str):
        return f"an MST key is text, not {type(key).__name__}"
    if len(key) > MAX_KEY_LENGTH:
        return f"MST key is {len(key)} bytes long (at most {MAX_KEY_LENGTH})"
    if not _KEY_RE.fullmatch(key):
        return f"{key[:80]!r} is not collection/rkey with only A-Za-z0-9 _~-:. characters"
    if key.rsplit("/", 1)[1] in (".", ".."):
        return f"{key[:80]!r}: '.' and '..' are not allowed as record keys"
    return None


@dataclass(frozen=True)
class MstTree:
    """A built MST: its root link, layer, and every node block (root first, then pre-order)."""

    root: Link
    layer: int
    """Height of the root node: the greatest key height, 0 for an empty tree."""
    nodes: tuple[tuple[Link, bytes], ...]
    """``(cid, block)`` for every node, in pre-order: node, left subtree, then each entry's
    right subtree, left to right (the order a streaming reader can check as it goes)."""


class _Builder:
    """One tree build: sorted keys and heights, and the node blocks made so far."""

    def __init__(self, keys: list[bytes], values: list[Link]) -> None:
        self.keys = keys
        self.values = values
        self.heights = [key_height(key) for key in keys]
        self.blocks: dict[Link, bytes] = {}
        self.children: dict[Link, list[Link]] = {}

    def subtree(self, lo: int, hi: int, layer: int) -> Link | None:
        """The node for keys ``[lo, hi)`` at ``layer``, or None if the range is empty."""
        return None if lo == hi else self.node(lo, hi, layer)

    def node(self, lo: int, hi: int, layer: int) -> Link:
        """Build the node for keys ``[lo, hi)`` (all of height <= ``layer``) and its subtrees."""
        heights = self.heights
        here = [i for i in range(lo, hi) if heights[i] == layer]
        children: list[Link] = []
        left = self.subtree(lo, here[0] if here else hi, layer - 1)
        if left is not None:
            children.append(left)
        entries: list[dict[str, Any]] = []
        previous = b""
        for position, i in enumerate(here):
            end = here[position + 1] if position + 1 < len(here) else hi
            right = self.subtree(i + 1, end, layer - 1)
            if right is not None:
                children.append(right)
            key = self.keys[i]
            prefix = common_prefix_len(previous, key)
            entries.append({"p": prefix, "k": key[prefix:], "v": self.values[i], "t": right})
            previous = key
        block = encode({"l": left, "e": entries})
        cid = link_for_block(block)
        self.blocks[cid] = block
        self.children[cid] = children
        return cid

    def preorder(self, root: Link) -> tuple[tuple[Link, bytes], ...]:
        """Every node block reachable from ``root``, node before its subtrees."""
        order: list[tuple[Link, bytes]] = []
        stack = [root]
        while stack:
            cid = stack.pop()
            order.append((cid, self.blocks[cid]))
            stack.extend(reversed(self.children[cid]))
        return tuple(order)


def build_mst(entries: Mapping[str, Link | str] | Iterable[tuple[str, Link | str]]) -> MstTree:
    """Build the MST for ``entries`` (key ``collection/rkey`` → record CID, as Link or text).

    Raises ValueError for an invalid key, or for a key given twice by an iterable of pairs.
    """
    pairs = entries.items() if isinstance(entries, Mapping) else entries
    table: dict[str, Link] = {}
    for key, value in pairs:
        error = mst_key_error(key)
        if error is not None:
            raise ValueError(error)
        if key in table:
            raise ValueError(f"duplicate MST key {key!r}")
        table[key] = Link(value)
    keys = sorted(table)  # ASCII only, so text order is byte order
    builder = _Builder([key.encode("ascii") for key in keys], [table[key] for key in keys])
    layer = max(builder.heights, default=0)
    root = builder.node(0, len(keys), layer)
    return MstTree(root=root, layer=layer, nodes=builder.preorder(root))


def _decode_node(cid: Link, blocks: Mapping[Link, bytes] | Mapping[bytes, bytes]) -> dict[str, Any]:
    """Fetch and decode one node, checking its shape."""
    block = blocks.get(cid)
    if block is None:
        raise MissingBlockError(cid)
    try:
        node = libipld.decode_dag_cbor(block)
    except ValueError as exc:
        raise MalformedMstError(f"MST node {cid} is not DAG-CBOR: {exc}") from None
    if not isinstance(node, dict) or set(node) != {"l", "e"} or not isinstance(node["e"], list):
        raise MalformedMstError(f"MST node {cid} is not {{l, e}}")
    return node


def iter_mst(
    root: Link | str, blocks: Mapping[Link, bytes] | Mapping[bytes, bytes]
) -> Iterator[tuple[str, Link]]:
    """Yield ``(key, record_link)`` for every entry of the tree at ``root``, in key order.

    ``blocks`` maps binary CIDs (e.g. :class:`Link`) to block bytes, as from
    :func:`auditor.repo.car.iter_car`. Raises :class:`MissingBlockError` for an absent node and
    :class:`MalformedMstError` for a node that cannot be read or keys out of order. It does not
    check key heights or node CIDs: that is the verifier's job.
    """
    last = b""
    stack: list[Any] = [Link(root)]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            key, value = item
            if key <= last and last:
                raise MalformedMstError(f"MST keys out of order at {key[:80]!r}")
            last = key
            yield key.decode("utf-8", "replace"), Link(value)
            continue
        node = _decode_node(item, blocks)
        pending: list[Any] = []
        if node["l"] is not None:
            pending.append(Link(node["l"]))
        previous = b""
        for entry in node["e"]:
            try:
                key = previous[: entry["p"]] + entry["k"]
                value = entry["v"]
                right = entry["t"]
            except (KeyError, TypeError) as exc:
                raise MalformedMstError(f"MST node {item} has a malformed entry: {exc}") from None
            pending.append((key, value))
            if right is not None:
                pending.append(Link(right))
            previous = key
        stack.extend(reversed(pending))

"""Signed repository commits (version 3): the one object that makes a repository self-certifying.

The commit names the MST root and is signed with the account's ``#atproto`` key from its DID
document, so anyone holding a copy of the repository, from any host, can check that the account
holder published exactly these records (spec: repository, "Commit Objects"; cryptography).
The object is::

    {"did": str, "version": 3, "data": link(MST root), "rev": TID, "prev": null, "sig": bytes}

``prev`` must be present and is null in v3 repositories. The signature is ECDSA-SHA256, raw
64-byte low-S ``r || s``, over the DAG-CBOR encoding of the commit *without* ``sig``
(reference: ``verifyCommitSig`` in @atproto/repo ``util.ts``). Signing uses
:meth:`auditor.crypto.PrivateKey.sign` (RFC 6979), so a commit is reproducible byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from auditor.crypto import PrivateKey, PublicKey
from auditor.repo.cid import Link, link_for_block
from auditor.repo.dagcbor import encode
from auditor.repo.tid import is_valid_tid

__all__ = ["COMMIT_VERSION", "SignedCommit", "UnsignedCommit"]

COMMIT_VERSION: Final = 3


@dataclass(frozen=True)
class UnsignedCommit:
    """A commit before signing: who, which tree, which revision."""

    did: str
    data: Link
    """The MST root."""
    rev: str
    """A TID, greater than the rev of any earlier commit of this repository."""
    prev: Link | None = None
    version: int = COMMIT_VERSION

    def __post_init__(self) -> None:
        """Check the rev syntax and normalise ``data``/``prev`` to links."""
        if not is_valid_tid(self.rev):
            raise ValueError(f"commit rev must be a TID, not {self.rev!r}")
        object.__setattr__(self, "data", Link(self.data))
        if self.prev is not None:
            object.__setattr__(self, "prev", Link(self.prev))

    def to_value(self) -> dict[str, Any]:
        """The unsigned commit as a DAG-CBOR value (links as :class:`Link`)."""
        return {
            "did": self.did,
            "version": self.version,
            "data": self.data,
            "rev": self.rev,
            "prev": self.prev,
        }

    def signing_bytes(self) -> bytes:
        """The bytes that get signed: DAG-CBOR of the commit without ``sig``."""
        return encode(self.to_value())

    def sign(self, key: PrivateKey) -> SignedCommit:
        """Sign with ``key`` (deterministic: same commit and key, same signature)."""
        return SignedCommit(self, key.sign(self.signing_bytes()))


@dataclass(frozen=True)
class SignedCommit:
    """A commit with its signature; :meth:`block` is what goes into the repository."""

    unsigned: UnsignedCommit
    sig: bytes

    def to_value(self) -> dict[str, Any]:
        """The signed commit as a DAG-CBOR value (``sig`` as a byte string, never a link)."""
        return {**self.unsigned.to_value(), "sig": bytes(self.sig)}

    def block(self) -> tuple[Link, bytes]:
        """The commit block and its CID (the repository's head, the CAR's first root)."""
        data = encode(self.to_value())
        return link_for_block(data), data

    def verify(self, key: PublicKey) -> bool:
        """True if ``sig`` is ``key``'s valid low-S signature over the unsigned commit."""
        return key.verify(self.unsigned.signing_bytes(), self.sig)

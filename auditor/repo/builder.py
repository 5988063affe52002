"""Whole repositories: records in, a signed commit, its MST and a CAR export out.

The sandbox network's PDS hosts must serve what a real PDS serves, so that the auditor's checks
(export a repository, verify its commit against the DID document, rebuild its tree, fetch its
blobs) run against real data. :class:`Repository` collects records; :meth:`Repository.snapshot`
(or :func:`build_repository` in one call) encodes them, builds the MST, signs a version-3 commit
and returns an immutable :class:`RepoSnapshot` that can stream itself as a CAR v1 file.

Same inputs give byte-identical output: records are encoded canonically, the tree is a function of
its keys, signatures use RFC 6979 nonces, and blocks are written in a fixed order (commit, MST
nodes in pre-order, then record blocks in key order, each distinct block once).

Deliberately broken exports for the ``bad-export`` scenario are explicit arguments, never hidden
switches: ``sign_with=`` another key forges the commit signature, and
``car_chunks(omit=...)`` leaves chosen blocks (e.g. an MST node) out of the file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from auditor.crypto import PrivateKey, PublicKey
from auditor.repo.car import DEFAULT_CHUNK_SIZE, iter_car_chunks
from auditor.repo.cid import Link, link_for_block, link_for_raw
from auditor.repo.commit import SignedCommit, UnsignedCommit
from auditor.repo.dagcbor import DagCborEncodeError, encode
from auditor.repo.mst import build_mst, mst_key_error
from auditor.repo.tid import Tid
from auditor.syntax import did_syntax_error

__all__ = ["RepoSnapshot", "Repository", "blob_ref", "build_repository"]


def blob_ref(data: bytes, mime: str) -> dict[str, Any]:
    """The record value that references blob ``data`` (e.g. a profile's ``avatar``).

    ``{"$type": "blob", "ref": link, "mimeType": mime, "size": len(data)}``, where ``ref`` is the
    raw-codec CID of the bytes the PDS serves from ``com.atproto.sync.getBlob``.
    """
    if not isinstance(mime, str) or "/" not in mime:
        raise ValueError(f"blob mimeType must be a MIME type like image/jpeg, not {mime!r}")
    return {"$type": "blob", "ref": link_for_raw(data), "mimeType": mime, "size": len(data)}


@dataclass(frozen=True)
class RepoSnapshot:
    """One signed state of a repository, with every block needed to export it."""

    did: str
    rev: str
    commit: SignedCommit
    commit_cid: str
    """CID of the commit block: the repository head and the CAR's root."""
    root: str
    """CID of the MST root (the commit's ``data``)."""
    key: PublicKey
    """The account's signing key (what the DID document should list as ``#atproto``)."""
    signed_by: PublicKey
    """The key that actually signed the commit; differs from ``key`` for a forged commit."""
    records: Mapping[str, Mapping[str, Any]]
    """The record values by ``collection/rkey``, as given (not copied; links as :class:`Link`),
    e.g. to serve ``getRecord`` through :func:`auditor.repo.dagcbor.to_json`."""
    record_cids: Mapping[str, str]
    """CID of each record by ``collection/rkey``."""
    mst_node_cids: tuple[str, ...]
    """Every MST node's CID, root first, in pre-order."""
    _order: tuple[tuple[Link, bytes], ...] = field(repr=False)
    blocks: Mapping[str, bytes] = field(init=False, repr=False)
    """Every block by CID text, in CAR order: commit, MST nodes, records."""

    def __post_init__(self) -> None:
        """Index the blocks by CID text."""
        index = {str(cid): data for cid, data in self._order}
        object.__setattr__(self, "blocks", MappingProxyType(index))

    @property
    def record_count(self) -> int:
        """Number of records (paths) in the repository."""
        return len(self.record_cids)

    @property
    def collections(self) -> tuple[str, ...]:
        """The collections that hold at least one record, sorted."""
        return tuple(sorted({key.split("/", 1)[0] for key in self.record_cids}))

    @property
    def forged(self) -> bool:
        """True if the commit was signed by a key other than the account's key."""
        return self.signed_by != self.key

    def iter_blocks(self, *, omit: Collection[str] = ()) -> Iterator[tuple[Link, bytes]]:
        """``(cid, block)`` in CAR order, leaving out the CIDs (text) in ``omit``.

        Raises ValueError if ``omit`` names a CID that is not in the repository, so a scenario
        cannot silently omit nothing.
        """
        unknown = [cid for cid in omit if cid not in self.blocks]
        if unknown:
            raise ValueError(f"cannot omit blocks that are not in the repository: {unknown}")
        if not omit:
            return iter(self._order)
        skip = {Link(cid) for cid in omit}
        return ((cid, data) for cid, data in self._order if cid not in skip)

    def car_chunks(
        self, *, omit: Collection[str] = (), chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Stream the repository as a CAR v1 file (root: the commit), in chunks.

        ``omit`` lists CIDs to leave out, for a deliberately incomplete export.
        """
        blocks = self.iter_blocks(omit=omit)  # validates omit before the first chunk
        return iter_car_chunks([Link(self.commit_cid)], blocks, chunk_size=chunk_size)

    def car_bytes(self, *, omit: Collection[str] = ()) -> bytes:
        """The whole CAR v1 file in memory (small repositories, tests)."""
        return b"".join(self.car_chunks(omit=omit))


class Repository:
    """A mutable set of records for one account, from which signed snapshots are taken."""

    def __init__(self, did: str, signing_key: PrivateKey) -> None:
        """Start an empty repository for ``did``, signed with ``signing_key``."""
        error = did_syntax_error(did)
        if error is not None:
            raise ValueError(f"invalid repository DID: {error}")
        self.did = did
        self.signing_key = signing_key
        self._records: dict[str, tuple[Mapping[str, Any], Link, bytes]] = {}

    def __len__(self) -> int:
        """Number of records."""
        return len(self._records)

    def put(self, path: str, record: Mapping[str, Any]) -> str:
        """Create or replace the record at ``collection/rkey``; return its CID text."""
        error = mst_key_error(path)
        if error is not None:
            raise ValueError(error)
        if not isinstance(record, Mapping):
            raise TypeError(f"record {path} must be a mapping, not {type(record).__name__}")
        try:
            block = encode(record)
        except DagCborEncodeError as exc:
            raise ValueError(f"record {path} cannot be encoded: {exc}") from None
        cid = link_for_block(block)
        self._records[path] = (record, cid, block)
        return str(cid)

    def delete(self, path: str) -> None:
        """Remove the record at ``collection/rkey`` (KeyError if there is none)."""
        del self._records[path]

    def snapshot(self, *, rev: str | Tid, sign_with: PrivateKey | None = None) -> RepoSnapshot:
        """Build the MST, sign a commit at ``rev`` and return the snapshot.

        ``sign_with`` signs the commit with a *different* key than the repository's own, which
        forges it (for broken-export scenarios); by default the repository's key signs.
        """
        keys = sorted(self._records)
        record_links = {key: self._records[key][1] for key in keys}
        tree = build_mst(record_links)
        signer = self.signing_key if sign_with is None else sign_with
        commit = UnsignedCommit(did=self.did, data=tree.root, rev=str(rev)).sign(signer)
        commit_cid, commit_block = commit.block()
        order: list[tuple[Link, bytes]] = [(commit_cid, commit_block), *tree.nodes]
        seen = {commit_cid, *(cid for cid, _ in tree.nodes)}
        for key in keys:
            _, cid, block = self._records[key]
            if cid not in seen:
                seen.add(cid)
                order.append((cid, block))
        return RepoSnapshot(
            did=self.did,
            rev=str(rev),
            commit=commit,
            commit_cid=str(commit_cid),
            root=str(tree.root),
            key=self.signing_key.public_key,
            signed_by=signer.public_key,
            records=MappingProxyType({key: self._records[key][0] for key in keys}),
            record_cids=MappingProxyType({key: str(cid) for key, cid in record_links.items()}),
            mst_node_cids=tuple(str(cid) for cid, _ in tree.nodes),
            _order=tuple(order),
        )


def build_repository(
    did: str,
    signing_key: PrivateKey,
    records: Mapping[str, Mapping[str, Any]],
    *,
    rev: str | Tid,
    sign_with: PrivateKey | None = None,
) -> RepoSnapshot:
    """Build a repository for ``did`` holding ``records`` (key ``collection/rkey``) at ``rev``.

    The commit is signed with ``signing_key`` unless ``sign_with`` names another key (a forged
    commit, for broken-export scenarios).
    """
    repository = Repository(did, signing_key)
    for path, record in records.items():
        repository.put(path, record)
    return repository.snapshot(rev=rev, sign_with=sign_with)

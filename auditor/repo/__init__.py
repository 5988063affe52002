"""Real AT Protocol repositories: records, Merkle Search Tree, signed commit, CAR export.

This is the *writer* side, used by the in-process sandbox network so that its PDS hosts serve
repositories an independent implementation would accept (spec: repository). A deliberately small
reader (:func:`iter_car`, :func:`iter_mst`) exists for tests and tools; verification with reasons
fit for a report belongs elsewhere.

Modules, each named for what it does:

* :mod:`~auditor.repo.cid` - CIDv1 (sha2-256; dag-cbor and raw codecs) and :class:`Link`;
* :mod:`~auditor.repo.dagcbor` - strict DAG-CBOR encoding where links and bytes cannot mix;
* :mod:`~auditor.repo.tid` - timestamp identifiers (commit revs, record keys);
* :mod:`~auditor.repo.mst` - the Merkle Search Tree;
* :mod:`~auditor.repo.car` - CAR v1 streaming writer and reader;
* :mod:`~auditor.repo.commit` - version-3 commits and their signatures;
* :mod:`~auditor.repo.builder` - whole repositories and their exports.

Links inside values are :class:`Link` objects (a ``bytes`` subclass holding the binary CID); see
:mod:`auditor.repo.cid` for why a plain ``bytes`` or a CID string will not do.
"""

from __future__ import annotations

from auditor.repo.builder import Repository, RepoSnapshot, blob_ref, build_repository
from auditor.repo.car import (
    CAR_MEDIA_TYPE,
    CarFormatError,
    iter_car,
    iter_car_chunks,
    write_car,
)
from auditor.repo.cid import (
    CidFormatError,
    Link,
    cid_for_dag_cbor,
    cid_for_raw,
    cid_matches,
    link,
)
from auditor.repo.commit import COMMIT_VERSION, SignedCommit, UnsignedCommit
from auditor.repo.dagcbor import DagCborEncodeError, from_json, to_json
from auditor.repo.mst import MstTree, build_mst, iter_mst, key_height
from auditor.repo.tid import Tid, TidClock, is_valid_tid

__all__ = [
    "CAR_MEDIA_TYPE",
    "COMMIT_VERSION",
    "CarFormatError",
    "CidFormatError",
    "DagCborEncodeError",
    "Link",
    "MstTree",
    "RepoSnapshot",
    "Repository",
    "SignedCommit",
    "Tid",
    "TidClock",
    "UnsignedCommit",
    "blob_ref",
    "build_mst",
    "build_repository",
    "cid_for_dag_cbor",
    "cid_for_raw",
    "cid_matches",
    "from_json",
    "is_valid_tid",
    "iter_car",
    "iter_car_chunks",
    "iter_mst",
    "key_height",
    "link",
    "to_json",
    "write_car",
]

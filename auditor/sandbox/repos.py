"""What sandbox accounts have posted: deterministic records and blobs, built into real repositories.

Records follow the ``app.bsky`` lexicons closely enough to be what a client wrote: a profile with
an avatar blob, posts with TID record keys, follows. Everything derives from the account's name and
the sandbox clock, so the same version always builds the same repository, byte for byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from auditor.crypto import PrivateKey
from auditor.repo import RepoSnapshot, blob_ref, build_repository
from auditor.repo.cid import cid_for_raw
from auditor.repo.tid import Tid
from auditor.sandbox.clock import SANDBOX_NOW, stamp

PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def _avatar(name: str) -> bytes:
    """A small deterministic "image" (a PNG signature and seeded bytes; never decoded)."""
    seed = hashlib.sha256(f"avatar/{name}".encode()).digest()
    return PNG_HEADER + seed * 64


@dataclass(frozen=True)
class RepoContent:
    """The records and blobs of one account."""

    name: str
    display_name: str
    description: str
    created: datetime
    posts: int = 12
    long_posts: bool = False
    follows: tuple[str, ...] = ()
    blobs: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    @classmethod
    def sample(
        cls,
        name: str,
        *,
        created: datetime,
        posts: int = 12,
        long_posts: bool = False,
        display_name: str | None = None,
        description: str | None = None,
    ) -> RepoContent:
        avatar = _avatar(name)
        return cls(
            name=name,
            display_name=display_name or name.capitalize(),
            description=description or f"{name.capitalize()}'s sandbox account.",
            created=created,
            posts=posts,
            long_posts=long_posts,
            blobs={cid_for_raw(avatar): (avatar, "image/png")},
        )

    def records(self, *, drop_last: int = 0) -> dict[str, dict[str, Any]]:
        """Every record by ``collection/rkey`` (``drop_last`` leaves out the newest posts)."""
        avatar = next(iter(self.blobs.values()))
        records: dict[str, dict[str, Any]] = {
            "app.bsky.actor.profile/self": {
                "$type": "app.bsky.actor.profile",
                "displayName": self.display_name,
                "description": self.description,
                "avatar": blob_ref(*avatar),
                "createdAt": stamp(self.created),
            }
        }
        span = max(1.0, (SANDBOX_NOW - self.created).total_seconds() - 3600)
        count = max(0, self.posts - drop_last)
        filler = " Sandbox text for a large repository." * 12 if self.long_posts else ""
        for index in range(count):
            at = self.created + timedelta(seconds=span * index / max(1, self.posts))
            rkey = str(Tid.from_datetime(at, clock_id=index % 1024))
            records[f"app.bsky.feed.post/{rkey}"] = {
                "$type": "app.bsky.feed.post",
                "text": f"Post {index + 1} from {self.display_name}.{filler}",
                "langs": ["en"],
                "createdAt": stamp(at),
            }
        return records

    def rev(self, *, earlier: timedelta = timedelta(0)) -> Tid:
        return Tid.from_datetime(SANDBOX_NOW - timedelta(hours=1) - earlier)


def build_repo(did: str, signing: PrivateKey, content: RepoContent) -> RepoSnapshot:
    """The account's repository, signed with its ``#atproto`` key."""
    return build_repository(did, signing, content.records(), rev=content.rev())


def older_head(did: str, signing: PrivateKey, content: RepoContent) -> tuple[str, str]:
    """(commit CID, rev) of the repository as it was before its three newest posts."""
    snapshot = build_repository(
        did, signing, content.records(drop_last=3), rev=content.rev(earlier=timedelta(days=2))
    )
    return snapshot.commit_cid, snapshot.rev


def broken_export(
    did: str, wrong_key: PrivateKey, content: RepoContent
) -> Callable[[RepoSnapshot], Iterator[bytes]]:
    """An export whose commit is signed by ``wrong_key`` and that lacks one MST node."""

    def export(repo: RepoSnapshot) -> Iterator[bytes]:
        forged = build_repository(did, wrong_key, content.records(), rev=repo.rev)
        missing = forged.mst_node_cids[-1:]  # a leaf-level node: the tree cannot be walked fully
        return forged.car_chunks(omit=missing)

    return export

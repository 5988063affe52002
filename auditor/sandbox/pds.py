"""A PDS host: the account's repository (a real CAR), blobs, status and server description.

Shapes and errors follow the reference PDS (``@atproto/pds`` 0.5.35, audited on loopback by
``tests/reference``): XRPC errors are 400 with a name (``RepoNotFound``, ``RepoDeactivated``,
``RepoTakendown``, ``RepoSuspended``), also from ``describeRepo``; ``getRepoStatus`` of an inactive
account is 200 with ``active: false`` and a ``status``; a missing blob is 400 ``InvalidRequest``
(not the lexicon's ``BlobNotFound``); a missing parameter is 400 ``InvalidRequest`` naming the
method; ``listBlobs`` and ``listRepos`` return a cursor with every non-empty page (clients page
until an empty one); ``describeServer`` carries ``blobUploadLimit``, ``links`` and ``contact``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from auditor.repo import RepoSnapshot
from auditor.sandbox.http import Router, json_response, param, text_response, xrpc_error

LIST_MAX = 1000
BLOB_UPLOAD_LIMIT = 5 * 1024 * 1024
"""The reference PDS's default ``blobUploadLimit`` (``PDS_BLOB_UPLOAD_LIMIT`` unset)."""


@dataclass
class Blob:
    data: bytes
    mime: str


@dataclass
class HostedAccount:
    """One account on a PDS. The repository is built on first use (``large-repo`` stays lazy)."""

    did: str
    handle: str
    build_repo: Callable[[], RepoSnapshot]
    blobs: dict[str, Blob] = field(default_factory=dict)
    status: str | None = None
    """None when active; else ``deactivated``, ``takendown``, ``suspended``..."""
    export: Callable[[RepoSnapshot], Iterator[bytes]] | None = None
    """Override of the CAR stream (a deliberately broken export)."""
    _repo: RepoSnapshot | None = None

    @property
    def repo(self) -> RepoSnapshot:
        if self._repo is None:
            self._repo = self.build_repo()
        return self._repo


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)  # let other sandbox hosts answer while a large CAR streams


_STATUS_ERRORS = {
    "deactivated": "RepoDeactivated",
    "takendown": "RepoTakendown",
    "suspended": "RepoSuspended",
}


@dataclass
class Pds:
    """A PDS at ``https://<hostname>``."""

    hostname: str
    user_domains: list[str]
    version: str = "0.4.204"
    invite_required: bool = True
    documents: Callable[[str], dict[str, Any] | None] = lambda did: None
    """Resolves a DID to its document (describeRepo embeds it)."""
    accounts: dict[str, HostedAccount] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    _by_handle: dict[str, HostedAccount] = field(default_factory=dict, init=False, repr=False)
    """Accounts by handle, for ``/.well-known/atproto-did`` (a scan was 2 % of a 100,000-account
    sandbox's CPU)."""

    @property
    def url(self) -> str:
        return f"https://{self.hostname}"

    def host(self, account: HostedAccount) -> None:
        self.accounts[account.did] = account
        self._by_handle[account.handle.lower()] = account

    def _account(self, request: httpx.Request, name: str = "did") -> HostedAccount | httpx.Response:
        value = param(request, name)
        if not value:
            nsid = request.url.path.rsplit("/", 1)[-1]
            return xrpc_error(
                400, "InvalidRequest", f'Invalid {nsid} params: Missing required key "{name}"'
            )
        account = self.accounts.get(value) or next(
            (a for a in self.accounts.values() if a.handle == value), None
        )
        if account is None:
            return xrpc_error(400, "RepoNotFound", f"Could not find repo for DID: {value}")
        return account

    def _available(
        self, request: httpx.Request, name: str = "did"
    ) -> HostedAccount | httpx.Response:
        found = self._account(request, name)
        if isinstance(found, HostedAccount) and found.status in _STATUS_ERRORS:
            return xrpc_error(
                400, _STATUS_ERRORS[found.status], f"Repo has been {found.status}: {found.did}"
            )
        return found

    async def health(self, request: httpx.Request) -> httpx.Response:
        return json_response({"version": self.version})

    async def describe_server(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = {
            "did": f"did:web:{self.hostname}",
            "availableUserDomains": self.user_domains,
            "inviteCodeRequired": self.invite_required,
            "blobUploadLimit": BLOB_UPLOAD_LIMIT,
            "links": self.links,
            "contact": {},
        }
        return json_response(body)

    async def describe_repo(self, request: httpx.Request) -> httpx.Response:
        found = self._available(request, "repo")
        if not isinstance(found, HostedAccount):
            return found
        document = self.documents(found.did)
        claimed = (document or {}).get("alsoKnownAs", [])
        return json_response(
            {
                "handle": found.handle,
                "did": found.did,
                "didDoc": document or {},
                "collections": found.repo.collections,
                "handleIsCorrect": f"at://{found.handle}" in claimed[:1],
            }
        )

    async def get_repo(self, request: httpx.Request) -> httpx.Response:
        found = self._available(request)
        if not isinstance(found, HostedAccount):
            return found
        repo = found.repo
        chunks = found.export(repo) if found.export else repo.car_chunks()
        return httpx.Response(
            200, content=_stream(chunks), headers={"content-type": "application/vnd.ipld.car"}
        )

    async def latest_commit(self, request: httpx.Request) -> httpx.Response:
        found = self._available(request)
        if not isinstance(found, HostedAccount):
            return found
        return json_response({"cid": found.repo.commit_cid, "rev": found.repo.rev})

    async def repo_status(self, request: httpx.Request) -> httpx.Response:
        found = self._account(request)
        if not isinstance(found, HostedAccount):
            return found
        body: dict[str, Any] = {"did": found.did, "active": found.status is None}
        if found.status is None:
            body["rev"] = found.repo.rev
        else:
            body["status"] = found.status
        return json_response(body)

    async def list_blobs(self, request: httpx.Request) -> httpx.Response:
        found = self._available(request)
        if not isinstance(found, HostedAccount):
            return found
        try:
            limit = min(int(param(request, "limit") or 500), LIST_MAX)
        except ValueError:
            return xrpc_error(400, "InvalidRequest", "limit must be an integer")
        cids = sorted(found.blobs)
        cursor = param(request, "cursor")
        if cursor:
            cids = [c for c in cids if c > cursor]
        page = cids[:limit]
        body: dict[str, Any] = {"cids": page}
        if page:  # as the reference PDS: a cursor with every non-empty page
            body["cursor"] = page[-1]
        return json_response(body)

    async def get_blob(self, request: httpx.Request) -> httpx.Response:
        found = self._available(request)
        if not isinstance(found, HostedAccount):
            return found
        blob = found.blobs.get(param(request, "cid") or "")
        if blob is None:  # the lexicon names BlobNotFound; the reference PDS sends this
            return xrpc_error(400, "InvalidRequest", "Blob not found")
        return httpx.Response(200, content=blob.data, headers={"content-type": blob.mime})

    async def list_repos(self, request: httpx.Request) -> httpx.Response:
        dids = sorted(self.accounts)
        cursor = param(request, "cursor")
        if cursor:
            dids = [d for d in dids if d > cursor]
        try:
            limit = min(int(param(request, "limit") or 500), LIST_MAX)
        except ValueError:
            return xrpc_error(400, "InvalidRequest", "limit must be an integer")
        page = dids[:limit]
        repos = []
        for did in page:
            account = self.accounts[did]
            entry: dict[str, Any] = {
                "did": did,
                "head": account.repo.commit_cid,
                "rev": account.repo.rev,
                "active": account.status is None,
            }
            if account.status:
                entry["status"] = account.status
            repos.append(entry)
        body: dict[str, Any] = {"repos": repos}
        if page:  # as the reference PDS: a cursor with every non-empty page
            body["cursor"] = page[-1]
        return json_response(body)

    async def well_known(self, request: httpx.Request) -> httpx.Response:
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        account = self._by_handle.get(host)
        if account is None or account.handle.lower() != host or account.status is not None:
            return text_response("User not found", 404)
        return text_response(account.did)

    def app(self) -> Router:
        """The PDS as a sandbox host app."""
        router = Router()
        routes = {
            "/xrpc/_health": self.health,
            "/xrpc/com.atproto.server.describeServer": self.describe_server,
            "/xrpc/com.atproto.repo.describeRepo": self.describe_repo,
            "/xrpc/com.atproto.sync.getRepo": self.get_repo,
            "/xrpc/com.atproto.sync.getLatestCommit": self.latest_commit,
            "/xrpc/com.atproto.sync.getRepoStatus": self.repo_status,
            "/xrpc/com.atproto.sync.listBlobs": self.list_blobs,
            "/xrpc/com.atproto.sync.getBlob": self.get_blob,
            "/xrpc/com.atproto.sync.listRepos": self.list_repos,
            "/.well-known/atproto-did": self.well_known,
        }
        for path, route in routes.items():
            router.get(path, route)
        return router

"""A relay: which accounts it carries, at which revision, and which PDS hosts it crawls.

Endpoints follow indigo's ``cmd/relay`` (Sync 1.1): ``getRepoStatus``, ``getLatestCommit``,
``listHosts``, ``getHostStatus``, ``requestCrawl``. An account the relay never crawled is 400
``RepoNotFound`` (atproto issue #5119 shows bsky.network answering exactly that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from auditor.sandbox.http import Router, json_response, param, xrpc_error

Head = tuple[str, str]
"""(commit CID, rev)."""


@dataclass
class Carriage:
    """What a relay holds for one account."""

    head: Callable[[], Head]
    """The commit the relay last saw: the PDS's current one, or an older one when stale."""
    status: str | None = None
    """None when active at this relay; ``takendown`` etc. when the relay acts on its own."""


@dataclass
class HostRecord:
    seq: int
    account_count: int
    status: str = "active"


@dataclass
class Relay:
    """A relay at ``https://<hostname>``."""

    hostname: str
    carried: dict[str, Carriage] = field(default_factory=dict)
    hosts: dict[str, HostRecord] = field(default_factory=dict)
    crawl_requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{self.hostname}"

    def carry(self, did: str, carriage: Carriage, pds_host: str) -> None:
        self.carried[did] = carriage
        record = self.hosts.setdefault(
            pds_host, HostRecord(seq=1000 + 17 * len(self.hosts), account_count=0)
        )
        record.account_count += 1

    def _carriage(self, request: httpx.Request) -> tuple[str, Carriage] | httpx.Response:
        did = param(request, "did")
        if not did:
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "did"')
        carriage = self.carried.get(did)
        if carriage is None:
            return xrpc_error(400, "RepoNotFound", f"repo not found: {did}")
        return did, carriage

    async def repo_status(self, request: httpx.Request) -> httpx.Response:
        found = self._carriage(request)
        if isinstance(found, httpx.Response):
            return found
        did, carriage = found
        body: dict[str, Any] = {"did": did, "active": carriage.status is None}
        if carriage.status is None:
            body["rev"] = carriage.head()[1]
        else:
            body["status"] = carriage.status
        return json_response(body)

    async def latest_commit(self, request: httpx.Request) -> httpx.Response:
        found = self._carriage(request)
        if isinstance(found, httpx.Response):
            return found
        did, carriage = found
        if carriage.status == "takendown":
            return xrpc_error(400, "RepoTakendown", f"repo has been taken down: {did}")
        cid, rev = carriage.head()
        return json_response({"cid": cid, "rev": rev})

    async def list_hosts(self, request: httpx.Request) -> httpx.Response:
        names = sorted(self.hosts)
        cursor = param(request, "cursor")
        if cursor:
            names = [n for n in names if n > cursor]
        try:
            limit = min(int(param(request, "limit") or 200), 1000)
        except ValueError:
            return xrpc_error(400, "InvalidRequest", "limit must be an integer")
        page = names[:limit]
        body: dict[str, Any] = {
            "hosts": [
                {
                    "hostname": name,
                    "seq": self.hosts[name].seq,
                    "accountCount": self.hosts[name].account_count,
                    "status": self.hosts[name].status,
                }
                for name in page
            ]
        }
        if len(names) > limit:
            body["cursor"] = page[-1]
        return json_response(body)

    async def host_status(self, request: httpx.Request) -> httpx.Response:
        name = param(request, "hostname") or ""
        record = self.hosts.get(name)
        if record is None:
            return xrpc_error(400, "HostNotFound", f"host not found: {name}")
        return json_response(
            {
                "hostname": name,
                "seq": record.seq,
                "accountCount": record.account_count,
                "status": record.status,
            }
        )

    async def request_crawl(self, request: httpx.Request) -> httpx.Response:
        return await accept_crawl_request(request, self.crawl_requests)

    async def health(self, request: httpx.Request) -> httpx.Response:
        return json_response({"status": "ok"})

    def app(self) -> Router:
        router = Router()
        router.get("/xrpc/_health", self.health)
        router.get("/xrpc/com.atproto.sync.getRepoStatus", self.repo_status)
        router.get("/xrpc/com.atproto.sync.getLatestCommit", self.latest_commit)
        router.get("/xrpc/com.atproto.sync.listHosts", self.list_hosts)
        router.get("/xrpc/com.atproto.sync.getHostStatus", self.host_status)
        router.post("/xrpc/com.atproto.sync.requestCrawl", self.request_crawl)
        return router


async def accept_crawl_request(request: httpx.Request, received: list[str]) -> httpx.Response:
    """``com.atproto.sync.requestCrawl``: note the ``hostname`` of its JSON body in ``received``
    (400 ``InvalidRequest`` for any other body), as a relay does before crawling."""
    await request.aread()
    try:
        hostname = httpx.Response(200, content=request.content).json()["hostname"]
    except (ValueError, KeyError, TypeError):
        return xrpc_error(400, "InvalidRequest", 'body must be {"hostname": ...}')
    received.append(str(hostname))
    return json_response({})

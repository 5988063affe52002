"""A stub relay (and PLC read mirror) for the reference network: what no reference implementation
gives us here.

The reference relays are Go and Rust programs that do not install from the registries these
machines reach, so the harness runs this stand-in on loopback. It does what decaudit asks a relay
and what the PDS asks of one, without a firehose:

* ``getRepoStatus`` and ``getLatestCommit`` are answered by the PDS itself (proxied): the PDS
  answers in the relay's lexicon shapes, so the relay "carries" every account exactly as the PDS
  holds it, status and errors included;
* ``requestCrawl`` records the hostname (the PDS calls it on its first write: a truth the tests
  check), and ``listHosts`` / ``getHostStatus`` report the hosts that asked.

The same object serves a PLC read mirror (:meth:`StubRelay.mirror_app`): every ``/{did}...`` read
is answered by the reference PLC directory, as a replica that has caught up would answer, so
decaudit's mirror comparison runs on real PLC data instead of on default mirrors it could not reach.

Both are :class:`~auditor.sandbox.http.Router` apps served by the sandbox's own loopback HTTP
server (:class:`~auditor.sandbox.http_server.SandboxHttpServer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from auditor.sandbox.http import Router, json_response, param, xrpc_error
from auditor.sandbox.relay import accept_crawl_request

PROXIED = ("com.atproto.sync.getRepoStatus", "com.atproto.sync.getLatestCommit")


@dataclass
class StubRelay:
    """Relay endpoints over the PDS at :attr:`pds_api`, a mirror of :attr:`plc_api` (both set
    once the harness is up)."""

    pds_api: str | None = None
    plc_api: str | None = None
    crawl_requests: list[str] = field(default_factory=list)
    _client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, timeout=10.0)
        return self._client

    async def _proxy(self, request: httpx.Request) -> httpx.Response:
        return await self._forward(self.pds_api, request)

    async def _mirror(self, request: httpx.Request) -> httpx.Response:
        return await self._forward(self.plc_api, request)

    async def _forward(self, base: str | None, request: httpx.Request) -> httpx.Response:
        if base is None:
            return xrpc_error(503, "NotReady", "the stub has no upstream yet")
        # raw_path keeps a did:web's %3A encoded as it arrived
        url = httpx.URL(base).copy_with(raw_path=request.url.raw_path)
        upstream = await self._http().get(url)
        content_type = upstream.headers.get("content-type", "application/json")
        return httpx.Response(
            upstream.status_code, content=upstream.content, headers={"content-type": content_type}
        )

    def _host(self, name: str) -> dict[str, Any]:
        return {
            "hostname": name,
            "seq": 1000 + self.crawl_requests.index(name),
            "accountCount": 0,  # not tracked: the stub has no firehose
            "status": "active",
        }

    async def list_hosts(self, request: httpx.Request) -> httpx.Response:
        names = sorted(set(self.crawl_requests))
        return json_response({"hosts": [self._host(name) for name in names]})

    async def host_status(self, request: httpx.Request) -> httpx.Response:
        name = param(request, "hostname") or ""
        if name not in self.crawl_requests:
            return xrpc_error(400, "HostNotFound", f"host not found: {name}")
        return json_response(self._host(name))

    async def request_crawl(self, request: httpx.Request) -> httpx.Response:
        return await accept_crawl_request(request, self.crawl_requests)

    async def health(self, request: httpx.Request) -> httpx.Response:
        return json_response({"status": "ok"})

    def app(self) -> Router:
        router = Router()
        router.get("/xrpc/_health", self.health)
        for nsid in PROXIED:
            router.get(f"/xrpc/{nsid}", self._proxy)
        router.get("/xrpc/com.atproto.sync.listHosts", self.list_hosts)
        router.get("/xrpc/com.atproto.sync.getHostStatus", self.host_status)
        router.post("/xrpc/com.atproto.sync.requestCrawl", self.request_crawl)
        return router

    def mirror_app(self) -> Router:
        router = Router()
        router.get_prefix("/did:", self._mirror)
        return router

"""An in-test network: respx routes plus a :class:`StaticResolver`, built up per test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import respx

from auditor.api import gather
from auditor.models.evidence import Evidence
from auditor.net.dns import StaticResolver
from auditor.sandbox.identities import PlcIdentity
from auditor.session import Session
from auditor.settings import AuditSettings

PUBLIC_IP = "93.184.216.34"  # a public address; respx answers before any socket is opened
COLLECTED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeNet:
    """Routes and DNS records for one test; ``gather`` runs the real pipeline over them."""

    router: respx.MockRouter
    txt: dict[str, list[str]] = field(default_factory=dict)
    addresses: dict[str, list[str]] = field(default_factory=dict)
    plc_url: str = "https://plc.directory"

    def host(self, name: str, address: str = PUBLIC_IP) -> None:
        """Make ``name`` resolve (A record), as every real HTTPS host does."""
        self.addresses.setdefault(name, [address])

    def route(self, url: str, **response: Any) -> respx.Route:
        """Answer GET ``url`` (query ignored) with an ``httpx.Response(**response)``."""
        self.host(httpx.URL(url).host)
        response.setdefault("status_code", 200)
        return self.router.get(url__startswith=url).mock(return_value=httpx.Response(**response))

    def plc(self, identity: PlcIdentity) -> None:
        """Serve a did:plc identity from the PLC directory (document and audit log)."""
        self.route(f"{self.plc_url}/{identity.did}/log/audit", json=identity.entries)
        self.router.get(f"{self.plc_url}/{identity.did}").mock(
            return_value=httpx.Response(
                200,
                json=identity.document(),
                headers={"content-type": "application/did+ld+json"},
            )
        )

    def handle_dns(self, handle: str, *values: str) -> None:
        self.txt[f"_atproto.{handle}"] = list(values)

    def handle_https(self, handle: str, body: str, status: int = 200) -> None:
        self.route(f"https://{handle}/.well-known/atproto-did", status_code=status, text=body)

    def pds(self, endpoint: str, version: str = "0.4.204") -> None:
        self.route(f"{endpoint}/xrpc/_health", json={"version": version})

    def account(self, identity: PlcIdentity, *, dns: bool = True, https: bool = True) -> None:
        """A well-formed account: PLC entries, handle proofs, a live PDS."""
        self.plc(identity)
        if dns:
            self.handle_dns(identity.handle, f"did={identity.did}")
        if https:
            self.handle_https(identity.handle, identity.did)
        else:
            self.handle_https(identity.handle, "not found", status=404)
        self.host(identity.handle)
        self.pds(identity.pds)

    @property
    def resolver(self) -> StaticResolver:
        return StaticResolver(txt=self.txt, addresses=self.addresses)

    def gather(self, target: str, **settings: Any) -> Evidence:
        """Run the real gatherer over this network."""
        # Only what a test routes is consulted: no default relays, mirrors, AppViews, labelers or
        # export unless the test asks for them.
        quiet = {
            "relays": [],
            "plc_mirrors": [],
            "appviews": [],
            "labelers": [],
            "skip_export": True,
        }
        audit_settings = AuditSettings(plc_url=self.plc_url, **{**quiet, **settings})

        async def run() -> Evidence:
            async with Session.open(audit_settings, resolver=self.resolver) as session:
                return await gather(target, session=session, now=COLLECTED_AT)

        return asyncio.run(run())

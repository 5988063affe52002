"""Whole audits over real sockets on 127.0.0.1: a real DNS server, a real HTTP server, the real
client and resolver, and the installed ``decaudit`` command with its override options."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import anyio
import pytest

from auditor.api import gather
from auditor.crypto import PrivateKey
from auditor.models.common import FailureKind, ProbeFailure
from auditor.sandbox.identities import PlcIdentity
from auditor.settings import AuditSettings
from tests.net.conftest import FakeDnsServer, LoopbackHttpServer, SeenRequest, respond

pytestmark = [pytest.mark.anyio, pytest.mark.network]


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def serve_account(server: LoopbackHttpServer, identity: PlcIdentity) -> None:
    server.routes[f"/{identity.did}"] = respond(
        200, body(identity.document()), content_type="application/did+ld+json"
    )
    server.routes[f"/{identity.did}/log/audit"] = respond(200, body(identity.entries))
    server.routes["/.well-known/atproto-did"] = respond(
        200, identity.did.encode(), content_type="text/plain"
    )
    server.routes["/xrpc/_health"] = respond(200, b'{"version":"0.4.204"}')


def overrides(server: LoopbackHttpServer, dns_address: str) -> dict[str, object]:
    origin = server.origin
    return {
        "plc_url": "https://plc.test",
        "nameservers": [dns_address],
        "connect_to": {"plc.test": origin, "alice.test": origin, "pds.test": origin},
        "allow_private": True,
    }


def command_line(server: LoopbackHttpServer, dns: FakeDnsServer, *extra: str) -> list[str]:
    """``decaudit check alice.test`` with every host sent to the loopback server."""
    origin = server.origin
    return [
        sys.executable, "-m", "auditor", "check", "alice.test", "--format", "json",
        "--plc-url", "https://plc.test", "--nameserver", dns.address,
        "--connect-to", f"plc.test={origin}",
        "--connect-to", f"alice.test={origin},pds.test={origin}",
        *extra,
    ]  # fmt: skip


@pytest.fixture
def alice(dns_server: FakeDnsServer) -> PlcIdentity:
    identity = PlcIdentity("alice.test", "https://pds.test", [PrivateKey.generate("k256")])
    dns_server.zone[("_atproto.alice.test.", "TXT")] = [f'"did={identity.did}"']
    dns_server.names.add("_atproto.alice.test.")
    return identity


async def test_gather_over_real_dns_and_http(
    http_server: LoopbackHttpServer, dns_server: FakeDnsServer, alice: PlcIdentity
) -> None:
    serve_account(http_server, alice)
    settings = AuditSettings.model_validate(overrides(http_server, dns_server.address))
    evidence = await gather("alice.test", settings=settings)
    assert evidence.unresolved_reason is None
    assert evidence.did == alice.did
    assert ("_atproto.alice.test.", "TXT") in dns_server.queries
    # the Host header names the host the protocol asked for, not the loopback address
    hosts = {r.headers["host"] for r in http_server.seen}
    assert hosts == {"plc.test", "alice.test", "pds.test"}


async def test_a_stalled_directory_cannot_outlast_the_deadline(
    http_server: LoopbackHttpServer, dns_server: FakeDnsServer, alice: PlcIdentity
) -> None:
    serve_account(http_server, alice)

    async def stall(request: SeenRequest, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    http_server.routes[f"/{alice.did}"] = stall
    settings = AuditSettings.model_validate(
        {**overrides(http_server, dns_server.address), "timeout": 30.0, "deadline": 1.5}
    )
    start = time.monotonic()
    evidence = await gather("alice.test", settings=settings)
    assert time.monotonic() - start < 4.0
    assert isinstance(evidence.did_document, ProbeFailure)
    assert evidence.did_document.kind is FailureKind.DEADLINE
    assert evidence.unresolved_reason is not None


async def test_the_command_line_audits_over_sockets(
    http_server: LoopbackHttpServer, dns_server: FakeDnsServer, alice: PlcIdentity
) -> None:
    serve_account(http_server, alice)
    argv = command_line(http_server, dns_server, "--allow-private")
    result = await anyio.run_process(argv, check=False)
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["handle_verified"] is True
    assert report["did"] == alice.did
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses["plc-log-integrity"] == "pass"


async def test_without_allow_private_loopback_is_refused(
    http_server: LoopbackHttpServer, dns_server: FakeDnsServer, alice: PlcIdentity
) -> None:
    serve_account(http_server, alice)
    argv = command_line(http_server, dns_server)
    result = await anyio.run_process(argv, check=False)
    assert result.returncode == 3
    report = json.loads(result.stdout)
    assert report["evidence"]["did_document"]["kind"] == "blocked_address"
    assert http_server.seen == []

"""Gather a Matrix account: discover its homeserver, ask the federation and client APIs.

Discovery is sequential by nature (the well-known file decides which SRV name to ask); after it,
the federation version, the signed server keys, the client discovery file, the client versions
and the public profile are asked concurrently. Server-level answers are shared across a batch.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, TypeAlias
from urllib.parse import quote

from auditor.gather.context import GatherContext, elapsed_ms, json_answer, lookup_srv, shared_json
from auditor.matrix.discovery import (
    DEFAULT_PORT,
    ServerName,
    base_url,
    client_base,
    delegation,
    pick_srv,
    server_name_of,
    split_server_name,
)
from auditor.models.common import ProbeFailure
from auditor.models.evidence import JsonAnswer, NotCollected
from auditor.models.matrix import MatrixProbes
from auditor.models.slots import SrvAnswer, SrvRecord, failure_text

JsonProbe: TypeAlias = JsonAnswer | ProbeFailure
Slot: TypeAlias = JsonAnswer | ProbeFailure | NotCollected
SrvProbe: TypeAlias = SrvAnswer | ProbeFailure | NotCollected


SRV_SERVICES = ("_matrix-fed._tcp", "_matrix._tcp")
"""The current SRV service, then the one deprecated in v1.8, which the spec still asks after."""


async def _srv(ctx: GatherContext, name: str) -> SrvProbe:
    start = time.perf_counter()
    found = await lookup_srv(ctx, name)
    if isinstance(found, ProbeFailure):
        return found
    records = [SrvRecord(priority=p, weight=w, port=port, target=t) for p, w, port, t in found]
    return SrvAnswer(name=name, records=records, elapsed_ms=elapsed_ms(start))


async def _by_srv(
    ctx: GatherContext, host: ServerName, steps: list[str]
) -> tuple[SrvProbe, str, str | None]:
    """SRV for ``host`` (the current service, then the deprecated one), else ``host:8448``;
    with the name to present to an SRV target (``host`` itself: the spec's Host and TLS name)."""
    srv: SrvProbe = NotCollected(reason="not asked")
    for service in SRV_SERVICES:
        srv = await _srv(ctx, f"{service}.{host.host}")
        if isinstance(srv, SrvAnswer):
            chosen = pick_srv([(r.priority, r.weight, r.port, r.target) for r in srv.records])
            if chosen is not None:
                address = ServerName(chosen[3], chosen[2]).address()
                steps.append(f"SRV {srv.name} points to {address}, asked as {host.host}")
                return srv, address, host.host
        reason = srv.message if isinstance(srv, ProbeFailure) else "no usable record"
        steps.append(f"no SRV record {service}.{host.host} ({reason})")
    steps.append(f"no SRV record for {host.host}: port {DEFAULT_PORT}")
    return srv, host.address(), None


Discovery = tuple[JsonProbe | NotCollected, SrvProbe, str | None, str | None, list[str]]
"""The well-known answer, the SRV answer, the address, the name to present to it (SRV), and each
step in words."""


async def discover(ctx: GatherContext, server_name: str) -> Discovery:
    """Where federation requests for ``server_name`` go, and each step that decided it."""
    steps: list[str] = []
    name = split_server_name(server_name)
    skipped = NotCollected(reason="not asked: the server name decides by itself")
    if name is None:
        steps.append(f"{server_name!r} is not a server name")
        return skipped, skipped, None, None, steps
    if name.is_ip or name.port is not None:
        steps.append(f"{server_name} names its address itself (an IP literal or a port)")
        return skipped, skipped, name.address(), None, steps
    url = f"https://{name.host}/.well-known/matrix/server"
    well_known = await shared_json(ctx, url)
    delegated = delegation(well_known.body) if isinstance(well_known, JsonAnswer) else None
    if isinstance(delegated, ServerName):
        steps.append(f"{url} delegates to {delegated.address()}")
        if delegated.is_ip or delegated.port is not None:
            unasked = NotCollected(reason="not asked: the delegation names a port")
            return well_known, unasked, delegated.address(), None, steps
        srv, address, presented = await _by_srv(ctx, delegated, steps)
        return well_known, srv, address, presented, steps
    why = delegated if isinstance(delegated, str) else failure_text(well_known)
    steps.append(f"no delegation at {url} ({why})")
    srv, address, presented = await _by_srv(ctx, name, steps)
    return well_known, srv, address, presented, steps


async def gather_matrix(ctx: GatherContext, user_id: str) -> MatrixProbes:
    """Everything decaudit asks about a Matrix user ID; never raises for network reasons."""
    server_name = server_name_of(user_id)
    well_known, srv, address, presented, steps = await discover(ctx, server_name)
    name = split_server_name(server_name)
    host = name.host if name else server_name

    async def federation(path: str) -> Slot:
        if address is None:
            return NotCollected(reason="not asked: no federation address was found")
        url = base_url(address) + path
        return await shared_json(ctx, url, server_name=presented)

    async def client() -> tuple[
        JsonProbe | NotCollected, JsonProbe | NotCollected, JsonProbe | NotCollected
    ]:
        if name is None or name.is_ip:  # (a port does not matter: clients ask the hostname)
            skipped = NotCollected(reason="not asked: the server name has no domain to ask")
            return skipped, skipped, skipped
        url = f"https://{host}/.well-known/matrix/client"
        found = await shared_json(ctx, url)
        base = (
            client_base(found.body) if isinstance(found, JsonAnswer) else None
        ) or f"https://{host}"
        versions_url = f"{base}/_matrix/client/versions"
        versions, profile = await asyncio.gather(
            shared_json(ctx, versions_url),
            json_answer(ctx, f"{base}/_matrix/client/v3/profile/{quote(user_id, safe='')}"),
        )
        return found, versions, profile

    version, keys, (client_file, versions, profile) = await asyncio.gather(
        federation("/_matrix/federation/v1/version"), federation("/_matrix/key/v2/server"), client()
    )
    fields: dict[str, Any] = {
        "well_known_server": well_known,
        "srv": srv,
        "federation_address": address,
        "federation_server_name": presented,
        "discovery": steps,
        "federation_version": version,
        "server_keys": keys,
        "well_known_client": client_file,
        "client_versions": versions,
        "profile": profile,
    }
    return MatrixProbes(user_id=user_id, server_name=server_name, **fields)

"""The sandbox's Matrix homeservers answer as Synapse does: well-known delegation, the federation
version and a server-key response whose ed25519 signature verifies (with ``cryptography``, over
canonical JSON computed here, independently of the sandbox's own helper), the client API, Matrix
errors, non-federating servers, and SRV discovery in the zone, the in-process resolver and the
socket DNS server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import dns.asyncresolver
import dns.nameserver
import dns.rdatatype
import dns.resolver
import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditor.attribution import attribute_host
from auditor.models.common import FailureKind
from auditor.models.report import Band
from auditor.net.dns import DnsError
from auditor.sandbox.clock import SANDBOX_NOW
from auditor.sandbox.demo import audit_scenarios, default_scenarios
from auditor.sandbox.dns_server import SandboxDnsServer
from auditor.sandbox.scenarios import build_world
from auditor.sandbox.world import World
from auditor.sandbox.zone import Zone

pytestmark = pytest.mark.anyio

MATRIX = ["matrix-flagship", "matrix-own-domain", "matrix-delegated", "matrix-non-federating"]
UNRECOGNIZED = {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(MATRIX)


@pytest.fixture
def client(world: World) -> Iterator[httpx.AsyncClient]:
    yield httpx.AsyncClient(transport=world.transport())


def canonical(value: Any) -> bytes:
    """The Matrix spec's canonical JSON, written out here rather than imported."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def unbase64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def verify_server_keys(body: dict[str, Any]) -> None:
    """Raise InvalidSignature unless every verify key's signature by the server verifies."""
    server = body["server_name"]
    content = {k: v for k, v in body.items() if k not in ("signatures", "unsigned")}
    for key_id, key in body["verify_keys"].items():
        public = Ed25519PublicKey.from_public_bytes(unbase64(key["key"]))
        public.verify(unbase64(body["signatures"][server][key_id]), canonical(content))


# --- scenarios ----------------------------------------------------------------------------------


def test_scenarios_audit_to_their_designed_bands() -> None:
    """Audited, not just declared: each ID resolves and lands in its band."""
    results = asyncio.run(audit_scenarios(MATRIX, stable=True))
    found = {r.scenario: (r.report.target, r.report.band) for r in results}
    assert found == {
        "matrix-flagship": ("@alice:matrix.org", Band.HYBRID),
        "matrix-own-domain": ("@hal:hal.test", Band.DECENTRALIZED),
        "matrix-delegated": ("@ivy:ivy.test", Band.HYBRID),
        "matrix-non-federating": ("@jo:corp.test", Band.CENTRALIZED),
    }
    assert all(r.report.band == r.expected_band for r in results)


def test_in_the_demo() -> None:
    assert set(MATRIX) <= set(default_scenarios())


def test_operators_attribute_the_hosts() -> None:
    for host in ("matrix.org", "matrix-federation.matrix.org", "matrix-client.matrix.org"):
        assert attribute_host(host).operator_id == "matrix-org"
    managed = attribute_host("ivy.matrixhost.test", sandbox=True)
    assert (managed.operator_id, managed.operator_name) == ("matrixhost", "Matrixhost (sandbox)")
    assert attribute_host("matrixhost.test", sandbox=True).operator_id == "matrixhost"
    assert attribute_host("ivy.test", sandbox=True).operator_id == "ivy.test"


# --- discovery ----------------------------------------------------------------------------------


async def test_flagship_well_known_delegates(client: httpx.AsyncClient) -> None:
    async with client:
        server = await client.get("https://matrix.org/.well-known/matrix/server")
        client_file = await client.get("https://matrix.org/.well-known/matrix/client")
        site = await client.get("https://matrix.org/_matrix/key/v2/server")
    assert server.status_code == 200
    assert server.headers["content-type"] == "application/json"
    assert server.json() == {"m.server": "matrix-federation.matrix.org:443"}
    assert client_file.json() == {"m.homeserver": {"base_url": "https://matrix-client.matrix.org"}}
    assert client_file.headers["access-control-allow-origin"] == "*"
    # the server-name host is a web server, not the homeserver
    assert site.status_code == 404 and site.headers["content-type"] == "text/html"


async def test_delegated_to_a_managed_host(client: httpx.AsyncClient) -> None:
    async with client:
        server = await client.get("https://ivy.test/.well-known/matrix/server")
        client_file = await client.get("https://ivy.test/.well-known/matrix/client")
        keys = await client.get("https://ivy.matrixhost.test/_matrix/key/v2/server")
        profile = await client.get(
            "https://ivy.matrixhost.test/_matrix/client/v3/profile/%40ivy%3Aivy.test"
        )
    assert server.json() == {"m.server": "ivy.matrixhost.test:443"}
    assert client_file.json() == {"m.homeserver": {"base_url": "https://ivy.matrixhost.test"}}
    assert keys.json()["server_name"] == "ivy.test"  # the managed host speaks for ivy.test
    verify_server_keys(keys.json())
    assert profile.json() == {"displayname": "Ivy", "avatar_url": "mxc://ivy.test/IvyAvatarSandbox"}


async def test_own_domain_is_found_by_srv(world: World, client: httpx.AsyncClient) -> None:
    assert world.zone.srv("_matrix-fed._tcp.hal.test") == [(10, 0, 443, "matrix.hal.test")]
    assert world.zone.srv("_MATRIX-FED._tcp.Hal.Test.") == [(10, 0, 443, "matrix.hal.test")]
    assert world.zone.srv("_matrix-fed._tcp.matrix.org") == []
    resolver = world.zone.resolver()
    assert await resolver.srv("_matrix-fed._tcp.hal.test.", timeout=1.0) == [
        (10, 0, 443, "matrix.hal.test")
    ]
    async with client:
        server = await client.get("https://hal.test/.well-known/matrix/server")
        client_file = await client.get("https://hal.test/.well-known/matrix/client")
        # SRV discovery sends the server name as Host; the target serves the same homeserver
        by_name = await client.get("https://hal.test/_matrix/key/v2/server")
        by_target = await client.get("https://matrix.hal.test/_matrix/key/v2/server")
        versions = await client.get("https://matrix.hal.test/_matrix/client/versions")
    assert server.status_code == 404 and server.json()["errcode"] == "M_NOT_FOUND"
    assert client_file.json() == {"m.homeserver": {"base_url": "https://matrix.hal.test"}}
    assert by_name.json() == by_target.json()
    assert by_name.json()["server_name"] == "hal.test"
    verify_server_keys(by_name.json())
    assert versions.status_code == 200


async def test_resolver_srv_failures(world: World) -> None:
    resolver = world.zone.resolver()
    with pytest.raises(DnsError) as nxdomain:
        await resolver.srv("_matrix-fed._tcp.nobody.test", timeout=1.0)
    assert nxdomain.value.kind is FailureKind.DNS_NXDOMAIN
    assert nxdomain.value.rdtype == "SRV"
    with pytest.raises(DnsError) as no_answer:
        await resolver.srv("hal.test", timeout=1.0)  # the name exists (an address), no SRV
    assert no_answer.value.kind is FailureKind.DNS_NO_ANSWER
    with pytest.raises(DnsError) as srv_only:
        await resolver.txt("_matrix-fed._tcp.hal.test", timeout=1.0)
    assert srv_only.value.kind is FailureKind.DNS_NO_ANSWER
    assert ("_matrix-fed._tcp.nobody.test", "SRV") in resolver.queries


# --- federation ---------------------------------------------------------------------------------


async def test_federation_version(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.get(
            "https://matrix-federation.matrix.org/_matrix/federation/v1/version"
        )
    assert response.status_code == 200
    assert response.json() == {"server": {"name": "Synapse", "version": "1.120.2"}}


async def test_server_keys_are_really_signed(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.get("https://matrix-federation.matrix.org/_matrix/key/v2/server")
    body = response.json()
    assert response.headers["content-type"] == "application/json"
    assert body["server_name"] == "matrix.org"
    assert body["old_verify_keys"] == {}
    assert body["valid_until_ts"] == int(SANDBOX_NOW.timestamp() * 1000) + 86_400_000
    [key_id] = body["verify_keys"]
    assert key_id.startswith("ed25519:") and set(body["signatures"]) == {"matrix.org"}
    assert list(body["signatures"]["matrix.org"]) == [key_id]
    key = body["verify_keys"][key_id]["key"]
    assert "=" not in key and len(unbase64(key)) == 32
    assert "=" not in body["signatures"]["matrix.org"][key_id]
    verify_server_keys(body)
    # an `unsigned` section is not covered by the signature
    verify_server_keys({**body, "unsigned": {"note": "anything"}})


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b.update(valid_until_ts=b["valid_until_ts"] + 1),
        lambda b: b.update(
            server_name="evil.test", signatures={"evil.test": b["signatures"]["matrix.org"]}
        ),
        lambda b: b.update(old_verify_keys={"ed25519:old": {"key": "AAAA", "expired_ts": 1}}),
    ],
    ids=["valid_until_ts", "server_name", "old_verify_keys"],
)
async def test_altered_key_response_fails(client: httpx.AsyncClient, tamper: Any) -> None:
    async with client:
        body = (
            await client.get("https://matrix-federation.matrix.org/_matrix/key/v2/server")
        ).json()
    tamper(body)
    with pytest.raises(InvalidSignature):
        verify_server_keys(body)


def test_keys_are_deterministic_and_distinct(world: World) -> None:
    again = build_world(MATRIX)
    for name, homeserver in world.homeservers.items():
        assert homeserver.server_keys() == again.homeservers[name].server_keys()
    keys = {hs.verify_key for hs in world.homeservers.values()}
    assert len(keys) == len(world.homeservers)


async def test_authenticated_federation_endpoints_want_a_signature(
    client: httpx.AsyncClient,
) -> None:
    async with client:
        response = await client.get(
            "https://matrix-federation.matrix.org/_matrix/federation/v1/query/profile",
            params={"user_id": "@alice:matrix.org"},
        )
        unknown = await client.get("https://matrix-federation.matrix.org/_matrix/federation/v9/x")
    assert response.status_code == 401
    assert response.json()["errcode"] == "M_UNAUTHORIZED"
    assert (unknown.status_code, unknown.json()) == (404, UNRECOGNIZED)


async def test_roles_are_separate(client: httpx.AsyncClient) -> None:
    async with client:
        keys_on_client = await client.get("https://matrix-client.matrix.org/_matrix/key/v2/server")
        client_on_federation = await client.get(
            "https://matrix-federation.matrix.org/_matrix/client/versions"
        )
    for response in (keys_on_client, client_on_federation):
        assert (response.status_code, response.json()) == (404, UNRECOGNIZED)


# --- the client API -----------------------------------------------------------------------------


async def test_client_api(client: httpx.AsyncClient) -> None:
    base = "https://matrix-client.matrix.org/_matrix/client"
    async with client:
        versions = await client.get(f"{base}/versions")
        login = await client.get(f"{base}/v3/login")
        encoded = await client.get(f"{base}/v3/profile/%40alice%3Amatrix.org")
        plain = await client.get(f"{base}/v3/profile/@alice:matrix.org")
        name = await client.get(f"{base}/v3/profile/%40alice%3Amatrix.org/displayname")
        missing = await client.get(f"{base}/v3/profile/%40nobody%3Amatrix.org")
        remote = await client.get(f"{base}/v3/profile/%40hal%3Ahal.test")
        invalid = await client.get(f"{base}/v3/profile/alice")
        unknown = await client.get(f"{base}/v3/nowhere")
    assert versions.json() == {"versions": ["v1.11", "v1.12"], "unstable_features": {}}
    assert versions.headers["content-type"] == "application/json"
    assert login.json() == {"flows": [{"type": "m.login.password"}]}
    expected = {"displayname": "Alice", "avatar_url": "mxc://matrix.org/AliceAvatarSandbox"}
    assert encoded.json() == plain.json() == expected
    assert name.json() == {"displayname": "Alice"}
    for response in (missing, remote):
        assert response.status_code == 404
        assert response.json() == {"errcode": "M_NOT_FOUND", "error": "Profile was not found"}
    assert invalid.status_code == 400 and invalid.json()["errcode"] == "M_INVALID_PARAM"
    assert (unknown.status_code, unknown.json()) == (404, UNRECOGNIZED)


async def test_non_federating_homeserver(client: httpx.AsyncClient) -> None:
    async with client:
        server = await client.get("https://corp.test/.well-known/matrix/server")
        client_file = await client.get("https://corp.test/.well-known/matrix/client")
        version = await client.get("https://corp.test/_matrix/federation/v1/version")
        keys = await client.get("https://corp.test/_matrix/key/v2/server")
        versions = await client.get("https://corp.test/_matrix/client/versions")
        profile = await client.get("https://corp.test/_matrix/client/v3/profile/%40jo%3Acorp.test")
    assert server.status_code == 404
    assert client_file.json() == {"m.homeserver": {"base_url": "https://corp.test"}}
    for response in (version, keys):
        assert (response.status_code, response.json()) == (404, UNRECOGNIZED)
    assert versions.status_code == 200
    assert profile.json() == {"displayname": "Jo"}


def test_no_srv_for_the_others(world: World) -> None:
    for name in ("matrix.org", "ivy.test", "corp.test"):
        assert world.zone.srv(f"_matrix-fed._tcp.{name}") == []


# --- SRV over the socket DNS server -------------------------------------------------------------


@pytest.mark.network
async def test_dns_server_answers_srv(anyio_backend: str) -> None:
    zone = Zone()
    zone.add_srv("_matrix-fed._tcp.hal.test", 10, 5, 443, "matrix.hal.test.")
    zone.add_srv("_matrix-fed._tcp.hal.test", 20, 0, 8448, "backup.hal.test")
    zone.addresses["hal.test"] = ["127.50.0.9"]
    async with SandboxDnsServer(zone) as server:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", server.port)]
        resolver.cache = None
        resolver.lifetime = 2.0
        answer = await resolver.resolve("_matrix-fed._tcp.hal.test", "SRV")
        records = [
            (r.priority, r.weight, r.port, r.target.to_text(omit_final_dot=True)) for r in answer
        ]
        assert records == [(10, 5, 443, "matrix.hal.test"), (20, 0, 8448, "backup.hal.test")]
        assert zone.srv("_matrix-fed._tcp.hal.test") == records
        # a name with only SRV records has no TXT or A (NOERROR, no data), others no SRV
        with pytest.raises(dns.resolver.NoAnswer):
            await resolver.resolve("_matrix-fed._tcp.hal.test", "A")
        with pytest.raises(dns.resolver.NoAnswer):
            await resolver.resolve("hal.test", "SRV")
        with pytest.raises(dns.resolver.NXDOMAIN):
            await resolver.resolve("_matrix-fed._tcp.nobody.test", "SRV")
        assert answer.rdtype == dns.rdatatype.SRV

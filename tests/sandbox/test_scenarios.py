"""The in-process sandbox: real, deterministic, and true to each scenario's story.

"Real" is checked by code decaudit did not write: the ``atproto`` SDK parses every CAR a sandbox
PDS serves and verifies its commit signature against the key in the DID document; ``atmst`` walks
its MST; the project's own PLC verifier replays every PLC log the directory serves.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import time
from typing import Any

import httpx
import pytest

from auditor import plc
from auditor.api import gather, rescore
from auditor.attribution import attribute_key
from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import DidDocumentFetch, Evidence, PdsProbes
from auditor.sandbox.scenarios import SCENARIOS, UnknownScenarioError, build_world, select
from auditor.sandbox.world import World, operator_keys
from auditor.session import Session

car_module = pytest.importorskip("atproto_core.car")
verify_module = pytest.importorskip("atproto_crypto.verify")
cbrrr = pytest.importorskip("cbrrr")
atmst_all = pytest.importorskip("atmst.all")

FAST = [s.id for s in SCENARIOS.values() if s.in_demo]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(FAST)


async def _get(world: World, url: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=world.transport()) as client:
        response = await client.get(url, params=params)
        await response.aread()
        return response


def get(world: World, url: str, **params: str) -> httpx.Response:
    return asyncio.run(_get(world, url, **params))


def audit(world: World, handle: str, **overrides: Any) -> Evidence:
    async def run() -> Evidence:
        settings = world.settings(**overrides)
        async with Session.open(
            settings, resolver=world.zone.resolver(), transport=world.transport()
        ) as session:
            return await gather(handle, session=session)

    return asyncio.run(run())


def _signing_input(commit: dict[str, Any]) -> bytes:
    unsigned = {key: value for key, value in commit.items() if key != "sig"}
    if not isinstance(unsigned["data"], cbrrr.CID):
        unsigned["data"] = cbrrr.CID(unsigned["data"])
    encoded: bytes = cbrrr.encode_dag_cbor(unsigned)
    return encoded


# --- real ---------------------------------------------------------------------------------------


def test_every_plc_log_the_directory_serves_verifies(world: World) -> None:
    for did in world.plc.logs:
        entries = get(world, f"https://plc.directory/{did}/log/audit").json()
        result = plc.verify_audit_log(did, entries)
        assert result.valid, (did, result.detail)


def test_self_sovereign_history_has_a_real_nullified_recovery(world: World) -> None:
    account = next(a for a in world.accounts if a.scenario == "self-sovereign")
    entries = get(world, f"https://plc.directory/{account.did}/log/audit").json()
    assert [e["nullified"] for e in entries] == [False, True, False]
    result = plc.verify_audit_log(str(account.did), entries)
    assert result.valid and result.operations[2].signer_index == 0  # the offline key recovered


@pytest.mark.parametrize(
    "scenario", ["bsky-default", "self-sovereign", "did-web-selfhosted", "migrated-away"]
)
def test_independent_implementations_accept_the_served_repository(
    world: World, scenario: str
) -> None:
    account = next(a for a in world.accounts if a.scenario == scenario)
    did = str(account.did)
    document = world.document_of(did)
    assert document is not None
    pds = next(s["serviceEndpoint"] for s in document["service"] if s["id"].endswith("atproto_pds"))
    key = next(m for m in document["verificationMethod"] if m["id"].endswith("#atproto"))
    did_key = "did:key:" + key["publicKeyMultibase"]
    car_bytes = get(world, f"{pds}/xrpc/com.atproto.sync.getRepo", did=did).content
    latest = get(world, f"{pds}/xrpc/com.atproto.sync.getLatestCommit", did=did).json()
    # atproto SDK: parses the CAR, its root is the commit getLatestCommit names, signature valid
    car = car_module.CAR.from_bytes(car_bytes)
    assert str(car.root) == latest["cid"]
    commit = car.blocks[car.root]
    assert commit["did"] == did and commit["version"] == 3 and commit["rev"] == latest["rev"]
    assert verify_module.verify_signature(did_key, _signing_input(commit), commit["sig"])
    # atmst: its own CAR reader (hash-checking) and MST walker find every record
    store = atmst_all.ReadOnlyCARBlockStore(io.BytesIO(car_bytes))
    root = cbrrr.decode_dag_cbor(store.get_block(bytes(store.car_root)))["data"]
    keys = [k for k, _ in atmst_all.NodeWalker(atmst_all.NodeStore(store), root).iter_kv()]
    assert "app.bsky.actor.profile/self" in keys
    assert sum(k.startswith("app.bsky.feed.post/") for k in keys) == 12


def test_blobs_are_served_under_their_real_cids(world: World) -> None:
    account = next(a for a in world.accounts if a.scenario == "bsky-default")
    pds = "https://morel.us-east.host.bsky.network"
    listed = get(world, f"{pds}/xrpc/com.atproto.sync.listBlobs", did=str(account.did)).json()
    (cid,) = listed["cids"]
    blob = get(world, f"{pds}/xrpc/com.atproto.sync.getBlob", did=str(account.did), cid=cid)
    assert cbrrr.CID.cidv1_raw_sha256_32_from(blob.content).encode() == cid


def test_bad_export_fails_independent_verification(world: World) -> None:
    account = next(a for a in world.accounts if a.scenario == "bad-export")
    did = str(account.did)
    document = world.document_of(did)
    assert document is not None
    did_key = "did:key:" + document["verificationMethod"][0]["publicKeyMultibase"]
    car_bytes = get(world, "https://pds.ken.test/xrpc/com.atproto.sync.getRepo", did=did).content
    car = car_module.CAR.from_bytes(car_bytes)
    commit = car.blocks[car.root]
    assert not verify_module.verify_signature(did_key, _signing_input(commit), commit["sig"])
    store = atmst_all.ReadOnlyCARBlockStore(io.BytesIO(car_bytes))
    walker = atmst_all.NodeWalker(atmst_all.NodeStore(store), commit["data"])
    with pytest.raises(KeyError):  # the omitted MST node
        list(walker.iter_kv())


# --- deterministic ------------------------------------------------------------------------------


def _fingerprint(world: World) -> dict[str, str]:
    out = {
        f"plc:{did}": hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()
        for did, entries in world.plc.logs.items()
    }
    for host, pds in world.pdses.items():
        for did, account in pds.accounts.items():
            out[f"car:{host}:{did}"] = hashlib.sha256(account.repo.car_bytes()).hexdigest()
    out["zone"] = hashlib.sha256(
        json.dumps([world.zone.txt, world.zone.addresses], sort_keys=True).encode()
    ).hexdigest()
    return out


def test_the_same_version_builds_byte_identical_sandbox_data(world: World) -> None:
    again = build_world(FAST)
    assert _fingerprint(again) == _fingerprint(world)
    assert [(a.handle, a.did) for a in again.accounts] == [
        (a.handle, a.did) for a in world.accounts
    ]


def test_operator_keys_match_the_sandbox_rows_of_the_attribution_data() -> None:
    for operator, keys in operator_keys().items():
        for key in keys:
            row = attribute_key(key.public_key.did_key, sandbox=True)
            assert row is not None and row.operator_id == operator and row.sandbox
            assert attribute_key(key.public_key.did_key) is None  # never on live evidence


def test_large_repo_is_lazy_and_large() -> None:
    start = time.perf_counter()
    world = build_world(["large-repo"])
    assert time.perf_counter() - start < 1.0  # nothing built yet
    (account,) = world.pdses["pds.max.test"].accounts.values()
    assert account.repo.record_count >= 50_000
    assert sum(len(chunk) for chunk in account.repo.car_chunks()) >= 20_000_000


# --- true to the story --------------------------------------------------------------------------


def test_plc_directory_routes(world: World) -> None:
    account = next(a for a in world.accounts if a.scenario == "migrated-away")
    did = str(account.did)
    data = get(world, f"https://plc.directory/{did}/data").json()
    assert data["services"]["atproto_pds"]["endpoint"] == "https://pds.northwind.test"
    assert len(get(world, f"https://plc.directory/{did}/log").json()) == 3
    assert get(world, f"https://plc.directory/{did}/log/last").json()["prev"] is not None
    assert get(world, "https://plc.directory/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa").status_code == 404
    # the lagging mirror serves the identity one operation behind; the current one does not
    assert len(get(world, f"https://us-west.plc.wtf/{did}/log/audit").json()) == 2
    assert len(get(world, f"https://plc.wtf/{did}/log/audit").json()) == 3


def test_plc_export_pages_in_sequence(world: World) -> None:
    first = get(world, "https://plc.directory/export", after="0", count="5").text.splitlines()
    assert len(first) == 5
    ops = [json.loads(line) for line in first]
    assert [op["seq"] for op in ops] == [1, 2, 3, 4, 5]
    assert all(op["type"] == "sequenced_op" for op in ops)
    rest = get(world, "https://plc.directory/export", after="5", count="1000").text.splitlines()
    assert json.loads(rest[0])["seq"] == 6
    total = sum(len(entries) for entries in world.plc.logs.values())
    assert len(first) + len(rest) == total


def test_relay_views_follow_the_stories(world: World) -> None:
    def status(relay: str, scenario: str) -> httpx.Response:
        account = next(a for a in world.accounts if a.scenario == scenario)
        return get(
            world, f"https://{relay}/xrpc/com.atproto.sync.getRepoStatus", did=str(account.did)
        )

    assert status("bsky.network", "relay-takedown").json()["status"] == "takendown"
    assert status("atproto.africa", "relay-takedown").json()["active"] is True
    assert status("atproto.africa", "bsky-default").json()["error"] == "RepoNotFound"
    stale = status("atproto.africa", "stale-relay").json()["rev"]
    current = status("bsky.network", "stale-relay").json()["rev"]
    assert stale < current


def test_unknown_scenarios_are_named() -> None:
    with pytest.raises(UnknownScenarioError, match="unknown scenarios nope, zilch"):
        select(["bsky-default", "nope", "zilch"])


# --- hostile hosts: the audit survives, failures are evidence -----------------------------------


def test_hostile_ssrf_is_blocked_not_requested() -> None:
    world = build_world(["hostile-ssrf"])
    evidence = audit(world, "sid.test")
    assert isinstance(evidence.pds, PdsProbes)
    assert isinstance(evidence.pds.health, ProbeFailure)
    assert evidence.pds.health.kind is FailureKind.BLOCKED_ADDRESS
    # and without --allow-private, the handle's loopback web host is refused too
    strict = audit(world, "sid.test", allow_private=False)
    https = strict.handle_resolutions[0].https
    assert isinstance(https, ProbeFailure) and https.kind is FailureKind.BLOCKED_ADDRESS


def test_hostile_garbage_is_recorded_as_invalid() -> None:
    world = build_world(["hostile-garbage"])
    evidence = audit(world, "gary.test")
    assert isinstance(evidence.did_document, DidDocumentFetch)  # the directory is fine
    assert isinstance(evidence.pds, PdsProbes)
    assert isinstance(evidence.pds.health, ProbeFailure)
    assert evidence.pds.health.kind is FailureKind.INVALID_RESPONSE
    report = rescore(evidence, strict=True)
    assert report.band is not None


@pytest.mark.parametrize(
    ("scenario", "handle"), [("hostile-oversize", "oscar.test"), ("hostile-slow", "sloane.test")]
)
def test_hostile_hosts_cannot_outlast_the_deadline(scenario: str, handle: str) -> None:
    world = build_world([scenario])
    start = time.perf_counter()
    evidence = audit(world, handle, timeout=1.0, deadline=4.0)
    assert time.perf_counter() - start < 6.0
    assert isinstance(evidence.pds, PdsProbes)
    assert isinstance(evidence.pds.health, ProbeFailure)
    expected = FailureKind.TOO_LARGE if scenario == "hostile-oversize" else FailureKind.TIMEOUT
    assert evidence.pds.health.kind is expected
    rescore(evidence, strict=True)  # judging it raises nothing


def test_faults_slow_ordinary_json_answers_without_breaking_them() -> None:
    # A bandwidth cap used to break every in-memory (JSON) response; rtt adds to each request.
    from auditor.sandbox.http import Faults

    world = build_world(["bsky-default"])
    world.set_faults({"plc.directory": Faults(rtt=0.05, bandwidth=20_000)})
    account = world.accounts[0]
    start = time.perf_counter()
    response = get(world, f"https://plc.directory/{account.did}/log/audit")
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and response.json()[0]["did"] == account.did
    assert elapsed >= 0.05 + len(response.content) / 20_000 * 0.9


def test_save_export_keeps_a_verified_backup(tmp_path: Any) -> None:
    world = build_world(["self-sovereign"])
    evidence = audit(world, "dana.test", save_export=str(tmp_path), blob_sample=None)
    from auditor.models.evidence import BlobInventory, RepoExport

    assert isinstance(evidence.repo_export, RepoExport)
    assert evidence.repo_export.verification.verified
    saved = tmp_path / "repo.car"
    assert evidence.repo_export.saved_to == str(saved)
    assert car_module.CAR.from_bytes(saved.read_bytes()).root is not None
    assert isinstance(evidence.blobs, BlobInventory)
    blobs = list((tmp_path / "blobs").iterdir())
    assert [b.name for b in blobs] == [c.cid for c in evidence.blobs.checked]
    assert all(cbrrr.CID.cidv1_raw_sha256_32_from(b.read_bytes()).encode() == b.name for b in blobs)


def test_skip_export_leaves_the_export_checks_out() -> None:
    world = build_world(["bsky-default"])
    evidence = audit(world, "alice.bsky.social", skip_export=True)
    report = rescore(evidence, strict=True)
    ids = [c.id for c in report.checks]
    assert "repo-export" not in ids and "blob-export" not in ids
    assert report.coverage < 1.0
    assert any("repo-export not run" in w for w in report.warnings)

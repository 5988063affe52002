"""The sandbox answers as the reference servers do (issue 7, item 4).

The fast tests run against :mod:`auditor.sandbox`; they are only worth what the sandbox's fidelity
is. Here the same questions go to the reference PDS and PLC directory and to sandbox hosts given
the same data (the same audit logs, DIDs, statuses and blob CIDs), and the answers must match:
status codes, XRPC error names and messages, and whole bodies where the data is shared. A
difference is either a sandbox bug or a reference-server change decaudit must learn about.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from auditor.repo import RepoSnapshot
from auditor.sandbox.pds import Blob, HostedAccount, Pds
from auditor.sandbox.plc_directory import PlcDirectory
from tests.reference.network import ReferenceNetwork

pytestmark = pytest.mark.anyio

PLC_ROLES = ("default", "recovery-key", "renamed", "plc-direct-update", "deactivated", "taken-down")
UNKNOWN_DID = "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
MISSING_CID = "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


def _reference(base: str, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(trust_env=False, timeout=10) as client:
        return client.get(f"{base}{path}", params=params)


def _shape(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


async def test_the_legacy_plc_directory_serves_what_the_reference_one_serves(
    reference: ReferenceNetwork,
) -> None:
    """Same audit logs in, same documents, state, logs and errors out (legacy document form)."""
    plc_api = f"http://127.0.0.1:{reference.description['plc']['port']}"
    directory = PlcDirectory(legacy_documents=True)
    app = directory.app()
    for role in PLC_ROLES:
        did = reference.account(role)["did"]
        directory.register(did, _reference(plc_api, f"/{did}/log/audit").json())
    for role in PLC_ROLES:
        did = reference.account(role)["did"]
        for suffix in ("", "/data", "/log", "/log/audit", "/log/last"):
            expected = _reference(plc_api, f"/{did}{suffix}")
            got = await app(httpx.Request("GET", f"https://plc.test/{did}{suffix}"))
            assert _shape(got) == _shape(expected), (role, suffix)
        document = await app(httpx.Request("GET", f"https://plc.test/{did}"))
        assert document.headers["content-type"].startswith("application/did+ld+json")
    for suffix in ("", "/data", "/log/audit"):
        expected = _reference(plc_api, f"/{UNKNOWN_DID}{suffix}")
        got = await app(httpx.Request("GET", f"https://plc.test/{UNKNOWN_DID}{suffix}"))
        assert (
            _shape(got)
            == _shape(expected)
            == (
                404,
                {"message": f"DID not registered: {UNKNOWN_DID}"},
            )
        )


def _unbuildable() -> RepoSnapshot:
    raise AssertionError("no repository is needed for these requests")


def _sandbox_pds(reference: ReferenceNetwork) -> Pds:
    """A sandbox PDS with the reference accounts' DIDs, handles, statuses and blob CIDs."""
    pds = Pds(hostname="localhost", user_domains=[".test"], invite_required=False)
    for role in ("default", "deactivated", "taken-down"):
        account = reference.account(role)
        pds.host(
            HostedAccount(
                did=account["did"],
                handle=account["handle"],
                build_repo=_unbuildable,
                blobs={cid: Blob(b"", "image/png") for cid in account["blobs"]},
                status=None if account["status"] == "active" else account["status"],
            )
        )
    return pds


def _requests(reference: ReferenceNetwork) -> list[tuple[str, dict[str, str]]]:
    default = reference.account("default")
    inactive = [reference.account(role)["did"] for role in ("deactivated", "taken-down")]
    requests: list[tuple[str, dict[str, str]]] = []
    for nsid in ("getRepoStatus", "getRepo", "getLatestCommit", "listBlobs"):
        requests += [(f"com.atproto.sync.{nsid}", {"did": UNKNOWN_DID})]
        requests += [(f"com.atproto.sync.{nsid}", {})]
        requests += [(f"com.atproto.sync.{nsid}", {"did": did}) for did in inactive]
    requests += [("com.atproto.repo.describeRepo", {"repo": did}) for did in inactive]
    requests += [("com.atproto.repo.describeRepo", {"repo": UNKNOWN_DID})]
    requests += [("com.atproto.sync.getBlob", {"did": default["did"], "cid": MISSING_CID})]
    requests += [
        ("com.atproto.sync.listBlobs", {"did": default["did"], "limit": limit})
        for limit in ("1", "1000")
    ]
    cursor = sorted(default["blobs"])[-1]
    requests += [("com.atproto.sync.listBlobs", {"did": default["did"], "cursor": cursor})]
    return requests


async def test_the_sandbox_pds_answers_errors_and_pages_as_the_reference_pds(
    reference: ReferenceNetwork,
) -> None:
    pds = _sandbox_pds(reference)
    app = pds.app()
    for nsid, params in _requests(reference):
        expected = _reference(reference.pds_api, f"/xrpc/{nsid}", params)
        got = await app(httpx.Request("GET", f"https://localhost/xrpc/{nsid}", params=params))
        assert _shape(got) == _shape(expected), (nsid, params)


async def test_the_sandbox_pds_describes_itself_as_the_reference_pds(
    reference: ReferenceNetwork,
) -> None:
    expected = _reference(reference.pds_api, "/xrpc/com.atproto.server.describeServer").json()
    app = _sandbox_pds(reference).app()
    got = await app(
        httpx.Request("GET", "https://localhost/xrpc/com.atproto.server.describeServer")
    )
    assert got.json() == expected

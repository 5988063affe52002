"""Record the evidence behind ``sample_reports/``: ``python -m tests.support.record_demo``.

Each scenario runs the real gatherer over an in-process fake network (respx + a static resolver):

* ``bsky-app``: a replay of public data. The PLC audit log is bsky.app's real, signed log (from the
  did-method-plc interop suite); the DID document is the one that log produces; the DNS TXT and
  ``/.well-known/atproto-did`` answers and the PDS health answer are replayed locally.
* ``self-hosted``: a fictional account (example.com) that moved from a Bluesky PDS to its own, with
  real keys generated for the occasion.
* ``unresolvable``: a handle with no TXT record and a 404 well-known file.

The goldens (text, JSON, HTML) are then rendered from these files by ``tests/test_goldens.py``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import respx

from auditor import plc
from auditor.crypto import PrivateKey
from tests.support.fakenet import FakeNet
from tests.support.identities import PlcIdentity

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "sample_reports" / "evidence"
BSKY_APP_LOG = ROOT / "tests" / "conformance" / "plc-audit-logs" / "valid" / "log_bskyapp.json"


def bsky_app(net: FakeNet) -> str:
    entries = json.loads(BSKY_APP_LOG.read_text())
    did = entries[0]["did"]
    verification = plc.verify_audit_log(did, entries)
    assert verification.state is not None
    net.route(f"https://plc.directory/{did}/log/audit", json=entries)
    net.router.get(f"https://plc.directory/{did}").respond(
        200,
        json=plc.document_from_state(did, verification.state),
        headers={"content-type": "application/did+ld+json"},
    )
    net.handle_dns("bsky.app", f"did={did}")
    net.handle_https("bsky.app", did)
    net.pds("https://bsky.social", version="0.4.204")
    return "bsky.app"


def self_hosted(net: FakeNet) -> str:
    own, pds_key = PrivateKey.generate("k256"), PrivateKey.generate("k256")
    identity = PlcIdentity(
        "alice.bsky.social", "https://morel.us-east.host.bsky.network", [pds_key]
    )
    identity.update(handle="example.com", after=timedelta(days=40))
    identity.update(pds="https://pds.example.com", rotation=[own, pds_key], signer=pds_key)
    net.account(identity)
    return "example.com"


def unresolvable(net: FakeNet) -> str:
    net.handle_https("ghost.example.com", "Not Found", status=404)
    return "ghost.example.com"


SCENARIOS = {"bsky-app": bsky_app, "self-hosted": self_hosted, "unresolvable": unresolvable}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, build in SCENARIOS.items():
        with respx.mock(assert_all_called=False) as router:
            net = FakeNet(router)
            evidence = net.gather(build(net))
        (OUT / f"{name}.json").write_text(evidence.model_dump_json(indent=2) + "\n")
        print(f"recorded {OUT / f'{name}.json'}")


if __name__ == "__main__":
    main()

"""The census: the sandbox's PLC directory and relays in process, hand-made export pages for the
heuristic and for every kind of bad input, resume after interruption (a kill -9 included), and the
database refusing files that are not its own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditor import plc, syntax
from auditor.attribution import host_of, registrable_domain
from auditor.ecosystem import export as export_module
from auditor.ecosystem import store as store_module
from auditor.ecosystem.census import (
    COUNTED,
    CensusResult,
    census_summary,
    custody_of,
    run_census,
)
from auditor.ecosystem.export import CensusInputError, _handle_of, parse_page
from auditor.ecosystem.store import CensusStore, CensusStoreError
from auditor.ecosystem.summary import handle_type
from auditor.net.dns import StaticResolver
from auditor.sandbox.scenarios import build_world
from auditor.sandbox.world import World
from auditor.session import Session
from auditor.settings import AuditSettings

ROOT = Path(__file__).resolve().parents[2]
PLC = "https://plc.example.com"
PUBLIC_IP = "93.184.216.34"
BSKY_KEY = "did:key:zQ3shhCGUqDKjStzuDxPkTxN6ujddP4RkEKJJouJGRRkaLGbg"  # operators.json, live row
SYNTAX_VECTORS = ROOT / "tests" / "conformance" / "atproto-interop-tests" / "syntax"


# --- hand-made export lines -------------------------------------------------------------------


def did_n(n: int) -> str:
    digest = hashlib.sha256(f"census-test-{n}".encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def key_n(label: str) -> str:
    digest = hashlib.sha256(label.encode()).digest()
    return "did:key:zQ3sh" + base64.b32encode(digest).decode().lower()[:44]


def operation(
    *,
    pds: str | None = "https://pds.example.com",
    aliases: Iterable[str] = ("at://alice.example.com",),
    keys: Iterable[str] = (key_n("pds"),),
    prev: str | None = None,
) -> dict[str, Any]:
    services = {}
    if pds is not None:
        services["atproto_pds"] = {"type": plc.PDS_SERVICE_TYPE, "endpoint": pds}
    return {
        "type": "plc_operation",
        "rotationKeys": list(keys),
        "verificationMethods": {"atproto": key_n("signing")},
        "alsoKnownAs": list(aliases),
        "services": services,
        "prev": prev,
        "sig": "s" * 86,
    }


def entry(seq: int, did: str, op: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "sequenced_op",
        "seq": seq,
        "did": did,
        "operation": op,
        "cid": f"bafyrei{seq:052d}",
        "createdAt": "2026-01-01T00:00:00.000Z",
    }


def encode(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def export_lines(count: int) -> list[bytes]:
    """``count`` valid lines: new DIDs, with every fifth line updating an earlier DID."""
    lines = []
    for seq in range(1, count + 1):
        if seq % 5 == 0:  # an update of the DID created on the line before
            did, op = did_n(seq - 1), operation(aliases=[f"at://u{seq}.example.com"], prev="x")
        else:
            did, op = did_n(seq), operation(aliases=[f"at://u{seq}.example.com"])
        lines.append(encode(entry(seq, did, op)))
    return lines


def export_pages(count: int) -> Iterator[tuple[int, bytes]]:
    """(after, body) of every page of ``export_lines(count)``, 1,000 lines a page."""
    lines = export_lines(count)
    for start in range(0, count, 1000):
        yield start, b"\n".join(lines[start : start + 1000]) + b"\n"


# --- a fake PLC directory and relays behind one MockTransport ---------------------------------


@dataclass
class FakeNetwork:
    """``/export`` over a list of lines (or whole pages served verbatim), and relays."""

    lines: list[bytes] = field(default_factory=list)
    pages: dict[int, bytes] = field(default_factory=dict)
    """after -> body served instead of the slice of ``lines``."""
    fail: dict[int, int] = field(default_factory=dict)
    """after -> HTTP status to answer with."""
    relays: dict[str, Callable[[httpx.Request], httpx.Response]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if request.url.host in self.relays:
            return self.relays[request.url.host](request)
        assert request.url.path == "/export"
        after = int(request.url.params["after"])
        assert request.url.params["count"] == "1000"
        if after in self.fail:
            return httpx.Response(self.fail[after], text="boom")
        if after in self.pages:
            body = self.pages[after]
        else:
            seqs = [json.loads(line)["seq"] for line in self.lines]
            chosen = [line for line, seq in zip(self.lines, seqs, strict=True) if seq > after]
            body = b"".join(line + b"\n" for line in chosen[:1000])
        return httpx.Response(200, content=body, headers={"content-type": "application/jsonlines"})

    def run(self, db: Path, **options: Any) -> CensusResult:
        return asyncio.run(self._run(db, **options))

    async def _run(
        self, db: Path, *, relays: list[str] | None = None, **options: Any
    ) -> CensusResult:
        hosts = ["plc.example.com", *self.relays]
        resolver = StaticResolver(addresses={host: [PUBLIC_IP] for host in hosts})
        settings = AuditSettings(plc_url=PLC, relays=[], timeout=5, deadline=10)
        transport = httpx.MockTransport(self.handler)
        async with Session.open(settings, resolver=resolver, transport=transport) as session:
            return await run_census(
                session,
                db,
                plc_url=PLC,
                relays=relays if relays is not None else [f"https://{h}" for h in self.relays],
                **options,
            )


def did_state(db: Path) -> dict[str, dict[str, Any]]:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        return {row["did"]: dict(row) for row in connection.execute("SELECT * FROM did_state")}
    finally:
        connection.close()


def table(db: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


# --- the sandbox --------------------------------------------------------------------------------


async def _census_of(world: World, db: Path) -> CensusResult:
    async with Session.open(
        world.settings(), resolver=world.zone.resolver(), transport=world.transport()
    ) as session:
        return await run_census(
            session,
            db,
            plc_url="https://plc.directory",
            relays=[relay.url for relay in world.relays.values()],
        )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path, CensusResult]:
    world = build_world()
    db = tmp_path_factory.mktemp("census") / "census.db"
    return world, db, asyncio.run(_census_of(world, db))


EXPECTED_CUSTODY = {
    "bsky-default": "operator",
    "bsky-custom-domain": "operator",
    "independent-pds": "operator",
    "migrated-away": "operator",
    "deactivated": "operator",
    "relay-takedown": "operator",
    "handle-mismatch": "operator",
    "stale-relay": "operator",
    "self-sovereign": "solo_pds",
    "pds-down": "solo_pds",
    "bad-export": "solo_pds",
    "large-repo": "solo_pds",
    "hostile-oversize": "solo_pds",
    "hostile-slow": "solo_pds",
    "hostile-garbage": "solo_pds",
    "hostile-ssrf": "solo_pds",
    "hostile-markup": "solo_pds",
}


def test_sandbox_census_completes(sandbox: tuple[World, Path, CensusResult]) -> None:
    world, _, result = sandbox
    assert result.ok and result.complete
    assert result.errors == ()
    operations = sum(len(log) for log in world.plc.logs.values())
    assert (result.started_cursor, result.cursor, result.lines) == (0, operations, operations)
    assert result.dids_known == len(world.plc.logs)
    assert {fetch.relay for fetch in result.relays} == {r.url for r in world.relays.values()}
    assert json.loads(json.dumps(result.to_dict()))["complete"] is True


def test_every_plc_did_has_its_current_state(sandbox: tuple[World, Path, CensusResult]) -> None:
    world, db, _ = sandbox
    stored = did_state(db)
    assert set(stored) == set(world.plc.logs)
    for did, log in world.plc.logs.items():
        verified = plc.verify_audit_log(did, log)  # the independent path: full replay
        assert verified.valid and verified.state is not None
        state = verified.state
        row = stored[did]
        assert row["pds_host"] == host_of(state.services["atproto_pds"].endpoint), did
        assert row["handle"] == state.also_known_as[0].removeprefix("at://").lower(), did
        assert json.loads(row["rotation_keys"]) == list(state.rotation_keys), did
        assert row["tombstoned"] == 0
        assert row["method"] == "did:plc"


def test_recovered_identity_shows_the_recovery_not_the_hijack(
    sandbox: tuple[World, Path, CensusResult],
) -> None:
    world, db, _ = sandbox
    dana = next(a for a in world.accounts if a.scenario == "self-sovereign")
    assert dana.did is not None
    assert any(e["nullified"] for e in world.plc.logs[dana.did])  # the export lists it too
    assert did_state(db)[dana.did]["handle"] == "dana.test"


def test_custody_class_of_every_scenario(sandbox: tuple[World, Path, CensusResult]) -> None:
    world, db, _ = sandbox
    by_scenario = {a.scenario: a.did for a in world.accounts if a.did is not None}
    found = custody_of(db, by_scenario.values())
    for scenario, expected in EXPECTED_CUSTODY.items():
        assert found[by_scenario[scenario]] == expected, scenario
    # did:web and handle-only scenarios are not in the PLC directory
    assert by_scenario["did-web-selfhosted"] not in found
    assert "unresolvable-handle" not in by_scenario
    assert "did:web" in COUNTED


def test_sandbox_layers(sandbox: tuple[World, Path, CensusResult]) -> None:
    world, db, _ = sandbox
    summary = census_summary(db)
    assert summary.sandbox
    assert (summary.dids, summary.tombstoned, summary.without_pds) == (len(world.plc.logs), 0, 0)
    pds = summary.layers["pds_operator"]
    counts = {share.name: share.count for share in pds.shares}
    # alice, bob, gina, ivan and ivan's impostor on Bluesky's mushrooms; carol, hank, lena on
    # Blacksky; frank moved to Northwind; every self-hosted server is its own operator
    assert counts["bluesky"] == 5
    assert counts["blacksky"] == 3
    assert counts["northwind"] == 1
    assert counts["dana.test"] == 1
    assert pds.total == len(world.plc.logs)
    labels = {share.name: share.label for share in pds.shares}
    assert labels["bluesky"] == "Bluesky Social PBC"
    assert summary.layers["did_method"].shares[0].name == "did:plc"
    assert summary.layers["did_method"].hhi_points == 10_000
    custody = {s.name: s.count for s in summary.layers["rotation_key_custody"].shares}
    # harbor.test's recovery key tops all three of its accounts (operator-recovery-key): the
    # census's shared-key heuristic sees what one account's log cannot
    assert custody == {"operator": 9, "solo_pds": 9, "pds_managed": 3}
    assert summary.custody_operators == {"bluesky": 5, "blacksky": 3, "northwind": 1}
    handles = {s.name: s.count for s in summary.layers["handle_domain_type"].shares}
    # alice, carol, ivan; lee and max under harbor.test, the PDS that hosts them
    assert handles == {"provider_subdomain": 5, "custom_domain": 16}
    assert summary.nakamoto.value == pds.majority
    assert summary.bridges == ()
    json.dumps(summary.to_dict())


def test_sandbox_relay_views(sandbox: tuple[World, Path, CensusResult]) -> None:
    world, db, _ = sandbox
    summary = census_summary(db)
    views = {view.relay: view for view in summary.relays}
    for relay in world.relays.values():
        view = views[relay.url]
        assert view.hosts == len(relay.hosts)
        assert view.accounts == sum(h.account_count for h in relay.hosts.values())
        layer = summary.layers[view.layer]
        bluesky = sum(
            h.account_count for name, h in relay.hosts.items() if name.endswith("bsky.network")
        )
        shares = {s.name: s.count for s in layer.shares}
        assert shares.get("bluesky", 0) == bluesky
    stored = table(db, "SELECT relay, hostname, account_count, status FROM relay_hosts")
    assert len(stored) == sum(len(r.hosts) for r in world.relays.values())


def test_rerun_of_a_complete_census_is_a_no_op(
    sandbox: tuple[World, Path, CensusResult], tmp_path: Path
) -> None:
    world, _, _ = sandbox
    db = tmp_path / "again.db"
    first = asyncio.run(_census_of(world, db))
    second = asyncio.run(_census_of(world, db))
    assert second.complete and second.pages == 0 and second.lines == 0
    assert second.started_cursor == first.cursor == second.cursor
    assert table(db, "SELECT count(*) FROM ops")[0][0] == first.lines


# --- resume -----------------------------------------------------------------------------------


def dump(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every operation with its text (ids may differ between two equal databases: a vocabulary
    reloaded after a rollback gives new ids to values it had cached)."""
    ops = table(
        db,
        "SELECT o.seq, o.did, h.host, o.handle, o.handle_domain_length, k.keys "
        "FROM ops o LEFT JOIN pds_hosts h ON h.id = o.pds_host_id "
        "LEFT JOIN rotation_key_lists k ON k.id = o.rotation_keys_id ORDER BY o.seq",
    )
    assert table(db, _DANGLING) == [(0,)]
    meta = table(db, "SELECT key, value FROM meta WHERE key IN ('cursor', 'geneses') ORDER BY key")
    return ops, meta


_DANGLING = (
    "SELECT count(*) FROM ops WHERE pds_host_id NOT IN (SELECT id FROM pds_hosts) "
    "OR rotation_keys_id NOT IN (SELECT id FROM rotation_key_lists)"
)
"""Rows whose ids have no text: must always be 0."""


def test_interrupted_run_resumes_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    net = FakeNetwork(lines=export_lines(3500))
    whole = net.run(tmp_path / "whole.db")
    assert whole.complete and whole.pages == 4 and whole.lines == 3500

    seen: list[int] = []
    first = net.run(tmp_path / "split.db", max_pages=2, progress=seen.append)
    assert (first.pages, first.lines, first.cursor, first.complete) == (2, 2000, 2000, False)
    assert seen == [1000, 2000]
    second = net.run(tmp_path / "split.db")
    assert (second.started_cursor, second.pages, second.lines) == (2000, 2, 1500)
    assert second.complete and second.cursor == 3500
    assert dump(tmp_path / "split.db") == dump(tmp_path / "whole.db")
    assert second.dids_known == whole.dids_known == 2800  # every fifth line is an update
    assert table(tmp_path / "split.db", "SELECT count(DISTINCT did) FROM ops")[0][0] == 2800


def test_crash_inside_a_page_transaction_rolls_the_page_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = FakeNetwork(lines=export_lines(3500))
    net.run(tmp_path / "whole.db")
    original = CensusStore._set_meta
    calls = {"cursor": 0}

    def crash_on_third_cursor(self: CensusStore, key: str, value: str | int) -> None:
        if key == "cursor":
            calls["cursor"] += 1
            if calls["cursor"] == 3:
                raise KeyboardInterrupt  # rows of page 3 already inserted, not committed
        original(self, key, value)

    monkeypatch.setattr(CensusStore, "_set_meta", crash_on_third_cursor)
    with pytest.raises(KeyboardInterrupt):
        net.run(tmp_path / "crashed.db")
    monkeypatch.setattr(CensusStore, "_set_meta", original)
    assert table(tmp_path / "crashed.db", "SELECT count(*), max(seq) FROM ops") == [(2000, 2000)]
    resumed = net.run(tmp_path / "crashed.db")
    assert resumed.started_cursor == 2000 and resumed.complete
    assert dump(tmp_path / "crashed.db") == dump(tmp_path / "whole.db")


_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from auditor.ecosystem.export import parse_page
from auditor.ecosystem.store import CensusStore
from tests.ecosystem.test_census import export_pages
with CensusStore.open(Path({db!r}), plc_url="https://plc.example.com") as store:
    for number, (after, body) in enumerate(export_pages(20_000), start=1):
        parsed = parse_page(body, after=after, page=number, vocabulary=store.vocabulary)
        store.append_page(parsed)
        print(number, flush=True)
        time.sleep(0.01)
"""


def test_kill_9_loses_at_most_the_page_in_flight(tmp_path: Path) -> None:
    reference = tmp_path / "reference.db"
    with CensusStore.open(reference, plc_url=PLC) as store:
        for number, (after, body) in enumerate(export_pages(20_000), start=1):
            parsed = parse_page(body, after=after, page=number, vocabulary=store.vocabulary)
            store.append_page(parsed)
    db = tmp_path / "killed.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(root=str(ROOT), db=str(db))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= 3:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    with CensusStore.open(db, plc_url=PLC) as store:
        committed = store.cursor
        assert committed % 1000 == 0 and 3000 <= committed < 20_000
        rows = store.connection.execute("SELECT count(*), max(seq) FROM ops").fetchone()
        assert rows == (committed, committed)
        for number, (after, body) in enumerate(export_pages(20_000), start=1):
            if after < committed:
                continue
            parsed = parse_page(body, after=after, page=number, vocabulary=store.vocabulary)
            store.append_page(parsed)
    assert dump(db) == dump(reference)


# --- bad input ----------------------------------------------------------------------------------


def _page_two_with(line_five: bytes | None, *, extra: bytes | None = None) -> FakeNetwork:
    """Pages 1 and 2 of 2,000 valid lines, line 5 of page 2 replaced (None: removed)."""
    lines = export_lines(2000)
    page_two = lines[1000:]
    if line_five is None:
        page_two[4] = b""
    else:
        page_two[4] = line_five
    if extra is not None:
        page_two[4] += extra
    net = FakeNetwork(lines=lines)
    net.pages[1000] = b"\n".join(page_two) + b"\n"
    return net


def _line(**changes: Any) -> dict[str, Any]:
    """Line 5 of page 2 (seq 1005), with ``changes``."""
    value = entry(1005, did_n(1005), operation())
    value.update(changes)
    return value


BAD_LINES: dict[str, tuple[bytes | None, str]] = {
    "truncated JSON": (b'{"type":"sequenced_op","seq":', "Input data was truncated"),
    "not JSON": (b"{type: sequenced_op}", "JSON is malformed"),
    "missing field": (
        encode({k: v for k, v in _line().items() if k != "cid"}),
        "missing required field `cid`",
    ),
    "extra envelope field": (encode(_line(nullified=True)), "unknown field `nullified`"),
    "seq as a string": (encode(_line(seq="1005")), "Expected `int`, got `str`"),
    "not an object": (b"[1, 2, 3]", "Expected `object`, got `array`"),
    "wrong envelope type": (encode(_line(type="legacy_op")), "Invalid enum value 'legacy_op'"),
    "short DID": (encode(_line(did="did:plc:tooshort")), "length >= 32 - at `$.did`"),
    # 32 characters: msgspec passes them, the page-wide check must not
    "DID with capitals": (encode(_line(did="did:plc:" + "A" * 24)), "`$.did` (got 'did:plc:AAA"),
    "DID with 0 and 1": (encode(_line(did="did:plc:" + "01" * 12)), "`$.did`"),
    "did:web of DID length": (encode(_line(did="did:web:" + "a" * 24)), "`$.did`"),
    "DID with a newline": (encode(_line(did="did:plc:" + "a" * 23 + "\n")), "`$.did`"),
    "services not an object": (
        encode(_line(operation={**operation(), "services": []})),
        "services: Expected `object`, got `array`",
    ),
    "service without endpoint": (
        encode(_line(operation={**operation(), "services": {"atproto_pds": {"type": "x"}}})),
        "services: Object missing required field `endpoint`",
    ),
    "did:web": (encode(_line(did="did:web:example.com")), "`$.did`"),
    "unknown operation type": (
        encode(_line(operation={**operation(), "type": "plc_whatever"})),
        "Invalid value 'plc_whatever'",
    ),
    "operation with an extra field": (
        encode(_line(operation={**operation(), "extra": 1})),
        "unknown field `extra`",
    ),
    "rotation keys not strings": (
        encode(_line(operation={**operation(), "rotationKeys": [1, 2]})),
        "rotationKeys",
    ),
    "tombstone without prev": (
        encode(_line(operation={"type": "plc_tombstone", "prev": None, "sig": "x"})),
        "`$.operation.prev`",
    ),
    "empty line": (None, "empty line"),
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_a_bad_line_stops_the_run_with_page_and_line(tmp_path: Path, case: str) -> None:
    line, expected = BAD_LINES[case]
    net = _page_two_with(line)
    result = net.run(tmp_path / "census.db")
    assert not result.ok and not result.complete
    (error,) = result.errors
    assert (error.kind, error.page, error.line) == ("bad_input", 2, 5)
    assert "PLC export page 2 (after=1000), line 5" in error.message
    assert expected in error.message
    assert "after=1000" in error.source
    # page 1 committed, nothing of page 2
    assert result.cursor == 1000 and result.pages == 1
    assert table(tmp_path / "census.db", "SELECT count(*), max(seq) FROM ops") == [(1000, 1000)]


def test_two_objects_on_one_line(tmp_path: Path) -> None:
    net = _page_two_with(encode(_line()), extra=b"," + encode(_line(seq=1005)))
    result = net.run(tmp_path / "census.db")
    (error,) = result.errors
    assert (error.page, error.line) == (2, 5)
    assert "trailing characters" in error.message or "malformed" in error.message


@pytest.mark.parametrize(
    ("seq", "expected"),
    [(1004, "repeated or decreasing"), (1002, "repeated or decreasing")],
)
def test_repeated_or_decreasing_seq(tmp_path: Path, seq: int, expected: str) -> None:
    net = _page_two_with(encode(_line(seq=seq)))
    result = net.run(tmp_path / "census.db")
    (error,) = result.errors
    assert (error.kind, error.page, error.line) == ("bad_input", 2, 5)
    assert f"seq {seq} is not greater than the previous line's seq 1004" in error.message
    assert expected in error.message
    assert result.cursor == 1000


def test_page_out_of_order(tmp_path: Path) -> None:
    net = FakeNetwork(lines=export_lines(2000))
    net.pages[1000] = b"\n".join(export_lines(1000)) + b"\n"  # page 1 again: `after` ignored
    result = net.run(tmp_path / "census.db")
    (error,) = result.errors
    assert (error.page, error.line) == (2, 1)
    assert "seq 1 is not greater than the cursor 1000" in error.message
    assert "out of order" in error.message
    assert result.cursor == 1000


def test_failed_request_keeps_what_was_committed(tmp_path: Path) -> None:
    net = FakeNetwork(lines=export_lines(3000), fail={2000: 500})
    result = net.run(tmp_path / "census.db")
    (error,) = result.errors
    assert error.kind == "fetch_failed" and error.page == 3
    assert "500" in error.message
    assert result.cursor == 2000 and not result.complete
    net.fail.clear()
    assert net.run(tmp_path / "census.db").complete


def test_parse_page_errors_directly() -> None:
    with pytest.raises(CensusInputError) as raised:
        parse_page(b"garbage\n", after=7, page=3)
    assert (raised.value.page, raised.value.after, raised.value.line) == (3, 7, 1)
    assert str(raised.value).startswith("PLC export page 3 (after=7), line 1:")
    empty = parse_page(b"", after=7, page=1)
    assert (empty.rows, empty.last_seq, empty.geneses) == ([], 7, 0)
    assert parse_page(b"\n", after=7, page=1).rows == []
    no_newline = parse_page(encode(entry(8, did_n(8), operation())), after=7, page=1)
    assert no_newline.last_seq == 8 and no_newline.geneses == 1


MALFORMED_OPERATIONS: dict[str, dict[str, Any]] = {
    "missing sig": {k: v for k, v in operation().items() if k != "sig"},
    "extra field": {**operation(), "unexpected": True},
    "rotation keys not a list": {**operation(), "rotationKeys": "did:key:z"},
    "verification method not a string": {**operation(), "verificationMethods": {"atproto": 1}},
    "service without endpoint": {**operation(), "services": {"atproto_pds": {"type": "x"}}},
    "service not an object": {**operation(), "services": {"atproto_pds": "https://x"}},
    "prev not a string": {**operation(), "prev": 5},
    "aliases not strings": {**operation(), "alsoKnownAs": [None]},
    "tombstone with null prev": {"type": "plc_tombstone", "prev": None, "sig": "x"},
    "tombstone with extra field": {"type": "plc_tombstone", "prev": "b", "sig": "x", "x": 1},
    "create with prev": {
        "type": "create",
        "signingKey": "k",
        "recoveryKey": "r",
        "handle": "h.example",
        "service": "https://pds.example",
        "prev": "bafy",
        "sig": "x",
    },
    "unknown type": {**operation(), "type": "plc_update"},
    "no type": {k: v for k, v in operation().items() if k != "type"},
}


@pytest.mark.parametrize("case", sorted(MALFORMED_OPERATIONS))
def test_census_refuses_what_operation_state_refuses(case: str) -> None:
    op = MALFORMED_OPERATIONS[case]
    with pytest.raises(ValueError):
        plc.operation_state(op)
    with pytest.raises(CensusInputError):
        parse_page(encode(entry(1, did_n(1), op)), after=0, page=1)


def test_legacy_create_is_normalised_like_operation_state(tmp_path: Path) -> None:
    op = {
        "type": "create",
        "signingKey": key_n("legacy-signing"),
        "recoveryKey": BSKY_KEY,
        "handle": "Legacy.bsky.social",
        "service": "bsky.social",
        "prev": None,
        "sig": "x" * 86,
    }
    state = plc.operation_state(op)
    with CensusStore.open(tmp_path / "census.db", plc_url=PLC) as store:
        parsed = parse_page(
            encode(entry(1, did_n(1), op)), after=0, page=1, vocabulary=store.vocabulary
        )
        store.append_page(parsed)
    row = did_state(tmp_path / "census.db")[did_n(1)]
    assert row["pds_host"] == host_of(state.services["atproto_pds"].endpoint) == "bsky.social"
    assert row["handle"] == "legacy.bsky.social" and row["handle_domain"] == "bsky.social"
    assert json.loads(row["rotation_keys"]) == list(state.rotation_keys)
    assert list(state.rotation_keys) == [BSKY_KEY, key_n("legacy-signing")]
    assert row["tombstoned"] == 0


def _vectors(name: str) -> list[str]:
    text = (SYNTAX_VECTORS / name).read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line.strip() and not line.startswith("#")]


def test_handle_rule_matches_the_syntax_module() -> None:
    candidates = [
        *_vectors("handle_syntax_valid.txt"),
        *_vectors("handle_syntax_invalid.txt"),
        "Alice.Example.COM",
        "a.b",
        "x" * 63 + ".com",
        "x" * 64 + ".com",
        "alice.com.",
        "-alice.com",
        "alice-.com",
        "alice.1com",
        "alice",
        "ali_ce.com",
        "alïce.com",
    ]
    lines = [
        encode(entry(n, did_n(n), operation(aliases=[f"at://{candidate}"])))
        for n, candidate in enumerate(candidates, start=1)
    ]
    rows = parse_page(b"\n".join(lines), after=0, page=1).rows
    for candidate, row in zip(candidates, rows, strict=True):
        valid = syntax.is_valid_handle(candidate)
        assert (row[3] is not None) == valid, candidate
        assert (_handle_of([f"at://{candidate}"])[0] is not None) == valid, candidate
        if valid:
            assert row[3] == candidate.lower()
            expected = registrable_domain(candidate) or candidate.lower()
            assert row[4] is not None and row[3][-row[4] :] == expected, candidate


def test_first_valid_alias_is_the_handle() -> None:
    aliases = ["https://alice.example.com", "at://not_valid.example", "at://Second.Example.com"]
    (row,) = parse_page(
        encode(entry(1, did_n(1), operation(aliases=aliases))), after=0, page=1
    ).rows
    assert row[3] == "second.example.com"
    (none,) = parse_page(
        encode(entry(1, did_n(1), operation(aliases=["https://x.example"]))), after=0, page=1
    ).rows
    assert none[3] is None and none[4] is None


# --- the shared-key heuristic, bridges, tombstones ----------------------------------------------


def _heuristic_network() -> tuple[FakeNetwork, dict[str, str]]:
    shared, unique = "https://pds.shared.example", "https://pds.unique.example"
    solo, own = "https://pds.solo.example", "https://pds.recovered.example"
    k_shared = key_n("shared-pds")
    dids = {
        name: did_n(1000 + n)
        for n, name in enumerate(
            [
                "managed1",
                "managed2",
                "managed3",
                "user",
                "unique1",
                "unique2",
                "solo",
                "bluesky",
                "nopds",
                "nokeys",
                "gone",
                "bridged1",
                "bridged2",
                "recovered",
            ]
        )
    }
    ops: list[tuple[str, dict[str, Any]]] = [
        ("managed1", operation(pds=shared, keys=[k_shared], aliases=["at://m1.shared.example"])),
        ("managed2", operation(pds=shared, keys=[k_shared], aliases=["at://m2.shared.example"])),
        ("managed3", operation(pds=shared, keys=[k_shared], aliases=["at://m3.example.org"])),
        (
            "user",
            operation(
                pds=shared, keys=[key_n("user-held"), k_shared], aliases=["at://me.example.net"]
            ),
        ),
        ("unique1", operation(pds=unique, keys=[key_n("u1")])),
        ("unique2", operation(pds=unique, keys=[key_n("u2")])),
        ("solo", operation(pds=solo, keys=[key_n("solo")], aliases=["at://solo.example"])),
        (
            "bluesky",
            operation(
                pds="https://morel.us-east.host.bsky.network",
                keys=[BSKY_KEY],
                aliases=["at://b.bsky.social"],
            ),
        ),
        ("nopds", operation(pds=None, keys=[key_n("nopds")])),
        ("nokeys", operation(pds=shared, keys=[])),
        ("gone", operation(pds=shared, keys=[k_shared])),
        ("gone", {"type": "plc_tombstone", "prev": "bafyprev", "sig": "x"}),
        (
            "bridged1",
            operation(
                pds="https://atproto.brid.gy",
                keys=[key_n("b1")],
                aliases=["at://a.mastodon.social.ap.brid.gy"],
            ),
        ),
        (
            "bridged2",
            operation(
                pds="https://atproto.brid.gy",
                keys=[key_n("b2")],
                aliases=["at://b.mastodon.social.ap.brid.gy"],
            ),
        ),
        # a hijack (prev: the genesis) undone by a recovery forking from the genesis again
        ("recovered", operation(pds=own, keys=[key_n("r")], aliases=["at://good.example"])),
        (
            "recovered",
            operation(pds=own, keys=[key_n("r")], aliases=["at://evil.example"], prev="a"),
        ),
        (
            "recovered",
            operation(pds=own, keys=[key_n("r")], aliases=["at://good.example"], prev="a"),
        ),
    ]
    lines = [encode(entry(seq, dids[name], op)) for seq, (name, op) in enumerate(ops, start=1)]
    return FakeNetwork(lines=lines), dids


def test_rotation_key_custody_heuristic(tmp_path: Path) -> None:
    net, dids = _heuristic_network()
    db = tmp_path / "census.db"
    assert net.run(db).complete
    found = custody_of(db, dids.values())
    by_name = {name: found.get(did) for name, did in dids.items()}
    assert by_name == {
        "managed1": "pds_managed",
        "managed2": "pds_managed",
        "managed3": "pds_managed",
        "user": "likely_user_held",
        "unique1": "unknown_unique_pds",
        "unique2": "unknown_unique_pds",
        "solo": "solo_pds",
        "bluesky": "operator",
        "nopds": "no_pds",
        "nokeys": "no_rotation_keys",
        "gone": None,  # tombstoned: not counted
        "bridged1": "unknown_unique_pds",
        "bridged2": "unknown_unique_pds",
        "recovered": "solo_pds",
    }


def test_census_summary_flags_bridges_and_counts_plainly(tmp_path: Path) -> None:
    net, dids = _heuristic_network()
    db = tmp_path / "census.db"
    net.run(db)
    summary = census_summary(db)
    assert summary.counted == COUNTED
    assert "not active users" in summary.counted
    assert not summary.sandbox
    assert (summary.dids, summary.tombstoned, summary.without_pds) == (14, 1, 1)
    assert summary.operations == 17
    (bridge,) = summary.bridges
    assert (bridge.operator, bridge.accounts, bridge.hosts) == (
        "bridgy-fed",
        2,
        ("atproto.brid.gy",),
    )
    with_bridges = {s.name: s.count for s in summary.layers["pds_operator"].shares}
    without = {s.name: s.count for s in summary.layers["pds_operator_without_bridges"].shares}
    assert with_bridges["bridgy-fed"] == 2 and "bridgy-fed" not in without
    assert summary.layers["pds_operator"].total == 12  # 13 live DIDs, one without a PDS
    handles = {s.name: s.count for s in summary.layers["handle_domain_type"].shares}
    # provider names: m1/m2.shared.example, b.bsky.social, the two brid.gy names; the rest are
    # domains of their own (m3.example.org is not under its PDS's domain)
    assert handles == {"provider_subdomain": 5, "custom_domain": 8}
    assert did_state(db)[dids["recovered"]]["handle"] == "good.example"
    assert did_state(db)[dids["gone"]]["tombstoned"] == 1


def test_handle_type_rules() -> None:
    def kind(domain: str | None, pds: str | None, *, apex: bool = False, dids: int = 5) -> str:
        return handle_type(domain, pds, apex=apex, pds_dids=dids, sandbox=False)

    assert kind(None, "x") == "no_handle"
    assert kind("bsky.social", "morel.us-east.host.bsky.network") == "provider_subdomain"
    assert kind("bsky.social", "pds.alice.com") == "provider_subdomain"  # a known handle domain
    assert kind("alice.com", "pds.alice.com", apex=True) == "custom_domain"
    assert kind("alice.com", "pds.alice.com", dids=1) == "custom_domain"  # self-hosted
    assert kind("provider.net", "pds.provider.net", dids=2) == "provider_subdomain"
    assert kind("other.net", "pds.provider.net") == "custom_domain"


# --- relays -------------------------------------------------------------------------------------


def _list_hosts(hosts: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/xrpc/com.atproto.sync.listHosts"
        limit = int(request.url.params["limit"])
        assert limit == 1000
        cursor = request.url.params.get("cursor")
        start = int(cursor) if cursor else 0
        body: dict[str, Any] = {"hosts": hosts[start : start + limit]}
        if start + limit < len(hosts):
            body["cursor"] = str(start + limit)
        return httpx.Response(200, json=body)

    return answer


def test_relay_list_hosts_is_paginated_and_stored(tmp_path: Path) -> None:
    hosts = [
        {"hostname": f"pds{n}.example.com", "accountCount": n % 7, "status": "active", "seq": n}
        for n in range(2500)
    ]
    hosts[0] |= {"hostname": "morel.us-east.host.bsky.network", "accountCount": 10_000}
    hosts[1] |= {"status": "offline", "accountCount": 999}
    hosts[2] |= {"status": "banned", "accountCount": 999}
    net = FakeNetwork(lines=export_lines(10), relays={"relay.example.net": _list_hosts(hosts)})
    db = tmp_path / "census.db"
    result = net.run(db)
    assert result.ok
    (fetch,) = result.relays
    assert (fetch.relay, fetch.hosts, fetch.pages) == ("https://relay.example.net", 2500, 3)
    summary = census_summary(db)
    (view,) = summary.relays
    assert (view.hosts, view.hosts_counted) == (2500, 2498)
    layer = summary.layers["relay:relay.example.net"]
    assert layer.largest == "bluesky"
    assert layer.total == view.accounts == 10_000 + sum(n % 7 for n in range(3, 2500))


def test_relay_rerun_replaces_its_hosts(tmp_path: Path) -> None:
    hosts: list[dict[str, Any]] = [
        {"hostname": "a.example.com", "accountCount": 1},
        {"hostname": "b.example.com"},
    ]
    net = FakeNetwork(lines=export_lines(1), relays={"relay.example.net": _list_hosts(hosts)})
    db = tmp_path / "census.db"
    net.run(db)
    net.relays["relay.example.net"] = _list_hosts(hosts[:1])
    net.run(db)
    assert table(db, "SELECT hostname, account_count FROM relay_hosts") == [("a.example.com", 1)]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, json={"hosts": "nope"}), "not an object with a hosts list"),
        (httpx.Response(200, json={"hosts": [{"accountCount": 1}]}), "string hostname"),
        (
            httpx.Response(200, json={"hosts": [{"hostname": "a", "accountCount": -1}]}),
            "non-negative integer",
        ),
        (
            httpx.Response(200, json={"hosts": [{"hostname": "a"}], "cursor": "same"}),
            "repeats",
        ),
        (httpx.Response(503, json={"error": "x"}), "503"),
    ],
)
def test_bad_relay_answer_is_reported_and_the_export_still_read(
    tmp_path: Path, answer: httpx.Response, expected: str
) -> None:
    net = FakeNetwork(lines=export_lines(10), relays={"relay.example.net": lambda _: answer})
    result = net.run(tmp_path / "census.db")
    assert result.complete and result.lines == 10
    (error,) = result.errors
    assert error.kind in ("bad_input", "fetch_failed")
    assert expected in error.message
    assert table(tmp_path / "census.db", "SELECT count(*) FROM relay_hosts") == [(0,)]


# --- the database ---------------------------------------------------------------------------------


def test_foreign_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    connection = sqlite3.connect(db)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()
    before = db.read_bytes()
    with pytest.raises(CensusStoreError, match="another program"):
        CensusStore.open(db, plc_url=PLC)
    assert db.read_bytes() == before


def test_non_database_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "census.db"
    db.write_bytes(b"this is not SQLite at all, but long enough to have a header " * 20)
    with pytest.raises(CensusStoreError, match="not a usable census database"):
        CensusStore.open(db, plc_url=PLC)
    net = FakeNetwork(lines=export_lines(1))
    with pytest.raises(CensusStoreError):
        net.run(db)


def test_census_of_another_directory_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "census.db"
    CensusStore.open(db, plc_url="https://plc.directory").close()
    with pytest.raises(CensusStoreError, match=r"holds a census of https://plc\.directory"):
        CensusStore.open(db, plc_url=PLC)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "census.db"
    CensusStore.open(db, plc_url=PLC).close()
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA user_version = 99")
    connection.close()
    with pytest.raises(CensusStoreError, match="schema version 99"):
        CensusStore.open(db, plc_url=PLC)


def test_second_writer_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_BUSY_MS", 50)
    db = tmp_path / "census.db"
    ((after, body),) = list(export_pages(10))
    with CensusStore.open(db, plc_url=PLC) as first:
        parsed = parse_page(body, after=after, page=1, vocabulary=first.vocabulary)
        first.append_page(parsed)
        with pytest.raises(CensusStoreError, match="in use"):
            CensusStore.open(db, plc_url=PLC)
    with CensusStore.open(db, plc_url=PLC) as again:
        assert again.cursor == 10


def test_compact_keeps_current_states(tmp_path: Path) -> None:
    net = FakeNetwork(lines=export_lines(3000))
    db = tmp_path / "census.db"
    net.run(db)
    before = did_state(db)
    with CensusStore.open(db, plc_url=PLC) as store:
        assert store.compact() == 600  # every fifth line superseded an earlier one
    assert did_state(db) == before
    assert table(db, "SELECT count(*) FROM ops") == [(2400,)]


def test_reading_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"
    with pytest.raises(CensusStoreError, match="cannot open"):
        census_summary(db)
    assert not db.exists()


# --- the interned vocabulary ----------------------------------------------------------------------


def _homes_lines(count: int, *, first_seq: int = 1, salt: str = "") -> list[bytes]:
    """``count`` genesis lines, each on its own PDS host, rotation key and handle domain."""
    return [
        encode(
            entry(
                seq,
                did_n(10_000 + seq),
                operation(
                    pds=f"https://pds{seq}{salt}.example.net",
                    keys=[key_n(f"{salt}{seq}"), BSKY_KEY],
                    aliases=[f"at://u{seq}.home{seq}{salt}.example.org"],
                ),
            )
        )
        for seq in range(first_seq, first_seq + count)
    ]


def _expected_state(line: bytes) -> tuple[str | None, str | None, str | None, list[str]]:
    op = json.loads(line)["operation"]
    handle = op["alsoKnownAs"][0].removeprefix("at://")
    return (
        host_of(op["services"]["atproto_pds"]["endpoint"]),
        handle,
        registrable_domain(handle) or handle,
        op["rotationKeys"],
    )


def _stored_states(db: Path) -> dict[str, tuple[str | None, str | None, str | None, list[str]]]:
    return {
        did: (
            row["pds_host"],
            row["handle"],
            row["handle_domain"],
            json.loads(row["rotation_keys"]),
        )
        for did, row in did_state(db).items()
    }


def test_handle_domain_is_put_back_by_the_view(tmp_path: Path) -> None:
    handles = {
        "alice.com": "alice.com",  # the parent is a public suffix: the handle itself
        "bob.bsky.social": "bsky.social",
        "c.d.example.co.uk": "example.co.uk",
        "x.mastodon.social.ap.brid.gy": "brid.gy",
        "Mixed.Case.Example.NET": "example.net",
    }
    lines = [
        encode(entry(n, did_n(n), operation(aliases=[f"at://{handle}"])))
        for n, handle in enumerate(handles, start=1)
    ]
    lines.append(encode(entry(9, did_n(9), operation(aliases=["https://no.handle.example"]))))
    db = tmp_path / "census.db"
    assert FakeNetwork(lines=lines).run(db).complete
    stored = did_state(db)
    for n, (handle, domain) in enumerate(handles.items(), start=1):
        row = stored[did_n(n)]
        assert (row["handle"], row["handle_domain"]) == (handle.lower(), domain)
    assert (stored[did_n(9)]["handle"], stored[did_n(9)]["handle_domain"]) == (None, None)


def test_failed_transaction_reloads_the_vocabulary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page 2 brings new hosts and keys, and its transaction fails: the same store must not keep
    giving rows the ids that were rolled back."""
    page_one, page_two = _homes_lines(50), _homes_lines(50, first_seq=51)
    bodies = [(0, b"\n".join(page_one)), (50, b"\n".join(page_two))]
    original = CensusStore._set_meta
    failing = {"once": True}

    def fail_page_two(self: CensusStore, key: str, value: str | int) -> None:
        if key == "cursor" and value == 100 and failing.pop("once", False):
            raise sqlite3.OperationalError("disk I/O error")
        original(self, key, value)

    monkeypatch.setattr(CensusStore, "_set_meta", fail_page_two)
    db = tmp_path / "census.db"
    with CensusStore.open(db, plc_url=PLC) as store:
        for number, (after, body) in enumerate(bodies, start=1):
            parsed = parse_page(body, after=after, page=number, vocabulary=store.vocabulary)
            if number == 2:
                with pytest.raises(sqlite3.OperationalError):
                    store.append_page(parsed)
                assert store.cursor == 50
                parsed = parse_page(body, after=after, page=number, vocabulary=store.vocabulary)
            store.append_page(parsed)
    assert table(db, _DANGLING) == [(0,)]
    expected = {json.loads(line)["did"]: _expected_state(line) for line in page_one + page_two}
    assert _stored_states(db) == expected


def test_page_of_another_vocabulary_is_refused(tmp_path: Path) -> None:
    with CensusStore.open(tmp_path / "census.db", plc_url=PLC) as store:
        parsed = parse_page(b"\n".join(_homes_lines(3)), after=0, page=1)  # a vocabulary of its own
        with pytest.raises(ValueError, match="another vocabulary"):
            store.append_page(parsed)
        assert store.cursor == 0
    assert table(tmp_path / "census.db", "SELECT count(*) FROM ops") == [(0,)]


def test_bounded_caches_clear_and_rows_stay_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With caches of 3 entries every page clears them many times over: a value seen again gets
    a new id, and every DID still reads back its own host, handle domain and keys."""
    monkeypatch.setattr(export_module, "_CACHE_LIMIT", 3)
    monkeypatch.setattr(export_module, "_PARENTS", {})
    lines = _homes_lines(1200) + _homes_lines(300, first_seq=1201, salt="x")
    lines += [  # the first homes again, as updates
        encode(entry(seq, did_n(20_000 + seq), json.loads(line)["operation"]))
        for seq, line in enumerate(lines[:200], start=1501)
    ]
    db = tmp_path / "census.db"
    assert FakeNetwork(lines=lines).run(db).complete
    assert len(export_module._PARENTS) <= 3
    assert table(db, _DANGLING) == [(0,)]
    expected = {json.loads(line)["did"]: _expected_state(line) for line in lines}
    assert _stored_states(db) == expected


_SCHEMA_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE ops (seq INTEGER PRIMARY KEY, did TEXT NOT NULL, pds_host TEXT, handle TEXT, "
    "handle_domain TEXT, rotation_keys TEXT NOT NULL, tombstoned INTEGER NOT NULL)",
    "INSERT INTO meta VALUES ('plc_url', 'https://plc.example.com'), ('cursor', '1')",
    "INSERT INTO ops VALUES (1, 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'pds.example.com', "
    "'alice.example.com', 'example.com', '[]', 0)",
    f"PRAGMA application_id = {store_module.APPLICATION_ID}",
    "PRAGMA user_version = 1",
)


def test_database_of_the_text_schema_is_refused_not_misread(tmp_path: Path) -> None:
    db = tmp_path / "census.db"
    connection = sqlite3.connect(db)
    for statement in _SCHEMA_V1:
        connection.execute(statement)
    connection.commit()
    connection.close()
    before = db.read_bytes()
    for plc_url in (PLC, None):
        with pytest.raises(CensusStoreError, match=r"older decaudit \(census schema version 1"):
            CensusStore.open(db, plc_url=plc_url)
    with pytest.raises(CensusStoreError, match="new file"):
        census_summary(db)
    assert db.read_bytes() == before


def _page_with_line_900(line: bytes | None) -> bytes:
    """A 1,000-line page (about 450 KB: three chunks) whose line 900 is ``line``."""
    lines = export_lines(1000)
    lines[899] = b"" if line is None else line
    return b"\n".join(lines) + b"\n"


_LINE_900 = entry(900, did_n(900), operation())
LATE_BAD_LINES: dict[str, tuple[bytes | None, str]] = {
    "repeated seq": (encode({**_LINE_900, "seq": 899}), "previous line's seq 899"),
    "decreasing seq": (encode({**_LINE_900, "seq": 5}), "previous line's seq 899"),
    "rotation keys not strings": (
        encode({**_LINE_900, "operation": {**operation(), "rotationKeys": [7]}}),
        "rotationKeys: Expected `str`, got `int`",
    ),
    "services not an object": (
        encode({**_LINE_900, "operation": {**operation(), "services": "x"}}),
        "services: Expected `object`, got `str`",
    ),
    "not JSON": (b"{not json", "malformed"),
    "empty line": (None, "empty line"),
    "DID with capitals": (encode({**_LINE_900, "did": "did:plc:" + "B" * 24}), "`$.did`"),
}


@pytest.mark.parametrize("chunk_bytes", [1, 4096, export_module._CHUNK_BYTES, 10**9])
@pytest.mark.parametrize("case", sorted(LATE_BAD_LINES))
def test_bad_line_in_a_later_chunk_is_named(
    monkeypatch: pytest.MonkeyPatch, case: str, chunk_bytes: int
) -> None:
    """Pages are decoded a chunk at a time: the line named must be the page's line, whatever
    chunk it falls in (1 byte: a chunk per line; 10**9: the whole page at once)."""
    monkeypatch.setattr(export_module, "_CHUNK_BYTES", chunk_bytes)
    line, expected = LATE_BAD_LINES[case]
    with pytest.raises(CensusInputError) as raised:
        parse_page(_page_with_line_900(line), after=0, page=4)
    assert (raised.value.page, raised.value.line) == (4, 900)
    assert expected in raised.value.problem


@pytest.mark.parametrize("chunk_bytes", [1, 4096, export_module._CHUNK_BYTES, 10**9])
def test_chunking_does_not_change_the_rows(
    monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    body = b"\n".join(export_lines(1000))  # no final newline
    whole = parse_page(body, after=0, page=1)
    monkeypatch.setattr(export_module, "_CHUNK_BYTES", chunk_bytes)
    for page in (body, body + b"\n"):
        parsed = parse_page(page, after=0, page=1)
        assert (parsed.rows, parsed.last_seq, parsed.geneses) == (
            whole.rows,
            whole.last_seq,
            whole.geneses,
        )
    assert whole.count == 1000 and whole.geneses == 800
    with pytest.raises(CensusInputError, match="line 1001: empty line"):
        parse_page(body + b"\n\n", after=0, page=1)


def test_long_values_are_checked_but_not_cached(tmp_path: Path) -> None:
    """A services document or key list longer than a real one is checked every time and never
    kept: a hostile directory cannot fill the caches with megabytes."""
    long_services = {
        "atproto_pds": {"type": plc.PDS_SERVICE_TYPE, "endpoint": "https://pds.long.example"},
        "padding": {"type": "x", "endpoint": "https://" + "p" * 2000 + ".example"},
    }
    long_keys = [key_n(f"long{n}") for n in range(40)]
    lines = []
    for seq in range(1, 4):
        op = {**operation(keys=long_keys), "services": long_services}
        lines.append(encode(entry(seq, did_n(seq), op)))
    bad = {**operation(keys=long_keys), "services": {**long_services, "atproto_pds": "x"}}
    lines.append(encode(entry(4, did_n(4), bad)))
    db = tmp_path / "census.db"
    with CensusStore.open(db, plc_url=PLC) as store:
        parsed = parse_page(b"\n".join(lines[:3]), after=0, page=1, vocabulary=store.vocabulary)
        vocabulary = store.vocabulary
        assert all(len(raw) <= export_module._CACHED_BYTES for raw in vocabulary.services)
        assert all(len(raw) <= export_module._CACHED_BYTES for raw in vocabulary.keysets)
        assert not vocabulary.services and not vocabulary.keysets
        store.append_page(parsed)
        with pytest.raises(CensusInputError, match=r"line 1: .*services"):
            parse_page(lines[3], after=3, page=2, vocabulary=store.vocabulary)
    for row in did_state(db).values():
        assert row["pds_host"] == "pds.long.example"
        assert json.loads(row["rotation_keys"]) == long_keys


def test_the_first_bad_line_of_a_page_is_named() -> None:
    """A bad DID early in the page is reported before a malformed line further on."""
    lines = export_lines(1000)
    lines[2] = encode({**entry(3, did_n(3), operation()), "did": "did:plc:" + "C" * 24})
    lines[899] = b"{not json"
    with pytest.raises(CensusInputError) as raised:
        parse_page(b"\n".join(lines), after=0, page=1)
    assert raised.value.line == 3 and "`$.did`" in raised.value.problem


def test_empty_and_oversized_pages_are_stored(tmp_path: Path) -> None:
    """An empty page stores nothing; a page of more than 1,000 rows (over SQLite's parameter
    limit in one statement) is stored whole."""
    db = tmp_path / "census.db"
    body = b"\n".join(export_lines(2500))
    with CensusStore.open(db, plc_url=PLC) as store:
        store.append_page(parse_page(b"", after=0, page=1, vocabulary=store.vocabulary))
        assert store.cursor == 0
        parsed = parse_page(body, after=0, page=2, vocabulary=store.vocabulary)
        store.append_page(parsed)
        assert store.cursor == 2500 and store.dids_known == 2000
    assert table(db, "SELECT count(*), min(seq), max(seq) FROM ops") == [(2500, 1, 2500)]
    assert table(db, _DANGLING) == [(0,)]

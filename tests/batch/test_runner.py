"""The batch runner on the in-process sandbox: every target once, resumable, lean, and one
failing target costs only itself."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path

import pytest

from auditor.api import load_checks
from auditor.batch import runner
from auditor.batch.output import ReportLog
from auditor.batch.targets import read_targets
from auditor.sandbox.bulk import add_bulk_accounts
from auditor.sandbox.scenarios import build_world
from auditor.sandbox.world import World
from auditor.session import Session

pytestmark = pytest.mark.anyio
COUNT = 24
HOST_LEVEL = ("_health", "com.atproto.server.describeServer", "com.atproto.sync.listRepos")


@pytest.fixture(scope="module")
def world() -> World:
    world = build_world(["bsky-default", "unresolvable-handle"])
    add_bulk_accounts(world, COUNT)
    return world


async def run(
    world: World, path: Path, lines: list[str], **options: object
) -> runner.BatchProgress:
    log = ReportLog(path)
    log.resume()
    available = load_checks(plugins=False)
    try:
        async with Session.open(
            world.settings(skip_export=True),
            resolver=world.zone.resolver(),
            transport=world.transport(),
        ) as session:
            return await runner.run_batch(
                read_targets(lines).targets,
                session,
                log,
                checks=available.checks,
                model=available.checks,
                **options,  # type: ignore[arg-type]
            )
    finally:
        log.close()


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_every_target_is_audited_once_and_resume_skips_them(
    world: World, tmp_path: Path
) -> None:
    path = tmp_path / "reports.jsonl"
    handles = [a.handle for a in world.accounts]
    first = await run(world, path, handles[:10], concurrency=4)
    assert (first.total, first.done, first.failed) == (10, 10, [])
    second = await run(world, path, handles, concurrency=8)
    assert second.total == len(handles) - 10  # the first ten are not audited again
    reports = lines_of(path)
    assert sorted(r["handle"] for r in reports) == sorted(handles)
    unresolved = [r for r in reports if r["band"] is None]
    assert [r["target"] for r in unresolved] == [
        a.handle for a in world.accounts if a.scenario == "unresolvable-handle"
    ]
    assert first.unresolved + second.unresolved == 1


async def test_lean_reports_have_no_evidence(world: World, tmp_path: Path) -> None:
    path = tmp_path / "lean.jsonl"
    await run(world, path, [world.accounts[0].handle], lean=True)
    (report,) = lines_of(path)
    assert "evidence" not in report
    assert report["checks"] and report["band"] == "centralized"


async def test_a_crash_in_one_audit_costs_only_that_target(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner._audit_one
    doomed = world.accounts[3].handle

    async def flaky(line, session, checks, model):  # type: ignore[no-untyped-def]
        if line.target.handle == doomed:
            raise RuntimeError("a bug")
        return await real(line, session, checks, model)

    monkeypatch.setattr(runner, "_audit_one", flaky)
    path = tmp_path / "reports.jsonl"
    handles = [a.handle for a in world.accounts[:6]]
    progress = await run(world, path, handles, concurrency=3)
    assert progress.done == 6
    assert progress.failed == [f"line 4 {doomed}: RuntimeError: a bug"]
    assert doomed not in {r["handle"] for r in lines_of(path)}
    assert len(lines_of(path)) == 5


async def test_concurrency_bounds_audits_in_flight(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner._audit_one
    in_flight, peak = 0, 0

    async def counting(line, session, checks, model):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await real(line, session, checks, model)
        finally:
            in_flight -= 1

    monkeypatch.setattr(runner, "_audit_one", counting)
    await run(world, tmp_path / "r.jsonl", [a.handle for a in world.accounts], concurrency=5)
    assert peak == 5


async def test_host_level_questions_are_asked_once_per_session(tmp_path: Path) -> None:
    world = build_world(["bsky-default"])
    add_bulk_accounts(world, 12)
    asked: list[str] = []
    handle = world.network.handle

    async def counting(request):  # type: ignore[no-untyped-def]
        asked.append(f"{request.url.host} {request.url.path}")
        return await handle(request)

    world.network.handle = counting  # type: ignore[method-assign]
    on_bluesky = [
        a.handle
        for a in world.accounts
        if a.scenario.startswith("bulk-") and a.handle.endswith(".bsky.social")
    ]
    await run(world, tmp_path / "r.jsonl", on_bluesky, concurrency=6)
    pdses = ("morel.us-east.host.bsky.network", "enoki.us-west.host.bsky.network")
    described = sum(asked.count(f"{pds} /xrpc/com.atproto.repo.describeRepo") for pds in pdses)
    assert described == len(on_bluesky) > 4  # per account: asked for each
    for pds in pdses:
        for method in (
            "_health",
            "com.atproto.server.describeServer",
            "com.atproto.sync.listRepos",
        ):
            assert asked.count(f"{pds} /xrpc/{method}") == 1, (pds, method)
        for relay in ("bsky.network", "atproto.africa"):
            assert asked.count(f"{relay} /xrpc/com.atproto.sync.getHostStatus") == 2  # one per PDS


async def test_the_collector_runs_less_often_during_a_batch_and_is_restored(
    world: World, tmp_path: Path
) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    await run(
        world,
        tmp_path / "r.jsonl",
        [world.accounts[0].handle],
        on_report=lambda _: seen.append(gc.get_threshold()),
    )
    assert seen == [(runner.BATCH_GC_THRESHOLD, before[1], before[2])]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # nothing left frozen after the run


async def test_batches_side_by_side_restore_the_collector_once_both_are_done(
    world: World, tmp_path: Path
) -> None:
    before = gc.get_threshold()
    handles = [a.handle for a in world.accounts[:4]]
    await asyncio.gather(
        run(world, tmp_path / "a.jsonl", handles[:1]),
        run(world, tmp_path / "b.jsonl", handles[1:]),
    )
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

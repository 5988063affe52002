"""Run a batch: many audits over one session, a bounded number in flight, each report written as
soon as it is done.

Workers pull targets from one iterator (no task per target is created up front, so memory does not
grow with the list); each audit gets its own deadline; the session's per-PDS limit keeps any one
provider from seeing more than a few requests from us at once, and the fetcher's bounded retries
honour ``Retry-After`` when a directory or relay answers 429.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

from auditor.api import build_report, gather
from auditor.batch.output import ReportLog
from auditor.batch.targets import TargetLine
from auditor.check import Check
from auditor.models.report import Report
from auditor.session import Session

DEFAULT_CONCURRENCY = 32

BATCH_GC_THRESHOLD: Final = 10_000
"""Allocations between young-generation collections during a batch (CPython's default: 700)."""


@dataclass
class BatchProgress:
    """Counters the progress display reads."""

    total: int
    done: int = 0
    unresolved: int = 0
    failed: list[str] = field(default_factory=list)


ReportHook = Callable[[Report], None]


async def _audit_one(
    line: TargetLine, session: Session, checks: Sequence[Check], model: Sequence[Check]
) -> Report:
    evidence = await gather(line.target, session=session)
    return build_report(evidence, checks, model=model)


async def run_batch(
    targets: Sequence[TargetLine],
    session: Session,
    log: ReportLog,
    *,
    checks: Sequence[Check],
    model: Sequence[Check],
    concurrency: int = DEFAULT_CONCURRENCY,
    on_report: ReportHook | None = None,
    progress: BatchProgress | None = None,
    lean: bool = False,
) -> BatchProgress:
    """Audit every target not already in ``log``; returns the counters.

    ``lean`` writes each report without its raw evidence (metrics and gates need only the checks;
    a lean line cannot be re-scored later).
    """
    pending = [t for t in targets if t.key not in log.done]
    state = progress or BatchProgress(total=len(pending))
    queue: Iterator[TargetLine] = iter(pending)

    async def worker() -> None:
        for line in queue:  # one shared iterator: each target is taken by exactly one worker
            try:
                report = await _audit_one(line, session, checks, model)
            except Exception as exc:  # a bug must cost one target, not the batch
                state.failed.append(
                    f"line {line.line} {line.target.raw}: {type(exc).__name__}: {exc}"
                )
                state.done += 1
                continue
            log.append(report.model_dump_json(exclude={"evidence"} if lean else None))
            log.done.add(line.key)
            if report.band is None:
                state.unresolved += 1
            state.done += 1
            if on_report is not None:
                on_report(report)

    with _batch_collector():
        workers = max(1, min(concurrency, len(pending) or 1))
        await asyncio.gather(*(worker() for _ in range(workers)))
    return state


@contextmanager
def _batch_collector() -> Iterator[None]:
    """Collect cyclic garbage less often while the batch runs.

    A batch keeps dozens of audits in flight, each holding thousands of young objects across its
    awaits (responses, evidence, coroutine frames). With CPython's default threshold the
    collector rescans them all every 700 allocations, and promotes them into older generations
    that it then rescans too: about a tenth of a batch's CPU (bench/README.md). Reports hold no
    reference cycles of their own, so a higher threshold delays little garbage; memory stays
    bounded because each audit's objects die with it. Everything alive before the batch (imports,
    settings, the data files) is moved out of the collector's sight for the run (and back after
    it: an embedding program's own ``gc.freeze()`` is undone then).
    """
    global _batches_running
    _batches_running += 1
    if _batches_running == 1:  # batches run side by side share one setting
        _saved_threshold[:] = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(BATCH_GC_THRESHOLD, _saved_threshold[1], _saved_threshold[2])
    try:
        yield
    finally:
        _batches_running -= 1
        if _batches_running == 0:
            gc.set_threshold(*_saved_threshold)
            gc.unfreeze()


_batches_running = 0
_saved_threshold: list[int] = []

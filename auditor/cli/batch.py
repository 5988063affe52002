"""``decaudit batch``: audit many accounts, summarise the ecosystem, gate CI on it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from auditor import defaults
from auditor.cli import options as opt
from auditor.cli.common import (
    EXIT_BELOW_THRESHOLD,
    EXIT_OK,
    EXIT_UNRESOLVED,
    choose_checks,
    env,
    fail,
    say,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from auditor.batch.output import ReportLog
    from auditor.batch.runner import BatchProgress
    from auditor.batch.targets import TargetLine
    from auditor.check import Check
    from auditor.models.report import Report
    from auditor.registry import CheckSet
    from auditor.settings import AuditSettings

SUMMARY_FORMATS = ("text", "json", "md", "html")


def _read_lines(source: str) -> list[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{source} is not UTF-8 text")


def load_summary(path: Path, what: str) -> dict[str, Any]:
    """A saved batch or census summary, or a usage error naming the file."""
    from auditor.batch import SUMMARY_KINDS
    from auditor.cli.history import read_json

    value = read_json(path, what)
    if value.get("kind") not in SUMMARY_KINDS:
        fail(f"the {what} {path} is not a decaudit batch or census summary")
    return value


def render_summary(summary: dict[str, Any], fmt: str) -> str:
    """A batch or census summary in ``fmt`` (one of :data:`SUMMARY_FORMATS`)."""
    from auditor.batch import render

    renderers = {
        "text": render.render_summary_text,
        "json": render.render_summary_json,
        "md": render.render_summary_markdown,
        "html": render.render_summary_html,
    }
    return renderers[fmt](summary)


def publish_summary(
    data: dict[str, Any],
    fmt: str,
    *,
    summary: Path | None,
    badge: Path | None,
    gate_failures: list[str],
    incomplete: bool,
) -> NoReturn:
    """The end of a batch or census run: ``--summary`` (JSON) and ``--badge`` files, the summary
    in ``fmt`` on stdout, each failed gate on stderr, and the exit status (1 if a gate failed, 3
    if something could not be audited or fetched, 0 otherwise)."""
    import json

    from auditor.batch import badge as badges

    if summary is not None:
        summary.write_text(render_summary(data, "json"), encoding="utf-8")
    if badge is not None:
        badge.write_text(json.dumps(badges.summary_badge(data)) + "\n", encoding="utf-8")
    sys.stdout.write(render_summary(data, fmt))
    for message in gate_failures:
        say(f"gate failed: {message}")
    if gate_failures:
        raise typer.Exit(EXIT_BELOW_THRESHOLD)
    raise typer.Exit(EXIT_UNRESOLVED if incomplete else EXIT_OK)


def batch(
    targets: Annotated[str, typer.Argument(help="File of targets, one per line ('-' for stdin).")],
    *,
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", envvar=env("output"), help="JSON-lines file of reports (resumable)."
        ),
    ],
    summary: opt.SummaryFile = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="Summary format on stdout: text, json, md or html."),
    ] = "text",
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=1024, help="Audits in flight.")
    ] = 32,
    with_export: Annotated[
        bool, typer.Option("--with-export", help="Also download and verify every export.")
    ] = False,
    lean: Annotated[
        bool, typer.Option("--lean", help="Write reports without their raw evidence.")
    ] = False,
    fail_under: Annotated[
        float | None, typer.Option("--fail-under", min=0, max=100, help="Per-account score gate.")
    ] = None,
    require: opt.Require = None,
    max_hhi: opt.MaxHhi = None,
    min_operators_for_50: opt.MinOperatorsFor50 = None,
    baseline: opt.Baseline = None,
    badge: opt.Badge = None,
    plc_url: opt.PlcUrl = defaults.PLC_URL,
    nameserver: opt.Nameserver = None,
    connect_to: opt.ConnectTo = None,
    relay: opt.Relay = None,
    plc_mirror: opt.PlcMirror = None,
    appview: opt.AppView = None,
    labeler: opt.Labeler = None,
    own_domain: opt.OwnDomain = None,
    timeout: opt.Timeout = defaults.TIMEOUT,
    deadline: opt.Deadline = defaults.DEADLINE,
    allow_private: opt.AllowPrivate = False,
    ca_bundle: opt.CaBundle = None,
) -> None:
    """Audit every account in a file; write one report per line; summarise and gate."""
    import asyncio

    from auditor.batch.gates import account_failures, ecosystem_failures
    from auditor.batch.output import OutputFileError, ReportLog
    from auditor.batch.summary import summarise
    from auditor.batch.targets import read_targets

    if fmt not in SUMMARY_FORMATS:
        fail(f"--format {fmt!r}: expected one of {', '.join(SUMMARY_FORMATS)}")
    available, chosen = choose_checks(None, None)
    requirements = opt.requirements(require, available)
    previous = load_summary(baseline, "baseline") if baseline else None
    settings = opt.network_settings(
        plc_url=plc_url,
        nameserver=nameserver,
        connect_to=connect_to,
        relay=relay,
        plc_mirror=plc_mirror,
        appview=appview,
        labeler=labeler,
        own_domain=own_domain,
        skip_export=not with_export,
        save_export=None,
        max_export_size=opt.DEFAULT_MAX_EXPORT_MIB,
        blobs=opt.DEFAULT_BLOBS,
        timeout=timeout,
        deadline=deadline,
        allow_private=allow_private,
        ca_bundle=ca_bundle,
    )
    parsed = read_targets(_read_lines(targets))
    for error in parsed.errors:
        say(f"skipped {error}")
    log = ReportLog(output)
    try:
        log.resume()
    except OutputFileError as exc:
        fail(str(exc))
    gate_failures: list[str] = []
    try:
        progress = asyncio.run(
            _run(parsed.targets, settings, log, available, chosen, concurrency, lean)
        )
    except ValueError as exc:
        fail(str(exc))
    finally:
        log.close()
    result = summarise(
        output,
        each=lambda report: gate_failures.extend(
            account_failures(report, fail_under=fail_under, requirements=requirements)
        ),
        requested=len(parsed.targets),
        invalid_lines=len(parsed.errors),
        duplicates=parsed.duplicates,
        failed=len(progress.failed),
    )
    for failure in progress.failed:
        say(f"failed: {failure}")
    gate_failures.extend(
        ecosystem_failures(
            result, max_hhi=max_hhi, min_operators_for_50=min_operators_for_50, baseline=previous
        )
    )
    incomplete = parsed.errors or progress.failed or result["accounts"]["unresolved"]
    publish_summary(
        result,
        fmt,
        summary=summary,
        badge=badge,
        gate_failures=gate_failures,
        incomplete=bool(incomplete),
    )


async def _run(
    targets: Sequence[TargetLine],
    settings: AuditSettings,
    log: ReportLog,
    available: CheckSet,
    chosen: tuple[Check, ...],
    concurrency: int,
    lean: bool,
) -> BatchProgress:
    """The batch on one session, with a progress bar on stderr when it is a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from auditor.batch.runner import BatchProgress, run_batch
    from auditor.session import Session

    state = BatchProgress(total=sum(1 for t in targets if t.key not in log.done))
    console = Console(stderr=True)
    async with Session.open(settings) as session:

        async def go(hook: Callable[[Report], None] | None) -> BatchProgress:
            return await run_batch(
                targets,
                session,
                log,
                checks=chosen,
                model=available.checks,
                concurrency=concurrency,
                on_report=hook,
                progress=state,
                lean=lean,
            )

        if not console.is_terminal:
            return await go(None)
        columns = (
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("batch", total=state.total, failed=0)

            def tick(_: Report) -> None:
                failed = state.unresolved + len(state.failed)
                bar.update(task, completed=state.done, failed=failed)

            return await go(tick)

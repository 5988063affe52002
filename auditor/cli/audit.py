"""``check``, ``render``, ``checks`` and ``schema``: audit one account, re-judge saved evidence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor import defaults
from auditor.cli import options as opt
from auditor.cli.common import (
    FailUnderOpt,
    FormatOpt,
    NoColorOpt,
    OutputOpt,
    SelectOpt,
    SkipOpt,
    VerboseOpt,
    choose_checks,
    emit,
    env,
    fail,
    finish,
    judge,
    load_evidence,
    write_badge,
)
from auditor.render.formats import OutputFormat

if TYPE_CHECKING:
    from auditor.models.evidence import Evidence
    from auditor.settings import AuditSettings
    from auditor.syntax import Target

TargetArg = Annotated[
    str,
    typer.Argument(
        help="A handle (alice.bsky.social), a DID, an at:// URI or a bsky.app profile URL; a "
        "fediverse account (@alice@mastodon.social, acct:, a profile URL); a Matrix ID "
        "(@alice:matrix.org)."
    ),
]


def check(
    target: TargetArg,
    *,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    select: SelectOpt = None,
    skip: SkipOpt = None,
    fail_under: FailUnderOpt = None,
    save_evidence: Annotated[
        Path | None,
        typer.Option(
            "--save-evidence",
            envvar=env("save_evidence"),
            help="Also save the raw evidence (re-score it later with 'decaudit render').",
        ),
    ] = None,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
    require: opt.Require = None,
    badge: opt.Badge = None,
    plc_url: opt.PlcUrl = defaults.PLC_URL,
    nameserver: opt.Nameserver = None,
    connect_to: opt.ConnectTo = None,
    relay: opt.Relay = None,
    plc_mirror: opt.PlcMirror = None,
    appview: opt.AppView = None,
    labeler: opt.Labeler = None,
    own_domain: opt.OwnDomain = None,
    skip_export: Annotated[
        bool,
        typer.Option(
            "--skip-export", envvar=env("skip_export"), help="Do not download the repository."
        ),
    ] = False,
    save_export: opt.SaveExport = None,
    max_export_size: opt.MaxExportSize = opt.DEFAULT_MAX_EXPORT_MIB,
    blobs: opt.Blobs = opt.DEFAULT_BLOBS,
    timeout: opt.Timeout = defaults.TIMEOUT,
    deadline: opt.Deadline = defaults.DEADLINE,
    allow_private: opt.AllowPrivate = False,
    ca_bundle: opt.CaBundle = None,
) -> None:
    """Audit one account and place it on the centralization spectrum."""
    import asyncio

    from auditor import syntax

    try:
        parsed = syntax.parse_target(target)
    except syntax.TargetSyntaxError as exc:
        fail(f"invalid target {target!r}: {exc}")
    settings = opt.network_settings(
        plc_url=plc_url,
        nameserver=nameserver,
        connect_to=connect_to,
        relay=relay,
        plc_mirror=plc_mirror,
        appview=appview,
        labeler=labeler,
        own_domain=own_domain,
        skip_export=skip_export,
        save_export=save_export,
        max_export_size=max_export_size,
        blobs=blobs,
        timeout=timeout,
        deadline=deadline,
        allow_private=allow_private,
        ca_bundle=ca_bundle,
    )
    available, chosen = choose_checks(select, skip)  # unknown ids fail before any request
    requirements = opt.requirements(require, available)
    try:
        evidence = asyncio.run(_gather_with_progress(parsed, settings))
    except ValueError as exc:  # a nameserver or CA bundle the network layer cannot use
        fail(str(exc))
    if save_evidence is not None:
        try:
            save_evidence.write_text(evidence.model_dump_json(indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {save_evidence}: {exc.strerror or exc}")
    report = judge(evidence, available, chosen)
    emit(report, fmt, output, verbose, no_color=no_color)
    write_badge(report, badge)
    finish(report, fail_under, requirements)


async def _gather_with_progress(target: Target, settings: AuditSettings) -> Evidence:
    from rich.console import Console

    from auditor.api import gather

    console = Console(stderr=True)
    if not console.is_terminal:
        return await gather(target, settings=settings)
    with console.status(f"Auditing {target.raw} …"):
        return await gather(target, settings=settings)


def render(
    file: Annotated[
        Path, typer.Argument(help="A saved evidence file, or a JSON report (its evidence is used).")
    ],
    *,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    select: SelectOpt = None,
    skip: SkipOpt = None,
    fail_under: FailUnderOpt = None,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
    require: opt.Require = None,
    badge: opt.Badge = None,
) -> None:
    """Re-score saved evidence offline with the current checks, in any format."""
    evidence = load_evidence(file)
    available, chosen = choose_checks(select, skip)
    requirements = opt.requirements(require, available)
    report = judge(evidence, available, chosen)
    emit(report, fmt, output, verbose, no_color=no_color)
    write_badge(report, badge)
    finish(report, fail_under, requirements)


def list_checks(verbose: VerboseOpt = False) -> None:
    """List the checks: ids, categories, weights and titles (and data keys with --verbose)."""
    from rich.console import Console
    from rich.table import Table

    from auditor.scoring import effective_weights

    available, _ = choose_checks(None, None)
    shares = effective_weights(available.checks)
    widest = max(len(item.meta.id) for item in available.checks)
    titles = {
        "atproto": "AT Protocol",
        "activitypub": "Fediverse (ActivityPub)",
        "matrix": "Matrix",
    }
    tables = []
    for network in dict.fromkeys(item.meta.protocol for item in available.checks):
        table = Table(title=titles.get(network, network), title_justify="left", box=None)
        table.add_column("id", no_wrap=True, min_width=widest)  # what people copy: never cut
        for column in ("category", "weight", "share"):
            table.add_column(column, no_wrap=True)
        table.add_column("title")
        for item in (c for c in available.checks if c.meta.protocol == network):
            meta = item.meta
            share = f"{shares[meta.id]:.0%}"
            table.add_row(meta.id, meta.category.value, f"{meta.weight:g}", share, meta.title)
        tables.append(table)
    console = Console()
    for table in tables:
        console.print(table)
        console.print()
    if verbose:
        for item in available.checks:
            meta = item.meta
            console.print(f"\n[bold]{meta.id}[/]: {meta.rationale}", highlight=False)
            for key, meaning in meta.data_keys.items():
                console.print(f"  data.{key}: {meaning}", highlight=False, markup=False)


def schema() -> None:
    """Print the JSON schema of the report."""
    import json

    from auditor.models.report import Report

    sys.stdout.write(json.dumps(Report.model_json_schema(), indent=2, sort_keys=True) + "\n")

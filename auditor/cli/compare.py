"""``decaudit compare``: several accounts (one person's, on different networks) side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor import defaults
from auditor.cli import options as opt
from auditor.cli.common import EXIT_OK, EXIT_UNRESOLVED, FormatOpt, fail, say
from auditor.render.formats import OutputFormat

if TYPE_CHECKING:
    from auditor.compare import Comparison


def compare(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Two or more accounts: handles or DIDs, @user@domain (fediverse), @user:server "
            "(Matrix), or profile links."
        ),
    ],
    *,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the comparison here, not stdout.")
    ] = None,
    plc_url: opt.PlcUrl = defaults.PLC_URL,
    nameserver: opt.Nameserver = None,
    connect_to: opt.ConnectTo = None,
    relay: opt.Relay = None,
    plc_mirror: opt.PlcMirror = None,
    appview: opt.AppView = None,
    labeler: opt.Labeler = None,
    own_domain: opt.OwnDomain = None,
    with_export: Annotated[
        bool,
        typer.Option("--with-export", help="Also download and verify AT Protocol repositories."),
    ] = False,
    timeout: opt.Timeout = defaults.TIMEOUT,
    deadline: opt.Deadline = defaults.DEADLINE,
    allow_private: opt.AllowPrivate = False,
    ca_bundle: opt.CaBundle = None,
) -> None:
    """Audit several accounts and show them side by side (exit 3 when one could not be found)."""
    import asyncio

    from auditor import syntax
    from auditor.compare import MAX_TARGETS
    from auditor.compare import compare as run_compare
    from auditor.render.compare import render_comparison
    from auditor.session import Session

    if not 2 <= len(targets) <= MAX_TARGETS:
        fail(f"give between 2 and {MAX_TARGETS} targets to compare, not {len(targets)}")
    parsed = []
    for target in targets:
        try:
            parsed.append(syntax.parse_target(target))
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
        skip_export=not with_export,
        save_export=None,
        max_export_size=opt.DEFAULT_MAX_EXPORT_MIB,
        blobs=opt.DEFAULT_BLOBS,
        timeout=timeout,
        deadline=deadline,
        allow_private=allow_private,
        ca_bundle=ca_bundle,
    )

    async def run() -> Comparison:
        async with Session.open(settings) as session:
            return await run_compare(parsed, session)

    try:
        comparison = asyncio.run(run())
    except ValueError as exc:  # a nameserver or CA bundle the network layer cannot use
        fail(str(exc))
    text = render_comparison(comparison, fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
    missing = [r for r in comparison.reports if r.band is None and r.unresolved_reason]
    for report in missing:
        say(f"{report.target}: {report.unresolved_reason}")
    raise typer.Exit(EXIT_UNRESOLVED if missing else EXIT_OK)

"""``decaudit demo`` and ``decaudit sandbox serve``: the embedded network, in process or served."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import fail, split

sandbox_app = typer.Typer(
    help="decaudit's embedded AT Protocol network (simulated accounts, real cryptography).",
    no_args_is_help=True,
)

ScenariosOpt = Annotated[
    list[str] | None,
    typer.Option("--scenarios", help="Scenario ids (comma list; default: all)."),
]


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder the reports are written to.")] = Path(
        "decaudit-demo"
    ),
    scenarios: ScenariosOpt = None,
) -> None:
    """Audit the sandbox's scenario accounts offline and print a summary table."""
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from auditor.render.text import inert
    from auditor.sandbox.demo import audit_scenarios, default_scenarios, write_reports
    from auditor.sandbox.scenarios import UnknownScenarioError, select

    ids = split(scenarios) or default_scenarios()
    try:
        select(ids)
    except UnknownScenarioError as exc:
        fail(str(exc))
    results = asyncio.run(audit_scenarios(ids))
    written = write_reports(results, out)
    table = Table(title="decaudit demo: SANDBOX DATA (simulated accounts, not real people)")
    for column in ("scenario", "account", "band", "score", "designed as"):
        # band names are never cut ("decentralized" fits 80 columns); a long account folds
        banded = column in ("band", "designed as")
        table.add_column(
            column,
            no_wrap=column != "account",
            overflow="fold" if column == "account" else "ellipsis",
            min_width=13 if banded else None,
        )
    for result in results:
        report = result.report
        band = report.band.value if report.band else "no verdict"
        score = f"{report.score:.0f}" if report.score is not None else "-"
        designed = result.expected_band.value if result.expected_band else "-"
        account = report.handle or report.account or report.target
        table.add_row(result.scenario, inert(account), band, score, designed)
    console = Console()
    console.print(table)
    console.print(f"{len(written)} report files written to {out}/", highlight=False)


@sandbox_app.command()
def serve(
    state: Annotated[
        Path | None, typer.Option("--state", help="Write the JSON state file here.")
    ] = None,
    scenarios: ScenariosOpt = None,
    http_port: Annotated[int, typer.Option("--http-port", min=0, max=65535)] = 0,
    dns_port: Annotated[int, typer.Option("--dns-port", min=0, max=65535)] = 0,
    rtt: Annotated[float, typer.Option("--rtt", min=0, help="Seconds added per request.")] = 0.0,
    jitter: Annotated[float, typer.Option("--jitter", min=0, help="Up to this much more.")] = 0.0,
    error_rate: Annotated[
        float, typer.Option("--error-rate", min=0, max=1, help="Share of requests answered 503.")
    ] = 0.0,
    bandwidth: Annotated[
        float | None, typer.Option("--bandwidth", min=1, help="Body bytes per second.")
    ] = None,
    host_faults: Annotated[
        list[str] | None,
        typer.Option(
            "--host-faults",
            help="HOST=rtt:0.1,jitter:0.02,error_rate:0.1,bandwidth:100000,down (repeatable).",
        ),
    ] = None,
    bulk: Annotated[
        int,
        typer.Option("--bulk", min=0, help="Also serve this many ordinary accounts (u0, u1...)."),
    ] = 0,
) -> None:
    """Serve the sandbox on 127.0.0.1 (HTTP and DNS) until interrupted."""
    from auditor.sandbox.serve import run_serve_command

    try:
        code = run_serve_command(
            split(scenarios),
            state,
            http_port,
            dns_port,
            rtt,
            jitter,
            error_rate,
            bandwidth,
            list(host_faults or []),
            bulk=bulk,
        )
    except (ValueError, OSError) as exc:
        fail(str(exc))
    raise typer.Exit(code)

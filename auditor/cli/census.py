"""``decaudit census``: the whole network's concentration, from the PLC export and relays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditor import __version__, defaults
from auditor.cli import options as opt
from auditor.cli.common import fail, say

if TYPE_CHECKING:
    from auditor.ecosystem.census import CensusResult
    from auditor.settings import AuditSettings

FORMATS = ("text", "json", "md", "html")
CENSUS_SUMMARY_VERSION = "1.0"


def census(
    db: Annotated[
        Path,
        typer.Option("--db", help="The census database (SQLite; created, then updated)."),
    ],
    *,
    summary: opt.SummaryFile = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Summary on stdout: text, json, md or html.")
    ] = "text",
    max_pages: Annotated[
        int | None,
        typer.Option("--max-pages", min=1, help="Read at most this many export pages this run."),
    ] = None,
    measure_only: Annotated[
        bool, typer.Option("--measure-only", help="Do not fetch; summarise the database as is.")
    ] = False,
    max_hhi: opt.MaxHhi = None,
    min_operators_for_50: opt.MinOperatorsFor50 = None,
    baseline: opt.Baseline = None,
    badge: opt.Badge = None,
    plc_url: opt.PlcUrl = defaults.PLC_URL,
    relay: opt.Relay = None,
    nameserver: opt.Nameserver = None,
    connect_to: opt.ConnectTo = None,
    timeout: opt.Timeout = defaults.TIMEOUT,
    allow_private: opt.AllowPrivate = False,
    ca_bundle: opt.CaBundle = None,
) -> None:
    """Census the network: every DID's PDS, handle, method and keys from the PLC export, and
    relays' host lists; incremental and resumable; then the concentration of each layer."""
    import asyncio

    from auditor.batch.gates import ecosystem_failures
    from auditor.cli.batch import load_summary, publish_summary
    from auditor.ecosystem.store import CensusStoreError

    if fmt not in FORMATS:
        fail(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    previous = load_summary(baseline, "baseline") if baseline else None
    settings = opt.network_settings(
        plc_url=plc_url,
        nameserver=nameserver,
        connect_to=connect_to,
        relay=relay,
        plc_mirror=None,
        appview=None,
        labeler=None,
        skip_export=True,
        save_export=None,
        max_export_size=opt.DEFAULT_MAX_EXPORT_MIB,
        blobs=opt.DEFAULT_BLOBS,
        timeout=timeout,
        deadline=max(timeout * 4, defaults.DEADLINE),
        allow_private=allow_private,
        ca_bundle=ca_bundle,
    )
    result: CensusResult | None = None
    try:
        if not measure_only:
            result = asyncio.run(_fetch(db, settings, max_pages))
        data = summarise_census(db, result)
    except CensusStoreError as exc:
        fail(str(exc))
    except ValueError as exc:  # a nameserver or CA bundle the network layer cannot use
        fail(str(exc))
    for error in data["census"]["errors"]:
        say(f"census: {error['source']}: {error['message']}")
    failures = ecosystem_failures(
        data, max_hhi=max_hhi, min_operators_for_50=min_operators_for_50, baseline=previous
    )
    publish_summary(
        data,
        fmt,
        summary=summary,
        badge=badge,
        gate_failures=failures,
        incomplete=bool(data["census"]["errors"]),
    )


async def _fetch(db: Path, settings: AuditSettings, max_pages: int | None) -> CensusResult:
    """Run the census over one session, with a progress line on stderr when it is a terminal."""
    from rich.console import Console

    from auditor.ecosystem.census import run_census
    from auditor.session import Session

    console = Console(stderr=True)
    async with Session.open(settings) as session:
        if not console.is_terminal:
            return await run_census(
                session, db, plc_url=settings.plc_url, relays=settings.relays, max_pages=max_pages
            )
        with console.status("census: reading the PLC export …") as status:

            def progress(lines: int) -> None:
                status.update(f"census: {lines:,} export lines ingested this run …")

            return await run_census(
                session,
                db,
                plc_url=settings.plc_url,
                relays=settings.relays,
                max_pages=max_pages,
                progress=progress,
            )


def summarise_census(db: Path, result: CensusResult | None) -> dict[str, Any]:
    """The census database measured, in the summary shape batch summaries share."""
    from auditor.batch import CENSUS_KIND
    from auditor.ecosystem.census import census_summary
    from auditor.scoring import SCORING_VERSION

    measured = census_summary(db).to_dict()
    live = measured["dids"] - measured["tombstoned"]
    return {
        "kind": CENSUS_KIND,
        "summary_version": CENSUS_SUMMARY_VERSION,
        "tool_version": __version__,
        "scoring_version": SCORING_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "counted": measured["counted"],
        "sandbox": measured["sandbox"],
        "accounts": {
            "audited": live,
            "dids": measured["dids"],
            "tombstoned": measured["tombstoned"],
            "without_pds": measured["without_pds"],
            "bridged": sum(b["accounts"] for b in measured["bridges"]),
        },
        "mean_score": None,
        "bands": {},
        "nakamoto": measured["nakamoto"],
        "layers": measured["layers"],
        "bridges": measured["bridges"],
        "relays": measured["relays"],
        "custody_operators": measured["custody_operators"],
        "custody_classes": measured["custody_classes"],
        "census": {
            "plc_url": measured["plc_url"],
            "cursor": measured["cursor"],
            "operations": measured["operations"],
            "this_run": result.to_dict() if result else None,
            "errors": [e.to_dict() for e in result.errors] if result else [],
        },
    }

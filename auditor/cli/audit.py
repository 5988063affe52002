"""``check``, ``render``, ``checks`` and ``schema``: audit one account, re-judge saved evidence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auditor import defaults
from auditor.cli.common import (
    FailUnderOpt,
    FormatOpt,
    OutputOpt,
    SelectOpt,
    SkipOpt,
    VerboseOpt,
    build_settings,
    choose_checks,
    connect_to_map,
    emit,
    env,
    fail,
    finish,
    judge,
    load_evidence,
    split,
)
from auditor.render.formats import OutputFormat

if TYPE_CHECKING:
    from auditor.models.evidence import Evidence
    from auditor.settings import AuditSettings
    from auditor.syntax import Target

TargetArg = Annotated[
    str,
    typer.Argument(
        help="A handle (alice.bsky.social), a DID, an at:// URI or a bsky.app profile URL."
    ),
]
ListOpt = list[str] | None


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
    plc_url: Annotated[
        str, typer.Option("--plc-url", envvar=env("plc_url"), help="PLC directory base URL.")
    ] = defaults.PLC_URL,
    nameserver: Annotated[
        ListOpt,
        typer.Option(
            "--nameserver",
            envvar=env("nameserver"),
            help="DNS server HOST[:PORT] (repeatable; default: the system's).",
        ),
    ] = None,
    connect_to: Annotated[
        ListOpt,
        typer.Option(
            "--connect-to",
            envvar=env("connect_to"),
            help="HOST[:PORT]=BASE_URL: send requests for https://HOST there, keeping the Host "
            "header (repeatable).",
        ),
    ] = None,
    relay: Annotated[
        ListOpt,
        typer.Option(
            "--relay",
            envvar=env("relay", "DECAUDIT_RELAYS"),
            help="Relay base URL to ask whether it carries the account (repeatable).",
        ),
    ] = None,
    plc_mirror: Annotated[
        ListOpt,
        typer.Option(
            "--plc-mirror",
            envvar=env("plc_mirror", "DECAUDIT_PLC_MIRRORS"),
            help="Independent PLC read mirror base URL (repeatable).",
        ),
    ] = None,
    appview: Annotated[
        ListOpt,
        typer.Option(
            "--appview",
            envvar=env("appview", "DECAUDIT_APPVIEWS"),
            help="AppView base URL to ask whether it indexes the account (repeatable).",
        ),
    ] = None,
    labeler: Annotated[
        ListOpt,
        typer.Option(
            "--labeler",
            envvar=env("labeler", "DECAUDIT_LABELERS"),
            help="Labeler base URL to ask which labels it applies (repeatable).",
        ),
    ] = None,
    skip_export: Annotated[
        bool,
        typer.Option(
            "--skip-export", envvar=env("skip_export"), help="Do not download the repository."
        ),
    ] = False,
    save_export: Annotated[
        Path | None,
        typer.Option(
            "--save-export",
            envvar=env("save_export"),
            file_okay=False,
            help="Keep the export in this folder (repo.car; blobs/ with --blobs all).",
        ),
    ] = None,
    max_export_size: Annotated[
        int,
        typer.Option(
            "--max-export-size",
            envvar=env("max_export_size"),
            min=1,
            help="Size cap of the repository export, in MiB.",
        ),
    ] = defaults.MAX_EXPORT_BYTES // (1024 * 1024),
    blobs: Annotated[
        str,
        typer.Option(
            "--blobs", envvar=env("blobs"), help="Blobs to fetch and verify: a number, or 'all'."
        ),
    ] = str(defaults.BLOB_SAMPLE),
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            envvar=env("timeout"),
            min=0.1,
            help="Seconds per request (connect, and the whole response).",
        ),
    ] = defaults.TIMEOUT,
    deadline: Annotated[
        float,
        typer.Option("--deadline", envvar=env("deadline"), min=1, help="Whole-audit seconds."),
    ] = defaults.DEADLINE,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            envvar=env("allow_private"),
            help="Permit loopback/private destinations and plain http to them (self-hosters, "
            "tests). Link-local, multicast and reserved stay refused.",
        ),
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            "--ca-bundle",
            envvar=env("ca_bundle"),
            exists=True,
            dir_okay=False,
            readable=True,
            help="PEM file of CAs to trust (else SSL_CERT_FILE, else certifi).",
        ),
    ] = None,
) -> None:
    """Audit one account and place it on the centralization spectrum."""
    import asyncio

    from auditor import syntax

    try:
        parsed = syntax.parse_target(target)
    except syntax.TargetSyntaxError as exc:
        fail(f"invalid target {target!r}: {exc}")
    lists = {"relays": relay, "plc_mirrors": plc_mirror, "appviews": appview, "labelers": labeler}
    settings = build_settings(
        plc_url=plc_url,
        nameservers=split(nameserver),
        connect_to=connect_to_map(split(connect_to)),
        # given lists replace the defaults; absent ones keep them
        **{name: split(value) for name, value in lists.items() if value is not None},
        skip_export=skip_export,
        save_export=str(save_export) if save_export else None,
        max_export_bytes=max_export_size * 1024 * 1024,
        blob_sample=_blob_count(blobs),
        timeout=timeout,
        deadline=deadline,
        allow_private=allow_private,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
    )
    available, chosen = choose_checks(select, skip)  # unknown ids fail before any request
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
    emit(report, fmt, output, verbose)
    finish(report, fail_under)


def _blob_count(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    if not value.strip().isdigit():
        fail(f"--blobs {value!r}: expected a number or 'all'")
    return int(value)


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
) -> None:
    """Re-score saved evidence offline with the current checks, in any format."""
    evidence = load_evidence(file)
    available, chosen = choose_checks(select, skip)
    report = judge(evidence, available, chosen)
    emit(report, fmt, output, verbose)
    finish(report, fail_under)


def list_checks(verbose: VerboseOpt = False) -> None:
    """List the checks: ids, categories, weights and titles (and data keys with --verbose)."""
    from rich.console import Console
    from rich.table import Table

    from auditor.scoring import effective_weights

    available, _ = choose_checks(None, None)
    shares = effective_weights(available.checks)
    table = Table("id", "category", "weight", "share", "title", box=None, pad_edge=False)
    for item in available.checks:
        meta = item.meta
        table.add_row(
            meta.id, meta.category.value, f"{meta.weight:g}", f"{shares[meta.id]:.0%}", meta.title
        )
    console = Console()
    console.print(table)
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

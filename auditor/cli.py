"""The ``decaudit`` command line: a thin shell over :mod:`auditor.api`.

Only this module imports typer; it imports nothing heavy at module level, so ``decaudit --help`` and
``--version`` start fast (a test checks that httpx, dnspython, pydantic and jinja2 stay unloaded).
Domain errors become exit codes here and nowhere else:

    0  done                      1  score below --fail-under
    2  usage error / bad target  3  target could not be resolved to a DID document

The report goes to stdout or ``--output``; progress and warnings go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from auditor import __version__
from auditor.render.formats import OutputFormat

if TYPE_CHECKING:
    from auditor.check import Check
    from auditor.models.evidence import Evidence
    from auditor.models.report import Report
    from auditor.registry import CheckSet
    from auditor.settings import AuditSettings
    from auditor.syntax import Target

EXIT_OK, EXIT_BELOW_THRESHOLD, EXIT_USAGE, EXIT_UNRESOLVED = 0, 1, 2, 3

app = typer.Typer(
    name="decaudit",
    help="How decentralized is a social-network account, really? Evidence you can cite.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _env(option: str) -> str:
    return "DECAUDIT_" + option.upper().replace("-", "_")


def _split(values: list[str] | None) -> list[str]:
    """Repeatable options and their environment variables take comma-separated lists too."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _say(message: str) -> None:
    """One line to stderr; control characters from network data are made visible and harmless."""
    from auditor.render.text import inert

    typer.echo(f"decaudit: {inert(message)}", err=True)


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    _say(message)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"decaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """decaudit audits one account (or many) and places it on the centralization spectrum."""


# Options shared by commands, declared once.
FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", envvar=_env("format"), help="Report format.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", envvar=_env("output"), help="Write the report here, not stdout."
    ),
]
SelectOpt = Annotated[
    list[str] | None,
    typer.Option("--select", envvar=_env("select"), help="Run only these check ids (comma list)."),
]
SkipOpt = Annotated[
    list[str] | None,
    typer.Option("--skip", envvar=_env("skip"), help="Skip these check ids (comma list)."),
]
FailUnderOpt = Annotated[
    float | None,
    typer.Option(
        "--fail-under",
        envvar=_env("fail_under"),
        min=0,
        max=100,
        help="Exit 1 when the score (0-100) is below this.",
    ),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", envvar=_env("verbose"), help="Show every finding.")
]


def _settings(**options: object) -> AuditSettings:
    from pydantic import ValidationError

    from auditor.settings import AuditSettings

    try:
        return AuditSettings.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid option {'.'.join(map(str, first['loc']))}: {first['msg']}")


def _connect_to_map(values: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        host, sep, base = value.partition("=")
        if not sep or not host or "://" not in base:
            _fail(
                f"--connect-to {value!r}: expected HOST[:PORT]=BASE_URL (e.g. pds.example=http://127.0.0.1:2583)"
            )
        mapping[host.strip().lower()] = base.strip().rstrip("/")
    return mapping


def _checks(select: list[str] | None, skip: list[str] | None) -> tuple[CheckSet, tuple[Check, ...]]:
    """The available checks (warnings printed) and the ones selected; unknown ids exit 2."""
    from auditor.registry import SelectionError, load_checks, select_checks

    available = load_checks()
    for warning in available.warnings:
        _say(f"warning: {warning}")
    try:
        return available, select_checks(available.checks, _split(select), _split(skip))
    except SelectionError as exc:
        _fail(str(exc))


def _emit(report: Report, fmt: OutputFormat, output: Path | None, verbose: bool) -> None:
    from auditor.render import render

    if output is None and fmt is OutputFormat.TEXT and sys.stdout.isatty():
        from rich.console import Console

        from auditor.render.text import print_report

        print_report(report, Console(), verbose=verbose)
        return
    text = render(report, fmt, verbose=verbose)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"decaudit: report written to {output}", err=True)


def _finish(report: Report, fail_under: float | None) -> NoReturn:
    if report.band is None:
        if report.unresolved_reason:
            _say(report.unresolved_reason)
            raise typer.Exit(EXIT_UNRESOLVED)
    if fail_under is not None and (report.score is None or report.score < fail_under):
        shown = "no score" if report.score is None else f"score {report.score:.1f}"
        typer.echo(f"decaudit: {shown} is below --fail-under {fail_under:g}", err=True)
        raise typer.Exit(EXIT_BELOW_THRESHOLD)
    raise typer.Exit(EXIT_OK)


def _judge(evidence: Evidence, select: list[str] | None, skip: list[str] | None) -> Report:
    from auditor.api import build_report

    available, chosen = _checks(select, skip)
    return build_report(evidence, chosen, model=available.checks, warnings=available.warnings)


@app.command()
def check(
    target: Annotated[
        str,
        typer.Argument(
            help="A handle (alice.bsky.social), a DID, an at:// URI or a bsky.app profile URL."
        ),
    ],
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
            envvar=_env("save_evidence"),
            help="Also save the raw evidence (re-score it later with 'decaudit render').",
        ),
    ] = None,
    verbose: VerboseOpt = False,
    plc_url: Annotated[
        str,
        typer.Option("--plc-url", envvar=_env("plc_url"), help="PLC directory base URL."),
    ] = "https://plc.directory",
    nameserver: Annotated[
        list[str] | None,
        typer.Option(
            "--nameserver",
            envvar=_env("nameserver"),
            help="DNS server HOST[:PORT] (repeatable; default: the system's).",
        ),
    ] = None,
    connect_to: Annotated[
        list[str] | None,
        typer.Option(
            "--connect-to",
            envvar=_env("connect_to"),
            help="HOST[:PORT]=BASE_URL: send requests for https://HOST there, keeping the Host "
            "header (repeatable).",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", envvar=_env("timeout"), min=0.1, help="Per-request seconds."),
    ] = 10.0,
    deadline: Annotated[
        float,
        typer.Option("--deadline", envvar=_env("deadline"), min=1, help="Whole-audit seconds."),
    ] = 60.0,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            envvar=_env("allow_private"),
            help="Permit loopback/private destinations and plain http to them (self-hosters, "
            "tests). Link-local, multicast and reserved stay refused.",
        ),
    ] = False,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(
            "--ca-bundle",
            envvar=_env("ca_bundle"),
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
        _fail(f"invalid target {target!r}: {exc}")
    settings = _settings(
        plc_url=plc_url,
        nameservers=_split(nameserver),
        connect_to=_connect_to_map(_split(connect_to)),
        timeout=timeout,
        deadline=deadline,
        allow_private=allow_private,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
    )
    _checks(select, skip)  # unknown ids fail before any network traffic
    try:
        evidence = asyncio.run(_gather_with_progress(parsed, settings))
    except ValueError as exc:  # bad nameserver syntax and the like
        _fail(str(exc))
    if save_evidence is not None:
        try:
            save_evidence.write_text(evidence.model_dump_json(indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {save_evidence}: {exc.strerror or exc}")
    report = _judge(evidence, select, skip)
    _emit(report, fmt, output, verbose)
    _finish(report, fail_under)


async def _gather_with_progress(target: Target, settings: AuditSettings) -> Evidence:
    from rich.console import Console

    from auditor.api import gather

    console = Console(stderr=True)
    if not console.is_terminal:
        return await gather(target, settings=settings)
    with console.status(f"Auditing {target.raw} …"):
        return await gather(target, settings=settings)


def _load_evidence(path: Path) -> Evidence:
    import json

    from pydantic import ValidationError

    from auditor.models.evidence import Evidence

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        _fail(f"{path} is not JSON: {exc}")
    if isinstance(raw, dict) and "schema_version" in raw and "evidence" in raw:
        raw = raw["evidence"]
    try:
        return Evidence.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(map(str, first["loc"])) or "(top level)"
        _fail(
            f"{path} is not a decaudit evidence file or JSON report ({exc.error_count()} "
            f"problem(s); first at {where}: {first['msg']})"
        )


@app.command()
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
    report = _judge(_load_evidence(file), select, skip)
    _emit(report, fmt, output, verbose)
    _finish(report, fail_under)


@app.command(name="checks")
def list_checks(
    verbose: VerboseOpt = False,
) -> None:
    """List the checks: ids, categories, weights and titles."""
    from rich.console import Console
    from rich.table import Table

    from auditor.registry import load_checks
    from auditor.scoring import effective_weights

    available = load_checks()
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
            console.print(f"\n[bold]{meta.id}[/]: {meta.rationale}")
            for key, meaning in meta.data_keys.items():
                console.print(f"  data.{key}: {meaning}")
    for warning in available.warnings:
        _say(f"warning: {warning}")


@app.command()
def schema() -> None:
    """Print the JSON schema of the report."""
    import json

    from auditor.models.report import Report

    sys.stdout.write(json.dumps(Report.model_json_schema(), indent=2, sort_keys=True) + "\n")


def main() -> None:
    """Console-script entry point."""
    app()

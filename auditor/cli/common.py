"""What every command shares: exit codes, option declarations, messages, report output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from auditor.render.formats import OutputFormat

if TYPE_CHECKING:
    from auditor.check import Check
    from auditor.models.evidence import Evidence
    from auditor.models.report import Report
    from auditor.registry import CheckSet
    from auditor.settings import AuditSettings

EXIT_OK, EXIT_BELOW_THRESHOLD, EXIT_USAGE, EXIT_UNRESOLVED = 0, 1, 2, 3


def env(option: str, *aliases: str) -> list[str]:
    """``DECAUDIT_<OPTION>`` (plus any documented aliases) for an option."""
    return ["DECAUDIT_" + option.upper().replace("-", "_"), *aliases]


def split(values: list[str] | None) -> list[str]:
    """Repeatable options and their environment variables take comma-separated lists too."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def say(message: str) -> None:
    """One line to stderr; control characters from network data are made visible and harmless."""
    from auditor.render.text import inert

    typer.echo(f"decaudit: {inert(message)}", err=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    say(message)
    raise typer.Exit(code)


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", envvar=env("format"), help="Report format.")
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", envvar=env("output"), help="Write the report here, not stdout."),
]
SelectOpt = Annotated[
    list[str] | None,
    typer.Option("--select", envvar=env("select"), help="Run only these check ids (comma list)."),
]
SkipOpt = Annotated[
    list[str] | None,
    typer.Option("--skip", envvar=env("skip"), help="Skip these check ids (comma list)."),
]
FailUnderOpt = Annotated[
    float | None,
    typer.Option(
        "--fail-under",
        envvar=env("fail_under"),
        min=0,
        max=100,
        help="Exit 1 when the score (0-100) is below this.",
    ),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", envvar=env("verbose"), help="Show every finding.")
]


def build_settings(**options: object) -> AuditSettings:
    """Validated settings; a bad value exits 2 naming the option."""
    from pydantic import ValidationError

    from auditor.settings import AuditSettings

    try:
        return AuditSettings.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        fail(f"invalid {where.replace('_', '-')}: {first['msg'].removeprefix('Value error, ')}")


def connect_to_map(values: list[str]) -> dict[str, str]:
    """``HOST[:PORT]=BASE_URL`` pairs as a mapping; malformed pairs exit 2."""
    mapping: dict[str, str] = {}
    for value in values:
        host, sep, base = value.partition("=")
        if not sep or not host or "://" not in base:
            fail(
                f"--connect-to {value!r}: expected HOST[:PORT]=BASE_URL "
                "(e.g. pds.example=http://127.0.0.1:2583)"
            )
        mapping[host.strip().lower()] = base.strip().rstrip("/")
    return mapping


def choose_checks(
    select: list[str] | None, skip: list[str] | None
) -> tuple[CheckSet, tuple[Check, ...]]:
    """The available checks (plugin warnings printed once) and the selection; unknown ids exit 2."""
    from auditor.registry import SelectionError, load_checks, select_checks

    available = load_checks()
    for warning in available.warnings:
        say(f"warning: {warning}")
    try:
        return available, select_checks(available.checks, split(select), split(skip))
    except SelectionError as exc:
        fail(str(exc))


def judge(evidence: Evidence, available: CheckSet, chosen: tuple[Check, ...]) -> Report:
    from auditor.api import build_report

    return build_report(evidence, chosen, model=available.checks, warnings=available.warnings)


def emit(report: Report, fmt: OutputFormat, output: Path | None, verbose: bool) -> None:
    """Write the report: a live terminal gets colour, files and pipes get plain text."""
    from auditor.render import render

    if output is None and fmt is OutputFormat.TEXT and sys.stdout.isatty():
        from rich.console import Console

        from auditor.render.text import print_report

        print_report(report, Console(), verbose=verbose)
        return
    write_text(render(report, fmt, verbose=verbose), output)


def write_text(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    say(f"report written to {output}")


def finish(report: Report, fail_under: float | None) -> NoReturn:
    """Exit with the code the report calls for."""
    if report.band is None and report.unresolved_reason:
        say(report.unresolved_reason)
        raise typer.Exit(EXIT_UNRESOLVED)
    if fail_under is not None and (report.score is None or report.score < fail_under):
        shown = "no score" if report.score is None else f"score {report.score:.1f}"
        say(f"{shown} is below --fail-under {fail_under:g}")
        raise typer.Exit(EXIT_BELOW_THRESHOLD)
    raise typer.Exit(EXIT_OK)


def load_evidence(path: Path) -> Evidence:
    """An evidence file, or the evidence inside a JSON report; anything else exits 2."""
    import json

    from pydantic import ValidationError

    from auditor.models.evidence import Evidence

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        fail(f"{path} is not JSON: {exc}")
    if isinstance(raw, dict) and "schema_version" in raw and "evidence" in raw:
        raw = raw["evidence"]
    try:
        return Evidence.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(map(str, first["loc"])) or "(top level)"
        fail(
            f"{path} is not a decaudit evidence file or JSON report ({exc.error_count()} "
            f"problem(s); first at {where}: {first['msg']})"
        )

"""What every command shares: exit codes, option declarations, messages, report output."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from auditor.render.formats import OutputFormat

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auditor.batch.gates import Requirement
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
NoColorOpt = Annotated[
    bool,
    typer.Option(
        "--no-color",
        envvar=env("no_color"),
        help="No colours or other escape codes on a terminal (as does NO_COLOR set to anything).",
    ),
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


def emit(
    report: Report,
    fmt: OutputFormat,
    output: Path | None,
    verbose: bool,
    *,
    no_color: bool = False,
) -> None:
    """Write the report: a live terminal gets it at its width, in colour unless ``--no-color`` or
    ``NO_COLOR``; files and pipes get plain text at a fixed width."""
    from auditor.render import render

    if output is None and fmt is OutputFormat.TEXT:
        from auditor.render.text import print_report, terminal_console

        console = terminal_console(no_color=no_color)
        if console.is_terminal:  # a tty, or FORCE_COLOR/TTY_COMPATIBLE say it is one
            print_report(report, console, verbose=verbose)
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


def finish(
    report: Report, fail_under: float | None, requirements: Sequence[Requirement] = ()
) -> NoReturn:
    """Exit with the code the report calls for: 3 unresolved, 1 a gate failed, else 0."""
    from auditor.batch.gates import account_failures

    if report.band is None and report.unresolved_reason:
        say(report.unresolved_reason)
        raise typer.Exit(EXIT_UNRESOLVED)
    data = report.model_dump(mode="json", include={"handle", "target", "score", "checks"})
    failures = account_failures(data, fail_under=fail_under, requirements=requirements)
    for failure in failures:
        say(f"gate failed: {failure}")
    raise typer.Exit(EXIT_BELOW_THRESHOLD if failures else EXIT_OK)


def write_badge(report: Report, path: Path | None) -> None:
    """``--badge``: the report's band and score as a shields.io endpoint JSON."""
    if path is None:
        return
    import json

    from auditor.batch.badge import report_badge

    data = report.model_dump(mode="json", include={"band", "score"})
    try:
        path.write_text(json.dumps(report_badge(data)) + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the badge {path}: {exc.strerror or exc}")


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

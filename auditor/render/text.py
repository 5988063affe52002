"""Terminal output with rich: verdict first, then every check, then what to do about it.

The console is injected, so tests render into a fixed-width, colourless ``StringIO`` console and
compare exact strings (the pattern of rich's own tests); the CLI passes a real console on stdout.
"""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditor.models.report import Band, CheckResult, Report, Status

# C0 controls (but newline and tab), DEL and C1 controls become their visible Unicode "control
# pictures": a hostile server's ANSI escape or bell must never reach the user's terminal, and
# rich only strips some of them.
_INERT = {code: 0x2400 + code for code in range(0x20) if code not in (0x09, 0x0A)}
_INERT.update({0x7F: 0x2421, **dict.fromkeys(range(0x80, 0xA0), 0xFFFD)})


def inert(value: str) -> str:
    """``value`` with every terminal control character made visible and harmless."""
    return value.translate(_INERT)


STATUS_STYLE: dict[Status, tuple[str, str]] = {
    Status.PASS: ("PASS", "bold green"),
    Status.PARTIAL: ("PARTIAL", "bold yellow"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.NOT_APPLICABLE: ("N/A", "dim"),
    Status.INFO: ("INFO", "cyan"),
    Status.ERROR: ("ERROR", "bold magenta"),
}
BAND_STYLE: dict[Band, str] = {
    Band.CENTRALIZED: "bold white on red",
    Band.HYBRID: "bold black on yellow",
    Band.DECENTRALIZED: "bold white on green",
}


SANDBOX_NOTICE = (
    "SANDBOX DATA: this report audits decaudit's simulated network, not a real account."
)


def _header(report: Report) -> Panel:
    # Every string here can come from a saved (possibly hand-edited) evidence file: all inert,
    # and rich markup is never parsed in them (Text, not markup strings).
    lines = Text()
    if report.sandbox:
        lines.append(SANDBOX_NOTICE + "\n", style="bold black on cyan")
    lines.append("Target   ", style="dim").append(inert(report.target) + "\n")
    handle = inert(report.handle or "(none)")
    verified = "verified both ways" if report.handle_verified else "NOT verified"
    lines.append("Handle   ", style="dim").append(f"{handle} ({verified})\n")
    lines.append("DID      ", style="dim").append(inert(report.did or "(unresolved)") + "\n")
    lines.append("Verdict  ", style="dim")
    if report.band is None or report.score is None:
        lines.append(" NO VERDICT ", style="bold white on magenta")
        lines.append(f"  {inert(report.unresolved_reason or 'nothing could be scored')}")
    else:
        lines.append(f" {report.band.value.upper()} ", style=BAND_STYLE[report.band])
        lines.append(f"  score {report.score:.0f}/100, coverage {report.coverage:.0%}")
    lines.append("\n")
    lines.append("Evidence ", style="dim").append(
        inert(
            f"collected {report.generated_at:%Y-%m-%d %H:%M:%S} UTC by decaudit "
            f"{report.evidence.tool_version}; scoring {report.scoring_version}"
        )
    )
    title = Text(inert(f"decaudit {report.tool_version}"))
    return Panel(lines, title=title, title_align="left")


def _status(result: CheckResult) -> Text:
    label, style = STATUS_STYLE[result.status]
    return Text(label, style=style)


def _checks_table(report: Report, verbose: bool) -> Table:
    table = Table(expand=True, show_lines=False)
    table.add_column("Status", no_wrap=True, width=8)
    table.add_column("Check", no_wrap=True)
    table.add_column("Finding", ratio=1)
    for result in report.checks:
        body = Text(inert(result.summary))
        if result.error:
            body.append(f"\n{inert(result.error)}", style="magenta")
        if verbose:
            for item in result.findings:
                body.append(f"\n• {inert(item.message)}", style="dim")
        table.add_row(_status(result), Text(inert(result.id)), body)
    return table


def _remediation(report: Report) -> Group | None:
    todo = [r for r in report.checks if r.remediation]
    if not todo:
        return None
    items: list[Text | str] = [Text("What you can do", style="bold")]
    for result in todo:
        items.append(
            Text.assemble(
                ("• ", "bold"), (inert(result.id), "bold"), ": ", inert(result.remediation)
            )
        )
    return Group(*items)


def print_report(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Print the report on ``console``."""
    console.print(_header(report))
    if report.checks:
        console.print(_checks_table(report, verbose))
    todo = _remediation(report)
    if todo is not None:
        console.print(todo)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(inert(warning))}")


def render_text_string(report: Report, *, verbose: bool = False, width: int = 100) -> str:
    """The text report without colour, at a fixed width (files, goldens, pipes)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, legacy_windows=False, force_terminal=False
    )
    print_report(report, console, verbose=verbose)
    return buffer.getvalue()

"""Terminal output with rich: the verdict, where it sits on the spectrum, why, who can break the
account alone, every check, then what to do about it.

The console is injected, so tests render into a fixed-width, colourless ``StringIO`` console and
compare exact strings (the pattern of rich's own tests); the CLI passes a real console on stdout
(:func:`terminal_console`, which honours ``NO_COLOR`` and ``--no-color``).

Every string in a report can come from a hostile server, or from a hand-edited evidence file: each
one goes through :func:`inert` and into a rich :class:`~rich.text.Text` (never a markup string),
so no escape sequence reaches the terminal, no bidi control reorders what the reader sees, and no
``[bold]`` in the data is ever interpreted.
"""

from __future__ import annotations

import io
import os
import unicodedata
from collections.abc import Callable, Mapping

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditor.models.report import Band, Capability, CheckResult, Dependency, Report, Status
from auditor.render.identity import failure_clues, identity_of, name_noun
from auditor.syntax import Network

# --- making untrusted strings inert -----------------------------------------------------------

_PICTURES = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421}
"""C0 controls and DEL shown as their Unicode "control pictures" (ESC becomes ␛)."""
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Controls (C1 included), format characters (every bidi embedding, override, isolate and mark,
zero-width space/joiners, word joiner, soft hyphen, BOM, tag characters), lone surrogates, and
the line/paragraph separators: invisible, or able to reorder, hide or break the text around."""
_HIDDEN_EXTRA = frozenset({0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0}) | frozenset(
    range(0xE0100, 0xE01F0)
)
"""Invisible characters outside those categories: the combining grapheme joiner, the Hangul
fillers (blank "letters") and the variation selectors supplement (used to smuggle hidden text)."""
_ASCII_MULTI_LINE = {code: pic for code, pic in _PICTURES.items() if chr(code) not in "\n\t"}
_ZWJ = "\u200d"
_MULTI_LINE = frozenset("\n\t")

SUMMARY_LIMIT = 300
"""One-line values (table cells, names, reasons) longer than this are cut with an ellipsis; the
JSON report keeps everything."""
TEXT_LIMIT = 2000
"""Free text outside tables (remediation) longer than this is cut with an ellipsis."""
ID_LIMIT = 40
LABEL_LIMIT = 80


def _codepoint(char: str) -> str:
    return f"<U+{ord(char):04X}>"


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" or char == "\ufe0f" or 0x1F3FB <= ord(char) <= 0x1F3FF


def _joins_emoji(value: str, index: int) -> bool:
    """A zero-width joiner inside an emoji sequence (👩‍💻) is kept: it cannot disguise text."""
    return (
        0 < index < len(value) - 1 and _is_emoji(value[index - 1]) and _is_emoji(value[index + 1])
    )


def _visible(value: str, index: int, keep: frozenset[str]) -> str:
    char = value[index]
    code = ord(char)
    if char in keep:
        return char
    if code in _PICTURES:
        return chr(_PICTURES[code])
    if code < 0x80:
        return char
    if char == _ZWJ and _joins_emoji(value, index):
        return char
    if code in _HIDDEN_EXTRA or unicodedata.category(char) in _HIDDEN_CATEGORIES:
        return _codepoint(char)
    return char


def inert(value: str, *, one_line: bool = False) -> str:
    """``value`` made visible and harmless for a terminal (and for any other reader).

    * C0 controls and DEL become their control pictures (``ESC`` → ``␛``, ``CR`` → ``␍``), so no
      escape sequence, bell or carriage return can act; newline and tab are kept unless
      ``one_line`` (then ``␊`` and ``␉``: a value cannot forge a line of the report).
    * Every other character that is invisible or acts on the text around it becomes its code
      point, ``<U+202E>``: C1 controls (the 8-bit CSI included), Unicode format characters
      (category Cf: bidi embeddings and overrides U+202A-U+202E, isolates U+2066-U+2069, marks
      U+200E, U+200F and U+061C, zero-width space U+200B, non-joiner U+200C, word joiner U+2060,
      soft hyphen, BOM, tag characters U+E0000-U+E007F...), lone surrogates, the line and
      paragraph separators U+2028/U+2029, and the invisible characters in ``_HIDDEN_EXTRA``.
    * A zero-width joiner is kept only between two emoji (a family or profession emoji), where it
      cannot disguise text; anywhere else it is shown.
    """
    keep = frozenset() if one_line else _MULTI_LINE
    if value.isascii():
        return value.translate(_PICTURES if one_line else _ASCII_MULTI_LINE)
    return "".join(_visible(value, index, keep) for index in range(len(value)))


def clip(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` characters, the last one an ellipsis when it was longer."""
    return value if len(value) <= limit else value[: max(limit - 1, 0)] + "…"


def line(value: str, limit: int = SUMMARY_LIMIT) -> str:
    """An untrusted one-line value: inert, and cut at ``limit`` characters."""
    return clip(inert(value, one_line=True), limit)


def paragraph(value: str, limit: int = TEXT_LIMIT) -> str:
    """Untrusted free text (remediation, a finding): inert, its line breaks kept, cut at
    ``limit``."""
    return clip(inert(value), limit)


# --- words shared with the other plain-text renderers ------------------------------------------

SANDBOX_NOTICE = (
    "SANDBOX DATA: this report audits decaudit's simulated network, not a real account."
)
BANDS = (Band.CENTRALIZED, Band.HYBRID, Band.DECENTRALIZED)
"""The spectrum, left to right."""
CAPABILITY_NOUNS: Mapping[Capability, str] = {
    Capability.RESOLVE_IDENTITY: "resolving the identity",
    Capability.SERVE_DATA: "serving the data",
    Capability.PUBLISH: "publishing to the network",
    Capability.SHOW_IN_APPS: "showing in apps",
    Capability.MOVE: "moving to another host",
    Capability.REWRITE_IDENTITY: "control of the identity",
    Capability.KEEP_NAME: "the handle",
}
"""What a party can break alone, as a noun phrase ("can break alone: serving the data"), for an
AT Protocol account (:func:`capability_noun` words the name for the other networks)."""


def capability_noun(capability: Capability, protocol: Network = "atproto") -> str:
    """``capability`` as a noun phrase on ``protocol``: the name is the handle on AT Protocol, the
    address on the fediverse, the user ID on Matrix."""
    if capability is Capability.KEEP_NAME:
        return name_noun(protocol)
    return CAPABILITY_NOUNS[capability]


def capabilities(dependency: Dependency, protocol: Network = "atproto") -> str:
    """What ``dependency`` alone can break, as a comma list."""
    return ", ".join(capability_noun(c, protocol) for c in dependency.can_break_alone)


def score_text(score: float | None) -> str:
    """A check's 0-1 score for a table cell; a dash when it carries no score."""
    return "—" if score is None else f"{score:.2f}"


def collected(report: Report) -> str:
    """The date the evidence was collected, as the reports print it."""
    return f"{report.generated_at:%Y-%m-%d %H:%M:%S} UTC"


# --- terminal styles ---------------------------------------------------------------------------

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
BAND_COLOUR: dict[Band, str] = {
    Band.CENTRALIZED: "red",
    Band.HYBRID: "yellow",
    Band.DECENTRALIZED: "green",
}
_NARROW = 80
"""Below this width the checks table folds the check id into the summary column."""


def _section(title: str) -> Text:
    return Text(f"\n{title}", style="bold")


def _bullets(rows: list[Text], bullet: str = "•", style: str = "bold") -> Table:
    """Bulleted rows whose wrapped lines hang under their text, not under the bullet."""
    grid = Table.grid(expand=True, padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True, width=len(bullet) + 2)
    grid.add_column(ratio=1, overflow="fold")
    for row in rows:
        grid.add_row(Text(f"  {bullet}", style=style), row)
    return grid


# --- header and spectrum -------------------------------------------------------------------------


def _verdict(report: Report) -> Text:
    if report.band is None or report.score is None:
        verdict = Text().append(" NO VERDICT ", style="bold white on magenta")
        why = "the target could not be resolved" if report.unresolved_reason else "nothing scored"
        return verdict.append(f"  {why} (see What failed)")
    verdict = Text().append(f" {report.band.value.upper()} ", style=BAND_STYLE[report.band])
    return verdict.append(f"  score {report.score:.0f}/100, coverage {report.coverage:.0%}")


def _header(report: Report) -> Panel:
    grid = Table.grid(expand=True, padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True, style="dim")
    grid.add_column(ratio=1, overflow="fold")
    if report.sandbox:
        grid.add_row(Text("Notice", style="bold"), Text(SANDBOX_NOTICE, style="bold cyan"))
    grid.add_row("Target", Text(line(report.target)))
    for row in identity_of(report).rows:
        shown = line(row.shown)
        grid.add_row(row.label, Text(f"{shown} ({row.note})" if row.note else shown))
    grid.add_row("Verdict", _verdict(report))
    grid.add_row("Evidence", Text(_versions(report)))
    title = Text(f"decaudit {line(report.tool_version)}")
    return Panel(grid, title=title, title_align="left")


def _versions(report: Report) -> str:
    return (
        f"collected {collected(report)} by decaudit {line(report.evidence.tool_version)}; "
        f"scoring {line(report.scoring_version)}, report schema {line(report.schema_version)}"
    )


def _indent(block: Text) -> Padding:
    return Padding(block, (0, 0, 0, 2))


def _band_label(band: Band, here: bool, width: int) -> str:
    name = f"▶ {band.value.upper()} ◀" if here else band.value
    return clip(name if len(name) <= width else band.value.upper() if here else name, width)


def spectrum(report: Report, width: int) -> Text:
    """The spectrum bar in ``width`` cells: the three bands left to right, the account's marked,
    then its score.

    Meaningful without colour: the account's band is in capitals between arrows over a heavy
    line (``━``), the others over a light one (``─``); the score is a filled bar (``█`` on ``░``).
    """
    segment = max(width // 3, 8)
    widths = (segment, segment, max(width - 2 * segment, segment))
    labels, track = Text(), Text()
    for band, cells in zip(BANDS, widths, strict=True):
        here = band is report.band
        style = f"bold {BAND_COLOUR[band]}" if here else "dim"
        labels.append(_band_label(band, here, cells).center(cells), style=style)
        track.append(("━" if here else "─") * cells, style=BAND_COLOUR[band] if here else "dim")
    labels.rstrip()
    rows = [labels, track]
    if report.score is not None:
        rows.append(_score_bar(report.score, report.band, sum(widths)))
    rows.append(Text("The band comes from gates (below), not from the score.", style="dim"))
    return Text("\n").join(rows)


def _score_bar(score: float, band: Band | None, width: int) -> Text:
    prefix = f"score {score:.0f}/100 "
    cells = max(width - len(prefix), 10)
    filled = round(max(0.0, min(score, 100.0)) / 100 * cells)
    colour = BAND_COLOUR[band] if band else "white"
    text = Text().append(prefix, style="bold")
    return text.append("█" * filled, style=colour).append("░" * (cells - filled), style="dim")


def _categories(report: Report) -> Text | None:
    if not report.categories:
        return None
    parts = [
        f"{c.category.value} {'—' if c.score is None else f'{c.score * 100:.0f}'}"
        for c in report.categories
    ]
    return Text("By layer: " + " · ".join(parts), style="dim")


# --- why, who, what failed -------------------------------------------------------------------

Block = Text | Table | Padding
"""One printable piece of the report."""


def _why(report: Report) -> list[Block]:
    if not report.band_basis:
        return []
    decision, *layers = report.band_basis
    return [
        _section("Why this band"),
        _indent(Text(line(decision), style="bold")),
        _bullets([Text(line(basis)) for basis in layers]),
    ]


def _spof(dependency: Dependency, protocol: Network) -> Text:
    text = Text().append(clip(line(dependency.label), LABEL_LIMIT), style="bold")
    text.append(f" ({_roles(dependency)})\n", style="dim")
    text.append("can break alone: ", style="dim").append(capabilities(dependency, protocol) + "\n")
    return text.append(line(dependency.if_offline))


def _roles(dependency: Dependency) -> str:
    return ", ".join(line(role) for role in dependency.roles)


def _party(dependency: Dependency) -> str:
    return f"{clip(line(dependency.label), LABEL_LIMIT)} ({_roles(dependency)})"


def _dependencies(report: Report) -> list[Block]:
    if not report.dependencies:
        return []
    third = [d for d in report.dependencies if d.third_party]
    spofs = [d for d in third if d.single_point_of_failure]
    items: list[Block] = [_section("Single points of failure")]
    if spofs:
        items.append(_bullets([_spof(d, report.protocol) for d in spofs], "●", "bold red"))
    else:
        nobody = "None: no third party can, alone, break anything for this account."
        items.append(_indent(Text(nobody)))
    others = [_party(d) for d in third if not d.single_point_of_failure]
    if others:
        items.append(_indent(Text("Also relied on, none able to break anything alone:", "dim")))
        items.append(_bullets([Text(party) for party in others], "○", "dim"))
    held = [line(role) for d in report.dependencies if not d.third_party for role in d.roles]
    if held:
        items.append(_indent(Text().append("Held by you: ", style="dim").append(", ".join(held))))
    return items


def _unresolved(report: Report) -> list[Block]:
    if report.band is not None:
        return []
    reason = report.unresolved_reason or "no check could be scored"
    blocks: list[Block] = [
        _section("What failed"),
        _bullets([Text(line(reason))], "✗", "bold magenta"),
    ]
    clues = failure_clues(report)
    if clues:
        blocks.append(_indent(Text("What the servers answered:", "dim")))
        rows = [
            Text().append(f"{clue.label}: ", style="bold").append(line(clue.detail))
            for clue in clues
        ]
        blocks.append(_bullets(rows, "·", "dim"))
    blocks.append(
        _indent(
            Text("No verdict: without a resolved identity there is no score and no band.", "dim")
        )
    )
    return blocks


# --- checks and remediation ------------------------------------------------------------------


def _status(result: CheckResult) -> Text:
    label, style = STATUS_STYLE[result.status]
    return Text(label, style=style)


def _finding_cell(result: CheckResult, verbose: bool, with_id: bool) -> Text:
    body = Text()
    if with_id:
        body.append(clip(line(result.id), ID_LIMIT) + "\n", style="bold")
    body.append(clip(line(result.summary), SUMMARY_LIMIT))
    if result.error:
        body.append(f"\n{clip(line(result.error), SUMMARY_LIMIT)}", style="magenta")
    if verbose:
        for item in result.findings:
            body.append(f"\n• {paragraph(item.message, SUMMARY_LIMIT)}", style="dim")
            body.append(f" ({line(item.evidence)})", style="dim italic")
    return body


def checks_table(report: Report, *, verbose: bool, width: int) -> Table:
    """Every check: status, score, id and summary (findings too with ``verbose``)."""
    narrow = width < _NARROW
    table = Table(expand=True, show_lines=False)
    table.add_column("Status", no_wrap=True, width=7)
    table.add_column("Score", no_wrap=True, justify="right", width=5)
    if not narrow:
        table.add_column("Check", no_wrap=True, overflow="ellipsis", max_width=ID_LIMIT)
    table.add_column("Summary", ratio=1, overflow="fold")
    for result in report.checks:
        row: list[RenderableType] = [_status(result), Text(score_text(result.score))]
        if not narrow:
            row.append(Text(clip(line(result.id), ID_LIMIT)))
        row.append(_finding_cell(result, verbose, with_id=narrow))
        table.add_row(*row)
    return table


def _remediation(report: Report) -> list[Block]:
    todo = [r for r in report.checks if r.remediation]
    if not todo:
        return []
    rows = [
        Text()
        .append(clip(line(r.id), ID_LIMIT), style="bold")
        .append(": ", style="bold")
        .append(paragraph(r.remediation))
        for r in todo
    ]
    return [_section("What you can do"), _bullets(rows)]


# --- the whole report ----------------------------------------------------------------------------


def _verdict_blocks(report: Report, width: int) -> list[Block]:
    if report.band is None:
        return _unresolved(report)
    blocks: list[Block] = [_section("Where it stands"), _indent(spectrum(report, width - 2))]
    layers = _categories(report)
    return blocks if layers is None else [*blocks, _indent(layers)]


def _checks_blocks(report: Report, verbose: bool, width: int) -> list[Block]:
    if not report.checks:
        return []
    return [_section("Checks"), checks_table(report, verbose=verbose, width=width)]


def print_report(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Print the report on ``console``, at its width and with its colours (if any)."""
    console.print(_header(report))
    width = console.width
    blocks = [
        *_verdict_blocks(report, width),
        *_why(report),
        *_dependencies(report),
        *_checks_blocks(report, verbose, width),
        *_remediation(report),
    ]
    for block in blocks:
        console.print(block)
    for warning in report.warnings:
        console.print(Text().append("warning: ", style="yellow").append(line(warning)))


def colour_disabled(no_color: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether colour is off: ``--no-color``, or ``NO_COLOR`` set to any non-empty value."""
    env = os.environ if environ is None else environ
    return no_color or env.get("NO_COLOR", "") != ""


def terminal_console(*, no_color: bool = False) -> Console:
    """The console for a live terminal (rich's own width detection).

    Without colour, no escape sequence at all is written (not even bold): the report means the
    same without styles, and ``NO_COLOR`` users often set it because escapes get in their way.
    """
    if colour_disabled(no_color):
        return Console(color_system=None, highlight=False, emoji=False)
    return Console(highlight=False, emoji=False)


def plain_text(draw: Callable[[Console], None], width: int) -> str:
    """What ``draw`` prints, without colour, at a fixed width (files, goldens, pipes)."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system=None,
        legacy_windows=False,
        force_terminal=False,
        highlight=False,
        emoji=False,
    )
    draw(console)
    # rich pads wrapped cells with spaces: trailing blanks would only make the files fragile
    return "\n".join(row.rstrip() for row in buffer.getvalue().split("\n"))


def render_text_string(report: Report, *, verbose: bool = False, width: int = 100) -> str:
    """The text report without colour, at a fixed width (files, goldens, pipes)."""
    return plain_text(lambda console: print_report(report, console, verbose=verbose), width)

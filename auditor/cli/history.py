"""``decaudit diff A B`` and ``decaudit history add|show``: comparing saved results over time."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.cli.common import fail, say

history_app = typer.Typer(
    help="Keep summary snapshots over time and show their trends.", no_args_is_help=True
)
DIFF_FORMATS = ("text", "json", "md")
HISTORY_FORMATS = ("text", "json", "md", "html")


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A saved decaudit JSON file, or a clear usage error (never a traceback)."""
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read the {what} {path}: {exc.strerror or exc}")
    except (UnicodeDecodeError, ValueError) as exc:
        fail(f"the {what} {path} is not JSON: {exc}")
    if not isinstance(value, dict):
        fail(f"the {what} {path} is not a decaudit file (expected a JSON object)")
    return value


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")


def diff(
    before: Annotated[Path, typer.Argument(help="The earlier report or summary (JSON).")],
    after: Annotated[Path, typer.Argument(help="The later report or summary (JSON).")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Output format: text, json or md.")
    ] = "text",
) -> None:
    """What changed between two reports of one account, or between two batch/census summaries."""
    from auditor.batch.diff import DiffInputError
    from auditor.batch.diff import diff as compute
    from auditor.batch.render import render_diff_json, render_diff_markdown, render_diff_text

    if fmt not in DIFF_FORMATS:
        fail(f"--format {fmt!r}: expected one of {', '.join(DIFF_FORMATS)}")
    try:
        result = compute(read_json(before, "file"), read_json(after, "file"))
    except DiffInputError as exc:
        fail(f"{before} / {after}: {exc}")
    renderers = {"text": render_diff_text, "json": render_diff_json, "md": render_diff_markdown}
    sys.stdout.write(renderers[fmt](result))


@history_app.command("add")
def history_add(
    history: Annotated[Path, typer.Argument(help="The history file (JSON lines; created).")],
    summary: Annotated[Path, typer.Argument(help="A batch or census summary JSON.")],
) -> None:
    """Append a snapshot of a summary to a history file."""
    from auditor.batch import history as histories
    from auditor.cli.batch import load_summary

    value = load_summary(summary, "summary")
    try:
        entry = histories.add(history, value)
    except OSError as exc:
        fail(f"cannot write the history {history}: {exc.strerror or exc}")
    say(f"added the snapshot of {entry['generated_at']} to {history}")


@history_app.command("show")
def history_show(
    history: Annotated[Path, typer.Argument(help="The history file.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Output format: text, json, md or html.")
    ] = "text",
    layer: Annotated[
        str, typer.Option("--layer", help="The layer whose trend is shown.")
    ] = "pds_operator",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here, not stdout.")
    ] = None,
) -> None:
    """The snapshots in a history file and the trend of one layer (HTML: with charts)."""
    from auditor.batch import history as histories
    from auditor.batch.render import render_history

    if fmt not in HISTORY_FORMATS:
        fail(f"--format {fmt!r}: expected one of {', '.join(HISTORY_FORMATS)}")
    try:
        entries, skipped = histories.load(history)
    except OSError as exc:
        fail(f"cannot read the history {history}: {exc.strerror or exc}")
    for note in skipped:
        say(note)
    if not entries:
        fail(f"{history} holds no snapshots")
    _write(render_history(entries, layer, fmt), output)

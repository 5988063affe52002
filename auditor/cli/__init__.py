"""The ``decaudit`` command line: a thin shell over :mod:`auditor.api`.

Only this package imports typer, and it imports nothing heavy at module level, so ``decaudit
--help`` and ``--version`` start fast (a test checks that httpx, dnspython, pydantic and jinja2 stay
unloaded). Domain errors become exit codes here and nowhere else:

    0  done                      1  score below --fail-under
    2  usage error / bad target  3  target could not be resolved to a DID document

Reports go to stdout or ``--output``; progress and warnings go to stderr.
"""

from __future__ import annotations

from typing import Annotated

import typer

from auditor import __version__
from auditor.cli import audit, batch, census, compare, explain, history, sandbox

app = typer.Typer(
    name="decaudit",
    help="How decentralized is a social-network account, really? Evidence you can cite.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


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


app.command()(audit.check)
app.command()(audit.render)
app.command()(compare.compare)
app.command(name="checks")(audit.list_checks)
app.command()(audit.schema)
app.command()(explain.explain)
app.command()(batch.batch)
app.command()(census.census)
app.command()(history.diff)
app.add_typer(history.history_app, name="history")
app.command()(sandbox.demo)
app.add_typer(sandbox.sandbox_app, name="sandbox")


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]

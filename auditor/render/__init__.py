"""Renderers: each turns a :class:`~auditor.models.report.Report` into one output format.

Renderers see only the report (the evidence inside it included), never the network or the clock,
so rendering the same report twice gives the same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_never

from auditor.render.formats import OutputFormat

if TYPE_CHECKING:  # the CLI imports this package at start-up: keep pydantic out of it
    from auditor.models.report import Report


def render(report: Report, fmt: OutputFormat, *, verbose: bool = False, width: int = 100) -> str:
    """The report in ``fmt``, as a string (text without colour)."""
    if fmt is OutputFormat.JSON:
        from auditor.render.json import render_json

        return render_json(report)
    if fmt is OutputFormat.TEXT:
        from auditor.render.text import render_text_string

        return render_text_string(report, verbose=verbose, width=width)
    if fmt is OutputFormat.HTML:
        from auditor.render.html import render_html

        return render_html(report)
    if fmt is OutputFormat.MD:
        from auditor.render.markdown import render_markdown

        return render_markdown(report)
    assert_never(fmt)


__all__ = ["OutputFormat", "render"]

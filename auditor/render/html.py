"""Self-contained HTML: one file, inline CSS, no scripts, no external requests.

Templates live in the top-level ``templates/`` folder of a source checkout and ship inside the wheel
as ``auditor/templates`` (hatch ``force-include``); the loader tries both, so an editable install
and an installed wheel render identically. Autoescaping is on and undefined variables are errors:
every string in a report can come from a hostile server.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from auditor.models.report import Report, Status

_SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@cache
def environment() -> jinja2.Environment:
    """The jinja2 environment (source checkout first, then the installed package)."""
    loaders: list[jinja2.BaseLoader] = []
    if _SOURCE_TEMPLATES.is_dir():
        loaders.append(jinja2.FileSystemLoader(_SOURCE_TEMPLATES))
    if resources.files("auditor").joinpath("templates").is_dir():  # an installed wheel
        loaders.append(jinja2.PackageLoader("auditor", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def _css() -> str:
    source = environment().loader
    assert source is not None
    text, _, _ = source.get_source(environment(), "report.css")
    return text


def render_html(report: Report) -> str:
    """The report as one HTML document."""
    template = environment().get_template("report.html.j2")
    return template.render(report=report, css=_css(), Status=Status)

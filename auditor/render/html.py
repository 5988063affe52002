"""Self-contained HTML: one file, inline CSS and inline SVG, no scripts, no external requests.

Templates live in the top-level ``templates/`` folder of a source checkout and ship inside the wheel
as ``auditor/templates`` (hatch ``force-include``); the loader tries both, so an editable install
and an installed wheel render identically. Autoescaping is on and undefined variables are errors:
every string in a report can come from a hostile server. On top of escaping, every string printed
goes through :func:`~auditor.render.safe_text.inert` (the environment's ``finalize``): control
characters become visible symbols and invisible bidirectional overrides become visible
``‹U+202E›`` marks, so a server cannot make ``gnp.exe`` read as ``exe.png``.

This module holds the jinja2 environment (its filters and globals), the small text helpers the
template uses and :func:`render_html`. Everything else the template needs that is more than a
lookup lives in small pure modules: :mod:`auditor.render.safe_text` (inert, clipped and JSON
text), :mod:`auditor.render.appendix` (the evidence appendix, :func:`pointer_anchor`) and
:mod:`auditor.render.geometry` (the SVG gauge and dependency diagram).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

from auditor.models.report import (
    Band,
    Capability,
    Category,
    CategoryScore,
    CheckResult,
    Report,
    Status,
)
from auditor.render.appendix import appendix_anchors, evidence_sections, pointer_anchor
from auditor.render.digest import evidence_digest
from auditor.render.geometry import compact_roles, diagram_geometry, gauge_geometry
from auditor.render.identity import failure_clues, identity_of, name_noun
from auditor.render.safe_text import clip, inert, pretty_json
from auditor.syntax import Network

_SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# --------------------------------------------------------------------------------------------
# Words the report uses (never taken from the evidence)
# --------------------------------------------------------------------------------------------

STATUS_WORDS: dict[Status, str] = {
    Status.PASS: "Pass",
    Status.PARTIAL: "Partial",
    Status.FAIL: "Fail",
    Status.NOT_APPLICABLE: "Not applicable",
    Status.INFO: "Info",
    Status.ERROR: "Error",
}
BAND_MEANINGS: dict[Band, str] = {
    Band.CENTRALIZED: "One third party controls every critical layer of this account: its "
    "identity, its name, its hosting and its distribution.",
    Band.HYBRID: "No single third party controls every layer, but at least one can still, alone, "
    "make the account unreachable or take over its identity.",
    Band.DECENTRALIZED: "No single third party can, alone, make this account unreachable or take "
    "over its identity.",
}
CAPABILITY_WORDS: dict[Capability, str] = {
    Capability.RESOLVE_IDENTITY: "resolve the identity",
    Capability.SERVE_DATA: "serve the data",
    Capability.PUBLISH: "publish to the network",
    Capability.SHOW_IN_APPS: "show in apps",
    Capability.MOVE: "move to another host",
    Capability.REWRITE_IDENTITY: "keep the identity from being rewritten",
    Capability.KEEP_NAME: "keep the name",
}
CATEGORY_WORDS: dict[Category, str] = {
    Category.IDENTITY: "Identity",
    Category.HOSTING: "Hosting",
    Category.DISTRIBUTION: "Distribution",
    Category.EXPORTABILITY: "Exportability",
    Category.PORTABILITY: "Portability",
}

# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _finalize(value: object) -> object:
    """The environment's ``finalize``: every plain string printed by the template is made inert
    (markup the template built itself is left alone; autoescaping happens afterwards)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return inert(value)
    return value


def code_spans(text: str) -> list[tuple[bool, str]]:
    """``text`` split at backticks into ``(is_code, part)`` pairs (the remediation texts quote
    commands between backticks); an unmatched backtick is kept as text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # odd number of backticks: keep the last one literally
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    return [(index % 2 == 1, part) for index, part in enumerate(parts) if part]


def score100(score: float | None) -> str:
    """A 0-1 check score as "0-100" text, or an en dash when there is none."""
    return "\u2013" if score is None else f"{score * 100:.0f}"


def status_counts(checks: Sequence[CheckResult]) -> list[tuple[Status, int]]:
    """How many checks ended in each status, in :class:`Status` order, zeros left out."""
    counts = [(status, sum(1 for c in checks if c.status is status)) for status in Status]
    return [(status, count) for status, count in counts if count]


def checks_by_category(
    report: Report,
) -> list[tuple[Category, CategoryScore | None, list[CheckResult]]]:
    """The checks grouped by category, categories in the report's order (then any other)."""
    order = [c.category for c in report.categories]
    order += [c.category for c in report.checks if c.category not in order]
    scores = {c.category: c for c in report.categories}
    groups = []
    for category in dict.fromkeys(order):
        checks = [c for c in report.checks if c.category is category]
        if checks:
            groups.append((category, scores.get(category), checks))
    return groups


_PLAIN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def html_id(prefix: str, value: str, fallback: object) -> str:
    """``prefix + value`` when ``value`` is a plain kebab-case word, else ``prefix + fallback``
    (ids never carry text a server chose)."""
    return prefix + (value if _PLAIN_ID.fullmatch(value) else str(fallback))


def long_date(moment: datetime) -> str:
    """``1 November 2026`` (no locale, no platform-specific strftime flags)."""
    return f"{moment.day} {moment:%B %Y}"


# --------------------------------------------------------------------------------------------
# The environment and the entry point
# --------------------------------------------------------------------------------------------


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
        finalize=_finalize,
    )
    env.filters.update(clip=clip, code_spans=code_spans, pretty_json=pretty_json, score100=score100)
    env.globals.update(
        STATUS_WORDS=STATUS_WORDS,
        BAND_MEANINGS=BAND_MEANINGS,
        CAPABILITY_WORDS=CAPABILITY_WORDS,
        CATEGORY_WORDS=CATEGORY_WORDS,
        compact_roles=compact_roles,
        long_date=long_date,
        html_id=html_id,
    )
    return env


def _css() -> str:
    source = environment().loader
    assert source is not None
    text, _, _ = source.get_source(environment(), "report.css")
    return text


def capability_words(protocol: Network) -> dict[Capability, str]:
    """:data:`CAPABILITY_WORDS` for an account of ``protocol``: on the fediverse and Matrix the
    name kept is the address or the user ID."""
    words = dict(CAPABILITY_WORDS)
    if protocol != "atproto":
        words[Capability.KEEP_NAME] = f"keep {name_noun(protocol)}"
    return words


def render_html(report: Report) -> str:
    """The report as one HTML document."""
    identity = identity_of(report)
    account = identity.name
    sections = evidence_sections(report.evidence)
    anchors = appendix_anchors(sections)
    band = report.band.value.upper() if report.band else "NO VERDICT"
    template = environment().get_template("report.html.j2")
    return template.render(
        report=report,
        css=Markup(_css()),  # our own file, inside <style>: entities would not be decoded
        account=account,
        digest=evidence_digest(report),
        gauge=gauge_geometry(report.band, report.score),
        diagram=diagram_geometry(report.dependencies, account, band),
        spofs=[d for d in report.dependencies if d.single_point_of_failure],
        others=[d for d in report.dependencies if not d.single_point_of_failure],
        groups=checks_by_category(report),
        counts=status_counts(report.checks),
        sections=sections,
        anchor_for=lambda pointer: pointer_anchor(pointer, anchors),
        identity=identity,
        clues=[
            (clue, clue.anchor if clue.anchor in anchors else None)
            for clue in failure_clues(report)
        ],
        capability_words=capability_words(report.protocol),
        audited_as=report.target != account and (identity.is_at or report.target != f"@{account}"),
    )

"""Markdown (GitHub-flavoured) for step summaries, issues and articles.

Every string a report holds can come from a hostile server or a hand-edited evidence file, and
GitHub renders inline HTML, so each one goes through :func:`prose` or :func:`code` before it is
placed, never raw:

* first :func:`~auditor.render.text.inert` (one line): controls, bidi overrides and isolates and
  the other invisible format characters become visible (``␛``, ``<U+202E>``);
* **prose** is backslash-escaped: always ``\\ ` * _ { } [ ] < > | ~ & $ #`` (emphasis, code,
  links and images, raw HTML and autolinks, table cells, strikethrough, entities, math, headings),
  and at the start of a value also ``-`` and ``+`` and the ``.``/``)`` of ``1.``/``1)`` (list
  items, thematic breaks); what an escape cannot stop, because GitHub links it after parsing (bare
  ``https://`` and ``www.`` addresses, e-mail addresses, ``@mentions``), is put in a code span,
  and so is the text a value itself puts between backticks;
* **code** spans hold identifiers (DID, handle, URLs, check ids): nothing inside a code span is
  interpreted, a fence longer than any backtick run in the value keeps it closed, and in a table
  ``|`` is escaped as ``\\|`` (which GFM honours inside code spans in tables).

Values never span lines (a newline in a free-text field becomes a space, elsewhere ``␊``), so no
value can open a block, and long values are cut with an ellipsis in tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditor.models.common import ProbeFailure
from auditor.models.evidence import (
    DidDocumentFetch,
    DnsTxtAnswer,
    HandleResolution,
    NotCollected,
    PdsProbes,
    WellKnownAnswer,
)
from auditor.models.report import Band, CheckResult, Dependency, Report, Status
from auditor.render.appendix import evidence_sections
from auditor.render.appendix_probes import EvidenceSection, Probe
from auditor.render.digest import evidence_digest
from auditor.render.identity import Identity, failure_clues, identity_of
from auditor.render.text import (
    BANDS,
    ID_LIMIT,
    LABEL_LIMIT,
    SUMMARY_LIMIT,
    TEXT_LIMIT,
    capabilities,
    clip,
    collected,
    inert,
    score_text,
)

# --- escaping ------------------------------------------------------------------------------------

_ALWAYS = re.compile(r"([\\`*_{}\[\]<>|~&$#])")
_AT_START = re.compile(r"^([-+])|^(\d{1,9})([.)])(?=\s|$)")
_LINKED = re.compile(
    r"`[^`]+`"  # a value's own code span
    r"|(?:\b[A-Za-z][A-Za-z0-9+.-]*://|\bwww\.)[^\s<>`]+"  # an address GitHub would link
    r"|[^\s<>`]*@[^\s<>`]+"  # an e-mail address or an @mention
)
_TRAILING = ".,;:!?)'\""
"""Punctuation that ends a sentence rather than an address."""
PROOF_LIMIT = 120
"""Evidence values (TXT records, response bodies) longer than this are cut."""


def _flatten(value: str, multi_line: bool) -> str:
    shown = inert(value, one_line=not multi_line)
    return " ".join(shown.split()) if multi_line else shown.strip()


def code(value: str, *, table: bool = False, limit: int = SUMMARY_LIMIT) -> str:
    """``value`` as an inline code span, cut at ``limit``: shown literally, never interpreted."""
    shown = clip(inert(value, one_line=True), limit)
    if not shown:
        return "(empty)"
    if table:
        shown = shown.replace("|", "\\|")
    runs = [len(run) for run in re.findall(r"`+", shown)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if shown[0] in "` " or shown[-1] in "` " else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _escape(value: str) -> str:
    return _ALWAYS.sub(r"\\\1", value)


def _segments(value: str, table: bool) -> Iterator[str]:
    """Plain text escaped; code spans and linkable addresses as code spans."""
    position = 0
    for match in _LINKED.finditer(value):
        token = match.group()
        if token.startswith("`"):
            token, tail = token[1:-1], ""
        else:
            stripped = token.rstrip(_TRAILING)
            token, tail = stripped, token[len(stripped) :]
        yield _escape(value[position : match.start()])
        yield code(token, table=table) if token else _escape(match.group())
        yield _escape(tail)
        position = match.end()
    yield _escape(value[position:])


def prose(
    value: str, *, table: bool = False, limit: int | None = None, multi_line: bool = False
) -> str:
    """``value`` as Markdown text that reads as written and cannot become markup.

    ``multi_line`` is for free text (remediation, findings): its line breaks become spaces.
    ``limit`` (default 300 characters, 2000 for free text) cuts it, with an ellipsis, before
    escaping, so an escape is never cut in half.
    """
    if limit is None:
        limit = TEXT_LIMIT if multi_line else SUMMARY_LIMIT
    flat = clip(_flatten(value, multi_line), limit)
    escaped = "".join(_segments(flat, table))
    return _AT_START.sub(lambda m: f"\\{m.group(1)}" if m.group(1) else f"{m[2]}\\{m[3]}", escaped)


def gfm_table(
    header: list[str], rows: list[list[str]], align: list[str] | None = None
) -> list[str]:
    """A GFM table from cells already escaped for a table."""
    marks = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


# --- words ---------------------------------------------------------------------------------------

STATUS_WORDS: dict[Status, str] = {
    Status.PASS: "✅ pass",
    Status.PARTIAL: "⚠️ partial",
    Status.FAIL: "❌ fail",
    Status.NOT_APPLICABLE: "➖ n/a",
    Status.INFO: "ℹ️ info",
    Status.ERROR: "❓ error",
}
BAND_WORDS: dict[Band, str] = {
    Band.CENTRALIZED: "🔴 centralized",
    Band.HYBRID: "🟡 hybrid",
    Band.DECENTRALIZED: "🟢 decentralized",
}
SANDBOX_NOTICE = (
    "> ⚠️ **Sandbox data.** This report audits decaudit's simulated network, not a real account."
)


# --- sections ------------------------------------------------------------------------------------


def _title(report: Report) -> list[str]:
    identity = identity_of(report)
    lines = [f"# How decentralized is {code(identity.name)}?", ""]
    if not identity.is_at:
        lines += [f"{identity.kind[0].upper()}{identity.kind[1:]}.", ""]
    return [*lines, SANDBOX_NOTICE, ""] if report.sandbox else lines


def _verdict(report: Report) -> list[str]:
    if report.band is None or report.score is None:
        why = "the target could not be resolved" if report.unresolved_reason else "nothing scored"
        return [f"**No verdict**: {why}.", ""]
    lines = [
        f"**Verdict: {BAND_WORDS[report.band]}** · score **{report.score:.0f}**/100 · "
        f"coverage {report.coverage:.0%}",
        "",
        "Spectrum: " + " → ".join(_band_mark(band, report.band) for band in BANDS),
        "",
    ]
    if report.categories:
        parts = [
            f"{c.category.value} {'—' if c.score is None else f'{c.score * 100:.0f}'}"
            for c in report.categories
        ]
        lines += [
            "By layer: " + " · ".join(parts) + ". The band comes from gates, not the score.",
            "",
        ]
    return lines


def _band_mark(band: Band, current: Band) -> str:
    return f"**▶ {band.value.upper()} ◀**" if band is current else band.value


def _unresolved(report: Report) -> list[str]:
    if report.band is not None:
        return []
    reason = report.unresolved_reason or "no check could be scored"
    clues = [
        f"  - {clue.label}: {code(clue.detail, limit=PROOF_LIMIT * 2)}"
        for clue in failure_clues(report)
    ]
    return [
        "## What failed",
        "",
        f"- {prose(reason)}",
        *clues,
        "",
        "Without a resolved identity there is no score and no band.",
        "",
    ]


def _why(report: Report) -> list[str]:
    if not report.band_basis:
        return []
    decision, *layers = report.band_basis
    lines = ["## Why this band", "", f"**{prose(decision)}**", ""]
    return [*lines, *(f"- {prose(basis)}" for basis in layers), ""]


def _roles(dependency: Dependency) -> str:
    return ", ".join(prose(role) for role in dependency.roles)


def _spof(dependency: Dependency, report: Report) -> list[str]:
    return [
        f"- **{prose(dependency.label, limit=LABEL_LIMIT)}** ({_roles(dependency)})",
        f"  - Can break alone: {capabilities(dependency, report.protocol)}",
        f"  - {prose(dependency.if_offline)}",
    ]


def _dependencies(report: Report) -> list[str]:
    if not report.dependencies:
        return []
    third = [d for d in report.dependencies if d.third_party]
    spofs = [d for d in third if d.single_point_of_failure]
    lines = ["## Single points of failure", ""]
    if spofs:
        lines += [row for d in spofs for row in _spof(d, report)]
    else:
        lines.append("None: no third party can, alone, break anything for this account.")
    lines.append("")
    others = [d for d in third if not d.single_point_of_failure]
    if others:
        lines += ["Also relied on, none able to break anything alone:", ""]
        lines += [f"- {prose(d.label, limit=LABEL_LIMIT)} ({_roles(d)})" for d in others]
        lines.append("")
    held = [prose(role) for d in report.dependencies if not d.third_party for role in d.roles]
    return [*lines, f"Held by you: {', '.join(held)}.", ""] if held else lines


def _check_row(result: CheckResult) -> list[str]:
    summary = prose(result.summary, table=True, limit=SUMMARY_LIMIT)
    if result.error:
        summary += " (" + prose(result.error, table=True, limit=SUMMARY_LIMIT) + ")"
    return [
        STATUS_WORDS[result.status],
        score_text(result.score),
        code(result.id, table=True, limit=ID_LIMIT),
        summary,
    ]


def _checks(report: Report) -> list[str]:
    if not report.checks:
        return []
    rows = [_check_row(result) for result in report.checks]
    body = gfm_table(["Status", "Score", "Check", "Summary"], rows, ["---", "---:", "---", "---"])
    return ["## Checks", "", *body, ""]


def _remediation(report: Report) -> list[str]:
    todo = [r for r in report.checks if r.remediation]
    if not todo:
        return []
    items = [f"- {code(r.id)}: {prose(r.remediation, multi_line=True)}" for r in todo]
    return ["## What you can do", "", *items, ""]


def _warnings(report: Report) -> list[str]:
    if not report.warnings:
        return []
    return ["## Warnings", "", *(f"- {prose(w, multi_line=True)}" for w in report.warnings), ""]


# --- evidence ------------------------------------------------------------------------------------


def _failure(slot: ProbeFailure | NotCollected) -> str:
    if isinstance(slot, ProbeFailure):
        return "failed: " + prose(slot.message, limit=SUMMARY_LIMIT)
    reason = prose(slot.reason, limit=SUMMARY_LIMIT)
    return reason if slot.reason.startswith("not collected") else f"not collected: {reason}"


def _dns(slot: DnsTxtAnswer | ProbeFailure | NotCollected, handle: str) -> str:
    name = code(slot.name if isinstance(slot, DnsTxtAnswer) else f"_atproto.{handle}")
    if not isinstance(slot, DnsTxtAnswer):
        return f"  - DNS TXT {name}: {_failure(slot)}"
    records = ", ".join(code(r, limit=PROOF_LIMIT) for r in slot.records) or "no records"
    return f"  - DNS TXT {name}: {records}"


def _https(slot: WellKnownAnswer | ProbeFailure | NotCollected, handle: str) -> str:
    if not isinstance(slot, WellKnownAnswer):
        url = slot.source if isinstance(slot, ProbeFailure) else f"https://{handle}"
        return f"  - HTTPS {code(url)}: {_failure(slot)}"
    body = code(slot.body.strip(), limit=PROOF_LIMIT)
    return f"  - HTTPS {code(slot.exchange.url)}: HTTP {slot.exchange.status}, body {body}"


def _handle_proof(resolution: HandleResolution) -> list[str]:
    handle = resolution.handle
    return [
        f"- Handle {code(handle)}:",
        _dns(resolution.dns, handle),
        _https(resolution.https, handle),
    ]


def _identity_evidence(report: Report) -> list[str]:
    evidence = report.evidence
    lines = [f"- DID: {code(report.did) if report.did else 'not resolved'}"]
    document = evidence.did_document
    if isinstance(document, DidDocumentFetch):
        exchange = document.exchange
        lines.append(f"- DID document: {code(exchange.url)} (HTTP {exchange.status})")
    else:
        lines.append(f"- DID document: {_failure(document)}")
    if isinstance(evidence.pds, PdsProbes):
        lines.append(f"- PDS: {code(evidence.pds.endpoint)}")
    return lines


OUTCOME_WORDS = {"ok": "answered", "failed": "failed", "skipped": "skipped"}
COMMAND_LIMIT = 600
"""Re-check commands longer than this are cut (the HTML report prints them whole)."""


def _identity_rows(identity: Identity) -> list[str]:
    lines = []
    for row in identity.rows:
        if row.value is None:
            shown = row.missing
        else:
            shown = code(row.value) if row.identifier else prose(row.value)
        lines.append(f"- {row.label}: {shown}" + (f" ({row.note})" if row.note else ""))
    return lines


def _probe_lines(probe: Probe) -> list[str]:
    outcome = OUTCOME_WORDS.get(probe.outcome, probe.outcome)
    lines = [f"- **{probe.title}** ({outcome}): {prose(probe.summary)}"]
    if probe.source:
        lines.append(f"  - Asked: {code(probe.source, limit=PROOF_LIMIT * 2)}")
    lines += [f"  - {label}: {code(value, limit=PROOF_LIMIT)}" for label, value in probe.facts]
    lines += [
        f"  - Check again: {code(command, limit=COMMAND_LIMIT)}" for command in probe.commands
    ]
    return lines


def _section_lines(section: EvidenceSection) -> list[str]:
    lines = [f"### {section.title}", "", section.note, ""]
    for group in section.groups:
        if group.full_title:
            lines += [f"{code(group.full_title)}:", ""]
        lines += [row for probe in group.probes for row in _probe_lines(probe)]
        lines.append("")
    return lines


def _evidence(report: Report) -> list[str]:
    """The identity and how it resolved (AT Protocol), or the identity then every answer with
    the command to ask again (fediverse, Matrix)."""
    identity = identity_of(report)
    answers: list[str] = []
    if identity.is_at:
        proofs = [row for r in report.evidence.handle_resolutions for row in _handle_proof(r)]
        who = [*_identity_evidence(report), *proofs]
    else:
        who = _identity_rows(identity)
        sections = evidence_sections(report.evidence)
        answers = [row for section in sections for row in _section_lines(section)]
    digest = code(evidence_digest(report))
    return [
        "## Evidence",
        "",
        *who,
        f"- Evidence digest: {digest} (SHA-256 of the evidence in the JSON report)",
        "",
        *answers,
        "The JSON report (`--format json`) holds every answer verbatim; "
        "`decaudit render REPORT.json` re-scores it offline.",
        "",
    ]


def _footer(report: Report) -> list[str]:
    return [
        "---",
        "",
        f"decaudit {prose(report.tool_version)} · scoring {prose(report.scoring_version)} · "
        f"report schema {prose(report.schema_version)} · evidence collected "
        f"{collected(report)} by decaudit {prose(report.evidence.tool_version)}",
    ]


def render_markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown."""
    lines = [
        *_title(report),
        *_verdict(report),
        *_unresolved(report),
        *_why(report),
        *_dependencies(report),
        *_checks(report),
        *_remediation(report),
        *_warnings(report),
        *_evidence(report),
        *_footer(report),
    ]
    return "\n".join(lines) + "\n"

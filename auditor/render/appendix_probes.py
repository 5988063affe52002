"""The evidence appendix's building blocks: one entry per answer, and the command to ask again.

:class:`Probe`, :class:`ProbeGroup` and :class:`EvidenceSection` are what the HTML and Markdown
appendices print; :func:`http_probe` and :func:`dns_probe` turn one recorded answer into an entry,
and the shell helpers quote the commands so a hostile value cannot hide in, or break, a pasted
command line. Every network's sections (:mod:`auditor.render.appendix`,
:mod:`auditor.render.appendix_networks`) are built from these.
"""

from __future__ import annotations

import shlex
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from auditor.models.common import HttpExchange, ProbeFailure
from auditor.models.evidence import (
    DidDocumentFetch,
    DnsTxtAnswer,
    JsonAnswer,
    NotCollected,
    PlcAuditLogFetch,
    RepoExport,
    WellKnownAnswer,
)
from auditor.models.slots import SrvAnswer
from auditor.render.safe_text import clip, pretty_json


def _shell_safe(char: str) -> str:
    if unicodedata.category(char)[0] in "CZ" and char != " ":
        return quote(char, safe="")
    return "%20" if char == " " else char


def shell_arg(value: str) -> str:
    """One shell word: control, format and whitespace characters percent-encoded (they cannot
    hide in, or break, a pasted command), then quoted with :func:`shlex.quote`."""
    return shlex.quote("".join(_shell_safe(char) for char in value))


def shell_command(*words: str) -> str:
    """A command line anyone can paste: every word through :func:`shell_arg`."""
    return " ".join(shell_arg(word) for word in words)


@dataclass(frozen=True)
class Probe:
    """One answer in the evidence appendix."""

    anchor: str
    """Its HTML id (built from fixed words and indices, never from the evidence)."""
    title: str
    source: str
    """The URL or DNS name asked."""
    outcome: str
    """``ok``, ``failed`` or ``skipped``."""
    summary: str
    """One line: the HTTP status, or why it failed or was skipped."""
    commands: list[str]
    """Commands anyone can run to ask again."""
    answer: str | None
    """The answer as received (pretty JSON, or the text body), if there was one."""
    answer_kind: str = "JSON"
    facts: tuple[tuple[str, str], ...] = ()
    """Extra (label, value) pairs: the URL that answered after redirects, each redirect."""


@dataclass(frozen=True)
class ProbeGroup:
    """Probes under one optional sub-heading (one relay, one handle)."""

    anchor: str
    full_title: str | None
    """The sub-heading, whole (the heading shows it clipped, the full text is printed below)."""
    probes: list[Probe]

    @property
    def title(self) -> str | None:
        """The sub-heading, clipped for display."""
        return None if self.full_title is None else clip(self.full_title, 80)


@dataclass(frozen=True)
class EvidenceSection:
    """One part of the appendix: the DID document, the relays, ..."""

    anchor: str
    title: str
    note: str
    groups: list[ProbeGroup]


def text_field(body: object, key: str) -> str | None:
    """``body[key]`` when ``body`` is a JSON object and the value a string (an answer's field
    shown as a fact, whatever else the server sent)."""
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def curl_command(url: str, *options: str) -> str:
    """``curl -s OPTIONS URL``: the options are decaudit's own words (quoted as they are, so a
    header keeps its space), the URL comes from the evidence (through :func:`shell_arg`)."""
    return " ".join(["curl", "-s", *(shlex.quote(option) for option in options), shell_arg(url)])


def exchange_facts(exchange: HttpExchange) -> tuple[tuple[str, str], ...]:
    facts = []
    if exchange.final_url != exchange.url:
        facts.append(("Answered by", exchange.final_url))
    facts.extend((f"Redirect {n}", target) for n, target in enumerate(exchange.redirects, 1))
    return tuple(facts)


HttpSlot = (
    JsonAnswer
    | WellKnownAnswer
    | DidDocumentFetch
    | PlcAuditLogFetch
    | RepoExport
    | ProbeFailure
    | NotCollected
)


def http_probe(anchor: str, title: str, slot: HttpSlot, url: str, *options: str) -> Probe:
    """The appendix entry for one HTTP probe; ``url`` is used for the command when the slot
    recorded none (a skipped probe)."""
    if isinstance(slot, NotCollected):
        return Probe(
            anchor, title, url, "skipped", slot.reason, [curl_command(url, *options)], None
        )
    if isinstance(slot, ProbeFailure):
        source = slot.source if "://" in slot.source else url
        return Probe(
            anchor, title, source, "failed", slot.message, [curl_command(source, *options)], None
        )
    exchange = slot.exchange
    answer: str | None
    kind = "JSON"
    if isinstance(slot, WellKnownAnswer):
        answer, kind = slot.body, "text"
    elif isinstance(slot, DidDocumentFetch):
        answer = pretty_json(slot.document)
    elif isinstance(slot, PlcAuditLogFetch):
        answer = pretty_json(slot.entries)
    elif isinstance(slot, RepoExport):
        answer, kind = pretty_json(slot.model_dump(mode="json")["verification"]), "verification"
    else:
        answer = pretty_json(slot.body)
    summary = f"HTTP {exchange.status}" + (
        f", {exchange.content_type}" * bool(exchange.content_type)
    )
    commands = [curl_command(exchange.url, *options)]
    return Probe(
        anchor,
        title,
        exchange.url,
        "ok",
        summary,
        commands,
        answer,
        kind,
        exchange_facts(exchange),
    )


def dns_probe(
    anchor: str,
    title: str,
    slot: DnsTxtAnswer | SrvAnswer | ProbeFailure | NotCollected,
    name: str,
) -> Probe:
    """The appendix entry for one DNS lookup: TXT (a handle) or SRV (Matrix discovery)."""
    rdtype = "SRV" if isinstance(slot, SrvAnswer) or name.startswith("_matrix") else "TXT"
    if isinstance(slot, DnsTxtAnswer | SrvAnswer):
        name = slot.name
    elif isinstance(slot, ProbeFailure):
        name = slot.source
    command = [shell_command("dig", "+short", rdtype, name)]
    if isinstance(slot, NotCollected):
        return Probe(anchor, title, name, "skipped", slot.reason, command, None)
    if isinstance(slot, ProbeFailure):
        return Probe(anchor, title, name, "failed", slot.message, command, None)
    records = f"{len(slot.records)} record" + "s" * (len(slot.records) != 1)
    if isinstance(slot, DnsTxtAnswer):
        return Probe(anchor, title, name, "ok", records, command, pretty_json(slot.records))
    facts = tuple(
        (
            f"Record {n}",
            f"priority {r.priority}, weight {r.weight}, port {r.port}, "
            f"target {clip(r.target, 200)}",
        )
        for n, r in enumerate(slot.records[:16], 1)
    )
    answer = pretty_json([r.model_dump(mode="json") for r in slot.records])
    return Probe(anchor, title, name, "ok", records, command, answer, "JSON", facts)

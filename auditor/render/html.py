"""Self-contained HTML: one file, inline CSS and inline SVG, no scripts, no external requests.

Templates live in the top-level ``templates/`` folder of a source checkout and ship inside the wheel
as ``auditor/templates`` (hatch ``force-include``); the loader tries both, so an editable install
and an installed wheel render identically. Autoescaping is on and undefined variables are errors:
every string in a report can come from a hostile server. On top of escaping, every string printed
goes through :func:`inert` (the environment's ``finalize``): control characters become visible
symbols and invisible bidirectional overrides become visible ``‹U+202E›`` marks, so a server cannot
make ``gnp.exe`` read as ``exe.png``.

Everything the template needs that is more than a lookup lives here as small pure functions: text
(:func:`clip`, :func:`wrap_lines`, :func:`code_spans`), evidence (:func:`pretty_json`,
:func:`shell_command`, :func:`evidence_sections`, :func:`pointer_anchor`) and SVG geometry
(:func:`gauge_geometry`, :func:`diagram_geometry`).
"""

from __future__ import annotations

import json
import math
import re
import shlex
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2
from markupsafe import Markup

from auditor.fediverse.account import account_view
from auditor.fediverse.documents import nodeinfo_link, read_jrd, read_nodeinfo
from auditor.matrix.discovery import (
    DEFAULT_PORT,
    base_url,
    client_base,
    delegation,
    split_server_name,
)
from auditor.matrix.keys import verify_server_keys
from auditor.models.common import HttpExchange, ProbeFailure
from auditor.models.evidence import (
    BlobInventory,
    DidDocumentFetch,
    DnsTxtAnswer,
    Evidence,
    JsonAnswer,
    JsonSlot,
    NotCollected,
    PdsProbes,
    PlcAuditLogFetch,
    RepoExport,
    WellKnownAnswer,
)
from auditor.models.fediverse import FediverseProbes, PeerList
from auditor.models.matrix import MatrixProbes
from auditor.models.report import (
    Band,
    Capability,
    Category,
    CategoryScore,
    CheckResult,
    Dependency,
    Report,
    Status,
)
from auditor.models.slots import SrvAnswer
from auditor.render.digest import evidence_digest
from auditor.render.identity import failure_clues, identity_of, name_noun
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

_INVISIBLE = [0x061C, 0xFEFF, *range(0x200B, 0x2010), *range(0x202A, 0x202F)]
_INVISIBLE += [*range(0x2060, 0x2065), *range(0x2066, 0x206A)]
_INERT: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20) if code not in (9, 10)}
_INERT[0x7F] = "\u2421"
_INERT.update(dict.fromkeys(range(0x80, 0xA0), "\ufffd"))
_INERT.update({code: f"\u2039U+{code:04X}\u203a" for code in _INVISIBLE})


def inert(value: str) -> str:
    """``value`` with control characters shown as symbols and invisible bidi/format characters
    shown as ``‹U+XXXX›`` (newlines and tabs are kept)."""
    return value.translate(_INERT)


def _finalize(value: object) -> object:
    """The environment's ``finalize``: every plain string printed by the template is made inert
    (markup the template built itself is left alone; autoescaping happens afterwards)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return inert(value)
    return value


def clip(value: str, limit: int = 120) -> str:
    """``value`` cut to at most ``limit`` characters, ending in an ellipsis when it was cut."""
    if len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)].rstrip() + "\u2026"


def wrap_lines(text: str, width: int, max_lines: int) -> list[str]:
    """``text`` wrapped to lines of at most ``width`` characters, at most ``max_lines`` of them;
    the last line ends in an ellipsis when text was left out."""
    lines = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 0)].rstrip() + "\u2026"
    return lines


def wrap_name(name: str, width: int, max_lines: int) -> list[str]:
    """A domain-like ``name`` wrapped after its dots (``alice.`` / ``example.com``), long labels
    cut hard; at most ``max_lines`` lines, the last ending in an ellipsis when text was left out."""
    lines: list[str] = []
    for token in re.findall(r"[^.]*\.|[^.]+$", name):
        pieces = [token[i : i + width] for i in range(0, len(token), width)] or [""]
        for piece in pieces:
            if lines and len(lines[-1]) + len(piece) <= width:
                lines[-1] += piece
            else:
                lines.append(piece)
    lines = lines or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 0)] + "\u2026"
    return lines


def code_spans(text: str) -> list[tuple[bool, str]]:
    """``text`` split at backticks into ``(is_code, part)`` pairs (the remediation texts quote
    commands between backticks); an unmatched backtick is kept as text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # odd number of backticks: keep the last one literally
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    return [(index % 2 == 1, part) for index, part in enumerate(parts) if part]


_JSON_INVISIBLE = re.compile(
    "[\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def pretty_json(value: object) -> str:
    """``value`` as indented JSON: non-ASCII text kept readable, but every control, bidi or
    invisible character escaped as ``\\uXXXX`` so the text shown is exactly the JSON received."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _JSON_INVISIBLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


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
# Evidence appendix
# --------------------------------------------------------------------------------------------


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


def _curl(url: str, *options: str) -> str:
    """``curl -s OPTIONS URL``: the options are decaudit's own words (quoted as they are, so a
    header keeps its space), the URL comes from the evidence (through :func:`shell_arg`)."""
    return " ".join(["curl", "-s", *(shlex.quote(option) for option in options), shell_arg(url)])


def _exchange_facts(exchange: HttpExchange) -> tuple[tuple[str, str], ...]:
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
        return Probe(anchor, title, url, "skipped", slot.reason, [_curl(url, *options)], None)
    if isinstance(slot, ProbeFailure):
        source = slot.source if "://" in slot.source else url
        return Probe(anchor, title, source, "failed", slot.message, [_curl(source, *options)], None)
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
    commands = [_curl(exchange.url, *options)]
    return Probe(
        anchor,
        title,
        exchange.url,
        "ok",
        summary,
        commands,
        answer,
        kind,
        _exchange_facts(exchange),
    )


def dns_probe(
    anchor: str, title: str, slot: DnsTxtAnswer | ProbeFailure | NotCollected, name: str
) -> Probe:
    """The appendix entry for one DNS TXT lookup."""
    if isinstance(slot, DnsTxtAnswer):
        name = slot.name
    elif isinstance(slot, ProbeFailure):
        name = slot.source
    command = [shell_command("dig", "+short", "TXT", name)]
    if isinstance(slot, NotCollected):
        return Probe(anchor, title, name, "skipped", slot.reason, command, None)
    if isinstance(slot, ProbeFailure):
        return Probe(anchor, title, name, "failed", slot.message, command, None)
    records = f"{len(slot.records)} record" + "s" * (len(slot.records) != 1)
    return Probe(anchor, title, name, "ok", records, command, pretty_json(slot.records))


def _xrpc(base: str, method: str, **params: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f"{base.rstrip('/')}/xrpc/{method}{query}"


def _handle_section(evidence: Evidence) -> EvidenceSection:
    groups = []
    for i, resolution in enumerate(evidence.handle_resolutions):
        anchor = f"ev-handle-resolutions-{i}"
        handle = resolution.handle
        probes = [
            dns_probe(f"{anchor}-dns", "DNS TXT record", resolution.dns, f"_atproto.{handle}"),
            http_probe(
                f"{anchor}-https",
                "HTTPS well-known file",
                resolution.https,
                f"https://{handle}/.well-known/atproto-did",
            ),
        ]
        groups.append(ProbeGroup(anchor, handle, probes))
    return EvidenceSection(
        "ev-handle-resolutions",
        "Handle resolution",
        "A handle points to its DID by a DNS TXT record at _atproto.<handle> or by an HTTPS file "
        "at /.well-known/atproto-did; both were asked.",
        groups,
    )


def _did_url(evidence: Evidence) -> str:
    did = evidence.did or evidence.input_did or ""
    if did.startswith("did:web:"):
        return f"https://{did.removeprefix('did:web:')}/.well-known/did.json"
    return f"{evidence.settings.plc_url.rstrip('/')}/{did}"


def _identity_sections(evidence: Evidence) -> list[EvidenceSection]:
    did_url = _did_url(evidence)
    document = http_probe(
        "ev-did-document-fetch", "The document as served", evidence.did_document, did_url
    )
    log_url = f"{evidence.settings.plc_url.rstrip('/')}/{evidence.did or ''}/log/audit"
    log = http_probe("ev-plc-audit-log-fetch", "The log as served", evidence.plc_audit_log, log_url)
    entries = evidence.plc_audit_log
    if isinstance(entries, PlcAuditLogFetch) and isinstance(entries.entries, list):
        count = len(entries.entries)
        log = replace(log, summary=f"{log.summary}; {count} operation(s)")
    return [
        EvidenceSection(
            "ev-did-document",
            "DID document",
            "The identity document: signing key, handle claimed and the PDS that hosts the data.",
            [ProbeGroup("ev-did-document-group", None, [document])],
        ),
        EvidenceSection(
            "ev-plc-audit-log",
            "PLC audit log",
            "Every signed change ever made to the identity, as the PLC directory serves it "
            "(nullified operations included).",
            [ProbeGroup("ev-plc-audit-log-group", None, [log])],
        ),
    ]


_PDS_PROBES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("health", "Health", "_health", ()),
    ("describe_server", "Server description", "com.atproto.server.describeServer", ()),
    ("describe_repo", "Repository description", "com.atproto.repo.describeRepo", ("repo",)),
    ("repo_status", "Account status", "com.atproto.sync.getRepoStatus", ("did",)),
    ("latest_commit", "Latest commit", "com.atproto.sync.getLatestCommit", ("did",)),
    ("list_repos", "Accounts hosted (first page)", "com.atproto.sync.listRepos", ()),
)


def _pds_section(evidence: Evidence) -> EvidenceSection:
    pds = evidence.pds
    did = evidence.did or ""
    if not isinstance(pds, PdsProbes):
        skipped = Probe("ev-pds-skipped", "PDS", "", "skipped", pds.reason, [], None)
        return EvidenceSection(
            "ev-pds",
            "PDS",
            "The server that hosts the data.",
            [ProbeGroup("ev-pds-group", None, [skipped])],
        )
    probes = []
    for field, title, method, params in _PDS_PROBES:
        url = _xrpc(pds.endpoint, method, **dict.fromkeys(params, did))
        slot = getattr(pds, field)
        probes.append(http_probe(f"ev-pds-{field.replace('_', '-')}", title, slot, url))
    return EvidenceSection(
        "ev-pds",
        "PDS",
        "What the server that hosts the data (the #atproto_pds endpoint of the DID document) says "
        "about itself and the account.",
        [ProbeGroup("ev-pds-endpoint", pds.endpoint, probes)],
    )


def _pds_host(evidence: Evidence) -> str:
    pds = evidence.pds
    if isinstance(pds, PdsProbes):
        return pds.endpoint.split("://", 1)[-1].split("/", 1)[0]
    return ""


def _network_sections(evidence: Evidence) -> list[EvidenceSection]:
    did = evidence.did or ""
    relays = []
    for i, relay in enumerate(evidence.relays):
        anchor = f"ev-relays-{i}"
        slots = (
            ("repo_status", "Account status", "com.atproto.sync.getRepoStatus", "did", did),
            ("latest_commit", "Latest commit", "com.atproto.sync.getLatestCommit", "did", did),
            (
                "host_status",
                "PDS host status",
                "com.atproto.sync.getHostStatus",
                "hostname",
                _pds_host(evidence),
            ),
        )
        probes = [
            http_probe(
                f"{anchor}-{field.replace('_', '-')}",
                title,
                getattr(relay, field),
                _xrpc(relay.url, method, **{key: value}),
            )
            for field, title, method, key, value in slots
        ]
        relays.append(ProbeGroup(anchor, relay.url, probes))
    mirrors = [
        ProbeGroup(
            f"ev-plc-mirrors-{i}",
            mirror.url,
            [
                http_probe(
                    f"ev-plc-mirrors-{i}-audit-log",
                    "Audit log copy",
                    mirror.audit_log,
                    f"{mirror.url.rstrip('/')}/{did}/log/audit",
                )
            ],
        )
        for i, mirror in enumerate(evidence.plc_mirrors)
    ]
    appviews = [
        ProbeGroup(
            f"ev-appviews-{i}",
            appview.url,
            [
                http_probe(
                    f"ev-appviews-{i}-profile",
                    "Profile",
                    appview.profile,
                    _xrpc(appview.url, "app.bsky.actor.getProfile", actor=did),
                )
            ],
        )
        for i, appview in enumerate(evidence.appviews)
    ]
    labelers = [
        ProbeGroup(
            f"ev-labelers-{i}",
            labeler.url,
            [
                http_probe(
                    f"ev-labelers-{i}-labels",
                    "Labels on the account",
                    labeler.labels,
                    _xrpc(labeler.url, "com.atproto.label.queryLabels", uriPatterns=f"at://{did}*"),
                )
            ],
        )
        for i, labeler in enumerate(evidence.labelers)
    ]
    sections = [
        ("ev-relays", "Relays", "Relays carry the account's changes to apps.", relays),
        (
            "ev-plc-mirrors",
            "PLC mirrors",
            "Independent copies of the PLC directory: could they serve the identity instead?",
            mirrors,
        ),
        ("ev-appviews", "AppViews", "Apps' indexes: do they show the account?", appviews),
        ("ev-labelers", "Labelers", "Moderation services' labels on the account.", labelers),
    ]
    return [EvidenceSection(a, t, n, g) for a, t, n, g in sections if g]


def _hosting_section(evidence: Evidence) -> EvidenceSection | None:
    origins = evidence.hosting_network
    host = _pds_host(evidence)
    if isinstance(origins, NotCollected):
        if not host:
            return None
        probe = Probe(
            "ev-hosting-network-skipped",
            "Network origin",
            host,
            "skipped",
            origins.reason,
            [],
            None,
        )
        probes = [probe]
    elif isinstance(origins, ProbeFailure):
        probes = [
            Probe(
                "ev-hosting-network-addresses",
                "Addresses",
                origins.source,
                "failed",
                origins.message,
                [shell_command("dig", "+short", "A", host or origins.source)],
                None,
            )
        ]
    else:
        addresses = Probe(
            "ev-hosting-network-addresses",
            "Addresses of the PDS",
            origins.host,
            "ok",
            f"{len(origins.addresses)} address(es)",
            [shell_command("dig", "+short", "A", origins.host)],
            pretty_json(origins.addresses),
        )
        probes = [addresses]
        for i, lookup in enumerate(origins.lookups):
            slot: DnsTxtAnswer | ProbeFailure = lookup.failure or DnsTxtAnswer(
                name=lookup.name, records=lookup.records, elapsed_ms=0.0
            )
            probes.append(
                dns_probe(
                    f"ev-hosting-network-lookups-{i}", "Origin (ASN) lookup", slot, lookup.name
                )
            )
    return EvidenceSection(
        "ev-hosting-network",
        "Hosting network",
        "Who announces the PDS's addresses on the internet (Team Cymru's DNS origin service).",
        [ProbeGroup("ev-hosting-network-group", None, probes)],
    )


def _export_sections(evidence: Evidence) -> list[EvidenceSection]:
    did = evidence.did or ""
    pds = evidence.pds.endpoint if isinstance(evidence.pds, PdsProbes) else ""
    sections = []
    if pds or not isinstance(evidence.repo_export, NotCollected):
        url = _xrpc(pds, "com.atproto.sync.getRepo", did=did)
        probe = http_probe(
            "ev-repo-export-fetch",
            "Repository (CAR file)",
            evidence.repo_export,
            url,
            "-o",
            "repo.car",
        )
        if isinstance(evidence.repo_export, RepoExport):
            verified = evidence.repo_export.verification.verified
            size = f"{evidence.repo_export.bytes:,} bytes"
            summary = f"{probe.summary}; {size}; " + ("verified" if verified else "did not verify")
            probe = replace(probe, summary=summary)
        sections.append(
            EvidenceSection(
                "ev-repo-export",
                "Repository export",
                "The whole repository as one CAR file, and what decaudit verified in it (the file "
                "itself is not embedded).",
                [ProbeGroup("ev-repo-export-group", None, [probe])],
            )
        )
    blobs = evidence.blobs
    if pds or not isinstance(blobs, NotCollected):
        list_url = _xrpc(pds, "com.atproto.sync.listBlobs", did=did)
        commands = [_curl(list_url)]
        if isinstance(blobs, BlobInventory):
            commands += [
                _curl(_xrpc(pds, "com.atproto.sync.getBlob", did=did, cid=blob.cid), "-o", "blob")
                for blob in blobs.checked
            ]
            complete = "complete" if blobs.complete else "incomplete"
            summary = f"{blobs.listed} listed ({complete}), {len(blobs.checked)} checked"
            answer = pretty_json(blobs.model_dump(mode="json"))
            probe = Probe(
                "ev-blobs-list", "Media files (blobs)", list_url, "ok", summary, commands, answer
            )
        elif isinstance(blobs, ProbeFailure):
            probe = Probe(
                "ev-blobs-list",
                "Media files (blobs)",
                blobs.source,
                "failed",
                blobs.message,
                commands,
                None,
            )
        else:
            probe = Probe(
                "ev-blobs-list",
                "Media files (blobs)",
                list_url,
                "skipped",
                blobs.reason,
                commands,
                None,
            )
        sections.append(
            EvidenceSection(
                "ev-blobs",
                "Media files",
                "The account's images and videos: the listing, and a sample fetched and verified.",
                [ProbeGroup("ev-blobs-group", None, [probe])],
            )
        )
    return sections


# --- fediverse ---------------------------------------------------------------------------------

_JRD = ("-H", "Accept: application/jrd+json")
_ACTIVITY = ("-H", "Accept: application/activity+json")


def _text(body: object, key: str) -> str | None:
    """``body[key]`` when ``body`` is an object and the value a string."""
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _facts(*pairs: tuple[str, object]) -> tuple[tuple[str, str], ...]:
    """The (label, value) pairs whose value is a non-empty string (values are clipped: the whole
    answer is in the raw JSON below them)."""
    return tuple(
        (label, clip(value, 300)) for label, value in pairs if isinstance(value, str) and value
    )


def _probe(
    anchor: str, title: str, slot: JsonSlot, url: str | None, *options: str, facts: bool = True
) -> Probe:
    """:func:`http_probe` for a JSON slot whose URL may be unknown (a probe skipped before its
    URL was known gets no command); the answer's key facts are added."""
    if url is None and not isinstance(slot, JsonAnswer):
        source = slot.source if isinstance(slot, ProbeFailure) else ""
        if "://" in source:
            return http_probe(anchor, title, slot, source, *options)
        summary = slot.message if isinstance(slot, ProbeFailure) else slot.reason
        outcome = "failed" if isinstance(slot, ProbeFailure) else "skipped"
        return Probe(anchor, title, source, outcome, summary, [], None)
    probe = http_probe(anchor, title, slot, url or "", *options)
    if not facts or not isinstance(slot, JsonAnswer):
        return probe
    return replace(probe, facts=(*_answer_facts(anchor, slot.body), *probe.facts))


def _list_text(value: object, limit: int = 8) -> str | None:
    if not isinstance(value, list):
        return None
    items = [item for item in value if isinstance(item, str)]
    if not items:
        return None
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _answer_facts(anchor: str, body: object) -> tuple[tuple[str, str], ...]:
    """The few fields of an answer a reader looks for first, by which probe it is."""
    if anchor in ("ev-fediverse-webfinger", "ev-fediverse-server-webfinger"):
        jrd = read_jrd(body)
        return _facts(("Subject", jrd.subject), ("Actor (self link)", jrd.actor_url))
    if anchor in ("ev-fediverse-actor", "ev-fediverse-moved-to"):
        return _facts(
            ("id", _text(body, "id")),
            ("Type", _text(body, "type")),
            ("preferredUsername", _text(body, "preferredUsername")),
            ("movedTo", _text(body, "movedTo")),
            (
                "alsoKnownAs",
                _list_text(body.get("alsoKnownAs") if isinstance(body, dict) else None),
            ),
        )
    if anchor == "ev-fediverse-nodeinfo-index":
        return _facts(("NodeInfo document", nodeinfo_link(body)))
    if anchor == "ev-fediverse-nodeinfo":
        info = read_nodeinfo(body)
        if info is None:
            return ()
        users = None if info.users is None else f"{info.users:,}"
        registrations = {True: "open", False: "closed", None: None}[info.open_registrations]
        return _facts(
            ("Software", " ".join(x for x in (info.software, info.version) if x) or None),
            ("Users", users),
            ("Registrations", registrations),
            ("Protocols", ", ".join(info.protocols) or None),
        )
    if anchor == "ev-fediverse-instance":
        contact = body.get("contact") if isinstance(body, dict) else None
        return _facts(
            ("Domain", _text(body, "domain")),
            ("Title", _text(body, "title")),
            ("Version", _text(body, "version")),
            ("Contact", _text(contact, "email")),
        )
    if anchor == "ev-fediverse-outbox":
        total = body.get("totalItems") if isinstance(body, dict) else None
        items = str(total) if isinstance(total, int) and not isinstance(total, bool) else None
        return _facts(("Type", _text(body, "type")), ("totalItems", items))
    if anchor == "ev-matrix-federation-version":
        server = body.get("server") if isinstance(body, dict) else None
        return _facts(("Software", _text(server, "name")), ("Version", _text(server, "version")))
    if anchor == "ev-matrix-well-known-server":
        return _facts(("m.server", _text(body, "m.server")))
    if anchor == "ev-matrix-well-known-client":
        return _facts(("m.homeserver base_url", client_base(body)))
    if anchor == "ev-matrix-client-versions":
        return _facts(("Versions", _list_text(_get(body, "versions"), 12)))
    if anchor == "ev-matrix-profile":
        return _facts(("displayname", _text(body, "displayname")))
    return ()


def _get(body: object, key: str) -> object:
    return body.get(key) if isinstance(body, dict) else None


def _webfinger_url(account: str) -> str:
    domain = account.rpartition("@")[2]
    return f"https://{domain}/.well-known/webfinger?{urlencode({'resource': f'acct:{account}'})}"


def _https_origin(url: str | None) -> str | None:
    if not url or not url.startswith("https://"):
        return None
    return "https://" + url[len("https://") :].split("/", 1)[0]


def _peers_probe(probes: FediverseProbes, host: str | None) -> Probe:
    anchor, title = "ev-fediverse-peers", "Servers it federates with (peers)"
    slot = probes.peers
    url = f"https://{host}/api/v1/instance/peers" if host else None
    if not isinstance(slot, PeerList):
        return _probe(anchor, title, slot, url, "-o", "peers.json", facts=False)
    exchange = slot.exchange
    shown = len(slot.sample)
    summary = (
        f"HTTP {exchange.status}; {slot.count:,} server" + "s" * (slot.count != 1) + " listed; "
        f"the first {shown} kept in the report (the full list is not)"
    )
    answer = pretty_json({"count": slot.count, "sample": slot.sample})
    facts = (("Sample", clip(", ".join(slot.sample), 300)),) if slot.sample else ()
    return Probe(
        anchor,
        title,
        exchange.url,
        "ok",
        summary,
        [_curl(exchange.url, "-o", "peers.json")],
        answer,
        "JSON, counted",
        (*facts, *_exchange_facts(exchange)),
    )


def fediverse_sections(evidence: Evidence) -> list[EvidenceSection]:
    """The appendix of a fediverse account: the address and its actor, the server, the posts."""
    probes = evidence.fediverse
    if not isinstance(probes, FediverseProbes):
        skipped = Probe("ev-fediverse-skipped", "WebFinger", "", "skipped", probes.reason, [], None)
        return [
            EvidenceSection(
                "ev-fediverse",
                "Address and actor",
                "Nothing was asked about this address.",
                [ProbeGroup("ev-fediverse-group", None, [skipped])],
            )
        ]
    view = account_view(probes)
    jrd = read_jrd(probes.webfinger.body) if isinstance(probes.webfinger, JsonAnswer) else None
    actor_url = view.actor.id if view.actor else (jrd.actor_url if jrd else None)
    host = view.host or (actor_url.split("://", 1)[-1].split("/", 1)[0] if actor_url else None)
    actor_body = probes.actor.body if isinstance(probes.actor, JsonAnswer) else None
    moved = _text(actor_body, "movedTo") or (view.actor.moved_to if view.actor else None)
    outbox = _text(actor_body, "outbox") or (view.actor.outbox if view.actor else None)
    username = _text(actor_body, "preferredUsername")
    server_webfinger = _webfinger_url(f"{username}@{host}") if username and host else None
    index_url = f"https://{host}/.well-known/nodeinfo" if host else None
    index = probes.nodeinfo_index
    document_url = nodeinfo_link(index.body) if isinstance(index, JsonAnswer) else None
    base = f"https://{host}" if host else None
    address = [
        _probe(
            "ev-fediverse-webfinger",
            "WebFinger on the address's domain",
            probes.webfinger,
            _webfinger_url(probes.account),
            *_JRD,
        ),
        _probe("ev-fediverse-actor", "The actor", probes.actor, actor_url, *_ACTIVITY),
        _probe(
            "ev-fediverse-server-webfinger",
            "WebFinger on the actor's own server (confirmation)",
            probes.server_webfinger,
            server_webfinger,
            *_JRD,
        ),
        _probe(
            "ev-fediverse-moved-to",
            "The account it moved to (movedTo)",
            probes.moved_to,
            moved,
            *_ACTIVITY,
        ),
    ]
    server = [
        _probe("ev-fediverse-nodeinfo-index", "NodeInfo index", index, index_url),
        _probe("ev-fediverse-nodeinfo", "NodeInfo document", probes.nodeinfo, document_url),
        _probe(
            "ev-fediverse-instance",
            "Instance API (Mastodon)",
            probes.instance,
            f"{base}/api/v2/instance" if base else None,
        ),
        _peers_probe(probes, host),
    ]
    posts = [_probe("ev-fediverse-outbox", "Outbox", probes.outbox, outbox, *_ACTIVITY)]
    return [
        EvidenceSection(
            "ev-fediverse",
            "Address and actor",
            "WebFinger (RFC 7033) on the address's domain names the ActivityPub actor; the actor "
            "document must carry that URL as its id; when the actor lives on another server, that "
            "server's own WebFinger must give this address back. A moved account names its new "
            "actor in movedTo.",
            [ProbeGroup("ev-fediverse-account", probes.account, address)],
        ),
        EvidenceSection(
            "ev-fediverse-server",
            "The server",
            "What the server that hosts the actor says about itself: NodeInfo (software, users, "
            "registrations), Mastodon's instance API, and the servers it federates with (counted; "
            "only a sample of the list is kept).",
            [ProbeGroup("ev-fediverse-server-host", host, server)],
        ),
        EvidenceSection(
            "ev-fediverse-posts",
            "Posts",
            "The actor's outbox: are its posts publicly readable.",
            [ProbeGroup("ev-fediverse-posts-group", None, posts)],
        ),
    ]


# --- Matrix --------------------------------------------------------------------------------------


def _srv_probe(probes: MatrixProbes) -> Probe:
    anchor, title = "ev-matrix-srv", "DNS SRV record (_matrix-fed._tcp)"
    slot = probes.srv
    name = f"_matrix-fed._tcp.{_delegated_host(probes)}"
    if isinstance(slot, SrvAnswer):
        name = slot.name
    elif isinstance(slot, ProbeFailure):
        name = slot.source
    command = [shell_command("dig", "+short", "SRV", name)]
    if isinstance(slot, NotCollected):
        return Probe(anchor, title, name, "skipped", slot.reason, command, None)
    if isinstance(slot, ProbeFailure):
        return Probe(anchor, title, name, "failed", slot.message, command, None)
    records = f"{len(slot.records)} record" + "s" * (len(slot.records) != 1)
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


def _delegated_host(probes: MatrixProbes) -> str:
    """The name SRV is asked at: the well-known delegation's host, else the server name's."""
    if isinstance(probes.well_known_server, JsonAnswer):
        delegated = delegation(probes.well_known_server.body)
        if not isinstance(delegated, str):
            return delegated.host
    name = split_server_name(probes.server_name)
    return name.host if name else probes.server_name


def _discovery_probe(probes: MatrixProbes) -> Probe:
    steps = probes.discovery
    address = probes.federation_address
    summary = f"{len(steps)} step" + "s" * (len(steps) != 1) + "; "
    summary += (
        f"federation requests go to {address}" if address else "no federation address was decided"
    )
    facts = tuple((f"Step {n}", clip(step, 300)) for n, step in enumerate(steps[:16], 1))
    commands = [
        _curl(f"https://{probes.server_name}/.well-known/matrix/server"),
        shell_command("dig", "+short", "SRV", f"_matrix-fed._tcp.{_delegated_host(probes)}"),
    ]
    return Probe(
        "ev-matrix-discovery",
        "Discovery steps",
        probes.server_name,
        "ok" if address else "failed",
        summary,
        commands,
        pretty_json(steps),
        "JSON",
        facts,
    )


def _keys_probe(probes: MatrixProbes, base: str) -> Probe:
    probe = _probe(
        "ev-matrix-server-keys",
        "Signing keys (key/v2/server)",
        probes.server_keys,
        f"{base}/_matrix/key/v2/server",
        facts=False,
    )
    if not isinstance(probes.server_keys, JsonAnswer):
        return probe
    keys = verify_server_keys(probes.server_keys.body, probes.server_name)
    signature = "verifies for the server name" if keys.valid else (keys.problem or "invalid")
    facts = _facts(
        ("server_name", keys.server_name),
        ("Key ids", ", ".join(keys.key_ids) or "(none)"),
        ("Self-signature", signature),
    )
    return replace(probe, facts=(*facts, *probe.facts))


def matrix_sections(evidence: Evidence) -> list[EvidenceSection]:
    """The appendix of a Matrix account: server discovery, the federation API, the client API."""
    probes = evidence.matrix
    if not isinstance(probes, MatrixProbes):
        skipped = Probe("ev-matrix-skipped", "Discovery", "", "skipped", probes.reason, [], None)
        return [
            EvidenceSection(
                "ev-matrix",
                "Server discovery",
                "Nothing was asked about this user ID.",
                [ProbeGroup("ev-matrix-group", None, [skipped])],
            )
        ]
    server = f"https://{probes.server_name}"
    federation = (
        base_url(probes.federation_address)
        if probes.federation_address
        else f"https://{probes.server_name}:{DEFAULT_PORT}"
    )
    known = probes.well_known_client
    client = (client_base(known.body) if isinstance(known, JsonAnswer) else None) or server
    discovery = [
        _probe(
            "ev-matrix-well-known-server",
            "Delegation (/.well-known/matrix/server)",
            probes.well_known_server,
            f"{server}/.well-known/matrix/server",
        ),
        _srv_probe(probes),
        _discovery_probe(probes),
    ]
    federation_api = [
        _probe(
            "ev-matrix-federation-version",
            "Federation version",
            probes.federation_version,
            f"{federation}/_matrix/federation/v1/version",
        ),
        _keys_probe(probes, federation),
    ]
    client_api = [
        _probe(
            "ev-matrix-well-known-client",
            "Client discovery (/.well-known/matrix/client)",
            known,
            f"{server}/.well-known/matrix/client",
        ),
        _probe(
            "ev-matrix-client-versions",
            "Client API versions",
            probes.client_versions,
            f"{client}/_matrix/client/versions",
        ),
        _probe(
            "ev-matrix-profile",
            "Public profile",
            probes.profile,
            f"{client}/_matrix/client/v3/profile/{quote(probes.user_id, safe='')}",
        ),
    ]
    return [
        EvidenceSection(
            "ev-matrix",
            "Server discovery",
            "Where federation requests for the server name go, in the specification's order: "
            "/.well-known/matrix/server delegation, then the _matrix-fed._tcp SRV record, then "
            "port 8448.",
            [ProbeGroup("ev-matrix-server-name", probes.server_name, discovery)],
        ),
        EvidenceSection(
            "ev-matrix-federation",
            "Federation API",
            "The homeserver's server-server API: its software, and the signing keys that must be "
            "the server name's own (signed by it).",
            [ProbeGroup("ev-matrix-federation-address", probes.federation_address, federation_api)],
        ),
        EvidenceSection(
            "ev-matrix-client",
            "Client API",
            "Where apps find the homeserver (/.well-known/matrix/client), the versions it speaks, "
            "and the user's public profile.",
            [ProbeGroup("ev-matrix-client-base", client, client_api)],
        ),
    ]


def evidence_sections(evidence: Evidence) -> list[EvidenceSection]:
    """The evidence appendix: every answer, with the command to ask again, in reading order."""
    if evidence.protocol == "activitypub":
        return fediverse_sections(evidence)
    if evidence.protocol == "matrix":
        return matrix_sections(evidence)
    sections = [_handle_section(evidence)] if evidence.handle_resolutions else []
    if not (isinstance(evidence.did_document, NotCollected) and evidence.did is None):
        sections += _identity_sections(evidence)
    if evidence.did is not None:
        sections.append(_pds_section(evidence))
        sections += _network_sections(evidence)
        hosting = _hosting_section(evidence)
        sections += [hosting] if hosting else []
        sections += _export_sections(evidence)
    return sections


def _anchors(sections: Iterable[EvidenceSection]) -> set[str]:
    found = set()
    for section in sections:
        found.add(section.anchor)
        for group in section.groups:
            found.add(group.anchor)
            found.update(probe.anchor for probe in group.probes)
    return found


_POINTER_TOKEN = re.compile(r"[a-z0-9_]{1,40}")


def pointer_anchor(pointer: str, anchors: set[str]) -> str | None:
    """The appendix entry a JSON Pointer into the evidence points into: the longest prefix of
    the pointer naming an entry (``/relays/0/repo_status/body`` -> ``ev-relays-0-repo-status``);
    None when none does. Only ``[a-z0-9_]`` tokens are read, so the id is always plain."""
    tokens: list[str] = []
    for token in pointer.split("/")[1:]:
        if not _POINTER_TOKEN.fullmatch(token):
            break
        tokens.append(token.replace("_", "-"))
    while tokens:
        anchor = "ev-" + "-".join(tokens)
        if anchor in anchors:
            return anchor
        tokens.pop()
    return None


# --------------------------------------------------------------------------------------------
# SVG geometry
# --------------------------------------------------------------------------------------------

GAUGE_WIDTH = 960
BANDS = (Band.CENTRALIZED, Band.HYBRID, Band.DECENTRALIZED)
BAND_SHORT: dict[Band, str] = {
    Band.CENTRALIZED: "one operator controls it all",
    Band.HYBRID: "some layers independent",
    Band.DECENTRALIZED: "no single third party can break it",
}


@dataclass(frozen=True)
class GaugeSegment:
    """One band of the spectrum bar."""

    band: Band
    x: float
    width: float
    active: bool
    label: str
    caption: str

    @property
    def center(self) -> float:
        """Horizontal middle of the segment."""
        return self.x + self.width / 2


@dataclass(frozen=True)
class Gauge:
    """The spectrum gauge: three band segments and the score's position on a 0-100 scale."""

    width: int
    segments: list[GaugeSegment]
    score_x: float | None
    ticks: list[tuple[float, str]]
    text: str
    """The same information as a sentence (the graphic's text alternative)."""


def gauge_geometry(band: Band | None, score: float | None) -> Gauge:
    """Positions of the spectrum gauge's parts for ``band`` and ``score`` (0-100)."""
    gap = 8.0
    inner = GAUGE_WIDTH - 2 * gap - 4
    width = (inner - 2 * gap) / 3
    segments = [
        GaugeSegment(
            b, 2 + gap + i * (width + gap), width, b is band, b.value.upper(), BAND_SHORT[b]
        )
        for i, b in enumerate(BANDS)
    ]
    left, right = 2 + gap, GAUGE_WIDTH - 2 - gap
    ticks = [(left + (right - left) * t / 100, str(t)) for t in (0, 25, 50, 75, 100)]
    score_x = None
    if score is not None:
        score_x = left + (right - left) * min(max(score, 0.0), 100.0) / 100
    if band is None:
        text = (
            "Spectrum from centralized through hybrid to decentralized: no band, because the "
            "account could not be judged."
        )
    else:
        place = {Band.CENTRALIZED: "first", Band.HYBRID: "second", Band.DECENTRALIZED: "third"}
        text = (
            f"Spectrum from centralized through hybrid to decentralized: this account is "
            f"{band.value}, the {place[band]} of the three bands"
        )
        text += f", with a score of {score:.0f} out of 100." if score is not None else "."
    return Gauge(GAUGE_WIDTH, segments, score_x, ticks, text)


def compact_roles(roles: Sequence[str]) -> str:
    """The roles as one phrase, rotation keys folded together (``rotation keys #0, #1``)."""
    keys: list[str] = []
    out: list[str | None] = []  # None: where the folded rotation keys go
    for role in roles:
        match = re.fullmatch(r"rotation key (#\d+)", role)
        if match:
            if not keys:
                out.append(None)
            keys.append(match.group(1))
        else:
            out.append(role)
    folded = ("rotation key " if len(keys) == 1 else "rotation keys ") + ", ".join(keys)
    return ", ".join(folded if role is None else role for role in out)


@dataclass(frozen=True)
class DiagramNode:
    """One party of the dependency diagram, with its edge from the account."""

    x: float
    y: float
    width: float
    height: float
    side: str
    title: str
    tag: str
    detail: list[str]
    spof: bool
    user: bool
    edge_x1: float
    edge_x2: float
    label_lines: list[str]
    label_x: float
    label_width: float

    @property
    def mid(self) -> float:
        """Vertical middle: where its edge runs."""
        return self.y + self.height / 2

    @property
    def label_height(self) -> float:
        """Height of the edge label's box."""
        return 14.0 * len(self.label_lines) + 8


@dataclass(frozen=True)
class Diagram:
    """The dependency diagram: the account in the middle, parties left and right."""

    width: int
    height: float
    center_x: float
    center_y: float
    center_width: float
    center_height: float
    center_lines: list[str]
    nodes: list[DiagramNode]
    legend_y: float
    text: str
    """The same information as sentences (the graphic's text alternative)."""


DIAGRAM_WIDTH = 960
_NODE_W, _NODE_H, _PITCH, _CENTER_W = 222.0, 88.0, 104.0, 176.0
_CHAR = 6.3  # average advance of an 11.5px sans-serif character, for sizing edge labels


def _node_tag(dep: Dependency) -> str:
    if not dep.third_party:
        return "THE ACCOUNT HOLDER"
    return (
        "SINGLE POINT OF FAILURE" if dep.single_point_of_failure else "NO SINGLE POINT OF FAILURE"
    )


def _node_detail(dep: Dependency) -> str:
    if not dep.can_break_alone:
        return "can break nothing alone"
    return "alone can break: " + ", ".join(c.value.replace("_", " ") for c in dep.can_break_alone)


def diagram_text(dependencies: Sequence[Dependency], account: str) -> str:
    """The dependency diagram in words (its text alternative)."""
    parts = []
    for dep in dependencies:
        kind = (
            "single point of failure"
            if dep.single_point_of_failure
            else "no single point of failure"
        )
        if not dep.third_party:
            kind = "the account holder, not a third party"
        parts.append(f"{clip(dep.label, 80)} ({kind}; {clip(compact_roles(dep.roles), 160)})")
    return (
        f"{clip(account, 80)} depends on {len(parts)} part{'y' if len(parts) == 1 else 'ies'}: "
        + ("; ".join(parts) + ".")
    )


def _center_name(account: str) -> list[str]:
    """The account's name in the diagram's centre, on at most two lines: a fediverse address
    breaks after its ``@`` (``alice@`` / ``mastodon.social``), any other name after its dots."""
    user, at, domain = account[1:].rpartition("@")
    if at and len(account) > 18:
        return [*wrap_name(account[0] + user + "@", 18, 1), *wrap_name(domain, 18, 1)]
    return wrap_name(account, 18, 2)


def diagram_geometry(dependencies: Sequence[Dependency], account: str, band: str) -> Diagram:
    """Layout of the dependency diagram: parties alternate left and right of the account, one
    row each, with straight edges labelled by role. Stays legible from 1 to 8 parties (more
    simply make it taller)."""
    count = len(dependencies)
    left_rows, right_rows = math.ceil(count / 2), count // 2
    rows = max(left_rows, 1)
    top = 16.0
    rows_height = rows * _PITCH - (_PITCH - _NODE_H)
    center_h = max(rows_height, 150.0)
    center_x = (DIAGRAM_WIDTH - _CENTER_W) / 2
    nodes = []
    for index, dep in enumerate(dependencies):
        side = "left" if index % 2 == 0 else "right"
        row = index // 2
        side_rows = left_rows if side == "left" else right_rows
        offset = (center_h - (side_rows * _PITCH - (_PITCH - _NODE_H))) / 2
        y = top + offset + row * _PITCH
        if side == "left":
            x, edge_x1, edge_x2 = 2.0, center_x, 2.0 + _NODE_W
        else:
            x = DIAGRAM_WIDTH - 2.0 - _NODE_W
            edge_x1, edge_x2 = center_x + _CENTER_W, x
        gap = abs(edge_x2 - edge_x1)
        chars = int((gap - 22) / _CHAR)
        lines = wrap_lines(inert(compact_roles(dep.roles)), chars, 4)
        label_w = max(len(line) for line in lines) * _CHAR + 14
        nodes.append(
            DiagramNode(
                x=x,
                y=y,
                width=_NODE_W,
                height=_NODE_H,
                side=side,
                title=clip(inert(dep.label), 22),
                tag=_node_tag(dep),
                detail=wrap_lines(_node_detail(dep), 29, 2),
                spof=dep.single_point_of_failure,
                user=not dep.third_party,
                edge_x1=edge_x1,
                edge_x2=edge_x2,
                label_lines=lines,
                label_x=(edge_x1 + edge_x2) / 2 - label_w / 2,
                label_width=label_w,
            )
        )
    center_lines = _center_name(inert(account))
    legend_y = top + center_h + 26
    return Diagram(
        width=DIAGRAM_WIDTH,
        height=legend_y + 24,
        center_x=center_x,
        center_y=top,
        center_width=_CENTER_W,
        center_height=center_h,
        center_lines=[*center_lines, band],
        nodes=nodes,
        legend_y=legend_y,
        text=diagram_text(dependencies, account),
    )


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
    anchors = _anchors(sections)
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

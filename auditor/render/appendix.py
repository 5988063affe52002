"""The evidence appendix: every answer decaudit received, with the command to ask again.

:func:`evidence_sections` is the entry point for every network; the AT Protocol sections (handle
resolution, DID document and PLC log, PDS, relays, mirrors, AppViews, labelers, hosting network,
repository export, media files) are built here, the fediverse and Matrix ones in
:mod:`auditor.render.appendix_networks`. :func:`pointer_anchor` links a check's evidence pointer to
the entry it points into.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlencode

from auditor.models.common import ProbeFailure
from auditor.models.evidence import (
    BlobInventory,
    DnsTxtAnswer,
    Evidence,
    NotCollected,
    PdsPeers,
    PdsProbes,
    PlcAuditLogFetch,
    RepoExport,
)
from auditor.render.appendix_networks import fediverse_sections, matrix_sections
from auditor.render.appendix_probes import (
    EvidenceSection,
    Probe,
    ProbeGroup,
    curl_command,
    dns_probe,
    http_probe,
    shell_command,
)
from auditor.render.safe_text import clip, pretty_json


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
    groups = [ProbeGroup("ev-pds-endpoint", pds.endpoint, probes)]
    peers = _peers_group(evidence)
    return EvidenceSection(
        "ev-pds",
        "PDS",
        "What the server that hosts the data (the #atproto_pds endpoint of the DID document) says "
        "about itself and the account, and the rotation keys of other accounts it lists.",
        groups + ([peers] if peers else []),
    )


def _peers_group(evidence: Evidence) -> ProbeGroup | None:
    """Other accounts of the PDS and their rotation keys (a key on all of them is the
    operator's)."""
    peers = evidence.pds_peers
    if not isinstance(peers, PdsPeers):
        return None
    base = evidence.settings.plc_url.rstrip("/")
    probes = []
    for index, account in enumerate(peers.accounts):
        url = f"{base}/{account.did}/data"
        keys = ", ".join(account.rotation_keys) or "none"
        probes.append(
            Probe(
                f"ev-pds-peers-{index}",
                f"Another account of this PDS: {clip(account.did, 60)}",
                url,
                "ok",
                f"rotation keys: {clip(keys, 400)}",
                [curl_command(url)],
                None,
            )
        )
    for index, failure in enumerate(peers.failures, len(peers.accounts)):
        probes.append(
            Probe(f"ev-pds-peers-{index}", "Another account of this PDS", failure.source,
                  "failed", failure.message, [curl_command(failure.source)], None)
        )  # fmt: skip
    return ProbeGroup("ev-pds-peers", "Other accounts of this PDS (their PLC state)", probes)


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
        commands = [curl_command(list_url)]
        if isinstance(blobs, BlobInventory):
            commands += [
                curl_command(
                    _xrpc(pds, "com.atproto.sync.getBlob", did=did, cid=blob.cid), "-o", "blob"
                )
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


def appendix_anchors(sections: Iterable[EvidenceSection]) -> set[str]:
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

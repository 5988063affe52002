"""Fediverse and Matrix reports in every format: the identity each network has (never an AT
Protocol handle or DID), the name a party can take away worded for the network, an evidence
appendix with a re-check command for every answer, finding links that land, what failed for an
account that could not be resolved, and hostile answers kept inert."""

from __future__ import annotations

import asyncio
import re
import shlex

import pytest

from auditor.models.evidence import JsonAnswer
from auditor.models.fediverse import FediverseProbes, PeerList
from auditor.models.report import Capability, Report
from auditor.render.appendix import evidence_sections, pointer_anchor
from auditor.render.html import render_html
from auditor.render.identity import display_name, failure_clues, identity_of
from auditor.render.markdown import render_markdown
from auditor.render.text import render_text_string
from auditor.sandbox.demo import audit_scenarios, default_scenarios
from tests import test_render_html as html_tests
from tests.test_render_html import Dom, _assert_inert

SCENARIOS = (
    "fedi-flagship",
    "fedi-impostor",
    "fedi-moved",
    "matrix-flagship",
    "matrix-delegated",
    "matrix-own-domain",
    "matrix-non-federating",
    "bsky-default",
)
FEDI = ("fedi-flagship", "fedi-impostor", "fedi-moved")
MATRIX = ("matrix-flagship", "matrix-delegated", "matrix-own-domain", "matrix-non-federating")
HOSTILE = (
    '<script>alert("xss")</script><img src=x onerror=alert(1)>\x1b[31mRED\x1b[0m\x07'
    "\u202egnp.exe\u202c [bold]markup[/] | *em* `tick`"
)


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {r.scenario: r.report for r in asyncio.run(audit_scenarios(SCENARIOS, stable=True))}


# --- headers -------------------------------------------------------------------------------------


def test_text_header_has_the_fediverse_identity(reports: dict[str, Report]) -> None:
    text = render_text_string(reports["fedi-flagship"])
    header = text.split("╰", 1)[0]
    assert "Handle" not in header and "DID" not in header
    assert re.search(r"│ Network +the fediverse \(ActivityPub\)", header)
    assert re.search(r"│ Address +alice@mastodon\.social \(confirmed by its server\)", header)
    assert re.search(r"│ Actor +https://mastodon\.social/users/alice ", header)
    assert re.search(r"│ Server +mastodon\.social ", header)


def test_text_header_has_the_matrix_identity(reports: dict[str, Report]) -> None:
    for name, federation in (
        ("matrix-delegated", "federates"),
        ("matrix-non-federating", "does not federate"),
    ):
        report = reports[name]
        header = render_text_string(report).split("╰", 1)[0]
        assert "Handle" not in header and "DID" not in header
        assert re.search(r"│ Network +Matrix ", header)
        assert re.search(rf"│ User ID +{re.escape(str(report.account))} ", header)
        assert re.search(rf"│ Federation +{federation} ", header)
    delegated = render_text_string(reports["matrix-delegated"])
    assert re.search(
        r"│ Homeserver +ivy\.matrixhost\.test \(delegated by the server name\)", delegated
    )


def test_text_header_of_at_protocol_is_unchanged(reports: dict[str, Report]) -> None:
    header = render_text_string(reports["bsky-default"]).split("╰", 1)[0]
    assert re.search(r"│ Handle +alice\.bsky\.social \(verified both ways\)", header)
    assert re.search(r"│ DID +did:plc:", header)
    assert "Network" not in header


def test_markdown_title_and_identity(reports: dict[str, Report]) -> None:
    fedi = render_markdown(reports["fedi-flagship"])
    assert fedi.startswith("# How decentralized is `alice@mastodon.social`?\n")
    assert "A fediverse (ActivityPub) account." in fedi
    assert "- Address: `alice@mastodon.social` (confirmed by its server)" in fedi
    assert "- Actor: `https://mastodon.social/users/alice`" in fedi
    assert "- Server: `mastodon.social`" in fedi
    matrix = render_markdown(reports["matrix-delegated"])
    assert matrix.startswith("# How decentralized is `@ivy:ivy.test`?\n")
    assert "A Matrix account." in matrix
    assert "- User ID: `@ivy:ivy.test`" in matrix
    assert "- Homeserver: `ivy.matrixhost.test` (delegated by the server name)" in matrix
    assert "- Federation: federates" in matrix
    for text in (fedi, matrix):
        assert "- DID" not in text and "DID document" not in text and "Handle" not in text


def test_html_masthead_names_the_network(reports: dict[str, Report]) -> None:
    for name, kind, rows in (
        ("fedi-flagship", "a fediverse (ActivityPub) account", ["Address:", "Actor:", "Server:"]),
        ("matrix-flagship", "a Matrix account", ["User ID:", "Homeserver:", "Federation:"]),
    ):
        dom = Dom(render_html(reports[name]))
        text = dom.all_text
        masthead = text.split("Verdict", 1)[0]
        assert f"Decentralization audit of {kind}" in masthead
        assert "AT Protocol" not in masthead
        assert "DID" not in masthead and "handle" not in masthead
        for row in rows:
            assert row in masthead
        assert (1, display_name(reports[name])) in dom.headings
    at = Dom(render_html(reports["bsky-default"])).all_text
    assert "Decentralization audit of an AT Protocol account" in at


def test_identity_rows_of_an_unresolved_account(reports: dict[str, Report]) -> None:
    identity = identity_of(reports["fedi-impostor"])
    rows = {row.label: row for row in identity.rows}
    assert rows["Address"].note == "NOT confirmed"
    assert rows["Actor"].value == "https://mastodon.social/users/alice"


@pytest.mark.parametrize("scenario", [*FEDI, *MATRIX])
def test_structure_and_accessibility(reports: dict[str, Report], scenario: str) -> None:
    """The HTML report's structural checks (one h1, no skipped heading level, unique ids, every
    in-page link landing, scoped table headers) hold for the fediverse and Matrix too."""
    html_tests.test_document_structure_and_accessibility(reports, scenario)


# --- capability words --------------------------------------------------------------------------


def test_the_name_is_worded_for_the_network(reports: dict[str, Report]) -> None:
    words = {
        "fedi-flagship": ("the address", "keep the address"),
        "matrix-flagship": ("the user ID", "keep the user ID"),
    }
    for name, (noun, verb) in words.items():
        report = reports[name]
        assert any(Capability.KEEP_NAME in d.can_break_alone for d in report.dependencies)
        text, markdown = render_text_string(report, width=200), render_markdown(report)
        assert "the handle" not in text and "the handle" not in markdown
        assert re.search(rf"can break alone: .*{noun}", text)
        assert re.search(rf"Can break alone: .*{noun}", markdown)
        html = Dom(render_html(report)).all_text
        assert verb in html and "keep the name" not in html
    at = reports["bsky-default"]
    if any(Capability.KEEP_NAME in d.can_break_alone for d in at.dependencies):
        assert "the handle" in render_text_string(at, width=200)


# --- evidence appendix ---------------------------------------------------------------------------

FEDI_COMMANDS = [
    "curl -s -H 'Accept: application/jrd+json' "
    "'https://mastodon.social/.well-known/webfinger?resource=acct%3Aalice%40mastodon.social'",
    "curl -s -H 'Accept: application/activity+json' https://mastodon.social/users/alice",
    "curl -s https://mastodon.social/.well-known/nodeinfo",
    "curl -s https://mastodon.social/nodeinfo/2.0",
    "curl -s https://mastodon.social/api/v2/instance",
    "curl -s -o peers.json https://mastodon.social/api/v1/instance/peers",
    "curl -s -H 'Accept: application/activity+json' https://mastodon.social/users/alice/outbox",
]
MATRIX_COMMANDS = [
    "curl -s https://ivy.test/.well-known/matrix/server",
    "dig +short SRV _matrix-fed._tcp.ivy.matrixhost.test",
    "curl -s https://ivy.matrixhost.test/_matrix/federation/v1/version",
    "curl -s https://ivy.matrixhost.test/_matrix/key/v2/server",
    "curl -s https://ivy.test/.well-known/matrix/client",
    "curl -s https://ivy.matrixhost.test/_matrix/client/versions",
    "curl -s https://ivy.matrixhost.test/_matrix/client/v3/profile/%40ivy%3Aivy.test",
]


def test_fediverse_appendix_has_every_answer_and_its_command(reports: dict[str, Report]) -> None:
    report = reports["fedi-flagship"]
    dom = _assert_inert(render_html(report))
    headings = [text for _, text in dom.headings]
    for title in ("Address and actor", "The server", "Posts"):
        assert title in headings
    for title in (
        "WebFinger on the address's domain",
        "The actor",
        "WebFinger on the actor's own server (confirmation)",
        "The account it moved to (movedTo)",
        "NodeInfo index",
        "NodeInfo document",
        "Instance API (Mastodon)",
        "Servers it federates with (peers)",
        "Outbox",
    ):
        assert any(heading.endswith(title) for heading in headings), title
    for command in FEDI_COMMANDS:
        assert command in dom.commands, command
        assert shlex.split(command)[-1].startswith("https://")
    text = dom.all_text
    assert "7 servers listed" in text and "mstdn.social" in text
    assert "mastodon 4.3.2" in text  # NodeInfo software, as a fact
    markdown = render_markdown(report)
    for command in FEDI_COMMANDS:
        assert f"Check again: `{command}`" in markdown, command
    moved = Dom(render_html(reports["fedi-moved"])).commands
    assert "curl -s -H 'Accept: application/activity+json' https://kith.test/users/erin" in moved


def test_peers_keep_the_count_and_a_sample_never_the_list(reports: dict[str, Report]) -> None:
    report = reports["fedi-flagship"]
    probes = report.evidence.fediverse
    assert isinstance(probes, FediverseProbes) and isinstance(probes.peers, PeerList)
    sample = [f"peer{i}.example" for i in range(20)]
    peers = probes.peers.model_copy(update={"count": 250_000, "sample": sample})
    evidence = report.evidence.model_copy(
        update={"fediverse": probes.model_copy(update={"peers": peers})}
    )
    html = render_html(report.model_copy(update={"evidence": evidence}))
    assert "250,000 servers listed; the first 20 kept" in html
    assert "peer19.example" in html and "peer20.example" not in html


def test_matrix_appendix_has_every_answer_and_its_command(reports: dict[str, Report]) -> None:
    report = reports["matrix-delegated"]
    dom = _assert_inert(render_html(report))
    headings = [text for _, text in dom.headings]
    for title in ("Server discovery", "Federation API", "Client API"):
        assert title in headings
    for command in MATRIX_COMMANDS:
        assert command in dom.commands, command
    text = dom.all_text
    assert "delegates to ivy.matrixhost.test:443" in text  # the discovery step
    assert "ed25519:a_" in text and "verifies for the server name" in text  # key ids, signature
    assert '"signatures": {' in text  # the key answer, raw
    markdown = render_markdown(report)
    for command in MATRIX_COMMANDS:
        assert f"Check again: `{command}`" in markdown, command
    srv = Dom(render_html(reports["matrix-own-domain"]))
    assert "dig +short SRV _matrix-fed._tcp.hal.test" in srv.commands
    assert "priority 10, weight 0, port 443, target matrix.hal.test" in srv.all_text


# --- finding links -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def every_report() -> dict[str, Report]:
    results = asyncio.run(audit_scenarios(default_scenarios(), stable=True))
    return {r.scenario: r.report for r in results}


def test_every_finding_of_every_sample_links_into_the_appendix(
    every_report: dict[str, Report],
) -> None:
    for name, report in every_report.items():
        html = render_html(report)
        dom = Dom(html)
        ids = {a["id"] for _, a in dom.tags if a.get("id")}
        anchors = {
            anchor
            for section in evidence_sections(report.evidence)
            for anchor in (
                section.anchor,
                *(g.anchor for g in section.groups),
                *(p.anchor for g in section.groups for p in g.probes),
            )
        }
        for check in report.checks:
            for finding in check.findings:
                anchor = pointer_anchor(finding.evidence, anchors)
                assert anchor, f"{name} {check.id}: {finding.evidence} has no appendix entry"
                assert anchor in ids
                assert f'<a href="#{anchor}"><code>{finding.evidence}</code></a>' in html


@pytest.mark.parametrize(
    ("pointer", "anchor"),
    [
        ("/fediverse/webfinger/body/links/1/href", "ev-fediverse-webfinger"),
        ("/fediverse/actor", "ev-fediverse-actor"),
        ("/fediverse/peers", "ev-fediverse-peers"),
        ("/fediverse/nodeinfo", "ev-fediverse-nodeinfo"),
        ("/fediverse/outbox", "ev-fediverse-outbox"),
        ("/fediverse/moved_to", "ev-fediverse-moved-to"),
        ("/fediverse/account", "ev-fediverse-account"),
        ("/fediverse/instance", "ev-fediverse-instance"),
        ("/fediverse/server_webfinger", "ev-fediverse-server-webfinger"),
        ("/fediverse/something_new", "ev-fediverse"),
    ],
)
def test_fediverse_pointers(reports: dict[str, Report], pointer: str, anchor: str) -> None:
    sections = evidence_sections(reports["fedi-flagship"].evidence)
    anchors = {s.anchor for s in sections} | {
        a for s in sections for g in s.groups for a in (g.anchor, *(p.anchor for p in g.probes))
    }
    assert pointer_anchor(pointer, anchors) == anchor


@pytest.mark.parametrize(
    ("pointer", "anchor"),
    [
        ("/matrix/discovery/0", "ev-matrix-discovery"),
        ("/matrix/server_keys/body", "ev-matrix-server-keys"),
        ("/matrix/server_name", "ev-matrix-server-name"),
        ("/matrix/federation_version", "ev-matrix-federation-version"),
        ("/matrix/federation_address", "ev-matrix-federation-address"),
        ("/matrix/client_versions", "ev-matrix-client-versions"),
        ("/matrix/well_known_server", "ev-matrix-well-known-server"),
        ("/matrix/srv", "ev-matrix-srv"),
        ("/matrix/user_id", "ev-matrix"),
    ],
)
def test_matrix_pointers(reports: dict[str, Report], pointer: str, anchor: str) -> None:
    sections = evidence_sections(reports["matrix-flagship"].evidence)
    anchors = {s.anchor for s in sections} | {
        a for s in sections for g in s.groups for a in (g.anchor, *(p.anchor for p in g.probes))
    }
    assert pointer_anchor(pointer, anchors) == anchor


# --- what failed ---------------------------------------------------------------------------------


def test_an_impostor_address_shows_the_contradicting_answers(reports: dict[str, Report]) -> None:
    report = reports["fedi-impostor"]
    assert report.band is None and report.unresolved_reason
    assert [clue.anchor for clue in failure_clues(report)] == [
        "ev-fediverse-webfinger",
        "ev-fediverse-actor",
        "ev-fediverse-server-webfinger",
    ]
    text = render_text_string(report, width=400)
    failed = text.split("\nWhat failed", 1)[1]
    assert "WebFinger on the address's domain:" in failed
    assert "subject acct:mallory@evil.test, links to https://mastodon.social/users/alice" in failed
    assert "WebFinger on the actor's own server:" in failed
    assert "subject acct:alice@mastodon.social" in failed
    assert re.search(r"│ Address +mallory@evil\.test \(NOT confirmed\)", text)
    markdown = render_markdown(report).split("## What failed", 1)[1].split("## Evidence")[0]
    assert "  - WebFinger on the actor's own server: `" in markdown
    assert "subject acct:alice@mastodon.social" in markdown
    dom = _assert_inert(render_html(report))
    assert any(a.get("href") == "#ev-fediverse-server-webfinger" for _, a in dom.tags)
    assert "subject acct:alice@mastodon.social" in dom.all_text.split("Evidence appendix")[0]
    assert "Without a DID document" not in dom.all_text


# --- hostile answers -----------------------------------------------------------------------------


def _hostile_fediverse(report: Report) -> Report:
    """``report`` with the payload in the JRD subject, the actor id, NodeInfo's software, the
    instance's title, a peer and the audited address."""
    probes = report.evidence.fediverse
    assert isinstance(probes, FediverseProbes)
    webfinger, actor, nodeinfo, instance = (
        probes.webfinger,
        probes.actor,
        probes.nodeinfo,
        probes.instance,
    )
    assert isinstance(webfinger, JsonAnswer) and isinstance(actor, JsonAnswer)
    assert isinstance(nodeinfo, JsonAnswer) and isinstance(instance, JsonAnswer)
    assert isinstance(webfinger.body, dict) and isinstance(actor.body, dict)
    assert isinstance(nodeinfo.body, dict) and isinstance(instance.body, dict)
    assert isinstance(probes.peers, PeerList)

    def with_body(slot: JsonAnswer, body: dict[str, object]) -> JsonAnswer:
        return slot.model_copy(update={"body": body})

    hostile = probes.model_copy(
        update={
            "account": HOSTILE,
            "webfinger": with_body(webfinger, {**webfinger.body, "subject": f"acct:{HOSTILE}"}),
            "actor": with_body(actor, {**actor.body, "id": HOSTILE, "preferredUsername": HOSTILE}),
            "nodeinfo": with_body(
                nodeinfo, {**nodeinfo.body, "software": {"name": HOSTILE, "version": HOSTILE}}
            ),
            "instance": with_body(instance, {**instance.body, "title": HOSTILE}),
            "peers": probes.peers.model_copy(update={"sample": [HOSTILE]}),
        }
    )
    evidence = report.evidence.model_copy(update={"fediverse": hostile, "account": HOSTILE})
    return report.model_copy(update={"evidence": evidence, "account": HOSTILE})


def test_hostile_fediverse_answers_stay_inert(reports: dict[str, Report]) -> None:
    report = _hostile_fediverse(reports["fedi-flagship"])
    html = render_html(report)
    dom = _assert_inert(html)
    assert '<script>alert("xss")</script>' in dom.all_text  # shown as text...
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in html  # ...because escaped
    assert "\u2039U+202E\u203agnp.exe" in dom.all_text
    for command in dom.commands:
        argv = shlex.split(command)
        assert argv[0] in {"curl", "dig"}, command
        assert "\n" not in command and "\x1b" not in command
    markdown = render_markdown(report)
    outside_code = re.sub(r"(`+).*?\1", "", markdown)
    assert "<script" not in outside_code and "<img" not in outside_code
    assert "\x1b" not in markdown and "\u202e" not in markdown and "\x07" not in markdown
    assert "␛[31mRED" in markdown and "<U+202E>gnp.exe" in markdown
    text = render_text_string(report, verbose=True)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "[bold]markup[/]" in text  # rich markup in data is not interpreted
    failed = render_text_string(report.model_copy(update={"band": None, "score": None}))
    assert "\x1b" not in failed and "\u202e" not in failed

"""The HTML report without a browser: escaping, truncation, shell quoting, digest, structure,
accessibility markup and the colour palette's contrast (tests/test_browser.py opens it for real)."""

from __future__ import annotations

import asyncio
import itertools
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import pytest

from auditor.models.common import FailureKind, ProbeFailure
from auditor.models.evidence import HandleResolution, RelayProbes, WellKnownAnswer
from auditor.models.report import Capability, Dependency, Finding, Report
from auditor.render.appendix import pointer_anchor
from auditor.render.appendix_probes import shell_command
from auditor.render.digest import evidence_digest
from auditor.render.geometry import (
    compact_roles,
    diagram_geometry,
    gauge_geometry,
    wrap_lines,
    wrap_name,
)
from auditor.render.html import code_spans, render_html
from auditor.render.safe_text import clip, inert, pretty_json
from auditor.sandbox.demo import audit_scenarios

SCENARIOS = ["bsky-default", "self-sovereign", "hostile-markup", "unresolvable-handle"]
PAYLOAD = '<script>alert("xss")</script><img src=x onerror=alert(1)>\x1b[31mRED\x1b[0m\x07'
BIDI = "\u202egnp.exe\u202c"
HOSTILE = PAYLOAD + BIDI
CSS = Path(__file__).resolve().parents[1] / "templates" / "report.css"

ALLOWED_TAGS = {
    *"html head meta title style body main header footer nav section article figure".split(),
    *"figcaption h1 h2 h3 h4 h5 p a span strong code pre ul ol li dl dt dd div time".split(),
    *"details summary table caption thead tbody tr th td".split(),
    *"svg desc g text path rect line circle".split(),
}
"""Every element the report may contain: injected markup would add another."""
RAW_CONTROLS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)


@pytest.fixture(scope="module")
def reports() -> dict[str, Report]:
    return {r.scenario: r.report for r in asyncio.run(audit_scenarios(SCENARIOS, stable=True))}


class Dom(HTMLParser):
    """Just enough of a DOM for structural assertions."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[tuple[int, str]] = []
        self.text: list[str] = []
        self.svgs: list[tuple[dict[str, str | None], list[dict[str, str | None]]]] = []
        self.tables: list[list[str | None]] = []
        """The scope of each header cell, per table."""
        self.commands: list[str] = []
        self._stack: list[tuple[str, str]] = []
        self._capture: list[str] | None = None
        self.feed(html)
        self.close()

    def _inside(self, tag: str, css_class: str = "") -> bool:
        return any(t == tag and (not css_class or css_class in c.split()) for t, c in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "svg":
            self.svgs.append((attributes, []))
        elif self._inside("svg"):
            self.svgs[-1][1].append(attributes)
        if tag == "table":
            self.tables.append([])
        if tag == "th":
            self.tables[-1].append(attributes.get("scope"))
        if re.fullmatch(r"h[1-6]", tag) or (tag == "code" and self._inside("div", "cmd")):
            self._capture = []
        if tag != "meta":
            self._stack.append((tag, attributes.get("class") or ""))

    def handle_endtag(self, tag: str) -> None:
        if self._capture is not None and re.fullmatch(r"h[1-6]", tag):
            self.headings.append((int(tag[1]), "".join(self._capture).strip()))
            self._capture = None
        elif self._capture is not None and tag == "code":
            self.commands.append("".join(self._capture))
            self._capture = None
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._inside("style"):
            self.text.append(data)
        if self._capture is not None:
            self._capture.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def _hostile_everywhere(report: Report) -> Report:
    """Every free-text field of the report (not only the evidence) set to the payload."""
    checks = [
        check.model_copy(
            update={
                "id": HOSTILE,
                "title": HOSTILE,
                "summary": HOSTILE,
                "findings": [Finding(message=HOSTILE, evidence="/" + HOSTILE)],
                "remediation": f"run `{HOSTILE}` then {HOSTILE}",
                "references": [HOSTILE, "javascript:alert(1)"],
                "error": HOSTILE,
                "data": {"value": HOSTILE},
            }
        )
        for check in report.checks
    ]
    dependencies = [
        dep.model_copy(update={"label": HOSTILE, "roles": [HOSTILE], "if_offline": HOSTILE})
        for dep in report.dependencies
    ]
    return report.model_copy(
        update={
            "target": HOSTILE,
            "handle": HOSTILE,
            "did": "did:plc:" + HOSTILE,
            "tool_version": HOSTILE,
            "scoring_version": HOSTILE,
            "schema_version": HOSTILE,
            "band_basis": [HOSTILE, HOSTILE],
            "warnings": [HOSTILE],
            "unresolved_reason": HOSTILE,
            "selected_checks": [HOSTILE],
            "checks": checks,
            "dependencies": dependencies,
        }
    )


def _assert_inert(html: str) -> Dom:
    dom = Dom(html)
    assert "<script" not in html.lower()
    assert not RAW_CONTROLS.search(html), "a raw control or bidi character reached the page"
    for tag, attrs in dom.tags:
        assert tag in ALLOWED_TAGS, f"unexpected element <{tag}>"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            assert name not in {"src", "srcset", "action", "formaction", "background", "style"} or (
                name == "style" and re.fullmatch(r"width: \d+%", value or "")
            ), f"<{tag} {name}={value!r}>"
            if name in {"href", "xlink:href"}:
                assert (value or "").startswith("#"), f"href {value!r} could load something"
    return dom


def test_the_hostile_scenario_stays_inert_text(reports: dict[str, Report]) -> None:
    html = render_html(reports["hostile-markup"])
    dom = _assert_inert(html)
    text = dom.all_text
    assert '<script>alert("xss")</script><img src=x onerror=alert(1)>' in text
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in html
    # escape sequences and bidi overrides are shown, not obeyed
    assert "\u241b[31;1mRED" in text
    assert "\u2039U+202E\u203agnp.exe\u2039U+202C\u203a" in text
    # inside the raw JSON answers they stay JSON escapes, exactly as received
    assert "\\u001b[31;1mRED" in text and "\\u202egnp.exe" in text
    assert "{{ jinja }}" in text  # template syntax in data is data


def test_every_free_text_field_is_escaped(reports: dict[str, Report]) -> None:
    for name in ("hostile-markup", "bsky-default"):
        html = render_html(_hostile_everywhere(reports[name]))
        dom = _assert_inert(html)
        assert dom.all_text.count('<script>alert("xss")</script>') >= 20
        assert "javascript:alert(1)" in dom.all_text  # a reference is text, never a link
        check = next(a for t, a in dom.tags if t == "article" and "check" in str(a.get("class")))
        assert check.get("id") == "check-1"  # ids never carry a server's text


def test_long_values_are_clipped_in_headings_and_tables_and_whole_in_the_appendix(
    reports: dict[str, Report],
) -> None:
    report = reports["bsky-default"]
    body = "x" * 2048
    key = "did:key:z" + "Q" * 64
    first = report.evidence.handle_resolutions[0].https
    assert isinstance(first, WellKnownAnswer)
    https = WellKnownAnswer(exchange=first.exchange, body=body)
    resolution = HandleResolution(
        handle="h" * 300 + ".example", dns=report.evidence.handle_resolutions[0].dns, https=https
    )
    evidence = report.evidence.model_copy(update={"handle_resolutions": [resolution]})
    dependency = report.dependencies[-1].model_copy(update={"label": key})
    finding = Finding(message=f"the well-known body was {body}", evidence="/handle_resolutions/0")
    check = report.checks[0].model_copy(update={"findings": [finding]})
    long_report = report.model_copy(
        update={
            "handle": resolution.handle,
            "evidence": evidence,
            "dependencies": [*report.dependencies[:-1], dependency],
            "checks": [check, *report.checks[1:]],
        }
    )
    dom = Dom(render_html(long_report))
    h1 = next(text for level, text in dom.headings if level == 1)
    assert len(h1) == 80 and h1.endswith("\u2026")
    assert all(len(text) <= 200 for _, text in dom.headings)
    assert f"{key[:59]}\u2026" in dom.all_text  # the key in the parties table
    assert f"the well-known body was {'x' * 300}" in dom.all_text  # the finding, clipped...
    assert f"the well-known body was {body}" not in dom.all_text
    assert body in dom.all_text  # ...and whole in the appendix
    assert resolution.handle in dom.all_text


def test_commands_are_shell_quoted(reports: dict[str, Report]) -> None:
    evil = "https://evil.test/x?a=1&b='; touch /tmp/pwned; echo '$(id)`id`\nrm -rf ~ \u202e"
    command = shell_command("curl", "-s", evil)
    argv = shlex.split(command)
    assert argv[:2] == ["curl", "-s"] and len(argv) == 3
    assert "\n" not in command and "\u202e" not in command
    # quotes and substitutions stay inside one argument; whitespace, newlines and the bidi
    # override are percent-encoded (a URL cannot hold them raw anyway)
    assert argv[2] == (
        "https://evil.test/x?a=1&b=';%20touch%20/tmp/pwned;%20echo%20'$(id)`id`%0Arm%20-rf%20~%20"
        "%E2%80%AE"
    )

    report = reports["bsky-default"]
    failure = ProbeFailure(kind=FailureKind.NETWORK, source=evil, message="refused")
    relay = RelayProbes(url=evil, repo_status=failure, latest_commit=failure, host_status=failure)
    evidence = report.evidence.model_copy(update={"relays": [relay]})
    dom = _assert_inert(render_html(report.model_copy(update={"evidence": evidence})))
    assert dom.commands, "no command was rendered"
    for line in dom.commands:
        argv = shlex.split(line)
        assert argv[0] in {"curl", "dig"}, line
        assert argv[0] != "curl" or argv[-1].startswith("https://"), line
    assert sum(1 for line in dom.commands if "touch%20/tmp/pwned" in line) == 3


def test_commands_cover_every_kind_of_evidence(reports: dict[str, Report]) -> None:
    report = reports["bsky-default"]
    did, handle = report.did, report.handle
    assert did and handle
    quoted = did.replace(":", "%3A")
    commands = Dom(render_html(report)).commands
    expected = [
        f"dig +short TXT _atproto.{handle}",
        f"curl -s https://{handle}/.well-known/atproto-did",
        f"curl -s https://plc.directory/{did}",
        f"curl -s https://plc.directory/{did}/log/audit",
        f"curl -s 'https://bsky.network/xrpc/com.atproto.sync.getRepoStatus?did={quoted}'",
        f"curl -s https://plc.wtf/{did}/log/audit",
        "curl -s 'https://api.bsky.app/xrpc/app.bsky.actor.getProfile?actor=",
        "curl -s https://morel.us-east.host.bsky.network/xrpc/_health",
        "curl -s -o repo.car 'https://morel.us-east.host.bsky.network/xrpc/com.atproto.sync.getRepo?",
        "dig +short A morel.us-east.host.bsky.network",
    ]
    for prefix in expected:
        assert any(line.startswith(prefix) for line in commands), prefix


def test_digest_matches_the_evidence(reports: dict[str, Report]) -> None:
    for report in reports.values():
        html = render_html(report)
        digest = evidence_digest(report)
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
        assert html.count(digest) == 2  # the appendix and the footer


def test_an_unresolved_report_renders_and_says_what_failed(reports: dict[str, Report]) -> None:
    report = reports["unresolvable-handle"]
    assert report.band is None and report.unresolved_reason
    dom = _assert_inert(render_html(report))
    text = dom.all_text
    assert "No verdict" in text
    assert report.unresolved_reason in text
    assert "dig +short TXT _atproto.nobody.test" in dom.commands
    classes = [attrs.get("class") for attrs, _ in dom.svgs]
    assert "gauge-svg" in classes and "diagram-svg" not in classes


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_document_structure_and_accessibility(reports: dict[str, Report], scenario: str) -> None:
    html = render_html(reports[scenario])
    dom = _assert_inert(html)
    assert html.startswith('<!DOCTYPE html>\n<html lang="en">')
    csp = [
        a for t, a in dom.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp and "default-src 'none'" in str(csp[0].get("content"))
    for needle in ("url(", "@import", 'http-equiv="refresh"', "<link", "<img", "<iframe"):
        assert needle not in html
    # headings: one h1 first, never skipping a level on the way down
    levels = [level for level, _ in dom.headings]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), levels
    # every graphic is an image with a name; the big ones also have a description
    assert dom.svgs
    for attrs, children in dom.svgs:
        assert attrs.get("role") == "img", attrs
        labelled = attrs.get("aria-labelledby")
        if labelled:
            assert set(labelled.split()) <= {child.get("id") for child in children}
        else:
            assert attrs.get("aria-label"), attrs
    # tables have header cells, each with a scope
    for scopes in dom.tables:
        assert scopes and all(scope in {"col", "row"} for scope in scopes)
    # ids are unique and every in-page link lands somewhere
    ids = [a["id"] for _, a in dom.tags if a.get("id")]
    assert len(ids) == len(set(ids))
    for _, attrs in dom.tags:
        if "href" in attrs:
            assert str(attrs["href"])[1:] in ids, attrs["href"]
    # status is never colour alone: every check carries its status as a word (the icon's label)
    labels = [
        a.get("aria-label") for t, a in dom.tags if t == "svg" and "icon" in str(a.get("class"))
    ]
    for check in reports[scenario].checks:
        assert check.status.value.replace("_", " ").lower() in {str(x).lower() for x in labels}


def test_the_evidence_appendix_holds_the_raw_answers(reports: dict[str, Report]) -> None:
    report = reports["bsky-default"]
    dom = Dom(render_html(report))
    text = dom.all_text
    assert '"alsoKnownAs": [\n    "at://alice.bsky.social"\n  ]' in text  # the DID document
    assert '"rotationKeys": [' in text  # the PLC log
    assert '"hostname": "morel.us-east.host.bsky.network"' in text  # a relay's host status
    assert "Evidence appendix" in [heading for _, heading in dom.headings]
    # findings point into the appendix
    assert any(a.get("href") == "#ev-handle-resolutions-0-dns" for _, a in dom.tags)


def test_helpers() -> None:
    assert clip("abcdef", 4) == "abc\u2026" and clip("abc", 4) == "abc"
    assert wrap_lines("one two three four five six", 9, 2) == ["one two", "three\u2026"]
    assert wrap_lines("short", 20, 3) == ["short"]
    assert wrap_name("alice.bsky.social", 12, 2) == ["alice.bsky.", "social"]
    assert wrap_name("a-very-long-label.example.com", 10, 2) == ["a-very-lon", "g-label.\u2026"]
    assert code_spans("run `a b` now") == [(False, "run "), (True, "a b"), (False, " now")]
    assert code_spans("odd ` tick") == [(False, "odd ` tick")]
    assert pretty_json({"k": "a\u202eb\x1b\x85"}) == '{\n  "k": "a\\u202eb\\u001b\\u0085"\n}'
    assert inert("a\x1b[1m\u202eb\tc\n") == "a\u241b[1m\u2039U+202E\u203ab\tc\n"
    assert compact_roles(["PDS", "rotation key #0", "relay", "rotation key #1"]) == (
        "PDS, rotation keys #0, #1, relay"
    )
    anchors = {"ev-relays", "ev-relays-0", "ev-relays-0-repo-status", "ev-did-document"}
    assert pointer_anchor("/relays/0/repo_status/body/active", anchors) == "ev-relays-0-repo-status"
    assert pointer_anchor("/did_document/exchange", anchors) == "ev-did-document"
    assert pointer_anchor('/relays/"><script>', anchors) == "ev-relays"
    assert pointer_anchor("/nowhere", anchors) is None


def test_gauge_marks_band_and_score() -> None:
    gauge = gauge_geometry(None, None)
    assert not any(s.active for s in gauge.segments) and gauge.score_x is None
    from auditor.models.report import Band

    gauge = gauge_geometry(Band.HYBRID, 50.0)
    assert [s.active for s in gauge.segments] == [False, True, False]
    assert gauge.score_x == pytest.approx(gauge.width / 2)
    assert "hybrid" in gauge.text and "50 out of 100" in gauge.text


@pytest.mark.parametrize("count", range(1, 9))
def test_diagram_stays_legible_for_one_to_eight_parties(count: int) -> None:
    deps = [
        Dependency(
            party=f"p{i}",
            label=f"Operator number {i} with a rather long legal name",
            third_party=i != count - 1,
            roles=["PLC directory", "rotation key #0", "rotation key #1", "PDS", "relay"],
            can_break_alone=list(Capability)[: i % 4],
            single_point_of_failure=i % 2 == 0,
            if_offline="...",
            evidence=[],
        )
        for i in range(count)
    ]
    diagram = diagram_geometry(deps, "someone.example.com", "HYBRID")
    assert len(diagram.nodes) == count
    boxes = [(n.x, n.y, n.x + n.width, n.y + n.height) for n in diagram.nodes]
    boxes.append(
        (
            diagram.center_x,
            diagram.center_y,
            diagram.center_x + diagram.center_width,
            diagram.center_y + diagram.center_height,
        )
    )
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= diagram.width and 0 <= a[1] and a[3] < diagram.legend_y
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    for node in diagram.nodes:
        low, high = sorted((node.edge_x1, node.edge_x2))
        assert low <= node.label_x and node.label_x + node.label_width <= high
        assert len(node.title) <= 22 and len(node.label_lines) <= 4
    assert f"depends on {count} part" in diagram.text


# --------------------------------------------------------------------------------------------
# The palette: WCAG AA contrast (4.5:1 for text, 3:1 for lines) in light, dark and print
# --------------------------------------------------------------------------------------------


def _palettes() -> dict[str, dict[str, str]]:
    css = CSS.read_text(encoding="utf-8")

    def variables(block: str) -> dict[str, str]:
        return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-f]{6})", block))

    light = re.search(r":root \{(.*?)\n\}", css, re.S)
    dark = re.search(r"prefers-color-scheme: dark\) \{\s*:root \{(.*?)\}", css, re.S)
    printed = re.search(r"@media print \{\s*:root \{(.*?)\}", css, re.S)
    assert light and dark and printed
    base = variables(light.group(1))
    return {
        "light": base,
        "dark": {**base, **variables(dark.group(1))},
        "print": {**base, **variables(printed.group(1))},
    }


def _contrast(a: str, b: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]

        def linear(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (linear(c) for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark", "print"])
def test_palette_contrast(theme: str) -> None:
    colours = _palettes()[theme]
    text_pairs = [
        ("ink", "bg"), ("ink", "surface"), ("muted", "bg"), ("muted", "surface"),
        ("muted", "surface-2"), ("link", "surface"), ("code-ink", "code-bg"),
        ("code-muted", "code-bg"), ("ink", "remedy"), ("fail", "fail-soft"), ("ink", "fail-soft"),
    ]  # fmt: skip
    for accent in ("pass", "partial", "fail", "na", "info", "error", "cent", "hyb", "dec", "none"):
        text_pairs += [(accent, "surface"), (accent, "bg")]
    for band in ("cent", "hyb", "dec"):
        text_pairs += [(f"{band}-on", f"{band}-fill"), (f"{band}-soft-ink", f"{band}-soft")]
        text_pairs += [("ink", f"{band}-soft"), ("muted", f"{band}-soft")]
    for fg, bg in text_pairs:
        assert _contrast(colours[fg], colours[bg]) >= 4.5, (theme, fg, bg)
    assert _contrast(colours["line-strong"], colours["surface"]) >= 3, theme

"""The HTML report in a real browser: headless Chromium opens each report from a file and watches.

The page must make no network request (only its own file loads), log no console error, raise no
page error, open no dialog and contain no ``<script>``; the ``hostile-markup`` scenario's payloads
must reach the screen as plain text. Light and dark both render, and printing to PDF works (with
the collapsed raw answers shown on paper). Each page is screenshotted: under pytest's tmp path, or
``$DECAUDIT_SCREENSHOTS`` when set, so a human can look at them.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it), driven by the
``playwright`` package's bundled driver: never ``playwright install``, never a download. Without
either, the whole module skips with one reason.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from auditor.render import OutputFormat
from auditor.render.compare import render_comparison
from auditor.render.html import render_html
from auditor.sandbox.demo import COMPARISON_NAME, audit_scenarios, comparison

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path(os.environ.get("DECAUDIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    # Belt and braces: even if the page (or the browser) tried, no name would resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
BANDS = {
    "bsky-default": "Centralized",
    "self-sovereign": "Decentralized",
    "hostile-markup": "Hybrid",
    "unresolvable-handle": "No verdict",
    "fedi-flagship": "Hybrid",
    "matrix-flagship": "Hybrid",
    "fedi-impostor": "No verdict",
}
SCENARIOS = list(BANDS)
XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def _skip_reason() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each scenario's HTML report, and alice's three-network comparison, written to files."""
    folder = tmp_path_factory.mktemp("html")
    results = asyncio.run(audit_scenarios(SCENARIOS, stable=True))
    paths = {}
    for result in results:
        path = folder / f"{result.scenario}.html"
        path.write_text(render_html(result.report), encoding="utf-8")
        paths[result.scenario] = path
    compared = comparison(results)
    assert compared is not None
    paths[COMPARISON_NAME] = folder / f"{COMPARISON_NAME}.html"
    paths[COMPARISON_NAME].write_text(render_comparison(compared, OutputFormat.HTML), "utf-8")
    return paths


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``$DECAUDIT_SCREENSHOTS`` or a tmp folder."""
    wanted = os.environ.get("DECAUDIT_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser(
    pages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrowserContext]:
    """Headless Debian Chromium with a fresh profile; every request that is not a file fails."""
    from playwright.sync_api import Route, sync_playwright

    def refuse(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            offline=True,
            service_workers="block",
            viewport={"width": 1100, "height": 900},
        )
        context.route("**/*", refuse)
        try:
            yield context
        finally:
            context.close()


@dataclass
class Visit:
    """One page load and everything the page did."""

    page: Page
    url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_quiet(self) -> None:
        """Nothing but the file itself was requested; no error, no dialog, no script."""
        assert self.requests == [self.url], f"unexpected requests: {self.requests}"
        assert not self.console_errors, self.console_errors
        assert not self.page_errors, self.page_errors
        assert not self.dialogs, self.dialogs
        assert self.page.locator("script").count() == 0
        handlers = self.page.evaluate(
            """() => [...document.querySelectorAll('*')].flatMap(e =>
                   [...e.attributes].filter(a => a.name.startsWith('on'))
                                    .map(a => `${e.tagName}[${a.name}]`))"""
        )
        assert handlers == [], handlers
        assert self.page.evaluate("document.images.length") == 0


def _visit(context: BrowserContext, path: Path, scheme: str = "light") -> Visit:
    from playwright.sync_api import ConsoleMessage, Dialog

    page = context.new_page()
    page.emulate_media(color_scheme="dark" if scheme == "dark" else "light")
    visit = Visit(page, path.as_uri())

    def on_console(message: ConsoleMessage) -> None:
        if message.type in {"error", "assert"}:
            visit.console_errors.append(message.text)

    def on_dialog(dialog: Dialog) -> None:
        visit.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("console", on_console)
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    page.on("dialog", on_dialog)
    page.goto(visit.url, wait_until="load")
    return visit


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_report_renders_quietly(
    browser: BrowserContext,
    pages: dict[str, Path],
    screenshots: Path,
    scenario: str,
    scheme: str,
) -> None:
    visit = _visit(browser, pages[scenario], scheme)
    page = visit.page
    try:
        shot = screenshots / f"{scenario}-{scheme}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        visit.assert_quiet()
        # the theme really switched: dark pages are dark, light pages light
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        channels = [int(c) for c in background.removeprefix("rgb(").rstrip(")").split(",")]
        assert (sum(channels) < 150) == (scheme == "dark"), background
        # the browser sees the graphics as named images
        assert page.get_by_role("img", name="Centralization spectrum").count() == 1
        diagrams = page.get_by_role("img", name="Dependency diagram").count()
        assert diagrams == (0 if BANDS[scenario] == "No verdict" else 1)
        assert page.locator(".band-name").inner_text() == BANDS[scenario]
    finally:
        page.close()


def test_hostile_payloads_stay_inert_text(browser: BrowserContext, pages: dict[str, Path]) -> None:
    visit = _visit(browser, pages["hostile-markup"])
    page = visit.page
    try:
        visit.assert_quiet()
        text = page.evaluate("document.body.innerText")
        assert XSS in text  # shown, literally, where a reader sees it
        assert "\u2039U+202E\u203agnp.exe" in text  # the bidi override is visible, not obeyed
        assert "\x1b" not in text and "\u202e" not in text
        # the payload's would-be elements do not exist
        assert page.locator("img, iframe, object, embed, link, base, form").count() == 0
        assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    finally:
        page.close()


def test_print_to_pdf_shows_the_raw_answers(
    browser: BrowserContext, pages: dict[str, Path], screenshots: Path
) -> None:
    visit = _visit(browser, pages["bsky-default"], "dark")
    page = visit.page
    try:
        shown = "[...document.querySelectorAll('pre.answer')].filter(e => e.checkVisibility())"
        total = page.locator("pre.answer").count()
        assert total > 10 and page.evaluate(f"{shown}.length") == 0  # collapsed on screen
        page.emulate_media(media="print")
        assert page.evaluate(f"{shown}.length") == total  # on paper, everything
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(255, 255, 255)"  # printed on white, even from dark mode
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF") and len(pdf) > 50_000
        (screenshots / "bsky-default.pdf").write_bytes(pdf)
        visit.assert_quiet()
    finally:
        page.close()


def test_narrow_screen_does_not_scroll_sideways(
    browser: BrowserContext, pages: dict[str, Path], screenshots: Path
) -> None:
    visit = _visit(browser, pages["hostile-markup"])
    page = visit.page
    try:
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(screenshots / "hostile-markup-phone.png"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px screen"
    finally:
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_comparison_renders_quietly_and_fits_a_phone(
    browser: BrowserContext, pages: dict[str, Path], screenshots: Path, scheme: str
) -> None:
    visit = _visit(browser, pages[COMPARISON_NAME], scheme)
    page = visit.page
    try:
        visit.assert_quiet()
        bands = page.locator(".band").all_inner_texts()
        assert [b.strip().lower() for b in bands] == ["centralized", "hybrid", "hybrid"]
        headers = page.locator("thead th").all_inner_texts()
        assert headers == ["alice.bsky.social", "alice@mastodon.social", "@alice:matrix.org"]
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(screenshots / f"compare-phone-{scheme}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # the table scrolls inside its frame, its row titles staying in view
        frame = page.locator(".scroll")
        assert frame.evaluate("e => e.scrollWidth > e.clientWidth")
        frame.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
        title, box = page.locator("tbody th").first.bounding_box(), frame.bounding_box()
        assert title is not None and box is not None
        assert abs(title["x"] - box["x"]) <= 2, (title, box)  # sticky: still at the left edge
    finally:
        page.close()

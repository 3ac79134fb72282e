"""The public pages and the embedded banner in a real headless Chromium.

The app runs on a real HTTP server; a second server on another port (another
origin) serves a news site's page that embeds ``banner.js`` with one tag.
axe-core (vendored in tests/web/vendor) checks the pages and both banners.
Set ``VARSLA_SCREENSHOT_DIR`` to keep the screenshot of ``/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from alerts.config import settings
from tests.browser import WCAG_AA, LiveServer, axe_violations
from tests.factories import PASSWORD
from tests.public.conftest import BERGKARLAS_TEXTS

pytestmark = pytest.mark.browser

HOST_PAGE = """<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<title>Mora kommun</title>
<style>
  /* A hostile host stylesheet: the banner must not pick any of this up. */
  div, p, a, button, span {{ all: unset; color: #ff00ff !important; font-size: 40px; }}
</style>
</head>
<body>
<header><p>Mora kommun</p></header>
<main>
<h1>Välkommen till Mora kommun</h1>
<script src="{app}/banner.js" data-zone="gesunda" data-lang="sv" async></script>
<p>Nyheter från kommunen.</p>
</main>
</body>
</html>
"""


@pytest.fixture
def live_app(app) -> Iterator[str]:
    server = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
    # No tile server here: tile requests fail, and the areas must still be drawn.
    # (The port is known only now, so the app's settings are replaced after it was built.)
    tiles = server.url + "/no-tiles/{z}/{x}/{y}.png"
    app.extensions["varsla_settings"] = settings(app).model_copy(update={"tile_url": tiles})
    yield server.url
    server.stop()


@pytest.fixture
def news_site(live_app) -> Iterator[str]:
    page = HOST_PAGE.format(app=live_app).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = LiveServer(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    yield server.url + "/"
    server.stop()


@pytest.fixture
def notices(newsroom) -> dict[str, str]:
    return {
        "gesunda": newsroom.publish(),
        "bergkarlas": newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]}),
    }


def test_embedded_banner_shows_its_zone_and_is_dismissed_by_keyboard(
    chromium, live_app, news_site, notices
):
    context = chromium.new_context()
    page = context.new_page()
    api_requests = []
    page.on(
        "request",
        lambda r: api_requests.append(r) if "/api/v1/active" in r.url else None,
    )
    page.goto(news_site)
    headline = page.get_by_text("Koka vattnet i Gesunda")
    headline.wait_for(state="visible", timeout=10_000)
    assert page.get_by_text("Vattenavstängning i Bergkarlås").count() == 0
    assert page.get_by_text("Allvarligt").is_visible()  # severity in words
    assert headline.get_attribute("href") == f"http://varsla.test/notices/{notices['gesunda']}"
    # The host's `all: unset; color: #ff00ff` does not reach into the shadow root.
    colour = headline.evaluate("el => getComputedStyle(el).color")
    assert colour == "rgb(255, 255, 255)"
    assert api_requests and "cookie" not in api_requests[0].headers
    assert context.cookies() == []

    assert axe_violations(page, [*WCAG_AA, "best-practice"]) == []

    for _ in range(6):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const h = document.querySelector('[data-varsla-banner]');"
            " const a = h && h.shadowRoot && h.shadowRoot.activeElement;"
            " return a ? a.tagName + ':' + (a.getAttribute('aria-label') || '') : ''; }"
        )
        if focused == "BUTTON:Stäng":
            break
    else:
        pytest.fail("Tab never reached the banner's dismiss button")
    page.keyboard.press("Enter")
    headline.wait_for(state="hidden", timeout=5_000)
    assert page.locator("[data-varsla-banner]").is_hidden()
    context.close()


def test_iframe_banner_is_accessible(chromium, live_app, notices):
    context = chromium.new_context(bypass_csp=True)  # lets axe be injected
    page = context.new_page()
    page.goto(f"{live_app}/banner?zone=gesunda")
    assert page.get_by_text("Koka vattnet i Gesunda").is_visible()
    # A fragment for an iframe: it has no h1 or landmarks of its own, so WCAG rules only.
    assert axe_violations(page, WCAG_AA) == []
    context.close()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_public_pages_have_no_axe_violations(
    chromium, live_app, notices, newsroom, lang, monkeypatch
):
    from alerts.public import pages as views

    # The home page as in a crisis: one notice in full, the other as a line, and a link
    # to the archive for the ended ones it leaves out.
    monkeypatch.setattr(views, "HOME_CARDS", 1)
    monkeypatch.setattr(views, "HOME_ENDED", 1)
    for n in range(2):
        newsroom.all_clear(newsroom.publish(texts={"sv": {"headline": f"Avslutat {n}"}}))
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    for path in (
        "/",
        f"/notices/{notices['gesunda']}",
        "/archive",
        "/archive?q=vattnet",
        "/accessibility",
    ):
        page.goto(f"{live_app}{path}{'&' if '?' in path else '?'}lang={lang}")
        if page.locator("#map").count():
            page.wait_for_selector("#map[data-map-ready]", timeout=10_000)
            # The areas are drawn although no tile could load.
            assert page.locator(".leaflet-overlay-pane path").count() >= 1
        if path == "/":
            assert page.locator("ul.notices-compact li").count() == 1
            assert page.locator("a[href='/archive']").count() >= 1
        violations = axe_violations(page, [*WCAG_AA, "best-practice"])
        assert violations == [], f"{path}: {violations}"
    assert problems == []
    context.close()


def test_home_page_screenshot(chromium, live_app, notices, tmp_path):
    context = chromium.new_context(viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_app}/")
    page.wait_for_selector("#map[data-map-ready='2']", timeout=10_000)
    assert page.locator(".leaflet-overlay-pane path").count() == 2
    target = Path(os.environ.get("VARSLA_SCREENSHOT_DIR") or tmp_path) / "home.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000
    # Only the missing tiles may fail; no CSP violation, no script error.
    assert [e for e in console_errors if "no-tiles" not in e and "404" not in e] == []
    context.close()


def test_console_notice_page_has_no_axe_violations(chromium, live_app, notices):
    """What an operator works with: the SMS preview and the delivery tables."""
    context = chromium.new_context(bypass_csp=True)  # lets axe be injected
    page = context.new_page()
    page.goto(f"{live_app}/console/login")
    page.get_by_label("E-post").fill("author@test.varsla.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(f"{live_app}/console/")
    page.goto(f"{live_app}/console/notices/{notices['gesunda']}")
    assert page.get_by_role("heading", name="Utskick").is_visible()
    assert page.get_by_text("SMS som invånarna får").is_visible()
    assert axe_violations(page, [*WCAG_AA, "best-practice"]) == []
    context.close()


def test_both_banners_wrap_a_long_link_in_a_narrow_column(chromium, live_app, news_site, newsroom):
    """A web address in the instruction (the utility's page about the fault) is one long
    word: the banner in a 320 px sidebar must wrap it, not scroll sideways."""
    url = "https://www.mora.se/driftstorningar/vattenochavlopp/kokningsrekommendationgesunda"
    texts = {
        "sv": {
            "headline": "Koka vattnet i Gesunda",
            "description": "Vattnet kan innehålla bakterier.",
            "instruction": f"Läs mer på {url}",
        }
    }
    newsroom.publish(texts=texts)
    context = chromium.new_context(bypass_csp=True, viewport={"width": 320, "height": 700})
    page = context.new_page()
    page.goto(f"{live_app}/banner?zone=gesunda")
    assert page.get_by_text(url, exact=False).is_visible()
    sideways = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(sideways) <= 1, "the iframe banner scrolls sideways at 320 px"
    page.goto(news_site)
    page.get_by_text("Koka vattnet i Gesunda").wait_for(state="visible", timeout=10_000)
    assert page.evaluate(sideways) <= 1, "the embedded banner scrolls the news site sideways"
    context.close()

"""The console as operators use it, in headless Chromium, against the real app.

An author drafts a boil-water notice from its template with a place name, picks a zone
on the map and draws a circle, sees the reach, previews the SMS and the email and submits;
an approver sees the area and the previews, approves and publishes; the local SMTP and
Twilio-like servers receive the messages; the author proposes an update, the approver
sees what changed and approves it; then the all-clear; the delivery page shows the
counts. In Swedish and in English. axe-core checks every page visited, at desktop width
and at 375 px.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from alerts.config import settings
from tests.browser import WCAG_AA, LiveServer, axe_violations
from tests.conftest import running_app
from tests.console.conftest import BERGKARLAS_BOX, MORA_BOX, add_subscriber, centre
from tests.delivery import TIMEOUT_FAULT_S, provider_config, run_dispatcher
from tests.factories import GESUNDA_BOX, PASSWORD, create_operator, create_zone
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_server import FakeTwilio

pytestmark = pytest.mark.browser

WORDS = {
    "sv": {
        "login": "Logga in",
        "email": "E-post",
        "password": "Lösenord",
        "new": "Nytt meddelande",
    },
    "en": {"login": "Log in", "email": "Email", "password": "Password", "new": "New notice"},
}


@pytest.fixture
def providers() -> Iterator[tuple[FakeTwilio, FakeSmtp]]:
    with FakeTwilio(timeout_sleep_s=TIMEOUT_FAULT_S, retry_after_s=0) as twilio, FakeSmtp() as smtp:
        yield twilio, smtp


@pytest.fixture
def live(database_url, tmp_path, providers):
    """The app sending to the fakes, served on a real port; zones, operators, residents."""
    twilio, smtp = providers
    with running_app(database_url, tmp_path, **provider_config(twilio, smtp)) as app:
        from alerts.extensions import db

        session = db.sessionmaker()
        create_zone(session, "mora", "Mora", MORA_BOX, kind="municipality")
        create_zone(session)
        create_zone(session, "bergkarlas", "Bergkarlås", BERGKARLAS_BOX)
        create_operator(session, "author", "author@test.varsla.se")
        create_operator(session, "approver", "approver@test.varsla.se")
        create_operator(session, "admin", "admin@test.varsla.se")
        add_subscriber(session, centre(GESUNDA_BOX), phone="+46701740605", email="g@example.se")
        add_subscriber(
            session,
            centre(BERGKARLAS_BOX),
            phone="+46701740606",
            email="b@example.se",
            language="en",
        )
        session.commit()
        session.close()
        server = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
        tiles = server.url + "/no-tiles/{z}/{x}/{y}.png"
        app.extensions["varsla_settings"] = settings(app).model_copy(update={"tile_url": tiles})
        yield app, server.url
        server.stop()


def axe_clean(page, where: str) -> None:
    """No WCAG 2.1 AA violations at desktop width and at 375 px."""
    for width, height in ((1280, 900), (375, 800)):
        page.set_viewport_size({"width": width, "height": height})
        violations = axe_violations(page, [*WCAG_AA, "best-practice"])
        assert violations == [], (where, width, violations)
        if width == 375:
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (where, "scrolls sideways at 375 px", overflow)
    page.set_viewport_size({"width": 1280, "height": 900})


def log_in(browser, base: str, email: str, lang: str):
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/console/login?lang={lang}")
    words = WORDS[lang]
    page.get_by_label(words["email"]).fill(email)
    page.get_by_label(words["password"]).fill(PASSWORD)
    page.get_by_role("button", name=words["login"]).click()
    page.wait_for_url(f"{base}/console/")
    return context, page


def click_action(page, action: str) -> None:
    page.locator(f"[data-action={action}]").first.click()
    page.wait_for_load_state()


def status_text(page) -> str:
    return page.locator("#notice-status").inner_text()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_draft_approve_publish_update_and_all_clear_in_the_browser(chromium, live, providers, lang):
    app, base = live
    twilio, smtp = providers
    expected_status = {
        "sv": {"pending": "Väntar på godkännande", "active": "Aktivt", "cancelled": "Avblåst"},
        "en": {"pending": "Pending approval", "active": "Active", "cancelled": "Cancelled"},
    }[lang]

    # --- the author drafts ------------------------------------------------------------
    author_ctx, author = log_in(chromium, base, "author@test.varsla.se", lang)
    axe_clean(author, "dashboard")
    author.get_by_role("link", name=WORDS[lang]["new"]).first.click()
    author.wait_for_selector("#editor-map[data-map-ready='3']")
    axe_clean(author, "editor")
    errors: list[str] = []
    author.on("pageerror", lambda e: errors.append(str(e)))
    author.select_option("#template", "boil_water")
    author.fill("#f-place", "Bergkarlås")
    author.locator("path[data-zone=gesunda]").click()
    assert author.locator("input[name=zones][value=gesunda]").is_checked()
    # draw a circle around Bergkarlås with Leaflet.draw
    author.locator(".leaflet-draw-draw-circle").click()
    author.locator("path[data-zone=bergkarlas]").scroll_into_view_if_needed()
    target = author.locator("path[data-zone=bergkarlas]").bounding_box()
    assert target is not None
    x, y = target["x"] + target["width"] / 2, target["y"] + target["height"] / 2
    author.mouse.move(x, y)
    author.mouse.down()
    author.mouse.move(x + 15, y, steps=4)
    author.mouse.move(x + 30, y, steps=4)
    author.mouse.up()
    assert float(author.input_value("#circle_radius")) > 0
    # the reach: both subscribers (Gesunda by zone, Bergkarlås by circle)
    author.wait_for_selector("#reach[data-subscribers='2']")
    # the texts from the template, with the place; the SMS counter follows them
    author.locator("button[name=do][value=fill]").click()
    author.wait_for_load_state()
    assert author.input_value("#f-sv_headline") == "Koka vattnet i Bergkarlås"
    assert author.input_value("#f-en_headline") == "Boil water in Bergkarlås"
    author.wait_for_selector("#sms-sv[data-segments]:not([data-segments='0'])")
    author.fill("#f-sv_instruction", "Koka vattnet i minst en minut.")
    author.wait_for_function(
        "document.getElementById('count-sv_instruction').textContent.startsWith('30 ')"
    )
    assert author.locator("input[name=zones][value=gesunda]").is_checked()  # kept
    author.wait_for_selector("#reach[data-subscribers='2']")
    author.locator("button[name=do][value=save]").click()
    author.wait_for_url(re.compile(r".*/console/notices/[0-9a-f-]{36}$"))
    notice_url = author.url
    assert author.locator("h1").inner_text() == "Koka vattnet i Bergkarlås"
    author.wait_for_selector("#map[data-map-ready='1']")
    # previews: the SMS per language, the email
    assert "Koka vattnet i Bergkarlås" in author.locator("pre.sms[lang=sv]").inner_text()
    assert "Boil water in Bergkarlås" in author.locator("pre.sms[lang=en]").inner_text()
    email = author.frame_locator("iframe.email-html[data-lang=sv]")
    assert "Koka vattnet i Bergkarlås" in email.locator("body").inner_text()
    assert "2" in author.locator("#reach-summary").inner_text()
    axe_clean(author, "draft")
    click_action(author, "submit")
    assert status_text(author) == expected_status["pending"]
    assert author.locator("[data-action=approve]").count() == 0

    # --- the approver approves and publishes -------------------------------------------
    approver_ctx, approver = log_in(chromium, base, "approver@test.varsla.se", lang)
    mine = approver.locator("[data-section=mine]")
    assert "Koka vattnet i Bergkarlås" in mine.inner_text()
    approver.goto(notice_url)
    approver.wait_for_selector("#map[data-map-ready='1']")
    assert "Koka vattnet i Bergkarlås" in approver.locator("pre.sms[lang=sv]").inner_text()
    axe_clean(approver, "approval")
    click_action(approver, "approve")
    click_action(approver, "publish")
    assert status_text(approver) == expected_status["active"]
    run_dispatcher(app)
    assert {m.to for m in twilio.messages} == {"+46701740605", "+46701740606"}
    assert any("Koka vattnet i Bergkarlås" in m.body for m in twilio.messages)
    staff = (["approver@test.varsla.se"], ["admin@test.varsla.se"])
    residents = [m for m in smtp.received if m.rcpt_tos not in staff]
    assert {tuple(m.rcpt_tos) for m in residents} == {("g@example.se",), ("b@example.se",)}
    # the approver was told by email, with a link to the notice
    told = [m for m in smtp.received if m.rcpt_tos == ["approver@test.varsla.se"]]
    path = notice_url.removeprefix(base)
    assert len(told) == 1 and f"http://varsla.test{path}" in told[0].message.get_content()

    # --- the author proposes an update; the approver sees what changed ----------------
    author.goto(notice_url)
    click_action(author, "update")
    author.wait_for_selector("#editor-map[data-map-ready='3']")
    author.fill("#f-sv_headline", "Koka vattnet i Bergkarlås och Gesunda")
    author.locator("button[name=do][value=save]").click()
    author.wait_for_url(notice_url)
    approver.goto(notice_url)
    changes = approver.locator(".changes").inner_text()
    assert "Koka vattnet i Bergkarlås\t" in changes or "Koka vattnet i Bergkarlås\n" in changes
    assert "Koka vattnet i Bergkarlås och Gesunda" in changes
    axe_clean(approver, "update approval")
    click_action(approver, "approve")
    click_action(approver, "publish")
    run_dispatcher(app)
    assert len(twilio.messages) == 4  # the update reached both again
    assert sum("och Gesunda" in m.body for m in twilio.messages) == 1  # the Swedish one

    # --- the all-clear -----------------------------------------------------------------
    author.goto(notice_url)
    click_action(author, "all-clear")
    assert author.input_value("#f-sv_headline") == "Faran över i Bergkarlås"
    axe_clean(author, "all-clear")
    author.locator("button[type=submit].primary").click()
    author.wait_for_url(notice_url)
    approver.goto(notice_url)
    click_action(approver, "approve")
    click_action(approver, "publish")
    assert status_text(approver) == expected_status["cancelled"]
    run_dispatcher(app)
    assert sum("Faran över i Bergkarlås" in m.body for m in twilio.messages) == 1
    assert sum("All clear in Bergkarlås" in m.body for m in twilio.messages) == 1
    assert len([m for m in smtp.received if m.rcpt_tos not in staff]) == 6
    # and both approvers (the approver and the admin) were told of each of the three
    assert len(smtp.received) == 12

    # --- the delivery counts, kept current by polling -----------------------------------
    approver.goto(notice_url)
    approver.wait_for_selector("#deliveries[data-polled]")
    sms_cells = approver.locator("td[data-channel=sms]")
    counted = sum(int(c) for c in sms_cells.all_inner_texts())
    assert counted == 6
    axe_clean(approver, "delivery")
    assert errors == []
    author_ctx.close()
    approver_ctx.close()


def test_the_editor_works_without_javascript(chromium, live):
    """Progressive enhancement: zones are checkboxes, the texts plain fields."""
    _app, base = live
    context = chromium.new_context(java_script_enabled=False, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/console/login")
    page.get_by_label("E-post").fill("author@test.varsla.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.goto(f"{base}/console/notices/new")
    assert page.locator("#map-tools").is_hidden()
    page.select_option("#template", "boil_water")
    page.locator("input[name=zones][value=bergkarlas]").check()
    page.locator("button[name=do][value=save]").click()
    page.wait_for_url(re.compile(r".*/console/notices/[0-9a-f-]{36}$"))
    assert page.locator("h1").inner_text() == "Koka vattnet i Bergkarlås"
    context.close()


def test_admin_pages_are_accessible(chromium, live):
    _app, base = live
    context, page = log_in(chromium, base, "admin@test.varsla.se", "sv")
    for path in ("/console/admin/accounts", "/console/admin/audit", "/console/outbox"):
        page.goto(base + path)
        axe_clean(page, path)
    context.close()

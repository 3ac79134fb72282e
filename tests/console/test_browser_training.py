"""Training mode and the TOTP login in headless Chromium, against the real app.

An admin turns on two-step verification from "My account" with codes from pyotp (the
authenticator app), logs out and back in through the code step, and fills in the test
group (a mistake first: the errors stand beside the fields). An author sends a draft as an
exercise from its page using only the keyboard; the dispatcher sends it; the fake Twilio
and SMTP servers receive only the test group's marked messages; the run page shows the
deliveries. axe-core checks every page at desktop width and at 375 px.
"""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from werkzeug.serving import make_server

from alerts.notices.operations import create_notice
from alerts.notices.schemas import NoticeIn
from tests.browser import LiveServer
from tests.conftest import running_app
from tests.console.conftest import add_subscriber, centre
from tests.console.test_browser_flow import axe_clean, log_in
from tests.delivery import TIMEOUT_FAULT_S, provider_config, run_dispatcher
from tests.factories import GESUNDA_BOX, PASSWORD, create_operator, create_zone, notice_payload
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_server import FakeTwilio

pytestmark = pytest.mark.browser


@pytest.fixture
def providers():
    with FakeTwilio(timeout_sleep_s=TIMEOUT_FAULT_S, retry_after_s=0) as twilio, FakeSmtp() as smtp:
        yield twilio, smtp


@pytest.fixture
def live(database_url, tmp_path, providers):
    twilio, smtp = providers
    with running_app(database_url, tmp_path, **provider_config(twilio, smtp)) as app:
        from alerts.extensions import db

        session = db.sessionmaker()
        create_zone(session)
        author = create_operator(session, "author", "author@test.varsla.se")
        create_operator(session, "admin", "admin@test.varsla.se")
        add_subscriber(session, centre(GESUNDA_BOX), phone="+46709999001", email="g@example.se")
        notice = create_notice(session, NoticeIn.model_validate(notice_payload()), by=author)
        session.commit()
        notice_id = notice.id
        session.close()
        server = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
        yield app, server.url, notice_id
        server.stop()


def test_totp_login_test_group_and_an_exercise_in_the_browser(chromium, live, providers):
    app, base, notice_id = live
    twilio, smtp = providers

    # The admin turns on two-step verification.
    context, page = log_in(chromium, base, "admin@test.varsla.se", "sv")
    page.get_by_role("link", name="Mitt konto").click()
    axe_clean(page, "my account")
    page.get_by_role("button", name="Ställ in tvåstegsverifiering").click()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert page.locator(".qr svg").count() == 1
    axe_clean(page, "enrolment")
    page.get_by_label("Kod från appen").fill(
        "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    )
    page.get_by_role("button", name="Slå på tvåstegsverifiering").click()
    assert page.locator("#err-code").is_visible()
    axe_clean(page, "enrolment with an error")
    page.get_by_label("Kod från appen").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Slå på tvåstegsverifiering").click()
    assert "Tvåstegsverifiering är på." in page.content()
    page.get_by_role("button", name="Logga ut").click()
    context.close()

    # Logging in again asks for the code after the password.
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{base}/console/login")
    page.get_by_label("E-post").fill("admin@test.varsla.se")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(f"{base}/console/login/code")
    axe_clean(page, "code step")
    page.get_by_label("Kod från appen").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/console/")

    # The test group: a mistake first, then two recipients.
    page.get_by_role("link", name="Testgrupp").click()
    axe_clean(page, "test group")
    page.get_by_label("Namn").fill("Anna Jour")
    page.get_by_label("Mobilnummer").fill("12345")
    page.get_by_role("button", name="Lägg till").click()
    assert "Numret är inte giltigt" in page.locator("#err-phone").inner_text()
    axe_clean(page, "test group with an error")
    page.get_by_label("Mobilnummer").fill("070-174 06 05")
    page.get_by_label("E-post").fill("anna@motala.se")
    page.get_by_role("button", name="Lägg till").click()
    page.get_by_label("Namn").fill("Bo Test")
    page.get_by_label("E-post").fill("bo@motala.se")
    page.get_by_label("Språk").select_option("en")
    page.get_by_role("button", name="Lägg till").click()
    assert page.locator("#members tbody tr").count() == 2
    context.close()

    # An author sends the draft as an exercise, with the keyboard only.
    context, page = log_in(chromium, base, "author@test.varsla.se", "sv")
    page.goto(f"{base}/console/notices/{notice_id}")
    assert page.get_by_role("link", name="Testgrupp").count() == 0  # not an admin's page
    page.get_by_label("Version").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skicka som övning"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/console/exercises/[0-9a-f-]+$"))
    run_dispatcher(app)
    page.reload()
    assert page.locator('[data-status="accepted"]').count() == 3
    axe_clean(page, "exercise run")
    page.get_by_role("link", name="Alla övningar").click()
    axe_clean(page, "exercises")
    page.goto(page.url + "?lang=en")
    assert page.get_by_role("heading", name="Exercises").count() == 1
    axe_clean(page, "exercises in English")
    context.close()

    assert [m.to for m in twilio.messages] == ["+46701740605"]
    assert twilio.messages[0].body.startswith("ÖVNING")
    subjects = sorted(m.message["Subject"] for m in smtp.received)
    assert subjects == ["EXERCISE – Boil water in Gesunda", "ÖVNING – Koka vattnet i Gesunda"]

"""The resident's front door in headless Chromium: sign up with an address picked from the
autocomplete, type the SMS code from the local Twilio-like server, confirm an email through
the link aiosmtpd received; axe-core on every resident page, in Swedish and English, and
a phone-sized screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from alerts.config import settings
from alerts.models import Subscriber
from tests.browser import WCAG_AA, LiveServer, axe_violations
from tests.residents.conftest import HOME, code_from, link_from

pytestmark = pytest.mark.browser

PHONE = "+46701740605"


@pytest.fixture
def live(dispatch_app, register) -> Iterator[str]:
    server = LiveServer(make_server("127.0.0.1", 0, dispatch_app, threaded=True))
    tiles = server.url + "/no-tiles/{z}/{x}/{y}.png"  # no tile server: the page must cope
    # Links in messages and pages point at this server (the port is known only now).
    dispatch_app.extensions["varsla_settings"] = settings(dispatch_app).model_copy(
        update={"tile_url": tiles, "base_url": server.url}
    )
    yield server.url
    server.stop()


def pick_address(page, typed: str, label: str) -> None:
    """Type part of the address and choose ``label`` from the list with the keyboard."""
    field = page.get_by_role("combobox", name=re.compile("Adress|Address"))
    field.click()
    field.press_sequentially(typed, delay=30)
    option = page.get_by_role("option", name=label)
    option.wait_for(state="visible", timeout=10_000)
    for _ in range(5):
        field.press("ArrowDown")
        if option.get_attribute("aria-selected") == "true":
            break
    field.press("Enter")
    assert field.input_value() == label


def test_a_resident_subscribes_by_sms_with_the_autocomplete(
    chromium, live, fake_twilio, db_session
):
    context = chromium.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "no-tiles" not in m.text and "404" not in m.text
            else None
        ),
    )
    page.goto(f"{live}/")
    page.get_by_role("link", name="Prenumerera").click()
    page.wait_for_url(f"{live}/subscribe")
    pick_address(page, "Gesundav", HOME)
    page.wait_for_selector("#place-map[data-map-ready]", timeout=10_000)
    zones = page.locator("#place-zones")
    zones.filter(has_text="Gesunda").wait_for(timeout=10_000)
    assert zones.inner_text() == "Adressen ligger i: Gesunda."
    page.get_by_label("Mobilnummer (sms)").fill("070-174 06 05")
    page.get_by_label("Vägar och trafik").uncheck()
    # A phone's width: nothing sticks out sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.get_by_role("button", name="Anmäl mig").click()

    page.get_by_role("heading", name="Bekräfta din anmälan").wait_for()
    assert "070-174 06 05" in page.inner_text("main")
    page.get_by_label("Kod från sms:et").fill(code_from(fake_twilio, PHONE))
    page.get_by_role("button", name="Bekräfta", exact=True).click()
    page.get_by_role("heading", name="Din prenumeration är aktiv").wait_for()
    assert HOME in page.inner_text("main")
    assert problems == []

    page.get_by_role("link", name="Ändra dina varningar").click()
    page.get_by_role("heading", name="Dina varningar").wait_for()
    assert page.get_by_label("Vägar och trafik").is_checked() is False
    assert page.get_by_label("Dricksvatten").is_checked()
    context.close()

    db_session.expire_all()
    subscriber = db_session.scalars(select(Subscriber)).one()
    assert subscriber.phone == PHONE and subscriber.phone_verified_at is not None
    assert "roads" not in subscriber.category_names


def test_an_email_is_confirmed_through_the_link_and_the_button(
    chromium, live, fake_smtp, db_session
):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{live}/subscribe?lang=en")
    field = page.get_by_role("combobox", name="Address")
    field.press_sequentially("Gesundavägen 7", delay=30)
    page.get_by_role("option", name="Gesundavägen 7, 792 90 Sollerön").click()
    page.get_by_label("Email address").fill("anna@example.se")
    page.get_by_role("button", name="Sign me up").click()
    page.get_by_text("We have sent an email to anna@example.se").wait_for()

    link = link_from(fake_smtp, "anna@example.se", "/subscriptions/confirm/")
    page.goto(link)
    db_session.expire_all()
    assert db_session.scalars(select(Subscriber)).one().email_verified_at is None  # a GET only
    page.get_by_role("button", name="Confirm the email address").click()
    page.get_by_role("heading", name="Your subscription is active").wait_for()
    db_session.expire_all()
    assert db_session.scalars(select(Subscriber)).one().email_verified_at is not None
    context.close()


def _resident_paths(client, fake_twilio, db_session) -> dict[str, str]:
    """A verified resident's pages, and the pages of a sign-up on its way."""
    from alerts.dispatch.messages import unsubscribe_token

    response = client.post("/subscribe", data={"address": HOME, "phone": PHONE, "email": "a@b.se"})
    verify = response.headers["Location"]
    active = client.post(verify, data={"code": code_from(fake_twilio, PHONE)})
    manage = re.search(
        r'href="https?://[^/"]+(/subscriptions/[^"]+)"', active.get_data(as_text=True)
    )
    subscriber = db_session.scalars(select(Subscriber)).one()
    pending = client.post("/subscribe", data={"address": HOME, "phone": "0701740606"})
    return {
        "subscribe": "/subscribe",
        "verify": pending.headers["Location"],
        "manage": manage.group(1),
        "delete": manage.group(1) + "/delete",
        "unsubscribe": f"/u/{unsubscribe_token('test-secret', subscriber.id, 'email')}",
        "link": "/subscriptions/link",
        "privacy": "/privacy",
    }


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_resident_pages_have_no_axe_violations(
    chromium, live, dispatch_app, fake_twilio, fake_smtp, db_session, lang
):
    client = dispatch_app.test_client()
    paths = _resident_paths(client, fake_twilio, db_session)
    confirm = link_from(fake_smtp, "a@b.se", "/subscriptions/confirm/")
    paths["confirm email"] = confirm.removeprefix(live)
    context = chromium.new_context(bypass_csp=True)  # lets axe be injected
    page = context.new_page()
    for name, path in paths.items():
        page.goto(f"{live}{path}?lang={lang}")
        assert page.evaluate("document.documentElement.lang") == lang, name
        violations = axe_violations(page, [*WCAG_AA, "best-practice"])
        assert violations == [], f"{name}: {violations}"
    # A form with errors, and the autocomplete open.
    page.goto(f"{live}/subscribe?lang={lang}")
    page.get_by_role("button", name={"sv": "Anmäl mig", "en": "Sign me up"}[lang]).click()
    page.locator("#error-summary").wait_for()
    # The page's script moves focus to the summary once it runs (deferred): wait for it.
    page.wait_for_function("document.activeElement?.id === 'error-summary'", timeout=10_000)
    page.locator("#address").press_sequentially("Gesundav", delay=30)
    page.get_by_role("option").first.wait_for()
    violations = axe_violations(page, [*WCAG_AA, "best-practice"])
    assert violations == [], f"subscribe with errors: {violations}"
    # A misspelt address: the closest ones to pick from.
    page.goto(f"{live}/subscribe?lang={lang}")
    page.locator("#address").fill("Gesundavägen 55")
    page.locator("#phone").fill(PHONE)
    page.get_by_role("button", name={"sv": "Anmäl mig", "en": "Sign me up"}[lang]).click()
    page.locator("fieldset.suggestions input[type=radio]").first.wait_for()
    violations = axe_violations(page, [*WCAG_AA, "best-practice"])
    assert violations == [], f"subscribe with suggestions: {violations}"
    context.close()

"""The console reads wholly in Swedish by default and wholly in English with ?lang=en.

Rendered without a browser: login, the notice list, a new notice, one notice (with a
waiting revision, deliveries and its history) and the outbox, in both languages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from channels.base import LOCAL_TZ as STOCKHOLM
from tests.factories import PASSWORD, create_operator, create_zone, notice_payload

# Labels that must never show in the other language (status, severity, roles, nav, actions;
# the login page's own words are checked on their own).
SWEDISH = [
    "Utkast",
    "Väntar på godkännande",
    "Allvarligt",
    "Meddelanden",
    "Nytt meddelande",
    "Logga ut",
    "Åtgärder",
    "Historik",
    "Tillbaka till utkast",
    "Administratör",
    "Dricksvatten",
    "Planerat vattenavbrott",
    "Platsnamn",
    "Skapade utkast",
    "Skickade för godkännande",
    "Utskick",
    "Svenska",
    "Engelska",
    "Lokal utkorg",
    "Första meddelandet",
]
ENGLISH = [
    "Draft",
    "Pending approval",
    "Severe",
    "Notices",
    "New notice",
    "Log out",
    "Actions",
    "History",
    "Back to draft",
    "Administrator",
    "Drinking water",
    "Planned water outage",
    "Place name",
    "Created the draft",
    "Submitted for approval",
    "Deliveries",
    "Swedish",
    "English",
    "Local outbox",
    "First alert",
]
# Stored values that must never be shown raw, in either language.
RAW = [
    "pending_approval",
    "boil_water",
    "planned_water_outage",
    "return_to_draft",
    "admin)",
    "UTC",
]


class _Text(HTMLParser):
    """The text a reader sees in the page's language: no tags, attributes, scripts or
    styles, and nothing marked as another language (``<a lang="en">In English</a>``, a
    notice's English text)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skipped: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style") or (tag != "html" and "lang" in dict(attrs)):
            self._skipped.append(tag)

    def handle_endtag(self, tag):
        if self._skipped and self._skipped[-1] == tag:
            self._skipped.pop()

    def handle_data(self, data):
        if not self._skipped:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


@pytest.fixture
def console(app, session):
    """An admin logged in, and a submitted notice with a history."""
    from alerts.notices.operations import create_notice, submit_notice
    from alerts.notices.schemas import NoticeIn

    create_zone(session)
    admin = create_operator(session, "admin", "admin@test.varsla.se")
    notice = create_notice(session, NoticeIn.model_validate(notice_payload()), by=admin)
    submit_notice(session, notice, by=admin)
    session.commit()
    client = app.test_client()
    login = client.post(
        "/console/login", data={"email": "admin@test.varsla.se", "password": PASSWORD}
    )
    assert login.status_code == 302
    return client, notice


def _pages(client, notice_id, query: str) -> dict[str, str]:
    pages = {}
    for name, path in [
        ("list", "/console/"),
        ("new", "/console/notices/new"),
        ("notice", f"/console/notices/{notice_id}"),
        ("outbox", "/console/outbox"),
    ]:
        response = client.get(path + query)
        assert response.status_code == 200, (name, response.status_code)
        pages[name] = response.get_data(as_text=True)
    return pages


def _without_notice_texts(text: str) -> str:
    """The notice's own words (its Swedish and English texts) are not labels."""
    for words in notice_payload()["texts"].values():
        for value in words.values():
            text = text.replace(value, "")
    return text


def test_the_console_is_all_swedish_by_default(console):
    client, notice = console
    pages = _pages(client, notice.id, "")
    text = _without_notice_texts(" ".join(visible_text(p) for p in pages.values()))
    for phrase in SWEDISH:
        assert _has(text, phrase), phrase
    for phrase in ENGLISH + RAW:
        assert not _has(text, phrase), phrase
    assert all('<html lang="sv">' in page for page in pages.values())


def test_the_console_is_all_english_with_lang_en(console):
    client, notice = console
    pages = _pages(client, notice.id, "?lang=en")
    text = _without_notice_texts(" ".join(visible_text(p) for p in pages.values()))
    for phrase in ENGLISH:
        assert _has(text, phrase), phrase
    for phrase in SWEDISH + RAW:
        assert not _has(text, phrase), phrase
    assert all('<html lang="en">' in page for page in pages.values())


def test_the_lang_cookie_keeps_the_console_english(console):
    client, notice = console
    client.set_cookie("lang", "en")
    text = visible_text(client.get(f"/console/notices/{notice.id}").get_data(as_text=True))
    assert "Pending approval" in text and "Väntar på godkännande" not in text


def test_the_login_page_in_both_languages(app):
    client = app.test_client()
    swedish = visible_text(client.get("/console/login").get_data(as_text=True))
    english = visible_text(client.get("/console/login?lang=en").get_data(as_text=True))
    assert "Logga in" in swedish and "Lösenord" in swedish and "Password" not in swedish
    assert "Log in" in english and "Password" in english and "Lösenord" not in english
    wrong = client.post(
        "/console/login?lang=en", data={"email": "nobody@test.varsla.se", "password": "x" * 12}
    )
    assert "Wrong email or password." in wrong.get_data(as_text=True)


def test_a_refused_action_says_why_in_the_readers_language(console):
    client, notice = console
    # The admin submitted it, so the two-person rule refuses the admin's approval.
    swedish = client.post(f"/console/notices/{notice.id}/approve", follow_redirects=True)
    assert "en annan godkännare måste godkänna det" in swedish.get_data(as_text=True)
    client.set_cookie("lang", "en")
    english = client.post(f"/console/notices/{notice.id}/approve", follow_redirects=True)
    assert "another approver must approve it" in english.get_data(as_text=True)


def test_console_times_are_stockholm_time(console):
    client, notice = console
    page = client.get("/console/").get_data(as_text=True)
    updated = notice.updated_at.astimezone(UTC)
    assert updated.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M") in page
    offset = datetime.now(STOCKHOLM).utcoffset()
    assert offset is not None and offset.total_seconds() > 0  # so UTC would differ

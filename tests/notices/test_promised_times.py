"""The two times a notice may promise residents — "Nästa besked senast 14:00" and "Beräknat klart
16:00" — in everything a resident, a news site or an aggregator receives."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from channels.base import to_local
from channels.cap import CAP_NS
from tests.delivery import create_subscriber, run_dispatcher
from tests.factories import api_headers, create_operator, create_zone, notice_payload

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd")))
NS = {"cap": CAP_NS}


def _clock(moment: datetime) -> str:
    """How a message names a time: "14:00", with "24 nov " before it on another day."""
    return rf"(\d{{1,2}} \w+ )?{to_local(moment):%H:%M}"


def _shows(text: str, lang: str, next_update: datetime, restoration: datetime) -> bool:
    """Both promises, worded in ``lang``, in ``text`` (a body, a page, a feed entry)."""
    words = {
        "sv": ("Nästa besked senast", "Beräknat klart"),
        "en": ("Next update by", "Expected restoration"),
    }[lang]
    return all(
        re.search(rf"{word} {_clock(moment)}\b", text)
        for word, moment in zip(words, (next_update, restoration), strict=True)
    )


def _times() -> tuple[datetime, datetime]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now + timedelta(hours=2), now + timedelta(hours=5)


def test_sms_email_feed_page_banner_and_cap_carry_the_promised_times(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    next_update, restoration = _times()
    create_subscriber(db_session, phone="+46701000001", email="anna@example.se", language="sv")
    create_subscriber(db_session, phone="+46701000002", email="ben@example.com", language="en")
    db_session.commit()
    notice = desk.publish(
        expires=(datetime.now(UTC) + timedelta(days=1)).isoformat(),
        next_update=next_update.isoformat(),
        expected_restoration=restoration.isoformat(),
    )
    run_dispatcher(dispatch_app, concurrency=1)

    sms = {m.to: m.body for m in fake_twilio.messages}
    sv_line = rf"Nästa besked senast {_clock(next_update)}\. Beräknat klart {_clock(restoration)}"
    en_line = rf"Next update by {_clock(next_update)}\. Expected restoration {_clock(restoration)}"
    assert re.match(rf"Koka vattnet i Gesunda\n{sv_line}\n", sms["+46701000001"])
    assert re.match(rf"Boil water in Gesunda\n{en_line}\n", sms["+46701000002"])

    mails = {m.rcpt_tos[0]: m.message for m in fake_smtp.received}
    anna, ben = mails["anna@example.se"], mails["ben@example.com"]
    for mail, lang in ((anna, "sv"), (ben, "en")):
        for part in ("plain", "html"):
            body = mail.get_body((part,)).get_content()
            assert _shows(body, lang, next_update, restoration), body

    client = dispatch_app.test_client()
    for lang in ("sv", "en"):
        feed = feedparser.parse(client.get(f"/feeds/notices.rss?lang={lang}").data)
        assert not feed.bozo
        (entry,) = feed.entries
        assert _shows(entry.description, lang, next_update, restoration), entry.description

    page = client.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert "Nästa besked senast" in page and "Beräknat klart" in page
    assert f"{to_local(next_update):%Y-%m-%d %H:%M}" in page
    assert f"{to_local(restoration):%Y-%m-%d %H:%M}" in page
    home = client.get("/?lang=en").get_data(as_text=True)
    assert _shows(home, "en", next_update, restoration)

    active = client.get("/api/v1/active?zone=gesunda&lang=sv").get_json()
    (item,) = active["items"]
    assert datetime.fromisoformat(item["next_update"]) == next_update
    assert datetime.fromisoformat(item["expected_restoration"]) == restoration
    assert re.match(sv_line, ". ".join(item["promises"]))
    banner = client.get("/banner?zone=gesunda&lang=en").get_data(as_text=True)
    assert _shows(banner, "en", next_update, restoration)

    cap = client.get(f"/cap/{notice.id}.xml")
    document = etree.fromstring(cap.data)
    assert SCHEMA.validate(document), SCHEMA.error_log
    for info in document.xpath("cap:info", namespaces=NS):
        parameters = {
            p.findtext("cap:valueName", namespaces=NS): p.findtext("cap:value", namespaces=NS)
            for p in info.xpath("cap:parameter", namespaces=NS)
        }
        assert datetime.fromisoformat(parameters["NextUpdate"]) == next_update
        assert datetime.fromisoformat(parameters["ExpectedRestoration"]) == restoration

    headers = api_headers(db_session, desk.author)
    db_session.commit()
    shown = client.get(f"/api/v1/notices/{notice.id}", headers=headers)
    assert shown.status_code == 200, shown.get_json()
    assert datetime.fromisoformat(shown.get_json()["next_update"]) == next_update
    revision = shown.get_json()["revisions"][0]
    assert datetime.fromisoformat(revision["expected_restoration"]) == restoration


def test_the_all_clear_promises_nothing(dispatch_app, db_session, desk, fake_twilio):
    next_update, restoration = _times()
    create_subscriber(db_session, phone="+46701000001", language="sv")
    db_session.commit()
    notice = desk.publish(
        next_update=next_update.isoformat(), expected_restoration=restoration.isoformat()
    )
    run_dispatcher(dispatch_app, concurrency=1)
    desk.cancel(notice)
    run_dispatcher(dispatch_app, concurrency=1)
    bodies = [m.body for m in fake_twilio.messages]
    assert len(bodies) == 2
    assert "Nästa besked" in bodies[0] and "Nästa besked" not in bodies[1]
    cap = dispatch_app.test_client().get(f"/cap/{notice.id}.xml").data
    assert b"NextUpdate" not in cap


@pytest.mark.parametrize(
    ("field", "offsets", "message"),
    [
        ("next_update", {"next_update": -1}, "future"),
        ("expected_restoration", {"expected_restoration": -1}, "future"),
        ("next_update", {"onset": 3, "next_update": 2}, "after onset"),
        ("expected_restoration", {"onset": 3, "expected_restoration": 2}, "after onset"),
        ("next_update", {"expires": 3, "next_update": 4}, "not be after"),
    ],
)
def test_the_api_refuses_a_promise_that_cannot_be_kept(app, session, field, offsets, message):
    create_zone(session)
    author = create_operator(session, "author")
    headers = api_headers(session, author)
    session.commit()
    now = datetime.now(UTC)
    times = {name: (now + timedelta(hours=h)).isoformat() for name, h in offsets.items()}
    response = app.test_client().post(
        "/api/v1/notices", json=notice_payload(**times), headers=headers
    )
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["field"] == field
    assert message in problem["detail"]


def test_an_expected_restoration_before_expiry_is_accepted(app, session):
    create_zone(session)
    author = create_operator(session, "author")
    headers = api_headers(session, author)
    session.commit()
    now = datetime.now(UTC)
    response = app.test_client().post(
        "/api/v1/notices",
        json=notice_payload(
            expires=(now + timedelta(hours=2)).isoformat(),
            expected_restoration=(now + timedelta(hours=1)).isoformat(),
        ),
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["next_update"] is None

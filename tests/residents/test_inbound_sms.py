"""Inbound SMS: every stop word stops deliveries, every start word resumes them, help words
answer; the words in every reply are words we accept; forgeries and replays change nothing."""

from __future__ import annotations

import itertools
import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from alerts.models import InboundMessage, Subscriber
from channels.providers.twilio import INBOUND_KEYWORDS, REPLY_WORDS, inbound_keyword
from tests.delivery import create_subscriber, run_dispatcher

URL = "http://varsla.test/webhooks/twilio/inbound"
PHONE = "+46709000001"
_sids = itertools.count(1)

STOP_WORDS = ["STOP", "STOPP", "SLUTA", "AVSLUTA", "AVREGISTRERA", "UNSUBSCRIBE", "CANCEL",
              "END", "QUIT"]  # fmt: skip
START_WORDS = ["START", "BÖRJA", "UNSTOP"]
HELP_WORDS = ["HJÄLP", "HELP", "INFO"]


def inbound(client, fake_twilio, body: str, *, sid: str | None = None, phone: str = PHONE,
            signature: str | None = None):  # fmt: skip
    params = {"From": phone, "To": "Gesunda", "Body": body, "MessageSid": sid or f"SM{next(_sids)}"}
    return client.post(
        "/webhooks/twilio/inbound",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature or fake_twilio.sign(URL, params)},
    )


def reply(response) -> str:
    found = re.search(r"<Message>(.*)</Message>", response.get_data(as_text=True))
    return found.group(1) if found else ""


@pytest.fixture
def resident(db_session):
    subscriber = create_subscriber(db_session, phone=PHONE)
    db_session.commit()
    return subscriber


def opted_out(db_session, resident) -> bool:
    db_session.expire_all()
    return db_session.get(Subscriber, resident.id).sms_opted_out_at is not None


def test_the_documented_words_are_the_accepted_words():
    for word in STOP_WORDS:
        assert word in INBOUND_KEYWORDS["stop"]
    for word in START_WORDS:
        assert word in INBOUND_KEYWORDS["start"]
    for word in HELP_WORDS:
        assert word in INBOUND_KEYWORDS["help"]


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("stopp", "stop"),
        ("  Stopp!  ", "stop"),
        ("STOPP.", "stop"),
        ("S.T.O.P.P", "stop"),
        ("sluta tack", "stop"),
        ("\tavregistrera\n", "stop"),
        ("börja", "start"),
        ("Börja!", "start"),
        ("hjälp?", "help"),
        ("Hej, när kommer vattnet tillbaka?", None),
        ("", None),
    ],
)
def test_words_are_read_whatever_the_case_whitespace_and_punctuation(body, kind):
    assert inbound_keyword(body) == kind


@pytest.mark.parametrize("word", STOP_WORDS)
def test_each_stop_word_stops_and_each_start_word_resumes(
    dispatch_app, db_session, resident, fake_twilio, word
):
    client = dispatch_app.test_client()
    answer = inbound(client, fake_twilio, word.lower() + "!")
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    assert "Du får inga fler sms från Mora kommun" in reply(answer)
    assert opted_out(db_session, resident)
    for start in START_WORDS:
        assert inbound(client, fake_twilio, start.capitalize()).status_code == 200
        assert not opted_out(db_session, resident), start
        inbound(client, fake_twilio, word)
        assert opted_out(db_session, resident)


def test_a_stopped_resident_gets_no_notice_and_a_resumed_one_does(
    dispatch_app, db_session, resident, desk, fake_twilio
):
    client = dispatch_app.test_client()
    inbound(client, fake_twilio, "STOPP")
    desk.publish()
    run_dispatcher(dispatch_app)
    assert [m.to for m in fake_twilio.messages] == []
    inbound(client, fake_twilio, "BÖRJA")
    desk.publish(texts={"sv": {"headline": "Vattnet är tillbaka i Gesunda"}})
    run_dispatcher(dispatch_app)
    [sms] = fake_twilio.messages
    assert sms.to == PHONE and "Vattnet är tillbaka i Gesunda" in sms.body


@pytest.mark.parametrize("word", HELP_WORDS)
def test_help_words_answer_who_sends_and_how_to_stop(
    dispatch_app, db_session, resident, fake_twilio, word
):
    answer = reply(inbound(dispatch_app.test_client(), fake_twilio, word))
    assert "Mora kommun skickar varningar" in answer
    assert "STOPP" in answer and "START" in answer
    assert "kundtjanst@mora.example" in answer
    assert not opted_out(db_session, resident)


def test_an_english_speaker_is_answered_in_english(dispatch_app, db_session, fake_twilio):
    create_subscriber(db_session, phone=PHONE, language="en")
    db_session.commit()
    answer = reply(inbound(dispatch_app.test_client(), fake_twilio, "help"))
    assert "Mora kommun sends alerts" in answer and "Reply STOP to stop" in answer


def test_every_reply_names_only_words_we_accept(dispatch_app):
    from alerts.config import settings
    from alerts.residents.inbound import reply_text

    accepted = set().union(*INBOUND_KEYWORDS.values())
    for language in REPLY_WORDS:
        for kind in ("stop", "start", "help"):
            text = reply_text(kind, language, settings(dispatch_app))
            # Words in capitals are what residents are asked to send.
            named = {w for w in re.findall(r"\b[A-ZÅÄÖ]{3,}\b", text)}
            assert named, text
            assert named <= accepted, (language, kind, text)


def test_a_stranger_writing_something_else_gets_no_reply_a_subscriber_gets_help(
    dispatch_app, db_session, resident, fake_twilio
):
    client = dispatch_app.test_client()
    assert reply(inbound(client, fake_twilio, "Hej!", phone="+46709000099")) == ""
    assert "STOPP" in reply(inbound(client, fake_twilio, "När kommer vattnet?"))


def test_a_forged_inbound_webhook_is_refused_and_changes_nothing(
    dispatch_app, db_session, resident, fake_twilio
):
    client = dispatch_app.test_client()
    assert inbound(client, fake_twilio, "STOPP", signature="Zm9yZ2Vk").status_code == 403
    unsigned = client.post("/webhooks/twilio/inbound", data={"From": PHONE, "Body": "STOPP"})
    assert unsigned.status_code == 403
    assert not opted_out(db_session, resident)


def test_a_replayed_inbound_message_changes_nothing(
    dispatch_app, db_session, resident, fake_twilio
):
    client = dispatch_app.test_client()
    inbound(client, fake_twilio, "STOPP", sid="SMstop")
    inbound(client, fake_twilio, "START", sid="SMstart")
    assert not opted_out(db_session, resident)
    replay = inbound(client, fake_twilio, "STOPP", sid="SMstop")
    assert replay.status_code == 200 and reply(replay) == ""
    assert not opted_out(db_session, resident)
    # Only the id is kept, never the number or the text.
    rows = db_session.execute(select(InboundMessage.sid, InboundMessage.keyword)).all()
    assert sorted(rows) == [("SMstart", "start"), ("SMstop", "stop")]


def test_stop_and_start_are_kept_as_consent_records(
    dispatch_app, db_session, resident, fake_twilio
):
    from alerts.models import Consent

    client = dispatch_app.test_client()
    inbound(client, fake_twilio, "STOPP")
    inbound(client, fake_twilio, "STOPP")  # already out: nothing new to record
    inbound(client, fake_twilio, "START")
    db_session.expire_all()
    records = db_session.execute(
        select(Consent.action, Consent.source, Consent.details).order_by(Consent.id)
    ).all()
    assert [(str(a), s, d) for a, s, d in records] == [
        ("withdrawn", "sms", {"channel": "sms"}),
        ("given", "sms", {"channel": "sms"}),
    ]

"""Script in a headline reaches residents as text, through the real worker, SMTP and Twilio."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.delivery import create_subscriber, run_dispatcher

HOSTILE = '<script>alert(1)</script> Koka vattnet "><img src=x onerror=alert(1)>'


class _Elements(HTMLParser):
    """Collects the element names and the text of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.text += data


def test_hostile_headline_arrives_as_text_in_email_and_sms(
    dispatch_app, db_session, desk, fake_twilio, fake_smtp
):
    create_subscriber(db_session, phone="+46701000001", email="anna@example.se", language="sv")
    db_session.commit()
    desk.publish(
        texts={"sv": {"headline": HOSTILE, "instruction": "Koka vattnet <b>noga</b>."}},
        channels=["sms", "email"],
    )
    counts = run_dispatcher(dispatch_app, concurrency=1)
    assert counts["accepted"] == 2

    mail = fake_smtp.received[0].message
    assert mail["Subject"] == HOSTILE  # a header is plain text: shown as written
    assert HOSTILE in mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    page = _Elements()
    page.feed(html)
    assert "script" not in page.tags and "img" not in page.tags and "b" not in page.tags
    assert HOSTILE in page.text and "Koka vattnet <b>noga</b>." in page.text

    (sms,) = fake_twilio.messages
    assert sms.body.startswith(HOSTILE)  # an SMS is plain text: the words themselves

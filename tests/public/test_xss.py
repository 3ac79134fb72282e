"""A headline with script in it is text everywhere it is shown: pages, feeds, CAP,
the banner fragment, the banner's JSON and the email built from the same notice."""

from __future__ import annotations

import json
import uuid

import feedparser
import lxml.html
import pytest
from lxml import etree

from alerts.extensions import db
from alerts.models import Notice
from alerts.public.queries import public_snapshot
from channels.base import Recipient
from channels.cap import CAP_NS
from channels.compose.email import compose_email
from tests.public.conftest import HOSTILE_HEADLINE

RAW = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
HOSTILE_TEXTS = {
    "sv": {
        "headline": HOSTILE_HEADLINE,
        "description": "Beskrivning </script><script>alert(2)</script>",
        "instruction": "Gör så här",
    },
    "en": {"headline": HOSTILE_HEADLINE, "description": "Described", "instruction": "Do this"},
}


@pytest.fixture
def hostile(newsroom) -> str:
    return newsroom.publish(texts=HOSTILE_TEXTS)


def assert_inert(body: bytes) -> None:
    text = body.decode("utf-8")
    for raw in RAW:
        assert raw not in text, f"{raw!r} unescaped"


@pytest.mark.parametrize("path", ["/", "/notices/{id}", "/archive?q=alert", "/?lang=en"])
def test_pages_show_it_as_text(client, hostile, path):
    response = client.get(path.format(id=hostile))
    assert response.status_code == 200
    assert_inert(response.data)
    tree = lxml.html.fromstring(response.data)
    assert HOSTILE_HEADLINE in tree.text_content()
    assert tree.xpath("//img") == []
    assert [s.get("src") for s in tree.xpath("//script[not(@type='application/json')]")] == [
        s.get("src") for s in tree.xpath("//script[@src]")
    ]
    for data in tree.xpath("//script[@type='application/json']"):
        features = json.loads(data.text)["features"]
        assert all(HOSTILE_HEADLINE in f["properties"]["headline"] for f in features)


@pytest.mark.parametrize("path", ["/feeds/notices.rss", "/feeds/notices.atom", "/feeds/cap.atom"])
def test_feeds_show_it_as_text(client, hostile, path):
    response = client.get(path)
    assert_inert(response.data)
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo
    assert parsed.entries[0].title == HOSTILE_HEADLINE


def test_cap_has_it_as_text(client, hostile):
    response = client.get(f"/cap/{hostile}.xml")
    assert_inert(response.data)
    document = etree.fromstring(response.data)
    assert document.findtext(f"{{{CAP_NS}}}info/{{{CAP_NS}}}headline") == HOSTILE_HEADLINE


def test_banner_fragment_and_json_show_it_as_text(client, hostile):
    fragment = client.get("/banner?zone=gesunda")
    assert_inert(fragment.data)
    assert HOSTILE_HEADLINE in lxml.html.fromstring(fragment.data).text_content()
    payload = client.get("/api/v1/active?zone=gesunda")
    assert b"<" not in payload.data  # inert even if someone pastes it into HTML
    assert payload.get_json()["items"][0]["headline"] == HOSTILE_HEADLINE


def test_email_shows_it_as_text(app, hostile):
    notice = db.session.get(Notice, uuid.UUID(hostile))
    message = compose_email(
        public_snapshot(db.session, notice),
        "sv",
        recipient=Recipient("anna@example.se"),
        reference="dlv-1",
        list_id="gesunda.varsla.test",
        manage_url="http://varsla.test/subscriptions/t",
        unsubscribe_url="http://varsla.test/subscriptions/t/end",
        one_click_url="http://varsla.test/unsubscribe/t",
    )
    assert_inert(message.html.encode())
    assert HOSTILE_HEADLINE in lxml.html.fromstring(message.html).text_content()
    assert HOSTILE_HEADLINE in message.body  # plain text is plain

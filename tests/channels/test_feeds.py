"""RSS and Atom feeds, as a feed reader or news site polling them sees them."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import feedparser
import lxml.html
import pytest
from lxml import etree

from channels.base import NoticeText
from channels.cap import CAP_NS
from channels.feeds import GEORSS_NS, FeedInfo, feed_urn, feed_validators, render_atom, render_rss
from tests.channels.snapshots import (
    GESUNDA_RING_LON_LAT,
    HOSTILE_HEADLINE,
    SENT,
    cancel,
    make_circle,
    make_snapshot,
    revise,
)

ATOM = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OTHER_ID = uuid.UUID("0b6e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b")


def feed_info(kind: str = "atom") -> FeedInfo:
    return FeedInfo(
        title="Varsla – Mora kommun",
        subtitle="Störningar i vatten, avlopp och trafik",
        feed_id=feed_urn("notices"),
        self_url=f"https://varsla.example/feeds/notices.{kind}",
        alternate_url="https://varsla.example/",
    )


def parse(body: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


def atom(snapshots, lang="sv"):
    return parse(render_atom(snapshots, feed=feed_info(), lang=lang))


def rss(snapshots, lang="sv"):
    return parse(render_rss(snapshots, feed=feed_info("rss"), lang=lang))


def test_rss_item_has_permanent_guid_link_date_description_and_category():
    snapshot = make_snapshot()
    body = render_rss([snapshot], feed=feed_info("rss"), lang="sv")
    parsed = parse(body)
    assert parsed.feed.title == "Varsla – Mora kommun"
    assert parsed.feed.link == "https://varsla.example/"
    assert parsed.feed.language == "sv"
    (entry,) = parsed.entries
    assert entry.id == f"urn:uuid:{snapshot.notice_id}"
    assert entry.guidislink is False
    assert entry.link == snapshot.url
    assert entry.title == "Koka vattnet i Gesunda"
    assert "Koka vattnet i minst en minut" in entry.summary
    assert [tag.term for tag in entry.tags] == ["Dricksvatten"]
    assert entry.published_parsed[:6] == (2026, 11, 24, 7, 15, 0)
    guid = etree.fromstring(body).find("channel/item/guid")
    assert guid.get("isPermaLink") == "false"


def test_atom_entry_carries_content_links_cap_fields_and_language():
    snapshot = make_snapshot()
    body = render_atom([snapshot], feed=feed_info(), lang="en")
    (entry,) = parse(body).entries
    assert entry.id == f"urn:uuid:{snapshot.notice_id}"
    assert entry.title == "Boil water in Gesunda"
    assert "Boil water for at least one minute" in entry.content[0].value
    assert entry.link == snapshot.url

    element = etree.fromstring(body).find(f"{ATOM}entry")
    assert element.get(XML_LANG) == "en"
    cap = {child.tag.split("}")[1]: child.text for child in element if CAP_NS in child.tag}
    assert cap == {
        "msgType": "Alert",
        "event": "Drinking water disruption",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "expires": "2026-11-27T08:15:00+01:00",
    }


def test_atom_entry_links_its_cap_document_with_rel_and_type():
    snapshot = make_snapshot()
    (entry,) = atom([snapshot]).entries
    related = [link for link in entry.links if link.rel == "related"]
    assert related == [{"rel": "related", "type": "application/cap+xml", "href": snapshot.cap_url}]
    alternate = [link for link in entry.links if link.rel == "alternate"]
    assert alternate[0]["type"] == "text/html"


def test_update_keeps_the_entry_id_changes_updated_and_marks_the_title():
    original = make_snapshot()
    update = revise(
        original,
        texts={
            "sv": NoticeText(headline="Koka vattnet i Gesunda och Vinäs"),
            "en": NoticeText(headline="Boil water in Gesunda and Vinäs"),
        },
    )
    (before,) = atom([original]).entries
    (after,) = atom([update]).entries
    assert after.id == before.id == f"urn:uuid:{original.notice_id}"
    assert after.updated_parsed > before.updated_parsed
    assert after.title == "Uppdaterad: Koka vattnet i Gesunda och Vinäs"
    assert after.published_parsed == before.published_parsed  # first published stays
    (english,) = rss([update], lang="en").entries
    assert english.id == before.id
    assert english.title == "Updated: Boil water in Gesunda and Vinäs"


@pytest.mark.parametrize(
    ("lang", "all_clear", "expired"),
    [("sv", "Avblåst: ", "Upphört: "), ("en", "All clear: ", "Expired: ")],
)
def test_ended_notices_are_marked(lang, all_clear, expired):
    cancelled = cancel(make_snapshot())
    lapsed = make_snapshot(notice_id=OTHER_ID, status="expired")
    for parsed in (atom([cancelled, lapsed], lang), rss([cancelled, lapsed], lang)):
        titles = {entry.id: entry.title for entry in parsed.entries}
        assert titles[f"urn:uuid:{cancelled.notice_id}"].startswith(all_clear)
        assert titles[f"urn:uuid:{lapsed.notice_id}"].startswith(expired)


def test_entries_come_newest_update_first():
    older = make_snapshot(notice_id=OTHER_ID)
    newer = revise(make_snapshot(), after=timedelta(minutes=5))
    oldest = make_snapshot(
        notice_id=uuid.uuid4(), sent=SENT - timedelta(days=1), updated=SENT - timedelta(days=1)
    )
    expected = [f"urn:uuid:{s.notice_id}" for s in (newer, older, oldest)]
    assert [e.id for e in atom([oldest, older, newer]).entries] == expected
    assert [e.id for e in rss([oldest, older, newer]).entries] == expected


def test_georss_polygon_and_circle_in_lat_lon_order():
    snapshot = make_snapshot(circles=(make_circle(),))
    body = render_atom([snapshot], feed=feed_info(), lang="sv")
    (entry,) = parse(body).entries
    assert entry.where["type"] == "Polygon"
    ring = entry.where["coordinates"][0]
    assert ring[0] == ring[-1] == (14.561235, 60.876543)  # feedparser gives lon, lat
    assert len(ring) == len(GESUNDA_RING_LON_LAT)
    element = etree.fromstring(body).find(f"{ATOM}entry")
    assert element.findtext(f"{{{GEORSS_NS}}}polygon").startswith("60.876543 14.561235 ")
    assert element.findtext(f"{{{GEORSS_NS}}}circle") == "60.8852 14.5801 800"
    (item,) = rss([snapshot]).entries
    assert item.where["type"] == "Polygon"


def test_identical_content_renders_identical_bytes_and_etag():
    first = [make_snapshot(), cancel(make_snapshot(notice_id=OTHER_ID))]
    again = [dataclasses.replace(s) for s in reversed(first)]
    for render, kind in ((render_atom, "atom"), (render_rss, "rss")):
        body = render(first, feed=feed_info(kind), lang="sv")
        assert render(again, feed=feed_info(kind), lang="sv") == body
        newest = max(s.updated for s in first)
        assert feed_validators(body, newest) == feed_validators(
            render(again, feed=feed_info(kind), lang="sv"), newest
        )
    changed = render_atom([revise(first[0]), first[1]], feed=feed_info(), lang="sv")
    assert (
        feed_validators(changed, SENT)[0]
        != feed_validators(render_atom(first, feed=feed_info(), lang="sv"), SENT)[0]
    )


def test_feed_updated_is_its_newest_entry_not_the_clock():
    newest = revise(make_snapshot(), after=timedelta(hours=5))
    parsed = atom([make_snapshot(notice_id=OTHER_ID), newest])
    assert parsed.feed.updated_parsed[:6] == (2026, 11, 24, 12, 15, 0)
    channel = etree.fromstring(render_rss([newest], feed=feed_info("rss"), lang="sv"))
    assert channel.findtext("channel/lastBuildDate") == "Tue, 24 Nov 2026 12:15:00 +0000"
    empty = atom([])
    assert empty.entries == []
    assert empty.feed.updated_parsed[:3] == (1970, 1, 1)


def test_feed_validators_give_strong_etag_and_http_date():
    etag, last_modified = feed_validators(
        b"<feed/>", datetime(2026, 11, 24, 8, 15, 30, 999, tzinfo=UTC)
    )
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert last_modified == "Tue, 24 Nov 2026 08:15:30 GMT"


def test_entry_falls_back_to_swedish_and_says_so():
    swedish_only = make_snapshot(texts={"sv": NoticeText(headline="Koka vattnet")})
    body = render_atom([swedish_only], feed=feed_info(), lang="en")
    document = etree.fromstring(body)
    assert document.get(XML_LANG) == "en"
    assert document.find(f"{ATOM}entry").get(XML_LANG) == "sv"
    assert parse(body).entries[0].title == "Koka vattnet"


def test_feed_id_must_be_a_permanent_uri():
    with pytest.raises(ValueError, match="urn:uuid"):
        FeedInfo(title="x", feed_id="https://varsla.example/feed", self_url="", alternate_url="")
    assert feed_urn("zones/gesunda") == feed_urn("zones/gesunda") != feed_urn("notices")


def _no_markup_elements(document) -> None:
    names = {etree.QName(element).localname for element in document.iter(etree.Element)}
    assert not names & {"script", "img"}


def test_script_in_headline_stays_text_in_atom_and_rss():
    hostile = make_snapshot(
        texts={
            "sv": NoticeText(
                headline=HOSTILE_HEADLINE,
                description=HOSTILE_HEADLINE,
                instruction="Koka vattnet.",
            )
        }
    )
    atom_body = render_atom([hostile], feed=feed_info(), lang="sv")
    document = etree.fromstring(atom_body)
    _no_markup_elements(document)
    entry = document.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == HOSTILE_HEADLINE
    assert entry.find(f"{ATOM}content").get("type") == "text"
    assert entry.findtext(f"{ATOM}content").startswith(HOSTILE_HEADLINE)
    assert atom([hostile]).entries[0].title == HOSTILE_HEADLINE

    rss_body = render_rss([hostile], feed=feed_info("rss"), lang="sv")
    document = etree.fromstring(rss_body)
    _no_markup_elements(document)
    item = document.find("channel/item")
    assert item.findtext("title") == HOSTILE_HEADLINE
    # <description> is HTML by convention: read as HTML it holds the headline as text.
    description = lxml.html.fragment_fromstring(item.findtext("description"), create_parent="div")
    assert not description.xpath("//script|//img")
    assert description.xpath("string(p[1])") == HOSTILE_HEADLINE


def test_notice_with_unusable_area_still_appears_without_geometry(caplog):
    too_many = [[14.5 + i * 0.0001, 60.8 + (i % 2) * 0.001] for i in range(300)]
    broken = make_snapshot(area_geojson_lon_lat={"type": "Polygon", "coordinates": [too_many]})
    (entry,) = atom([broken]).entries
    assert entry.title == "Koka vattnet i Gesunda"
    assert "where" not in entry
    assert "area left out" in caplog.text

"""CAP 1.2 documents: what an aggregator reading them would see, and the schema."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from channels.base import NoticeText
from channels.cap import (
    CAP_NS,
    MAX_POLYGON_POINTS,
    AreaError,
    cap_datetime,
    render_cap,
)
from channels.feeds import FeedInfo, feed_urn, render_cap_index
from tests.channels.snapshots import (
    GESUNDA_RING_LON_LAT,
    HOSTILE_HEADLINE,
    cancel,
    make_circle,
    make_snapshot,
    revise,
)

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd")))
NS = {"cap": CAP_NS}
CAP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
TIME_ELEMENTS = ("sent", "effective", "onset", "expires")

SECOND_RING_LON_LAT = [
    [14.70, 60.95],
    [14.72, 60.95],
    [14.72, 60.96],
    [14.70, 60.96],
    [14.70, 60.95],
]
MULTIPOLYGON = {
    "type": "MultiPolygon",
    "coordinates": [[GESUNDA_RING_LON_LAT], [SECOND_RING_LON_LAT]],
}


def valid_alert(body: bytes) -> etree._Element:
    """Parse a CAP document and fail with the schema's own words if it is invalid."""
    document = etree.fromstring(body)
    assert SCHEMA.validate(document), SCHEMA.error_log
    assert document.tag == f"{{{CAP_NS}}}alert"
    assert document.nsmap.get(None) == CAP_NS  # <alert xmlns="urn:oasis:...:cap:1.2">
    return document


def texts(document: etree._Element, path: str) -> list[str]:
    return [element.text for element in document.xpath(path, namespaces=NS)]


ORIGINAL = make_snapshot()
UPDATE = revise(ORIGINAL, severity="Moderate")
CANCEL = cancel(UPDATE)

DOCUMENTS = {
    "alert": ORIGINAL,
    "update": UPDATE,
    "cancel": CANCEL,
    "english only": make_snapshot(texts={"en": NoticeText(headline="Boil water")}),
    "polygon and circle": make_snapshot(circles=(make_circle(),)),
    "circle only": make_snapshot(area_geojson_lon_lat=None, circles=(make_circle(),)),
    "multipolygon": make_snapshot(area_geojson_lon_lat=MULTIPOLYGON),
    "zones only, no times": make_snapshot(
        area_geojson_lon_lat=None, onset=None, expires=None, url=""
    ),
    "roads": make_snapshot(category="roads", severity="Minor", urgency="Expected"),
}


@pytest.mark.parametrize("snapshot", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_every_document_validates_against_the_oasis_schema(snapshot):
    document = valid_alert(render_cap(snapshot))
    assert texts(document, "cap:status") == ["Actual"]
    assert texts(document, "cap:scope") == ["Public"]
    assert texts(document, "cap:msgType") == [snapshot.msg_type]
    assert texts(document, "cap:identifier") == [snapshot.identifier]


def test_alert_has_one_info_per_language_with_the_notice_fields():
    document = valid_alert(render_cap(ORIGINAL))
    assert texts(document, "cap:info/cap:language") == ["sv-SE", "en-US"]
    assert texts(document, "cap:info/cap:category") == ["Infra", "Infra"]
    assert texts(document, "cap:info/cap:headline") == [
        "Koka vattnet i Gesunda",
        "Boil water in Gesunda",
    ]
    assert texts(document, "cap:info/cap:severity") == ["Severe", "Severe"]
    assert texts(document, "cap:info/cap:urgency") == ["Immediate", "Immediate"]
    assert texts(document, "cap:info/cap:certainty") == ["Observed", "Observed"]
    assert texts(document, "cap:info/cap:responseType") == ["Prepare", "Prepare"]
    assert texts(document, "cap:info/cap:senderName") == ["Mora kommun", "Mora kommun"]
    assert texts(document, "cap:info/cap:web") == [ORIGINAL.url, ORIGINAL.url]
    assert texts(document, "cap:info/cap:area/cap:areaDesc") == ["Gesunda", "Gesunda"]
    assert texts(document, "cap:references") == []


def test_promised_times_are_parameters_in_swedish_local_time():
    promising = dataclasses.replace(
        ORIGINAL,
        next_update=datetime(2026, 11, 24, 13, 0, tzinfo=UTC),
        expected_restoration=datetime(2026, 11, 24, 15, 0, tzinfo=UTC),
    )
    document = valid_alert(render_cap(promising))
    for info in document.xpath("cap:info", namespaces=NS):
        assert texts(info, "cap:parameter/cap:valueName") == ["NextUpdate", "ExpectedRestoration"]
        assert texts(info, "cap:parameter/cap:value") == [
            "2026-11-24T14:00:00+01:00",
            "2026-11-24T16:00:00+01:00",
        ]
    assert texts(valid_alert(render_cap(ORIGINAL)), "cap:info/cap:parameter") == []


def test_update_and_cancel_reference_every_earlier_revision():
    update = valid_alert(render_cap(UPDATE))
    assert texts(update, "cap:references") == [
        f"varsla@mora.example,{ORIGINAL.identifier},2026-11-24T08:15:00+01:00"
    ]
    cancelled = valid_alert(render_cap(CANCEL))
    assert texts(cancelled, "cap:references")[0].split(" ") == [
        f"varsla@mora.example,{ORIGINAL.identifier},2026-11-24T08:15:00+01:00",
        f"varsla@mora.example,{UPDATE.identifier},2026-11-24T10:15:00+01:00",
    ]
    assert texts(cancelled, "cap:msgType") == ["Cancel"]
    assert texts(cancelled, "cap:info/cap:responseType") == ["AllClear", "AllClear"]
    assert texts(cancelled, "cap:info/cap:headline")[0] == "Vattnet i Gesunda går att dricka igen"


def test_update_without_references_is_refused():
    with pytest.raises(ValueError, match="reference"):
        render_cap(make_snapshot(msg_type="Update"))


def test_response_type_follows_category_and_instruction():
    roads = valid_alert(render_cap(DOCUMENTS["roads"]))
    assert set(texts(roads, "cap:info/cap:responseType")) == {"Avoid"}
    no_instruction = make_snapshot(texts={"sv": NoticeText(headline="Lågt tryck i ledningen")})
    assert texts(valid_alert(render_cap(no_instruction)), "cap:info/cap:responseType") == [
        "Monitor"
    ]


def test_times_are_swedish_local_with_offset_and_no_z():
    document = valid_alert(render_cap(UPDATE))
    for name in TIME_ELEMENTS:
        for value in texts(document, f"//cap:{name}"):
            assert CAP_TIME.match(value), value
            assert "Z" not in value
    assert texts(document, "cap:sent") == ["2026-11-24T10:15:00+01:00"]
    summer = datetime(2026, 6, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert cap_datetime(summer) == "2026-06-01T12:00:00+02:00"
    with pytest.raises(ValueError, match="naive"):
        cap_datetime(datetime(2026, 6, 1, 10, 0))


def test_polygon_is_closed_lat_lon_with_at_most_six_decimals():
    document = valid_alert(render_cap(DOCUMENTS["polygon and circle"]))
    polygons = texts(document, "cap:info[1]/cap:area/cap:polygon")
    assert len(polygons) == 1
    pairs = polygons[0].split(" ")
    assert pairs[0] == pairs[-1]
    assert len(pairs) <= MAX_POLYGON_POINTS
    assert pairs[0] == "60.876543,14.561235"  # lat first, rounded to six decimals
    for pair in pairs:
        lat, lon = pair.split(",")
        assert 55 < float(lat) < 70 and 10 < float(lon) < 25
        assert all(len(part.partition(".")[2]) <= 6 for part in (lat, lon))
    assert texts(document, "cap:info[1]/cap:area/cap:circle") == ["60.8852,14.5801 0.8"]


def test_multipolygon_becomes_one_cap_polygon_per_part():
    document = valid_alert(render_cap(DOCUMENTS["multipolygon"]))
    polygons = texts(document, "cap:info[1]/cap:area/cap:polygon")
    assert len(polygons) == 2
    assert polygons[1] == "60.95,14.7 60.95,14.72 60.96,14.72 60.96,14.7 60.95,14.7"


def test_open_ring_is_closed():
    open_ring = GESUNDA_RING_LON_LAT[:-1]
    snapshot = make_snapshot(area_geojson_lon_lat={"type": "Polygon", "coordinates": [open_ring]})
    pairs = texts(valid_alert(render_cap(snapshot)), "cap:info[1]/cap:area/cap:polygon")[0]
    assert pairs.split(" ")[0] == pairs.split(" ")[-1]


def test_unsimplified_or_swapped_area_is_refused():
    ring = [[14.5 + i * 0.0001, 60.8 + (i % 2) * 0.001] for i in range(MAX_POLYGON_POINTS + 10)]
    ring.append(ring[0])
    with pytest.raises(AreaError, match="simplify"):
        render_cap(make_snapshot(area_geojson_lon_lat={"type": "Polygon", "coordinates": [ring]}))
    swapped = [[lat, lon + 100] for lon, lat in GESUNDA_RING_LON_LAT]
    with pytest.raises(AreaError, match="lon/lat"):
        render_cap(
            make_snapshot(area_geojson_lon_lat={"type": "Polygon", "coordinates": [swapped]})
        )


def test_script_in_headline_is_text_in_cap():
    hostile = make_snapshot(
        texts={"sv": NoticeText(headline=HOSTILE_HEADLINE, instruction=HOSTILE_HEADLINE)}
    )
    body = render_cap(hostile)
    document = valid_alert(body)
    assert texts(document, "cap:info/cap:headline") == [HOSTILE_HEADLINE]
    assert texts(document, "cap:info/cap:instruction") == [HOSTILE_HEADLINE]
    assert not document.xpath("//*[local-name()='script' or local-name()='img']")
    assert b"<script>" not in body


def test_cap_index_has_one_entry_per_revision_linking_its_cap_document():
    feed = FeedInfo(
        title="Varsla CAP",
        feed_id=feed_urn("cap"),
        self_url="https://varsla.example/feeds/cap.atom",
        alternate_url="https://varsla.example/",
    )
    body = render_cap_index([ORIGINAL, UPDATE, CANCEL], feed=feed)
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 3
    assert len({entry.id for entry in parsed.entries}) == 3
    newest = parsed.entries[0]
    assert newest.title == "Avblåst: Vattnet i Gesunda går att dricka igen"
    cap_links = [link for link in newest.links if link.get("type") == "application/cap+xml"]
    assert cap_links == [
        {"href": CANCEL.cap_url, "rel": "alternate", "type": "application/cap+xml"}
    ]
    document = etree.fromstring(body)
    atom = "{http://www.w3.org/2005/Atom}"
    entries = document.findall(f"{atom}entry")
    assert [e.findtext(f"{{{CAP_NS}}}msgType") for e in entries] == ["Cancel", "Update", "Alert"]
    assert [e.findtext(f"{{{CAP_NS}}}identifier") for e in entries] == [
        CANCEL.identifier,
        UPDATE.identifier,
        ORIGINAL.identifier,
    ]
    assert entries[2].findtext(f"{{{CAP_NS}}}sent") == "2026-11-24T08:15:00+01:00"
    assert body == render_cap_index([CANCEL, ORIGINAL, UPDATE], feed=feed)


def test_values_outside_the_cap_vocabulary_are_refused():
    with pytest.raises(ValueError, match="severity"):
        render_cap(make_snapshot(severity="severe"))
    with pytest.raises(ValueError, match="identifier"):
        render_cap(make_snapshot(identifier="two words"))


def test_an_exercise_says_so_in_status_and_stays_valid():
    document = render_cap(dataclasses.replace(make_snapshot(), exercise=True))
    assert SCHEMA.validate(etree.fromstring(document))
    assert b"<status>Exercise</status>" in document
    assert b"<status>Actual</status>" in render_cap(make_snapshot())

"""CAP 1.2 over HTTP: every revision's document validates and Update/Cancel reference
their originals; the Atom index lists them; nothing unpublished is served."""

from __future__ import annotations

from pathlib import Path

import feedparser
import pytest
from lxml import etree

from channels.cap import CAP_NS

XSD = Path(__file__).parents[1] / "data" / "CAP-v1.2.xsd"
C = f"{{{CAP_NS}}}"
BASE = "http://varsla.test"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def cap(client, path: str, schema: etree.XMLSchema) -> etree._Element:
    response = client.get(path)
    assert response.status_code == 200, response.data[:300]
    assert response.content_type == "application/cap+xml; charset=utf-8"
    assert response.headers["ETag"]
    document = etree.fromstring(response.data)
    schema.assertValid(document)
    return document


def test_every_revision_validates_and_later_ones_reference_the_earlier(client, newsroom, schema):
    nid = newsroom.publish()
    newsroom.update(nid, texts={"sv": {"headline": "Koka vattnet i Gesunda och Sollerön"}})
    newsroom.all_clear(nid)

    alert = cap(client, f"/cap/{nid}/1.xml", schema)
    update = cap(client, f"/cap/{nid}/2.xml", schema)
    cancel = cap(client, f"/cap/{nid}/3.xml", schema)
    assert [d.findtext(f"{C}msgType") for d in (alert, update, cancel)] == [
        "Alert",
        "Update",
        "Cancel",
    ]
    ids = [d.findtext(f"{C}identifier") for d in (alert, update, cancel)]
    sent = [d.findtext(f"{C}sent") for d in (alert, update, cancel)]
    sender = alert.findtext(f"{C}sender")
    assert alert.find(f"{C}references") is None
    assert update.findtext(f"{C}references") == f"{sender},{ids[0]},{sent[0]}"
    assert cancel.findtext(f"{C}references") == (
        f"{sender},{ids[0]},{sent[0]} {sender},{ids[1]},{sent[1]}"
    )
    info = cancel.find(f"{C}info")
    assert info.findtext(f"{C}responseType") == "AllClear"
    assert alert.find(f"{C}info").findtext(f"{C}web") == f"{BASE}/notices/{nid}"

    latest = client.get(f"/cap/{nid}.xml")
    assert latest.data == client.get(f"/cap/{nid}/3.xml").data
    again = client.get(f"/cap/{nid}.xml", headers={"If-None-Match": latest.headers["ETag"]})
    assert again.status_code == 304


def test_unpublished_revisions_and_notices_are_not_served(client, newsroom):
    nid = newsroom.publish()
    newsroom.propose_update(nid, texts={"sv": {"headline": "Ännu inte godkänd"}})
    assert client.get(f"/cap/{nid}/1.xml").status_code == 200
    assert client.get(f"/cap/{nid}/2.xml").status_code == 404  # waiting for approval
    assert b"inte godk" not in client.get(f"/cap/{nid}.xml").data
    assert client.get(f"/cap/{newsroom.draft()}.xml").status_code == 404
    scheduled = newsroom.schedule()
    assert client.get(f"/cap/{scheduled}.xml").status_code == 404
    assert client.get(f"/cap/{scheduled}/1.xml").status_code == 404
    assert client.get("/cap/not-a-uuid.xml").status_code == 404
    assert client.get("/cap/0b6e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b.xml").status_code == 404


def test_cap_index_lists_every_published_revision(client, newsroom, schema):
    first = newsroom.publish()
    newsroom.update(first, texts={"sv": {"headline": "Koka vattnet i hela Gesunda"}})
    second = newsroom.publish(area={"zones": ["bergkarlas"]})
    newsroom.schedule()
    response = client.get("/feeds/cap.atom")
    assert response.content_type == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    documents = sorted(
        link.href
        for entry in parsed.entries
        for link in entry.links
        if link.rel == "alternate" and link.type == "application/cap+xml"
    )
    assert documents == sorted(
        [f"{BASE}/cap/{first}/1.xml", f"{BASE}/cap/{first}/2.xml", f"{BASE}/cap/{second}/1.xml"]
    )
    titles = {entry.title for entry in parsed.entries}
    # The first revision reads as it did then, not as "Uppdaterad".
    assert "Koka vattnet i Gesunda" in titles
    assert "Uppdaterad: Koka vattnet i hela Gesunda" in titles
    for href in documents:
        cap(client, href.removeprefix(BASE), schema)
    etag = response.headers["ETag"]
    assert client.get("/feeds/cap.atom", headers={"If-None-Match": etag}).status_code == 304

"""RSS and Atom over HTTP, as a news site's poller sees them."""

from __future__ import annotations

import feedparser
import pytest

from alerts.config import settings
from tests.public.conftest import BERGKARLAS_TEXTS, age_notice

BASE = "http://varsla.test"


def fetch(client, path: str, **headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.data[:300]
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return response, parsed


def by_id(parsed) -> dict:
    return {entry.id: entry for entry in parsed.entries}


@pytest.mark.parametrize(
    ("kind", "media_type"),
    [("rss", "application/rss+xml"), ("atom", "application/atom+xml")],
)
def test_feed_lists_public_notices_only(client, newsroom, kind, media_type):
    active = newsroom.publish()
    draft = newsroom.draft()
    scheduled = newsroom.schedule()
    response, parsed = fetch(client, f"/feeds/notices.{kind}")
    assert response.content_type == f"{media_type}; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert list(by_id(parsed)) == [f"urn:uuid:{active}"]
    (entry,) = parsed.entries
    assert entry.title == "Koka vattnet i Gesunda"
    assert entry.link == f"{BASE}/notices/{active}"
    assert draft not in response.get_data(as_text=True)
    assert scheduled not in response.get_data(as_text=True)


def test_update_keeps_the_entry_id_changes_updated_and_marks_the_title(client, newsroom):
    nid = newsroom.publish()
    _, before = fetch(client, "/feeds/notices.atom")
    newsroom.update(nid, texts={"sv": {"headline": "Koka vattnet i Gesunda och Sollerön"}})
    _, after = fetch(client, "/feeds/notices.atom")
    (old,), (new,) = before.entries, after.entries
    assert old.id == new.id == f"urn:uuid:{nid}"
    assert new.title == "Uppdaterad: Koka vattnet i Gesunda och Sollerön"
    assert new.updated_parsed >= old.updated_parsed
    assert new.updated != old.updated or new.title != old.title
    _, rss = fetch(client, "/feeds/notices.rss")
    assert rss.entries[0].id == f"urn:uuid:{nid}"


def test_all_clear_is_marked_then_dropped_after_retention(client, newsroom, session, app):
    nid = newsroom.publish()
    newsroom.all_clear(nid)
    _, parsed = fetch(client, "/feeds/notices.atom")
    (entry,) = parsed.entries
    assert entry.id == f"urn:uuid:{nid}"
    assert entry.title.startswith("Avblåst: ")

    days = settings(app).feed_retention_days
    age_notice(session, nid, days=days - 0.5)
    assert len(fetch(client, "/feeds/notices.atom")[1].entries) == 1
    age_notice(session, nid, days=days + 0.5)
    response, parsed = fetch(client, "/feeds/notices.atom")
    assert parsed.entries == []
    # The feed changed when the notice left it, so Last-Modified is not older than that.
    assert response.last_modified is not None
    assert client.get(f"/notices/{nid}").status_code == 200  # the archive keeps it


def test_conditional_get_answers_304_until_something_changes(client, newsroom):
    nid = newsroom.publish()
    first = client.get("/feeds/notices.atom")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]

    repeat = client.get("/feeds/notices.atom", headers={"If-None-Match": etag})
    assert repeat.status_code == 304
    assert repeat.data == b""
    assert repeat.headers["ETag"] == etag
    assert (
        client.get("/feeds/notices.atom", headers={"If-Modified-Since": modified}).status_code
        == 304
    )
    assert (
        client.get("/feeds/notices.atom", headers={"If-None-Match": '"other"'}).status_code == 200
    )

    newsroom.update(nid, texts={"sv": {"headline": "Koka vattnet i hela Gesunda"}})
    changed = client.get("/feeds/notices.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200  # never stale after a change
    assert changed.headers["ETag"] != etag
    assert b"Koka vattnet i hela Gesunda" in changed.data


def test_atom_entry_links_the_cap_document(client, newsroom):
    nid = newsroom.publish()
    _, parsed = fetch(client, "/feeds/notices.atom")
    (entry,) = parsed.entries
    cap = [link for link in entry.links if link.rel == "related"]
    assert [(link.type, link.href) for link in cap] == [
        ("application/cap+xml", f"{BASE}/cap/{nid}/1.xml")
    ]
    document = client.get(cap[0].href.removeprefix(BASE))
    assert document.status_code == 200
    assert document.content_type == "application/cap+xml; charset=utf-8"


def test_zone_feed_has_that_zones_notices_only(client, newsroom):
    gesunda = newsroom.publish()
    bergkarlas = newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]})
    drawn = newsroom.publish(
        texts=BERGKARLAS_TEXTS,
        area={
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [14.40, 60.93],
                        [14.41, 60.93],
                        [14.41, 60.935],
                        [14.40, 60.935],
                        [14.40, 60.93],
                    ]
                ],
            }
        },
    )
    for kind in ("rss", "atom"):
        _, parsed = fetch(client, f"/feeds/zones/gesunda.{kind}")
        assert set(by_id(parsed)) == {f"urn:uuid:{gesunda}"}
        assert "Gesunda" in parsed.feed.title
        _, parsed = fetch(client, f"/feeds/zones/bergkarlas.{kind}")
        assert set(by_id(parsed)) == {f"urn:uuid:{bergkarlas}", f"urn:uuid:{drawn}"}
    assert client.get("/feeds/zones/nowhere.atom").status_code == 404
    assert client.get("/feeds/zones/gesunda.json").status_code == 404


def test_category_and_language_filters(client, newsroom):
    water = newsroom.publish()
    roads = newsroom.publish(category="roads", severity="Moderate", texts=BERGKARLAS_TEXTS)
    _, parsed = fetch(client, "/feeds/notices.atom?category=roads")
    assert set(by_id(parsed)) == {f"urn:uuid:{roads}"}
    _, parsed = fetch(client, "/feeds/notices.rss?category=water&lang=en")
    assert set(by_id(parsed)) == {f"urn:uuid:{water}"}
    assert parsed.entries[0].title == "Boil water in Gesunda"
    assert parsed.feed.language == "en"
    assert client.get("/feeds/notices.atom?category=volcano").status_code == 400
    # Different filters are different feeds with different ids.
    plain = fetch(client, "/feeds/notices.atom")[1].feed.id
    assert plain != fetch(client, "/feeds/notices.atom?category=water")[1].feed.id
    assert plain != fetch(client, "/feeds/notices.atom?lang=en")[1].feed.id

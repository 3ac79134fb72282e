"""The public read path in a crisis: answers from bytes rendered once per change, fresh
after every publish or passing expiry, 304s without rendering, feeds bounded in size with
their history in RFC 5005 archive pages, and no bytes shared between languages or zones."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from sqlalchemy import select, update

from alerts.models import Notice, Operator
from alerts.notices import operations as services
from alerts.notices.models import NoticeRevision
from alerts.notices.schemas import CancelIn, NoticeIn
from alerts.public import readpath
from alerts.public.feed_views import MAX_FEED_BYTES
from alerts.public.serving import read_cache
from tests.public.conftest import BERGKARLAS_TEXTS, age_notice


def parsed(response):
    assert response.status_code == 200, response.data[:300]
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def entry_ids(response) -> list[str]:
    return [entry.id for entry in parsed(response).entries]


def active_ids(client, query: str = "") -> list[str]:
    response = client.get(f"/api/v1/active{query}")
    assert response.status_code == 200
    return [item["id"] for item in response.get_json()["items"]]


def test_a_publish_changes_the_version_and_the_next_request_shows_it(client, newsroom, session):
    first = newsroom.publish()
    before = readpath.content_version(session)
    assert entry_ids(client.get("/feeds/notices.atom")) == [f"urn:uuid:{first}"]
    assert active_ids(client) == [first]
    assert first in client.get("/").get_data(as_text=True)

    second = newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]})
    session.rollback()
    assert readpath.content_version(session) != before
    assert f"urn:uuid:{second}" in entry_ids(client.get("/feeds/notices.atom"))
    assert f"urn:uuid:{second}" in entry_ids(client.get("/feeds/notices.rss"))
    assert second in active_ids(client)
    assert "Vattenavstängning i Bergkarlås" in client.get("/").get_data(as_text=True)

    newsroom.all_clear(first)
    assert first not in active_ids(client)
    page = client.get(f"/notices/{first}").get_data(as_text=True)
    assert "Avblåst" in page


def test_a_passing_expiry_drops_the_notice_with_no_write(client, newsroom, session):
    nid = newsroom.publish()
    expires = datetime.now(UTC) + timedelta(seconds=2)
    # Arranged as the publish would have stored it; from here on nothing is written.
    session.execute(update(Notice).where(Notice.id == uuid.UUID(nid)).values(expires=expires))
    session.execute(
        update(NoticeRevision)
        .where(NoticeRevision.notice_id == uuid.UUID(nid))
        .values(expires=expires)
    )
    session.commit()
    assert active_ids(client) == [nid]
    assert active_ids(client, "?zone=gesunda") == [nid]
    assert parsed(client.get("/feeds/notices.atom")).entries[0].title == "Koka vattnet i Gesunda"
    version = readpath.content_version(session)

    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
    session.rollback()
    assert readpath.content_version(session) == version  # no write happened
    assert active_ids(client) == []
    assert active_ids(client, "?zone=gesunda") == []
    (entry,) = parsed(client.get("/feeds/notices.atom")).entries
    assert entry.title == "Upphört: Koka vattnet i Gesunda"
    banner = client.get("/banner?zone=gesunda").get_data(as_text=True)
    assert "Koka vattnet i Gesunda" not in banner


def test_a_304_with_the_right_etag_renders_nothing(app, client, newsroom):
    nid = newsroom.publish()
    paths = ("/feeds/notices.atom", "/feeds/notices.rss", "/api/v1/active", "/",
             "/feeds/cap.atom", f"/cap/{nid}.xml", f"/cap/{nid}/1.xml")  # fmt: skip
    for path in paths:
        before = read_cache(app).renders
        first = client.get(path)
        assert first.status_code == 200
        assert read_cache(app).renders == before + 1, path  # rendered once, then kept
        assert first.headers["Cache-Control"].startswith("public, max-age=")
        renders = read_cache(app).renders
        for _ in range(3):
            repeat = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
            assert repeat.status_code == 304
            assert repeat.data == b""
            assert repeat.headers["ETag"] == first.headers["ETag"]
        again = client.get(path)
        assert again.data == first.data
        assert read_cache(app).renders == renders, path


def _publish_many(session, count: int, *, ended: int, aged: int) -> list[str]:
    """``count`` notices through the services; the last ``ended`` given the all-clear,
    ``aged`` of those ended long ago (out of the retention window)."""
    author = session.scalar(select(Operator).where(Operator.role == "author"))
    approver = session.scalar(select(Operator).where(Operator.role == "approver"))
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    ids = []
    for n in range(count):
        data = NoticeIn.model_validate(
            {
                "category": "water" if n % 3 else "roads",
                "severity": ("Severe", "Moderate", "Minor")[n % 3],
                "urgency": "Immediate",
                "certainty": "Observed",
                "texts": {
                    "sv": {
                        "headline": f"Koka vattnet i Gesunda (nr {n})",
                        "description": "Prover visar bakterier i dricksvattnet. "
                        "Kommunen spolar ledningarna och tar nya prover.",
                        "instruction": "Koka vatten till dryck och matlagning.",
                    },
                    "en": {
                        "headline": f"Boil water in Gesunda (no {n})",
                        "description": "Samples show bacteria in the water.",
                        "instruction": "Boil water for drinking and cooking.",
                    },
                },
                "area": {"zones": ["gesunda" if n % 2 else "bergkarlas"]},
                "expires": expires,
            }
        )
        notice = services.create_notice(session, data, by=author)
        services.submit_notice(session, notice, by=author)
        services.approve_notice(session, notice, by=approver)
        services.publish_notice(session, notice, by=approver)
        if n < ended:
            services.cancel_notice(session, notice, CancelIn(), by=author)
            services.approve_notice(session, notice, by=approver)
            services.publish_notice(session, notice, by=approver)
        ids.append(str(notice.id))
        if n % 100 == 99:
            session.commit()
    session.commit()
    for nid in ids[:aged]:
        session.execute(
            update(Notice)
            .where(Notice.id == uuid.UUID(nid))
            .values(ended_at=datetime.now(UTC) - timedelta(days=60))
        )
    session.commit()
    return ids


def _follow_archives(client, path: str) -> tuple[list[str], list[feedparser.FeedParserDict]]:
    """Every entry id from the current document back through ``prev-archive`` links."""
    ids: list[str] = []
    documents = []
    url: str | None = path
    seen_urls = set()
    while url:
        assert url not in seen_urls, f"archive links loop at {url}"
        seen_urls.add(url)
        response = client.get(url)
        assert len(response.data) <= MAX_FEED_BYTES, (url, len(response.data))
        feed = parsed(response)
        documents.append(feed)
        ids += [entry.id for entry in feed.entries]
        links = {link.rel: link.href for link in feed.feed.get("links", [])}
        previous = links.get("prev-archive")
        url = previous.removeprefix("http://varsla.test") if previous else None
    return ids, documents


def test_feeds_at_a_thousand_notices_stay_bounded_and_archives_hold_each_once(
    client, newsroom, session
):
    ids = _publish_many(session, 1000, ended=150, aged=100)
    public = {f"urn:uuid:{nid}" for nid in ids}

    for kind in ("atom", "rss"):
        current = client.get(f"/feeds/notices.{kind}")
        assert len(current.data) <= MAX_FEED_BYTES
        every, documents = _follow_archives(client, f"/feeds/notices.{kind}")
        assert len(every) == len(set(every)) == 1000, kind  # each notice exactly once
        assert set(every) == public
        assert len(documents) == 11  # the current document and ten pages of 100
        # The current document keeps the notices that changed last (none long ended).
        in_current = {entry.id for entry in documents[0].entries}
        assert not in_current & {f"urn:uuid:{nid}" for nid in ids[:100]}

    # The oldest page holds only notices ended long ago: it never changes again.
    oldest = client.get("/feeds/notices/archive/1.atom")
    assert oldest.headers["Cache-Control"] == "public, max-age=86400, immutable"
    links = {link.rel: link.href for link in parsed(oldest).feed.links}
    assert links["current"] == "http://varsla.test/feeds/notices.atom"
    assert links["next-archive"] == "http://varsla.test/feeds/notices/archive/2.atom"
    assert "prev-archive" not in links
    assert b"<fh:archive/>" in oldest.data
    assert client.get("/feeds/notices/archive/99.atom").status_code == 404

    # A zone's feed and the CAP index are bounded and paged the same way.
    zone, _ = _follow_archives(client, "/feeds/zones/gesunda.rss")
    assert sorted(zone) == sorted(f"urn:uuid:{nid}" for n, nid in enumerate(ids) if n % 2)
    cap, _ = _follow_archives(client, "/feeds/cap.atom")
    assert len(cap) == len(set(cap)) == 1000 + 150  # one entry per published revision


def test_caches_never_share_bytes_between_languages_or_zones(client, newsroom, app):
    gesunda = newsroom.publish()
    bergkarlas = newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]})
    for _ in range(2):  # the second round is served from the cache
        sv, en = (parsed(client.get(f"/feeds/notices.atom?lang={lang}")) for lang in ("sv", "en"))
        assert {e.title for e in sv.entries} == {
            "Koka vattnet i Gesunda",
            "Vattenavstängning i Bergkarlås",
        }
        assert {e.title for e in en.entries} == {
            "Boil water in Gesunda",
            "Water shut-off in Bergkarlås",
        }
        assert entry_ids(client.get("/feeds/zones/gesunda.atom")) == [f"urn:uuid:{gesunda}"]
        assert entry_ids(client.get("/feeds/zones/bergkarlas.atom")) == [f"urn:uuid:{bergkarlas}"]
        assert active_ids(client, "?zone=gesunda") == [gesunda]
        assert active_ids(client, "?zone=bergkarlas") == [bergkarlas]
        labels = {
            lang: client.get(f"/api/v1/active?lang={lang}").get_json()["items"][0]["severity_label"]
            for lang in ("sv", "en")
        }
        assert labels == {"sv": "Allvarligt", "en": "Severe"}
        # Pages: the language comes from ?lang or the cookie that remembers it.
        reader = app.test_client()
        reader.set_cookie("lang", "en")
        english = reader.get("/")
        swedish = app.test_client().get("/")
        assert "Boil water in Gesunda" in english.get_data(as_text=True)
        assert "Koka vattnet i Gesunda" in swedish.get_data(as_text=True)
        assert "Boil water in Gesunda" not in swedish.get_data(as_text=True)
        assert english.headers["ETag"] != swedish.headers["ETag"]
        assert "Cookie" in english.headers["Vary"]


def test_a_bad_record_cannot_take_a_feed_down(client, newsroom, session, caplog):
    good = newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]})
    bad = newsroom.publish()
    # A record broken behind the application's back: an area no shape can be made of.
    session.execute(
        update(NoticeRevision)
        .where(NoticeRevision.notice_id == uuid.UUID(bad))
        .values(area_geojson={"type": "Polygon", "coordinates": "not coordinates"})
    )
    session.execute(
        update(Notice)
        .where(Notice.id == uuid.UUID(bad))
        .values(updated_at=datetime.now(UTC) + timedelta(seconds=1))
    )
    session.commit()
    for path in ("/feeds/notices.atom", "/feeds/notices.rss", "/feeds/cap.atom"):
        assert f"urn:uuid:{good}" in " ".join(entry_ids(client.get(path))) or path.endswith(
            "cap.atom"
        )
    assert active_ids(client) == [good]
    assert client.get("/").status_code == 200
    assert "cannot be shown" in caplog.text


def test_an_ended_notice_leaving_the_window_leaves_the_current_feed(client, newsroom, session, app):
    nid = newsroom.publish()
    newsroom.all_clear(nid)
    assert entry_ids(client.get("/feeds/notices.atom")) == [f"urn:uuid:{nid}"]
    age_notice(session, nid, days=60)
    assert entry_ids(client.get("/feeds/notices.atom")) == []
    archived, _ = _follow_archives(client, "/feeds/notices.atom")
    assert archived == [f"urn:uuid:{nid}"]


@pytest.mark.postgres
def test_a_change_committed_late_is_not_hidden_by_a_later_one(client, newsroom, app):
    """An all-clear written early and committed after another publish (a long fan-out)
    still shows: the version counts commits, not timestamps."""
    from alerts.extensions import db

    first = newsroom.publish()
    assert entry_ids(client.get("/feeds/notices.atom")) == [f"urn:uuid:{first}"]
    slow = db.sessionmaker()
    try:
        slow.execute(
            update(Notice)
            .where(Notice.id == uuid.UUID(first))
            .values(status="cancelled", ended_at=datetime.now(UTC), updated_at=datetime.now(UTC))
        )
        second = newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]})
        feed = parsed(client.get("/feeds/notices.atom"))
        assert {e.id for e in feed.entries} == {f"urn:uuid:{first}", f"urn:uuid:{second}"}
        assert not any(e.title.startswith("Avblåst") for e in feed.entries)
        slow.commit()
    finally:
        slow.close()
    titles = {e.id: e.title for e in parsed(client.get("/feeds/notices.atom")).entries}
    assert titles[f"urn:uuid:{first}"].startswith("Avblåst: ")
    assert active_ids(client) == [second]

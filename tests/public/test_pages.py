"""Public pages as a resident reads them: current notices, one notice, the archive,
the accessibility statement, Swedish by default and English on request."""

from __future__ import annotations

import itertools
import json
import re

import lxml.html

from tests.public.conftest import BERGKARLAS_TEXTS


def page(client, path: str, **kw):
    response = client.get(path, **kw)
    assert response.status_code == 200, response.data[:300]
    assert response.content_type == "text/html; charset=utf-8"
    return response, lxml.html.fromstring(response.data)


def text_of(tree) -> str:
    return " ".join(tree.text_content().split())


def test_home_lists_active_notices_with_map_data_and_how_to_subscribe(client, newsroom):
    severe = newsroom.publish()
    newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]}, severity="Minor")
    ended = newsroom.publish(texts={"sv": {"headline": "Avslutad störning"}})
    newsroom.all_clear(ended, texts={"sv": {"headline": "Vattnet går att dricka igen"}})
    newsroom.draft(texts={"sv": {"headline": "Hemligt utkast"}})
    response, tree = page(client, "/")
    assert tree.get("lang") == "sv"
    body = text_of(tree)
    assert tree.xpath("string(//h1)") == "Aktuella störningar"
    active_heads = tree.xpath("//section[@aria-labelledby='active-heading']//h3//text()")
    assert active_heads == ["Koka vattnet i Gesunda", "Vattenavstängning i Bergkarlås"]
    assert "Allvarligt" in body and "Information" in body  # severity in words
    assert "Nyligen avslutade" in body and "Vattnet går att dricka igen" in body
    assert "Hemligt utkast" not in body
    # The home page invites sign-up and links the form.
    assert tree.xpath("//section[@aria-labelledby='subscribe-heading']//a/@href") == ["/subscribe"]
    data = json.loads(tree.xpath("string(//script[@id='map-data'])"))
    assert {f["properties"]["url"] for f in data["features"]} >= {f"/notices/{severe}"}
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in data["features"])
    assert tree.xpath("//script[not(@src) and not(@type='application/json')]") == []
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "https://tile.openstreetmap.org" in csp
    assert "unsafe-inline" not in csp
    assert tree.xpath("//a[@class='skip']/@href") == ["#main"]
    assert tree.xpath("//main[@id='main']") and tree.xpath("//footer")


def test_home_names_each_zones_banner_code_and_feeds(client, newsroom):
    """A news site reading the embed snippet learns what to write in data-zone, and where
    one zone's feed is: the snippet used to say data-zone="…" and nothing listed the codes."""
    _, tree = page(client, "/?lang=en")
    snippet = tree.xpath("string(//section[@aria-labelledby='feeds-heading']//pre)")
    assert 'data-zone="bergkarlas"' in snippet  # a real code, the first zone by name
    entries = [text_of(li) for li in tree.xpath("//ul[@aria-labelledby='zones-heading']/li")]
    assert entries == ["Bergkarlås: bergkarlas (RSS, Atom)", "Gesunda: gesunda (RSS, Atom)"]
    links = tree.xpath("//ul[@aria-labelledby='zones-heading']//a/@href")
    assert "/feeds/zones/gesunda.rss?lang=en" in links
    assert "/feeds/zones/gesunda.atom?lang=en" in links
    assert client.get("/feeds/zones/gesunda.rss?lang=en").status_code == 200
    assert "the code to write in data-zone" in text_of(tree)


def test_notice_page_has_text_area_and_timeline(client, newsroom):
    nid = newsroom.publish()
    newsroom.update(
        nid,
        texts={
            "sv": {
                "headline": "Koka vattnet i Gesunda och Sollerön",
                "description": "Bakterier har hittats i vattnet.",
                "instruction": "Koka vatten i minst en minut.",
            }
        },
    )
    _, tree = page(client, f"/notices/{nid}")
    body = text_of(tree)
    assert tree.xpath("string(//h1)") == "Koka vattnet i Gesunda och Sollerön"
    assert "Bakterier har hittats i vattnet." in body
    assert "Koka vatten i minst en minut." in body
    assert tree.xpath("string(//dl/dt[.='Område']/following-sibling::dd[1])") == "Gesunda"
    timeline = [
        " ".join(li.text_content().split()) for li in tree.xpath("//ol[@class='timeline']/li")
    ]
    assert len(timeline) == 2
    assert "Uppdaterad: Koka vattnet i Gesunda och Sollerön" in timeline[0]
    assert "Publicerad: Koka vattnet i Gesunda" in timeline[1]
    assert tree.xpath("//ol[@class='timeline']//a/@href") == [
        f"/cap/{nid}/2.xml",
        f"/cap/{nid}/1.xml",
    ]
    data = json.loads(tree.xpath("string(//script[@id='map-data'])"))
    assert len(data["features"]) == 1


def test_notice_page_says_when_a_notice_is_over(client, newsroom):
    nid = newsroom.publish()
    newsroom.all_clear(nid)
    _, tree = page(client, f"/notices/{nid}")
    assert "Faran är över" in text_of(tree)


def test_unpublished_and_unknown_notices_are_404(client, newsroom):
    assert client.get(f"/notices/{newsroom.draft()}").status_code == 404
    assert client.get(f"/notices/{newsroom.schedule()}").status_code == 404
    assert client.get("/notices/nonsense").status_code == 404


def test_archive_search_matches_words_in_any_published_text_and_pages(client, newsroom):
    boil = newsroom.publish()
    shutoff = newsroom.publish(texts=BERGKARLAS_TEXTS, area={"zones": ["bergkarlas"]})
    newsroom.all_clear(shutoff)
    newsroom.draft(texts={"sv": {"headline": "Utkast om Åsvägen"}})
    _, tree = page(client, "/archive?q=åsvägen")  # description, any case, non-ASCII
    links = tree.xpath("//ul[@class='notices']//h2/a/@href")
    assert links == [f"/notices/{shutoff}"]
    _, tree = page(client, "/archive?q=BAKTERIER gesunda")
    assert tree.xpath("//ul[@class='notices']//h2/a/@href") == [f"/notices/{boil}"]
    _, tree = page(client, "/archive")
    assert len(tree.xpath("//ul[@class='notices']/li")) == 2
    _, tree = page(client, "/archive?q=vulkan")
    assert "0 meddelanden matchar" in text_of(tree)


def test_archive_pages(client, newsroom, monkeypatch):
    from alerts.public import pages as views

    monkeypatch.setattr(views, "ARCHIVE_PAGE_SIZE", 2)
    ids = [newsroom.publish() for _ in range(3)]
    _, first = page(client, "/archive")
    assert len(first.xpath("//ul[@class='notices']/li")) == 2
    assert "Sida 1 av 2" in text_of(first)
    _, second = page(client, "/archive?page=2")
    assert second.xpath("//ul[@class='notices']//h2/a/@href") == [f"/notices/{ids[0]}"]


def test_english_on_request_remembered_in_a_cookie(client, newsroom):
    newsroom.publish()
    response, tree = page(client, "/?lang=en")
    assert tree.get("lang") == "en"
    assert tree.xpath("string(//h1)") == "Current notices"
    assert "Boil water in Gesunda" in text_of(tree)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    _, tree = page(client, "/accessibility")  # the cookie now says English
    assert tree.get("lang") == "en" and "Accessibility statement" in text_of(tree)
    _, tree = page(client, "/?lang=sv")
    assert tree.get("lang") == "sv"


def test_swedish_is_the_default_and_only_the_language_cookie_is_set(client):
    response, tree = page(client, "/", headers={"Accept-Language": ""})
    assert tree.get("lang") == "sv"
    assert "Set-Cookie" not in response.headers


def test_accessibility_statement(client):
    _, tree = page(client, "/accessibility?lang=sv")
    body = text_of(tree)
    assert tree.xpath("string(//h1)") == "Tillgänglighetsredogörelse"
    for words in ("lagen om tillgänglighet till digital offentlig service", "WCAG 2.1", "Digg"):
        assert words in body
    headings = [int(h.tag[1]) for h in tree.xpath("//main//*[self::h1 or self::h2 or self::h3]")]
    assert headings[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(headings))


def test_the_accessibility_statement_names_the_organisation_and_its_contact(database_url, tmp_path):
    """It read " is responsible for this website" and "contact ." with nobody named."""
    from tests.conftest import running_app

    config = {"VARSLA_ORG_NAME": "Motala kommun", "VARSLA_ORG_CONTACT": "0141-22 50 00"}
    with running_app(database_url, tmp_path, **config) as app:
        client = app.test_client()
        _, tree = page(client, "/accessibility?lang=en")
        body = text_of(tree)
        assert body.count("Motala kommun") >= 3
        assert "contact Motala kommun." in body and "tell Motala kommun so that" in body
        assert "Contact Motala kommun: 0141-22 50 00." in body
        _, tree = page(client, "/accessibility?lang=sv")
        assert "Motala kommun står bakom den här webbplatsen" in text_of(tree)


def test_static_assets_are_served_from_the_app(client):
    for path in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/map.js",
        "/static/public.css",
    ):
        assert client.get(path).status_code == 200, path
    assert re.search(rb"Leaflet", client.get("/static/vendor/leaflet/leaflet.js").data)


def test_a_crisis_home_page_shows_the_most_severe_in_full_and_every_other_in_one_line(
    client, newsroom, monkeypatch
):
    """With hundreds of current notices the home page stays light for a resident's phone:
    the most severe in full, every other one a line with its severity, headline and area,
    none left out; of the ended ones only the latest, the rest in the archive."""
    from alerts.public import pages as views

    monkeypatch.setattr(views, "HOME_CARDS", 2)
    monkeypatch.setattr(views, "HOME_ENDED", 1)
    minor = newsroom.publish(texts={"sv": {"headline": "Grusning av cykelbanor"}}, severity="Minor")
    moderate = newsroom.publish(texts={"sv": {"headline": "Lågt vattentryck"}}, severity="Moderate")
    severe = newsroom.publish(texts={"sv": {"headline": "Koka vattnet"}}, severity="Severe")
    extreme = newsroom.publish(texts={"sv": {"headline": "Stäng fönster"}}, severity="Extreme")
    for n in range(2):
        ended = newsroom.publish(texts={"sv": {"headline": f"Över {n}"}})
        newsroom.all_clear(ended, texts={"sv": {"headline": f"Avblåst {n}"}})
    _, tree = page(client, "/")
    active = tree.xpath("//section[@aria-labelledby='active-heading']")[0]
    assert "Pågående (4)" in text_of(active.xpath("h2")[0])
    cards = active.xpath(".//article[contains(@class, 'notice-card')]//h3/a/@href")
    assert cards == [f"/notices/{extreme}", f"/notices/{severe}"]
    assert text_of(active.xpath(".//h3[@id='more-heading']")[0]) == ("Fler pågående störningar (2)")
    lines = active.xpath(".//ul[@aria-labelledby='more-heading']/li")
    assert [li.xpath("a/@href")[0] for li in lines] == [
        f"/notices/{moderate}",
        f"/notices/{minor}",
    ]
    assert text_of(lines[0]).startswith("Måttligt Lågt vattentryck · ")
    # Every current notice is on the map, whether a card or a line.
    data = json.loads(tree.xpath("string(//script[@id='map-data'])"))
    assert {f["properties"]["url"] for f in data["features"]} == {
        f"/notices/{nid}" for nid in (extreme, severe, moderate, minor)
    }
    ended_section = tree.xpath("//section[@aria-labelledby='ended-heading']")[0]
    assert len(ended_section.xpath(".//article")) == 1
    assert ended_section.xpath(
        ".//a[text()='Alla avslutade störningar finns i arkivet']/@href"
    ) == ["/archive"]

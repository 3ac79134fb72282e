"""The zone and register pages and the editor's promised times in headless Chromium: an admin
uploads a GeoJSON with a boundary that crosses itself, reads the repair, saves it, looks at
the register; an author sets "next update" and "expected restoration" (a wrong one is named
next to its field) and sees them on the notice page; a published notice's delivery chart is
drawn. axe-core checks every page at desktop width and at 375 px, in Swedish and English."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from alerts.config import settings
from channels.base import to_local
from tests.browser import LiveServer
from tests.conftest import running_app
from tests.console.conftest import BERGKARLAS_BOX, MORA_BOX, add_subscriber, centre
from tests.console.test_browser_flow import axe_clean, log_in
from tests.delivery import run_dispatcher
from tests.factories import GESUNDA_BOX, create_operator, create_zone, notice_payload

pytestmark = pytest.mark.browser

BOW_TIE = {
    "type": "Feature",
    "properties": {"name": "Kvarnbacken"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[14.50, 60.90], [14.52, 60.92], [14.52, 60.90], [14.50, 60.92], [14.50, 60.90]]
        ],
    },
}
WORDS = {
    "sv": {"check": "Granska filen", "save": "Spara zonerna", "repaired": "lagat genom att"},
    "en": {"check": "Check the file", "save": "Save the zones", "repaired": "repaired by"},
}


@pytest.fixture
def live(database_url, tmp_path):
    with running_app(database_url, tmp_path) as app:
        from alerts.extensions import db

        session = db.sessionmaker()
        create_zone(session, "mora", "Mora", MORA_BOX, kind="municipality")
        create_zone(session)
        create_zone(session, "bergkarlas", "Bergkarlås", BERGKARLAS_BOX)
        for role in ("author", "approver", "admin"):
            create_operator(session, role, f"{role}@test.varsla.se")
        add_subscriber(session, centre(GESUNDA_BOX), phone="+46701740605")
        session.commit()
        session.close()
        server = LiveServer(make_server("127.0.0.1", 0, app, threaded=True))
        tiles = server.url + "/no-tiles/{z}/{x}/{y}.png"
        app.extensions["varsla_settings"] = settings(app).model_copy(update={"tile_url": tiles})
        yield app, server.url
        server.stop()


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_zones_upload_and_register_pages(chromium, live, tmp_path, lang):
    _app, base = live
    context, page = log_in(chromium, base, "admin@test.varsla.se", lang)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/console/zones")
    page.wait_for_selector("#map[data-map-ready='3']")
    axe_clean(page, "zones")
    upload = tmp_path / "omraden.geojson"
    upload.write_text(json.dumps({"type": "FeatureCollection", "features": [BOW_TIE]}))
    page.set_input_files("#zone-file", str(upload))
    page.get_by_role("button", name=WORDS[lang]["check"]).click()
    page.wait_for_selector("#repairs")
    assert WORDS[lang]["repaired"] in page.locator("#repairs").inner_text()
    page.wait_for_selector("#map[data-map-ready='1']")
    axe_clean(page, "upload report")
    page.get_by_role("button", name=WORDS[lang]["save"]).click()
    page.wait_for_url(f"{base}/console/zones")
    page.wait_for_selector("tr[data-zone=kvarnbacken]")
    page.goto(f"{base}/console/register")
    axe_clean(page, "register")
    assert errors == []
    context.close()


def test_the_editor_sets_the_promised_times_and_the_chart_is_drawn(chromium, live):
    app, base = live
    context, page = log_in(chromium, base, "author@test.varsla.se", "sv")
    page.goto(f"{base}/console/notices/new")
    page.wait_for_selector("#editor-map[data-map-ready='3']")
    page.select_option("#template", "boil_water")
    page.locator("path[data-zone=gesunda]").click()
    page.locator("button[name=do][value=fill]").click()
    page.wait_for_load_state()
    page.wait_for_selector("#sms-sv[data-segments]:not([data-segments='0'])")
    before = page.locator("#sms-sv").inner_text()
    soon = to_local(datetime.now(UTC) + timedelta(hours=1))
    page.fill("#f-onset", f"{soon:%Y-%m-%dT%H:%M}")
    # Before the onset: refused, and said next to the field.
    page.fill("#f-next_update", f"{soon - timedelta(minutes=30):%Y-%m-%dT%H:%M}")
    page.fill("#f-expected_restoration", f"{soon + timedelta(hours=4):%Y-%m-%dT%H:%M}")
    page.wait_for_function(
        "(before) => document.getElementById('sms-sv').textContent !== before", arg=before
    )
    page.locator("button[name=do][value=save]").click()
    page.wait_for_load_state()
    described = page.get_attribute("#f-next_update", "aria-describedby")
    assert described and "måste vara efter starttiden" in page.locator(f"#{described}").inner_text()
    axe_clean(page, "editor with an error")
    page.fill("#f-next_update", f"{soon + timedelta(hours=2):%Y-%m-%dT%H:%M}")
    page.locator("button[name=do][value=save]").click()
    page.wait_for_url(re.compile(r".*/console/notices/[0-9a-f-]{36}$"))
    facts = page.locator("dl.facts").inner_text()
    assert f"{soon + timedelta(hours=2):%Y-%m-%d %H:%M}" in facts
    assert "Nästa besked senast" in facts and "Beräknat klart" in facts
    sms = page.locator("pre.sms[lang=sv]").inner_text()
    assert re.search(r"Nästa besked senast (\d+ \w+ )?\d\d:\d\d\. Beräknat klart", sms), sms
    context.close()

    # A published notice's delivery chart, drawn from the timeline endpoint.
    from alerts.extensions import db
    from alerts.models import Operator
    from alerts.notices.operations import (
        approve_notice,
        create_notice,
        publish_notice,
        submit_notice,
    )
    from alerts.notices.schemas import NoticeIn

    session = db.sessionmaker()
    author = session.query(Operator).filter_by(email="author@test.varsla.se").one()
    approver = session.query(Operator).filter_by(email="approver@test.varsla.se").one()
    notice = create_notice(session, NoticeIn.model_validate(notice_payload()), by=author)
    submit_notice(session, notice, by=author)
    approve_notice(session, notice, by=approver)
    publish_notice(session, notice, by=approver)
    session.commit()
    notice_id = notice.id
    session.close()
    run_dispatcher(app)
    context, page = log_in(chromium, base, "approver@test.varsla.se", "en")
    page.goto(f"{base}/console/notices/{notice_id}")
    page.wait_for_selector("#delivery-chart[data-drawn]")
    assert page.locator("#delivery-chart-svg polyline").count() == 3  # one channel: SMS
    assert "SMS: Sent" in page.locator("#delivery-chart-table").inner_text()
    axe_clean(page, "delivery chart")
    context.close()


def test_the_circle_fields_sit_on_one_row_beside_their_labels(chromium, live):
    """Latitude, longitude and radius are short fields on one row, each after its label;
    full-width fields wrapped so that each label ended up beside the wrong field."""
    _app, base = live
    context, page = log_in(chromium, base, "author@test.varsla.se", "sv")
    page.goto(f"{base}/console/notices/new")
    page.wait_for_selector("#editor-map[data-map-ready='3']")
    boxes = {
        name: page.locator(selector).bounding_box()
        for name, selector in {
            "lat_label": "label[for=circle_lat]",
            "lat": "#circle_lat",
            "lon_label": "label[for=circle_lon]",
            "lon": "#circle_lon",
            "radius_label": "label[for=circle_radius]",
            "radius": "#circle_radius",
        }.items()
    }
    order = ["lat_label", "lat", "lon_label", "lon", "radius_label", "radius"]
    lefts = [boxes[name]["x"] for name in order]
    assert lefts == sorted(lefts), boxes
    bottoms = {round(boxes[name]["y"] + boxes[name]["height"]) for name in ("lat", "lon", "radius")}
    assert len(bottoms) == 1, boxes
    search = page.locator("#address-search").bounding_box()
    radius = page.locator("#address-radius").bounding_box()
    assert abs(search["y"] - radius["y"]) < 10 and radius["width"] <= 160, (search, radius)
    context.close()


def test_the_dashboard_table_scrolls_on_a_phone_rather_than_break_words(chromium, live):
    """At 375 px the notice lists broke words letter by letter ("Sta/tus", "Bor/ens/ber/g")
    to fit; the table now keeps whole words and scrolls inside its box."""
    from sqlalchemy import select

    from alerts.extensions import db
    from alerts.models import Operator
    from alerts.notices.operations import create_notice
    from alerts.notices.schemas import NoticeIn

    _app, base = live
    session = db.sessionmaker()
    author = session.scalars(select(Operator).where(Operator.email == "author@test.varsla.se"))
    create_notice(session, NoticeIn.model_validate(notice_payload()), by=author.one())
    session.commit()
    session.close()
    context, page = log_in(chromium, base, "author@test.varsla.se", "en")
    page.goto(f"{base}/console/")
    page.set_viewport_size({"width": 375, "height": 800})
    lines = page.eval_on_selector_all(
        "table.notices th, table.notices td:nth-child(3), table.notices td:nth-child(4)",
        "els => els.map(e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return [e.textContent.trim(), r.getClientRects().length]; })",
    )
    assert lines and all(count == 1 for _text, count in lines), lines
    axe_clean(page, "dashboard")
    context.close()

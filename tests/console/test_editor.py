"""The notice editor without a browser: template wording with a place, area names,
field errors beside their fields in the reader's language, zones of two municipalities."""

from __future__ import annotations

import json
import re

from alerts.models import Notice
from tests.console.conftest import BERGKARLAS_BOX, centre

CHANNELS = ["sms", "email", "feed", "banner"]


def _circle(box, radius="400"):
    lon, lat = centre(box)
    return {"circle_lon": str(lon), "circle_lat": str(lat), "circle_radius": radius}


def _new_id(answer) -> str:
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"].rsplit("/", 1)[-1]


def test_a_template_with_a_place_and_a_circle_names_the_place_everywhere(session, as_):
    client = as_("author")
    answer = client.post(
        "/console/notices/new",
        data={
            "template": "boil_water",
            "place": "Bergkarlås",
            "channels": CHANNELS,
            **_circle(BERGKARLAS_BOX),
        },
    )
    notice_id = _new_id(answer)
    page = client.get(f"/console/notices/{notice_id}").get_data(as_text=True)
    assert '<h1 lang="sv">Koka vattnet i Bergkarlås</h1>' in page
    assert '<dd id="area-words">Bergkarlås</dd>' in page
    # CAP areaDesc names the place, not "Område markerat på karta".
    cap = client.get(f"/console/notices/{notice_id}/preview/cap").get_data(as_text=True)
    assert "<areaDesc>Bergkarlås</areaDesc>" in cap
    # the API carries the name too
    notice = session.get(Notice, __import__("uuid").UUID(notice_id))
    assert notice.revisions[0].area_request["name"] == "Bergkarlås"
    assert notice.revisions[0].texts["en"]["headline"] == "Boil water in Bergkarlås"


def test_a_template_with_only_a_circle_asks_for_a_place_next_to_the_field(session, as_):
    client = as_("author")
    answer = client.post(
        "/console/notices/new",
        data={"template": "boil_water", "channels": CHANNELS, **_circle(BERGKARLAS_BOX)},
    )
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="err-place">([^<]+)</p>', page)
    assert error and "ange ett platsnamn" in error.group(1)
    assert 'aria-describedby="err-place place-hint" aria-invalid="true"' in page
    assert session.query(Notice).count() == 0
    english = as_("author")
    english.set_cookie("lang", "en")
    answer = english.post(
        "/console/notices/new",
        data={"template": "boil_water", "channels": CHANNELS, **_circle(BERGKARLAS_BOX)},
    )
    assert "give a place name" in answer.get_data(as_text=True)


def test_the_api_template_with_a_circle_needs_a_place_too(session, office, client):
    from tests.factories import api_headers

    headers = api_headers(session, office["author"])
    session.commit()
    lon, lat = centre(BERGKARLAS_BOX)
    body = {"template": "boil_water", "area": {"circle": {"center": [lon, lat], "radius_m": 500}}}
    refused = client.post("/api/v1/notices", json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["field"] == "template_values.place"
    body["template_values"] = {"place": "Bergkarlås"}
    created = client.post("/api/v1/notices", json=body, headers=headers)
    assert created.status_code == 201
    assert created.get_json()["texts"]["sv"]["headline"] == "Koka vattnet i Bergkarlås"
    assert created.get_json()["area"]["name"] == "Bergkarlås"


def test_field_errors_stand_beside_their_fields_in_the_readers_language(as_):
    client = as_("author")
    data = {
        "sv_headline": "",
        "sv_description": "Text utan rubrik",
        "zones": ["gesunda"],
        "category": "water",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "channels": CHANNELS,
    }
    swedish = client.post("/console/notices/new", data=data).get_data(as_text=True)
    assert re.search(r'id="err-sv_headline">måste fyllas i', swedish)
    client.set_cookie("lang", "en")
    english = client.post("/console/notices/new", data=data).get_data(as_text=True)
    assert re.search(r'id="err-sv_headline">must be filled in', english)
    nothing = client.post(
        "/console/notices/new", data={**data, "zones": [], "sv_headline": "Rubrik"}
    ).get_data(as_text=True)
    assert re.search(r'id="err-zones">choose zones, draw an area or a circle', nothing)


def test_zones_of_two_municipalities_need_a_confirmation(session, as_):
    client = as_("author")
    data = {"template": "boil_water", "zones": ["gesunda", "borensberg"], "channels": CHANNELS}
    refused = client.post("/console/notices/new", data=data)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Zonerna ligger i olika kommuner (Mora, Motala)" in page
    assert 'name="confirm_municipalities"' in page
    assert session.query(Notice).count() == 0
    one = client.post("/console/notices/new", data={**data, "zones": ["gesunda", "bergkarlas"]})
    assert one.status_code == 302  # both in Mora: no question asked
    confirmed = client.post("/console/notices/new", data={**data, "confirm_municipalities": "1"})
    assert confirmed.status_code == 302
    assert session.query(Notice).count() == 2


def test_fill_from_template_puts_editable_texts_in_the_form(as_):
    client = as_("author")
    page = client.post(
        "/console/notices/new",
        data={"template": "boil_water", "place": "Bergkarlås", "do": "fill", "zones": ["gesunda"]},
    ).get_data(as_text=True)
    assert 'value="Koka vattnet i Bergkarlås"' in page
    assert 'value="Boil water in Bergkarlås"' in page
    assert '<option value="Severe" selected>' in page


def test_a_draft_is_edited_and_a_live_notice_updated_from_the_console(session, office, as_):
    from tests.console.conftest import notice_in_state

    draft = notice_in_state(session, office, "draft")
    client = as_("author")
    form = client.get(f"/console/notices/{draft.id}/edit").get_data(as_text=True)
    assert 'value="Koka vattnet i Gesunda"' in form and 'value="gesunda" checked' in form
    saved = client.post(
        f"/console/notices/{draft.id}/edit",
        data={
            "sv_headline": "Koka vattnet i hela Gesunda",
            "zones": ["gesunda"],
            "channels": CHANNELS,
            "category": "water",
            "severity": "Severe",
            "urgency": "Immediate",
            "certainty": "Observed",
        },
    )
    assert saved.status_code == 302
    session.expire_all()
    assert session.get(Notice, draft.id).revisions[-1].texts["sv"]["headline"] == (
        "Koka vattnet i hela Gesunda"
    )
    live = notice_in_state(session, office, "active")
    proposed = client.post(
        f"/console/notices/{live.id}/update",
        data={
            "sv_headline": "Koka vattnet i Gesunda och Bergkarlås",
            "zones": ["gesunda", "bergkarlas"],
            "channels": CHANNELS,
            "category": "water",
            "severity": "Severe",
            "urgency": "Immediate",
            "certainty": "Observed",
        },
    )
    assert proposed.status_code == 302
    approver = as_("approver")
    page = approver.get(f"/console/notices/{live.id}").get_data(as_text=True)
    changes = page[page.index('id="changes-heading"') : page.index('id="texts-heading"')]
    assert "<td>Gesunda</td><td>Gesunda, Bergkarlås</td>" in changes
    assert "Koka vattnet i Gesunda</td>" in changes
    assert "Koka vattnet i Gesunda och Bergkarlås</td>" in changes
    assert 'data-action="approve"' in page


def test_the_all_clear_is_prefilled_from_its_template_and_editable(session, office, as_):
    from tests.console.conftest import notice_in_state

    live = notice_in_state(session, office, "active")
    client = as_("author")
    form = client.get(f"/console/notices/{live.id}/all-clear").get_data(as_text=True)
    assert 'value="Faran över i Gesunda"' in form and 'value="All clear in Gesunda"' in form
    sent = client.post(
        f"/console/notices/{live.id}/all-clear",
        data={
            "sv_headline": "Faran över i Gesunda: drick som vanligt",
            "sv_instruction": "Spola kranen en stund först.",
        },
    )
    assert sent.status_code == 302
    session.expire_all()
    waiting = session.get(Notice, live.id).revisions[-1]
    assert waiting.msg_type == "Cancel" and waiting.state == "pending_approval"
    assert waiting.texts["sv"]["headline"] == "Faran över i Gesunda: drick som vanligt"


def test_an_approved_notice_is_scheduled_from_the_console(session, office, as_):
    from tests.console.conftest import notice_in_state

    notice = notice_in_state(session, office, "approved")
    client = as_("author")
    answer = client.post(
        f"/console/notices/{notice.id}/publish",
        data={"at": "2099-06-01T08:30"},
        follow_redirects=True,
    )
    page = answer.get_data(as_text=True)
    assert "Klart. Meddelandet: Schemalagt." in page
    assert '<time datetime="2099-06-01T06:30:00+00:00">2099-06-01 08:30</time>' in page
    session.expire_all()
    assert session.get(Notice, notice.id).status == "scheduled"


def test_the_console_maps_may_load_the_tile_server_but_never_be_framed(as_):
    """The editor, notice and zone pages draw on the tile server's map: the policy must
    let its images in (a console without tiles leaves operators drawing on a blank map)."""
    client = as_("author")
    for path in ("/console/notices/new", "/console/zones"):
        csp = client.get(path).headers["Content-Security-Policy"]
        img_src = next(part for part in csp.split("; ") if part.startswith("img-src"))
        assert "https://tile.openstreetmap.org" in img_src, path
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path


def test_fill_from_template_without_a_place_or_zone_asks_for_a_place(as_):
    """The template box comes first on the page; filling it before the area was chosen put
    "Koka vattnet i" with nothing after it into the texts, ready to be saved and sent."""
    client = as_("author")
    answer = client.post("/console/notices/new", data={"template": "boil_water", "do": "fill"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="err-place">([^<]+)</p>', page)
    assert error and "ange ett platsnamn" in error.group(1)
    assert "Koka vattnet i" not in page
    with_zone = client.post(
        "/console/notices/new",
        data={"template": "boil_water", "do": "fill", "zones": ["gesunda"]},
    ).get_data(as_text=True)
    assert 'value="Koka vattnet i Gesunda"' in with_zone


def test_every_field_at_fault_is_named_in_one_save(as_):
    """An author in a hurry mends everything in one go: a too small circle and an expiry
    before the onset, or a boundary that crosses itself and the same expiry, are named
    together, not one save after the other."""
    client = as_("author")
    data = {
        "sv_headline": "Koka vattnet",
        "category": "water",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "channels": CHANNELS,
        "onset": "2030-01-02T10:00",
        "expires": "2030-01-01T10:00",
    }
    page = client.post(
        "/console/notices/new", data={**data, **_circle(BERGKARLAS_BOX, radius="5")}
    ).get_data(as_text=True)
    assert re.search(r'id="err-circle">måste vara minst 10', page)
    assert re.search(r'id="err-expires">måste vara efter starttiden', page)
    crossing = [[14.50, 60.90], [14.52, 60.92], [14.52, 60.90], [14.50, 60.92], [14.50, 60.90]]
    geometry = json.dumps({"type": "Polygon", "coordinates": [crossing]})
    page = client.post("/console/notices/new", data={**data, "geometry": geometry}).get_data(
        as_text=True
    )
    assert re.search(r'id="err-geometry">gränsen korsar sig själv: rita om området', page)
    assert re.search(r'id="err-expires">måste vara efter starttiden', page)
    page = client.post(
        "/console/notices/new?lang=en", data={**data, "geometry": geometry}
    ).get_data(as_text=True)
    assert re.search(r'id="err-geometry">the boundary crosses itself: redraw the area', page)
    touching = [[14.50, 60.90], [14.52, 60.90], [14.51, 60.91], [14.52, 60.92], [14.50, 60.92]]
    touching += [[14.51, 60.91], [14.50, 60.90]]
    geometry = json.dumps({"type": "Polygon", "coordinates": [touching]})
    page = client.post(
        "/console/notices/new?lang=sv", data={**data, "geometry": geometry}
    ).get_data(as_text=True)
    assert re.search(r'id="err-geometry">gränsen rör vid eller korsar sig själv: rita om', page)


def test_a_drawn_sliver_is_refused_in_the_authors_language(as_):
    """A boundary drawn back along itself looks like a street on the map but is half a metre
    wide: the author is told how wide, next to the map, and the draft is not saved."""
    client = as_("author")
    data = {
        "sv_headline": "Vattenavstängning Storgatan",
        "category": "water",
        "severity": "Moderate",
        "urgency": "Expected",
        "certainty": "Likely",
        "channels": CHANNELS,
    }
    # 700 m east-west, 0.5 m north-south.
    ring = [[14.50, 60.90], [14.513, 60.90], [14.513, 60.9000045], [14.50, 60.9000045]]
    sliver = json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
    response = client.post("/console/notices/new", data={**data, "geometry": sliver})
    assert response.status_code == 422
    assert re.search(
        r'id="err-geometry">området är bara 0,5 m brett i genomsnitt \(minst 2 m\): rita det',
        response.get_data(as_text=True),
    )
    page = client.post("/console/notices/new?lang=en", data={**data, "geometry": sliver}).get_data(
        as_text=True
    )
    assert re.search(r'id="err-geometry">the area is only 0\.5 m wide on average', page)
    line = [[14.50, 60.90], [14.51, 60.90], [14.52, 60.90], [14.50, 60.90]]
    page = client.post(
        "/console/notices/new?lang=sv",
        data={**data, "geometry": json.dumps({"type": "Polygon", "coordinates": [line]})},
    ).get_data(as_text=True)
    assert re.search(r'id="err-geometry">området har ingen yta', page)
    drafts = client.get("/console/notices").get_data(as_text=True)
    assert "Vattenavstängning Storgatan" not in drafts


def test_the_error_summary_names_each_field_at_fault(session, office, as_):
    """Two emptied headlines in the all-clear read "Svenska: Rubrik: måste fyllas i" and
    "Engelska: Rubrik: …" in the summary, not "måste fyllas i" twice with no field named."""
    from tests.console.conftest import notice_in_state

    live = notice_in_state(session, office, "active")
    client = as_("author")
    for lang, words in (
        ("sv", ("Svenska: Rubrik: måste fyllas i", "Engelska: Rubrik: måste fyllas i")),
        ("en", ("Swedish: Headline: must be filled in", "English: Headline: must be filled in")),
    ):
        page = client.post(
            f"/console/notices/{live.id}/all-clear?lang={lang}",
            data={
                "sv_headline": "",
                "sv_description": "Vattnet går att dricka.",
                "en_headline": "",
                "en_description": "Kept as typed",
            },
        )
        assert page.status_code == 422
        html = page.get_data(as_text=True)
        summary = html.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
        for expected in words:
            assert expected in summary, summary
        assert ">Kept as typed</textarea>" in html
    page = client.post(
        "/console/notices/new?lang=sv", data={"sv_headline": "", "channels": CHANNELS}
    ).get_data(as_text=True)
    summary = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert ">Zoner: välj zoner" in summary, summary


def test_the_swedish_headline_is_marked_swedish_on_english_console_pages(session, office, as_):
    """The console names a notice by its Swedish headline in every language; on an English
    page a screen reader must read it as Swedish (WCAG 2.1 3.1.2, language of parts)."""
    from tests.console.conftest import notice_in_state

    live = notice_in_state(session, office, "active")
    client = as_("approver")
    page = client.get(f"/console/notices/{live.id}?lang=en").get_data(as_text=True)
    assert re.search(r'<h1 lang="sv">Koka vattnet[^<]*</h1>', page), page[:2000]
    listing = client.get("/console/?lang=en").get_data(as_text=True)
    assert re.search(rf'<a href="/console/notices/{live.id}" lang="sv">Koka vattnet', listing)


def test_a_refused_rejection_names_its_field_and_the_form_limits_the_reason(session, office, as_):
    """An approver's 2,001-character reason was refused with a bare "får vara högst 2000
    tecken" at the top of the page (which field?) and the typed reason lost: the flash
    names the field, and the textarea stops at the limit before anything is lost."""
    from tests.console.conftest import notice_in_state

    waiting = notice_in_state(session, office, "pending")
    client = as_("approver")
    page = client.get(f"/console/notices/{waiting.id}?lang=sv").get_data(as_text=True)
    assert re.search(r'<textarea id="reason" name="reason"[^>]* maxlength="2000"', page)
    for lang, words in (
        ("sv", "Skäl att avslå: får vara högst 2000 tecken"),
        ("en", "Reason for rejecting: must be at most 2000 characters"),
    ):
        answer = client.post(
            f"/console/notices/{waiting.id}/reject?lang={lang}",
            data={"reason": "x" * 2001},
            follow_redirects=True,
        )
        assert words in answer.get_data(as_text=True)

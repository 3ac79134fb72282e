"""The console's zone and register pages: an upload is checked and shown before anything is
saved, a rename shows everywhere while slugs and feed URLs stay, the register's size and
last import, and who may do what."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import func, select, update

from alerts.models import AuditEvent, Zone
from alerts.orm import utcnow
from tests.conftest import make_test_app
from tests.console.conftest import add_address, centre, login, notice_in_state
from tests.factories import GESUNDA_BOX, PASSWORD, create_operator
from tests.geodata.helpers import collection, feature, square
from tests.places.helpers import municipalities
from tests.shapefiles import shapefile_zip

# A bow tie: the boundary crosses itself; the import repairs it by splitting it.
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [
        [[14.50, 60.90], [14.52, 60.92], [14.52, 60.90], [14.50, 60.92], [14.50, 60.90]]
    ],
}


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _upload(client, data: bytes, filename: str, **fields):
    page = client.get("/console/zones").get_data(as_text=True)
    return client.post(
        "/console/zones/upload",
        data={"csrf_token": _csrf(page), "file": (io.BytesIO(data), filename), **fields},
        content_type="multipart/form-data",
    )


def _zones(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Zone))


def test_a_repaired_upload_is_shown_and_saved_only_when_confirmed(session, office, as_):
    before = _zones(session)
    client = as_("admin")
    data = collection(
        feature("Kvarnbacken", BOW_TIE),
        feature("Östra Mora", square(14.56, 60.95)),
    )
    answer = _upload(client, data, "vattenomraden.geojson")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "Inget är sparat ännu." in page
    assert "Objekt 0 (kvarnbacken):" in page
    assert "gränsen korsar sig själv nära (" in page and "lagat genom att gränsen delades" in page
    assert "2 nya, 0 uppdaterade, 1 lagade" in page.replace("\xa0", " ")
    assert _zones(session) == before  # nothing saved yet

    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    saved = client.post(
        "/console/zones/upload/confirm", data={"csrf_token": _csrf(page), "token": token}
    )
    assert saved.status_code == 302
    assert _zones(session) == before + 2
    listing = client.get("/console/zones").get_data(as_text=True)
    assert "Sparade 2 zoner: 2 nya, 0 uppdaterade." in listing
    assert 'data-zone="kvarnbacken"' in listing and "Östra Mora" in listing
    assert "Senaste import:" in listing and "vattenomraden.geojson" in listing
    # The same upload cannot be saved twice.
    again = client.post(
        "/console/zones/upload/confirm", data={"csrf_token": _csrf(page), "token": token}
    )
    assert "Uppladdningen finns inte längre" in client.get(again.location).get_data(as_text=True)
    actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions[-2:] == ["zones_upload", "zones_import"]


def test_the_confirmation_may_reach_another_web_process_but_only_for_the_uploader(
    session, office, as_, database_url, tmp_path
):
    """Two web processes with instance folders of their own, as behind a load balancer:
    one checks the upload, the other saves it, in another login of the same admin."""
    from alerts.extensions import db

    before = _zones(session)
    data = collection(feature("Östra Mora", square(14.56, 60.95)))
    page = _upload(as_("admin"), data, "zoner.geojson").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    (tmp_path / "second").mkdir()
    second = make_test_app(database_url, tmp_path / "second", VARSLA_ENGINE=db.engine)
    create_operator(session, "admin", "admin2@test.varsla.se")
    session.commit()

    other_admin = second.test_client()
    other_admin.post(
        "/console/login", data={"email": "admin2@test.varsla.se", "password": PASSWORD}
    )
    refused = other_admin.post("/console/zones/upload/confirm", data={"token": token})
    assert "Uppladdningen finns inte längre" in other_admin.get(refused.location).get_data(
        as_text=True
    )
    assert _zones(session) == before

    saved = login(second.test_client(), "admin").post(
        "/console/zones/upload/confirm", data={"token": token}
    )
    assert saved.status_code == 302 and _zones(session) == before + 1


def test_an_upload_left_unconfirmed_for_an_hour_is_gone(session, office, as_):
    from alerts.places.models import ZoneUpload

    client = as_("admin")
    data = collection(feature("Östra Mora", square(14.56, 60.95)))
    page = _upload(client, data, "zoner.geojson").get_data(as_text=True)
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    session.execute(update(ZoneUpload).values(created_at=utcnow() - timedelta(minutes=61)))
    session.commit()
    gone = client.post("/console/zones/upload/confirm", data={"token": token})
    assert "Uppladdningen finns inte längre" in client.get(gone.location).get_data(as_text=True)
    # The scheduler's job clears it away.
    from alerts.places.admin import forget_old_uploads

    assert forget_old_uploads(session) == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(ZoneUpload)) == 0


def test_a_broken_upload_is_refused_with_reasons_and_saves_nothing(session, office, as_):
    before = _zones(session)
    client = as_("admin")
    data = collection(
        feature("Utan geometri", None),
        feature("", square(14.56, 60.95)),
        feature("Bra zon", square(14.60, 60.95)),
    )
    answer = _upload(client, data, "trasig.geojson")
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Filen går inte att importera" in page
    assert "Objekt 0:</strong> <span>saknar geometri" in page
    assert "Objekt 1:</strong> <span>saknar namn" in page
    assert 'name="token"' not in page  # nothing to confirm
    assert _zones(session) == before
    client.get("/console/zones?lang=en")  # the report follows the console's language
    page = _upload(client, data, "trasig.geojson").get_data(as_text=True)
    assert "Feature 0:</strong> <span>has no geometry" in page


def test_a_zipped_shapefile_upload(session, office, as_):
    client = as_("admin")
    mora = {
        "type": "FeatureCollection",
        "features": [
            f for f in municipalities()["features"] if f["properties"]["kom_namn"] == "Mora"
        ],
    }
    mora["features"][0]["properties"]["kom_namn"] = "Mora kommun"
    answer = _upload(
        client, shapefile_zip(mora), "kommuner.zip", name_property="KOM_NAMN", kind="municipality"
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, page
    assert "Shapefile" in page or "shapefile" in page
    assert "Mora kommun" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    client.post("/console/zones/upload/confirm", data={"csrf_token": _csrf(page), "token": token})
    session.expire_all()
    assert session.scalar(select(Zone).where(Zone.name == "Mora kommun")).kind == "municipality"


def test_a_rename_shows_in_feeds_and_pages_while_the_slug_stays(session, office, as_, app):
    notice = notice_in_state(session, office, "active")
    client = as_("admin")
    page = client.get("/console/zones").get_data(as_text=True)
    answer = client.post(
        "/console/zones/gesunda/rename", data={"csrf_token": _csrf(page), "name": "Gesunda by"}
    )
    assert answer.status_code == 302
    assert "Zonen gesunda heter nu Gesunda by." in client.get(answer.location).get_data(
        as_text=True
    )
    public = app.test_client()
    feed = feedparser.parse(public.get("/feeds/zones/gesunda.rss").data)  # the same URL
    assert not feed.bozo and "Område: Gesunda by" in feed.entries[0].description
    assert "Gesunda by" in public.get(f"/notices/{notice.id}").get_data(as_text=True)
    assert public.get("/api/v1/zones/gesunda").get_json()["name"] == "Gesunda by"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "zone_rename")).one()
    assert event.details == {"zone": "gesunda", "old": "Gesunda", "new": "Gesunda by"}
    empty = client.post(
        "/console/zones/gesunda/rename", data={"csrf_token": _csrf(page), "name": "  "}
    )
    assert "Zonen fick inte det namnet" in client.get(empty.location).get_data(as_text=True)


def test_the_zone_list_counts_residents_and_subscribers(session, office, as_):
    from tests.console.conftest import add_subscriber

    home = add_address(session, centre(GESUNDA_BOX), "Gesundavägen", 1)
    add_address(
        session, (centre(GESUNDA_BOX)[0] + 0.001, centre(GESUNDA_BOX)[1]), "Gesundavägen", 3
    )
    add_subscriber(session, centre(GESUNDA_BOX), phone="+46701740605", address=home)
    session.commit()
    page = as_("author").get("/console/zones").get_data(as_text=True)
    row = re.search(r'<tr id="zone-gesunda".*?</tr>', page, re.S).group(0)
    assert '<td data-count="addresses">2</td>' in row
    assert '<td data-count="subscribers">1</td>' in row
    assert "<td>Mora</td>" in row  # its municipality
    # Authors see the zones, not the forms that change them.
    assert "/console/zones/upload" not in page and "rename" not in page


def test_authors_and_approvers_cannot_change_zones(session, office, as_):
    for who in ("author", "approver"):
        client = as_(who)
        page = client.get("/console/zones").get_data(as_text=True)
        token = _csrf(page)
        renamed = client.post(
            "/console/zones/gesunda/rename", data={"csrf_token": token, "name": "Hacked"}
        )
        assert renamed.status_code == 403
        uploaded = client.post(
            "/console/zones/upload",
            data={
                "csrf_token": token,
                "file": (io.BytesIO(collection(feature("X", square()))), "x.geojson"),
            },
            content_type="multipart/form-data",
        )
        assert uploaded.status_code == 403
    session.expire_all()
    assert session.scalar(select(Zone.name).where(Zone.slug == "gesunda")) == "Gesunda"


def test_the_register_page_shows_its_size_and_last_import(session, office, as_, runner, tmp_path):
    add_address(session, centre(GESUNDA_BOX), "Gesundavägen", 1)
    session.commit()
    source = tmp_path / "adresser.csv"
    source.write_text(
        "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH\n"
        "15.05,58.55,8,Storgatan,,Motala,,,59130,a1,\n"
        "15.06,58.56,9,Storgatan,,Motala,,,59130,a2,\n"
        "not-a-number,58.56,10,Storgatan,,Motala,,,59130,a3,\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["addresses", "import", str(source)])
    assert result.exit_code == 0, result.output
    page = as_("approver").get("/console/register").get_data(as_text=True)
    assert "3 adresser i registret." in page
    counts = re.search(r'<table id="register-counts">.*?</table>', page, re.S).group(0)
    assert re.search(r"Mora</th><td>1<", counts) and re.search(r"Motala</th><td>2<", counts)
    last = re.search(r'<dl class="facts" id="last-import">.*?</dl>', page, re.S).group(0)
    assert "adresser.csv" in last and "CLI" in last
    assert "2 (2 nya, 0 uppdaterade)" in last
    assert re.search(r"inte gick att läsa</dt><dd>1<", last)
    assert "line 4" in page


def test_the_zone_list_words_kinds_and_areas_in_the_consoles_language(session, office, as_):
    """The kind column showed the stored 'municipality' and 'water_supply' on a Swedish
    page, and areas with a decimal point."""
    client = as_("author")
    swedish = client.get("/console/zones").get_data(as_text=True)
    mora = re.search(r'<tr id="zone-mora".*?</tr>', swedish, re.S).group(0)
    gesunda = re.search(r'<tr id="zone-gesunda".*?</tr>', swedish, re.S).group(0)
    assert "<td>Kommun</td>" in mora and "<td>Vattenförsörjningsområde</td>" in gesunda
    assert re.search(r"<td>\d+,\d</td>", mora) and "municipality" not in swedish.split("<tbody")[1]
    english = client.get("/console/zones?lang=en").get_data(as_text=True)
    mora = re.search(r'<tr id="zone-mora".*?</tr>', english, re.S).group(0)
    assert "<td>Municipality</td>" in mora and re.search(r"<td>\d+\.\d</td>", mora)


@pytest.mark.parametrize("token", ["x" * 100_000, "", "ä" * 32, "a" * 31 + "'"])
def test_a_token_that_no_upload_has_is_refused_plainly(session, office, as_, token):
    client = as_("admin")
    gone = client.post("/console/zones/upload/confirm", data={"token": token})
    assert gone.status_code == 302
    assert "Uppladdningen finns inte längre" in client.get(gone.location).get_data(as_text=True)

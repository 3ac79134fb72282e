"""Reach before sending (API and console), delivery counts as JSON, and the CSV export."""

from __future__ import annotations

import csv
import io
import re

from alerts.models import Delivery
from tests.console.conftest import (
    BERGKARLAS_BOX,
    add_address,
    add_subscriber,
    centre,
    notice_in_state,
)
from tests.factories import GESUNDA_BOX, api_headers

GESUNDA = centre(GESUNDA_BOX)


def _people(session):
    """In Gesunda: SMS+email sv, SMS en, an unverified one, an SMS opt-out with email,
    and three register addresses of which one has a subscriber. In Bergkarlås: one more."""
    home = add_address(session, GESUNDA, "Gesundavägen", 1)
    add_address(session, (GESUNDA[0] + 0.001, GESUNDA[1]), "Gesundavägen", 3)
    add_address(session, (GESUNDA[0] + 0.002, GESUNDA[1]), "Gesundavägen", 5)
    add_address(session, centre(BERGKARLAS_BOX), "Åsvägen", 2)
    add_subscriber(session, GESUNDA, phone="+46701740605", email="a@example.se", address=home)
    add_subscriber(session, GESUNDA, phone="+46701740606", language="en")
    add_subscriber(session, GESUNDA, phone="+46701740607", verified=False)
    from datetime import UTC, datetime

    add_subscriber(
        session,
        GESUNDA,
        phone="+46701740608",
        email="b@example.se",
        sms_opted_out_at=datetime.now(UTC),
    )
    add_subscriber(session, centre(BERGKARLAS_BOX), phone="+46701740609")
    session.commit()


def test_reach_counts_subscribers_per_channel_and_language_and_unreached_addresses(
    session, office, client
):
    _people(session)
    headers = api_headers(session, office["author"])
    session.commit()
    answer = client.post("/api/v1/reach", json={"area": {"zones": ["gesunda"]}}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() == {
        "subscribers": 3,
        "channels": {
            "sms": {"total": 2, "by_language": {"sv": 1, "en": 1}},
            "email": {"total": 2, "by_language": {"sv": 2}},
        },
        "addresses": 3,
        "addresses_without_subscriber": 2,
    }
    wider = client.post(
        "/api/v1/reach",
        json={"area": {"zones": ["gesunda", "bergkarlas"]}, "channels": ["sms"]},
        headers=headers,
    ).get_json()
    assert wider["subscribers"] == 3 and wider["channels"] == {
        "sms": {"total": 3, "by_language": {"sv": 2, "en": 1}}
    }
    assert wider["addresses"] == 4
    bad = client.post("/api/v1/reach", json={"area": {"zones": ["atlantis"]}}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["field"] == "area.zones.0"
    assert client.post("/api/v1/reach", json={"area": {"zones": ["gesunda"]}}).status_code == 401


def test_a_notices_reach_follows_its_channels(session, office, client):
    _people(session)
    headers = api_headers(session, office["author"])
    session.commit()
    created = client.post(
        "/api/v1/notices",
        json={
            "template": "boil_water",
            "area": {"zones": ["gesunda"]},
            "channels": ["sms", "feed"],
        },
        headers=headers,
    ).get_json()
    found = client.get(f"/api/v1/notices/{created['id']}/reach", headers=headers).get_json()
    assert found["channels"] == {"sms": {"total": 2, "by_language": {"sv": 1, "en": 1}}}
    assert found["subscribers"] == 2
    assert client.get("/api/v1/notices/nope/reach", headers=headers).status_code == 404


def test_the_console_shows_reach_on_the_notice_and_for_an_unsaved_area(session, office, as_):
    _people(session)
    notice = notice_in_state(session, office, "pending")
    client = as_("approver")
    page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert "3 prenumeranter; SMS: 2 (Svenska 1, Engelska 1); E-post: 2 (Svenska 2)." in page
    assert "2 av 3 adresser i området saknar prenumerant" in page
    lon, lat = centre(BERGKARLAS_BOX)
    live = client.post(
        "/console/reach",
        json={"area": {"circle": {"center": [lon, lat], "radius_m": 300}}},
    ).get_json()
    assert live["subscribers"] == 1 and live["addresses_without_subscriber"] == 1


def test_sms_parts_follow_the_typed_text(as_):
    client = as_("author")
    short = client.post("/console/sms-parts", json={"texts": {"sv": {"headline": "Koka vattnet"}}})
    assert short.get_json()["sv"]["segments"] == 1
    assert short.get_json()["sv"]["encoding"] == "GSM-7"
    emoji = client.post(
        "/console/sms-parts",
        json={"texts": {"sv": {"headline": "Koka 💧", "description": "x" * 80}}},
    ).get_json()["sv"]
    assert emoji["encoding"] == "UCS-2" and emoji["segments"] == 2


def test_delivery_counts_as_json_and_csv_with_formulas_neutralised(session, office, as_):
    from datetime import UTC, datetime

    notice = notice_in_state(session, office, "active")
    hostile = add_subscriber(session, GESUNDA, email="=HYPERLINK(1)@x.se", phone="+46701740610")
    other = add_subscriber(session, GESUNDA, phone="+46701740611")
    now = datetime.now(UTC)
    for who, channel, status, code, error in [
        (other, "sms", "delivered", None, None),
        (hostile, "sms", "failed", "30003", "-2+3"),
        (hostile, "email", "failed", "550", "@SUM(A1)"),
    ]:
        session.add(
            Delivery(
                notice_id=notice.id,
                revision_id=notice.revisions[0].id,
                revision_number=1,
                subscriber_id=who.id,
                channel=channel,
                status=status,
                error_code=code,
                error=error,
                attempts=1,
                created_at=now,
                updated_at=now,
            )
        )
    session.commit()
    client = as_("author")
    report = client.get(f"/console/notices/{notice.id}/deliveries.json").get_json()
    assert report["by_channel"] == {"sms": {"delivered": 1, "failed": 1}, "email": {"failed": 1}}
    assert {f["reason"] for f in report["failures"]} == {
        "Telefonen är avstängd eller utom räckhåll",
        "Felkod 550",
    }
    page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert "Telefonen är avstängd eller utom räckhåll" in page
    assert 'data-url="/console/notices/' in page  # the page polls this
    answer = client.get(f"/console/notices/{notice.id}/deliveries.csv")
    assert answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    cells = [cell for row in rows for cell in row]
    assert "'-2+3" in cells and "'@SUM(A1)" in cells
    assert not any(cell[:1] in "=+-@" for cell in cells if cell)
    assert ["1", "SMS", "Levererat", "1"] in rows


def test_the_sms_cost_is_written_as_the_reader_writes_numbers(session, office, as_):
    """ "1.00 kr" on a Swedish page reads as a typo; Swedish writes "1,00 kr"."""
    _people(session)
    notice = notice_in_state(session, office, "pending")
    client = as_("approver")
    swedish = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    assert re.search(r"Kostnad: \d+,\d\d kr per mottagare, \d+,\d\d kr för 1 mottagare", swedish)
    english = client.get(f"/console/notices/{notice.id}?lang=en").get_data(as_text=True)
    assert re.search(r"Cost: SEK \d+\.\d\d per recipient", english)


def test_the_reach_shown_before_publishing_is_who_the_fan_out_writes(session, office, as_):
    """A resident who chose only electricity notices, or paused alerts, is not reached by a
    water notice: the reach an approver reads must not count them (it did)."""
    from datetime import UTC, datetime, timedelta

    from alerts.notices.operations import approve_notice, publish_notice
    from alerts.residents.models import category_mask
    from tests.delivery import expand_all

    add_subscriber(session, GESUNDA, phone="+46701740605")
    add_subscriber(
        session, GESUNDA, phone="+46701740606", categories=category_mask(["electricity"])
    )
    add_subscriber(
        session,
        GESUNDA,
        phone="+46701740607",
        paused_until=datetime.now(UTC) + timedelta(days=1),
    )
    session.commit()
    notice = notice_in_state(session, office, "pending")
    client = as_("approver")
    page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
    summary = re.search(r"\d+ prenumerant[^<]*", page)
    assert summary is not None and summary.group(0).startswith("1 prenumerant; SMS: 1 (Svenska 1)")
    headers = api_headers(session, office["author"])
    session.commit()
    found = client.get(f"/api/v1/notices/{notice.id}/reach", headers=headers).get_json()
    assert found["subscribers"] == 1 and found["channels"]["sms"]["total"] == 1
    approve_notice(session, notice, by=office["approver"])
    publish_notice(session, notice, by=office["approver"])
    session.commit()
    expand_all(session)
    written = session.query(Delivery).filter_by(notice_id=notice.id, channel="sms").count()
    assert written == found["channels"]["sms"]["total"]


def test_an_updates_reach_counts_who_got_the_alert_as_well_as_the_new_area(session, office, as_):
    """An update that moves the area to Bergkarlås still goes to the Gesunda resident who
    got the alert, and the all-clear goes to exactly those two: the approver's reach
    must say so (it counted the new area only, and the area for the all-clear)."""
    from alerts.notices.operations import (
        approve_notice,
        cancel_notice,
        publish_notice,
        update_notice,
    )
    from alerts.notices.schemas import CancelIn, NoticeChangesIn
    from tests.delivery import expand_all

    add_subscriber(session, GESUNDA, phone="+46701740605")
    add_subscriber(session, centre(BERGKARLAS_BOX), phone="+46701740606", language="en")
    session.commit()
    notice = notice_in_state(session, office, "active")
    expand_all(session)

    def sent(number: int) -> int:
        rows = session.query(Delivery).filter_by(notice_id=notice.id, revision_number=number)
        for row in rows:  # handed to the provider, as a dispatcher would
            row.status, row.attempts = "accepted", 1
        session.commit()
        return rows.filter_by(channel="sms").count()

    assert sent(1) == 1
    moved = NoticeChangesIn.model_validate({"area": {"zones": ["bergkarlas"]}})
    update_notice(session, notice, moved, by=office["author"])
    session.commit()
    client = as_("approver")

    def summary() -> str:
        page = client.get(f"/console/notices/{notice.id}").get_data(as_text=True)
        found = re.search(r'id="reach-summary">([^<]*)', page)
        assert found is not None
        return found.group(1)

    assert summary().startswith("2 prenumeranter; SMS: 2 (Svenska 1, Engelska 1)")
    headers = api_headers(session, office["author"])
    session.commit()

    def api_sms() -> dict:
        found = client.get(f"/api/v1/notices/{notice.id}/reach", headers=headers).get_json()
        return found["channels"]["sms"]

    # The API's figure is the console's: it counted the new area only.
    assert api_sms() == {"total": 2, "by_language": {"sv": 1, "en": 1}}
    approve_notice(session, notice, by=office["approver"])
    publish_notice(session, notice, by=office["approver"])
    session.commit()
    expand_all(session)
    assert sent(2) == 2
    # someone new in Bergkarlås after the update: the all-clear is not for them
    add_subscriber(session, centre(BERGKARLAS_BOX), phone="+46701740607", language="en")
    cancel_notice(session, notice, CancelIn(), by=office["author"])
    session.commit()
    assert summary().startswith("2 prenumeranter; SMS: 2 (Svenska 1, Engelska 1)")
    # The two the alert and the update went to, not the area's two English speakers now.
    assert api_sms() == {"total": 2, "by_language": {"sv": 1, "en": 1}}
    approve_notice(session, notice, by=office["approver"])
    publish_notice(session, notice, by=office["approver"])
    session.commit()
    expand_all(session)
    assert sent(3) == 2


def test_the_apis_reach_of_an_unsaved_area_follows_a_category(session, office, client):
    """A system drafting through the API asks who a water notice would reach: the resident
    who chose only electricity is not counted, as the publish would not write them."""
    from alerts.residents.models import category_mask

    add_subscriber(session, GESUNDA, phone="+46701740605")
    add_subscriber(
        session, GESUNDA, phone="+46701740606", categories=category_mask(["electricity"])
    )
    headers = api_headers(session, office["author"])
    session.commit()

    def ask(**extra):
        body = {"area": {"zones": ["gesunda"]}, "channels": ["sms"], **extra}
        return client.post("/api/v1/reach", json=body, headers=headers)

    assert ask().get_json()["subscribers"] == 2  # no category: everyone in the area
    assert ask(category="water").get_json()["subscribers"] == 1
    assert ask(category="electricity").get_json()["subscribers"] == 2
    bad = ask(category="weather")
    assert bad.status_code == 422 and bad.get_json()["field"] == "category"


def test_the_editors_live_reach_follows_the_chosen_category(session, office, as_):
    """While drafting, the reach beside the map counts only those a notice of the chosen
    category reaches, as the saved draft's page then does."""
    from alerts.residents.models import category_mask

    add_subscriber(session, GESUNDA, phone="+46701740605")
    add_subscriber(
        session, GESUNDA, phone="+46701740606", categories=category_mask(["electricity"])
    )
    session.commit()
    client = as_("author")
    area = {"zones": ["gesunda"]}
    assert client.post("/console/reach", json={"area": area}).get_json()["subscribers"] == 2
    water = client.post("/console/reach", json={"area": area, "category": "water"}).get_json()
    assert water["subscribers"] == 1
    power = client.post("/console/reach", json={"area": area, "category": "electricity"})
    assert power.get_json()["subscribers"] == 2
    bad = client.post("/console/reach", json={"area": area, "category": "weather"})
    assert bad.get_json()["subscribers"] == 2  # an unknown category counts the area
    odd = client.post("/console/reach", json={"area": area, "category": ["water"]})
    assert odd.status_code == 200 and odd.get_json()["subscribers"] == 2
    page = client.get("/console/notices/new").get_data(as_text=True)
    assert 'data-reach-category="f-category"' in page

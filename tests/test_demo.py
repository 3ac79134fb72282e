"""``varsla demo``: loads once, loads again without duplicates, and a notice reaches its people."""

from __future__ import annotations

import re
import uuid

import phonenumbers
import shapely
from shapely.geometry import shape
from sqlalchemy import select

from alerts.models import Address, Notice, Operator, Subscriber, SubscriberLocation, Zone
from alerts.operators.auth import authenticate
from alerts.places.targeting import subscriber_ids_in_area
from tests.conftest import running_app
from tests.factories import api_headers, notice_payload
from tests.places.helpers import count


def counts(session) -> dict[str, int]:
    return {
        model.__name__: count(session, model)
        for model in (Zone, Address, Operator, Subscriber, SubscriberLocation)
    }


def test_demo_loads_twice_without_duplicates(runner, session):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "zones from municipalities.geojson: 2 (2 new, 0 updated): motala, mora" in first.output
    assert (
        "zones from water_zones.geojson: 5 (5 new, 0 updated): motala-centrum, borensberg, "
        "mora-centrum, gesunda, bergkarlas"
    ) in first.output
    assert "address register: 2000 SYNTHETIC addresses (2000 new, 0 updated)" in first.output
    assert "subscribers: 300 invented residents (300 new)" in first.output
    assert "/console/" in first.output
    passwords = dict(re.findall(r"(\S+@demo\.varsla\.se) \(\w+\): password (\S+)", first.output))
    assert set(passwords) == {
        "author@demo.varsla.se",
        "approver@demo.varsla.se",
        "admin@demo.varsla.se",
    }
    loaded = counts(session)
    assert loaded == {
        "Zone": 7,
        "Address": 2000,
        "Operator": 3,
        "Subscriber": 300,
        "SubscriberLocation": 300,
    }

    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert second.output.count("exists already, password unchanged") == 3
    assert "password " not in second.output.replace("password unchanged", "")
    assert "subscribers: 300 invented residents (0 new)" in second.output
    assert counts(session) == loaded
    for email, password in passwords.items():
        assert authenticate(session, email, password, client="test") is not None

    assert all(a.synthetic for a in session.scalars(select(Address)))
    roles = {o.email: o.role for o in session.scalars(select(Operator))}
    assert roles == {
        "author@demo.varsla.se": "author",
        "approver@demo.varsla.se": "approver",
        "admin@demo.varsla.se": "admin",
    }
    subscribers = list(session.scalars(select(Subscriber)))
    assert {(s.legal_basis, s.source) for s in subscribers} == {("consent", "demo")}
    assert {s.language for s in subscribers} == {"sv", "en"}
    phones = [s.phone for s in subscribers if s.phone]
    assert len(phones) == 95
    for phone in phones:
        assert re.fullmatch(r"\+467017406\d\d", phone) and int(phone[-2:]) >= 5
        number = phonenumbers.parse(phone)
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    assert all(s.email is None or s.email.endswith("@example.org") for s in subscribers)
    assert all(s.verified_at is not None for s in subscribers)


def test_a_notice_on_gesunda_finds_the_demo_subscribers_there(runner, session, client):
    assert runner.invoke(args=["demo"]).exit_code == 0
    author = session.scalar(select(Operator).where(Operator.email == "author@demo.varsla.se"))
    headers = api_headers(session, author)
    session.commit()
    response = client.post("/api/v1/notices", json=notice_payload(), headers=headers)
    assert response.status_code == 201, response.get_json()
    notice = session.get(Notice, uuid.UUID(response.get_json()["id"]))
    revision = notice.revisions[-1]

    found = subscriber_ids_in_area(session, revision.area_geojson, revision.area_bbox)

    gesunda = shape(session.scalar(select(Zone).where(Zone.slug == "gesunda")).geometry)
    expected = {
        location.subscriber_id
        for location in session.scalars(select(SubscriberLocation))
        if shapely.intersects_xy(gesunda, location.lon, location.lat)
    }
    assert len(expected) >= 10
    assert found == expected
    assert all(
        "Sollerön" in location.label or "Mora" in location.label
        for location in session.scalars(
            select(SubscriberLocation).where(SubscriberLocation.subscriber_id.in_(found))
        )
    )


def test_the_demo_says_where_this_installation_serves_its_console(database_url, tmp_path):
    """`PORT=5077 python3 dev.py start` printed "open http://127.0.0.1:5000/console/"."""
    with running_app(database_url, tmp_path, VARSLA_BASE_URL="http://127.0.0.1:5077") as app:
        output = app.test_cli_runner().invoke(args=["demo"]).output
    assert "open http://127.0.0.1:5077/console/ to log in" in output
    assert ":5000" not in output

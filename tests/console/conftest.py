"""Fixtures for the console: two zones in two municipalities, operators of every role,
subscribers and register addresses, and logged-in test clients."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.models import Address, Subscriber, SubscriberLocation
from tests.factories import (
    BERGKARLAS_BOX,
    PASSWORD,
    create_operator,
    create_zone,
)

#: Mora municipality around both test zones, and a made-up neighbour far to the south.
MORA_BOX = (14.3, 60.8, 14.7, 61.0)
MOTALA_BOX = (15.0, 58.5, 15.2, 58.6)
BORENSBERG_BOX = (15.26, 58.55, 15.30, 58.57)
EMAILS = {
    "author": "author@test.varsla.se",
    "author2": "author2@test.varsla.se",
    "approver": "approver@test.varsla.se",
    "admin": "admin@test.varsla.se",
}


def centre(box):
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def add_subscriber(
    session,
    lon_lat,
    *,
    phone=None,
    email=None,
    language="sv",
    verified=True,
    address=None,
    **fields,
):
    now = datetime.now(UTC) if verified else None
    # Each contact is verified on its own (a resident may confirm the phone, not the email).
    subscriber = Subscriber(
        phone=phone,
        email=email,
        language=language,
        verified_at=now,
        phone_verified_at=now if phone else None,
        email_verified_at=now if email else None,
        **fields,
    )
    subscriber.locations.append(SubscriberLocation(lon=lon_lat[0], lat=lon_lat[1], address=address))
    session.add(subscriber)
    session.flush()
    return subscriber


def add_address(session, lon_lat, street="Storgatan", number=1):
    address = Address(
        street=street,
        number=number,
        postcode="79230",
        city="Mora",
        street_key=street.lower(),
        lon=lon_lat[0],
        lat=lon_lat[1],
    )
    session.add(address)
    session.flush()
    return address


@pytest.fixture
def office(session):
    """Zones (Gesunda and Bergkarlås in Mora, Borensberg in Motala) and one operator per role."""
    create_zone(session, "mora", "Mora", MORA_BOX, kind="municipality")
    create_zone(session, "motala", "Motala", (15.0, 58.4, 15.5, 58.7), kind="municipality")
    create_zone(session)
    create_zone(session, "bergkarlas", "Bergkarlås", BERGKARLAS_BOX)
    create_zone(session, "borensberg", "Borensberg", BORENSBERG_BOX)
    operators = {
        key: create_operator(session, key.rstrip("2"), email) for key, email in EMAILS.items()
    }
    session.commit()
    return operators


def login(client, who: str):
    response = client.post("/console/login", data={"email": EMAILS[who], "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def as_(app, office):
    """``as_("author")``: a test client logged in as that operator."""

    def make(who: str):
        return login(app.test_client(), who)

    return make


def notice_in_state(session, operators, state: str):
    """A notice the author wrote, brought to ``state`` by the author and the approver:
    draft, pending, approved, active, update_pending, cancelled."""
    from alerts.notices.operations import (
        approve_notice,
        cancel_notice,
        create_notice,
        publish_notice,
        submit_notice,
        update_notice,
    )
    from alerts.notices.schemas import CancelIn, NoticeChangesIn, NoticeIn
    from tests.factories import notice_payload

    author, approver = operators["author"], operators["approver"]
    notice = create_notice(session, NoticeIn.model_validate(notice_payload()), by=author)
    if state not in ("draft", "cancelled"):
        submit_notice(session, notice, by=author)
    if state in ("approved", "active", "update_pending"):
        approve_notice(session, notice, by=approver)
    if state in ("active", "update_pending"):
        publish_notice(session, notice, by=approver)
    if state == "update_pending":
        changes = {"texts": {"sv": {"headline": "Koka vattnet i Gesunda och Östnor"}}}
        update_notice(session, notice, NoticeChangesIn.model_validate(changes), by=author)
    if state == "cancelled":
        cancel_notice(session, notice, CancelIn(), by=author)
    session.commit()
    return notice

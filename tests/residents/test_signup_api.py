"""Signing up through the JSON API: what arrives over the fake Twilio server and aiosmtpd,
what the API answers, and who receives a published notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from alerts.models import Consent, Subscriber, SubscriberLocation, VerificationCode
from alerts.residents.register_import import import_residents
from tests.delivery import run_dispatcher
from tests.residents.conftest import (
    COTTAGE,
    HOME,
    NO_ZONE,
    code_from,
    link_from,
    mails_to,
    sms_to,
    subscribe,
    verify,
)

PHONE = "+46701740605"


def test_a_resident_signs_up_verifies_both_contacts_and_gets_notices(
    dispatch_app, db_session, register, client, desk, fake_twilio, fake_smtp
):
    answer = subscribe(client, phone="070-174 06 05", email="anna@example.se", categories=["water"])
    assert answer["status"] == "pending_verification"
    assert answer["verification"] == {"sms": "sent", "email": "sent"}
    [sms] = sms_to(fake_twilio, PHONE)
    assert "Mora kommun" in sms and "10 minuter" in sms
    [mail] = mails_to(fake_smtp, "anna@example.se")
    assert "Bekräfta" in mail.message["Subject"]

    # Unverified contacts get nothing but their verification.
    desk.publish()
    run_dispatcher(dispatch_app)
    assert len(sms_to(fake_twilio, PHONE)) == 1
    assert len(mails_to(fake_smtp, "anna@example.se")) == 1

    verified = verify(client, "070-174 06 05", code_from(fake_twilio, PHONE)).get_json()
    assert verified["status"] == "active"
    assert verified["addresses"] == [HOME]
    assert verified["categories"] == ["water"]
    assert client.get(verified["manage_url"].removeprefix("http://varsla.test")).status_code == 200

    # The email link opens a page; only its button confirms.
    link = link_from(fake_smtp, "anna@example.se", "/subscriptions/confirm/")
    path = link.removeprefix("http://varsla.test")
    page = client.get(path)
    assert page.status_code == 200 and "Bekräfta e-postadressen" in page.get_data(as_text=True)
    db_session.expire_all()
    subscriber = db_session.get(Subscriber, answer["id"])
    assert subscriber.phone_verified_at is not None and subscriber.email_verified_at is None
    assert client.post(path).status_code == 200
    db_session.expire_all()
    assert db_session.get(Subscriber, answer["id"]).email_verified_at is not None

    fake_twilio.clear()
    desk.publish(category="roads", texts={"sv": {"headline": "Vägen är avstängd"}})
    desk.publish()
    run_dispatcher(dispatch_app)
    bodies = sms_to(fake_twilio, PHONE)
    assert len(bodies) == 1 and "Koka vattnet i Gesunda" in bodies[0]
    assert [m.message["Subject"] for m in mails_to(fake_smtp, "anna@example.se")][-1] == (
        "Koka vattnet i Gesunda"
    )
    # The footer's manage link opens this resident's page.
    manage = link_from(fake_smtp, "anna@example.se", "/subscriptions/")
    assert client.get(manage.removeprefix("http://varsla.test")).status_code == 200


def test_an_english_speaker_gets_english_texts(dispatch_app, register, client, desk, fake_twilio):
    subscribe(client, phone="0701740605", language="en")
    [sms] = sms_to(fake_twilio, PHONE)
    assert "is your code for alerts from Mora kommun" in sms
    verify(client, PHONE, code_from(fake_twilio, PHONE))
    desk.publish()
    run_dispatcher(dispatch_app)
    assert "Boil water in Gesunda" in sms_to(fake_twilio, PHONE)[-1]


def test_an_unknown_address_is_refused_with_suggestions(register, client):
    response = client.post(
        "/api/v1/subscriptions", json={"address": "Gesundavägen 99, Sollerön", "phone": PHONE}
    )
    assert response.status_code == 422
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem["field"] == "address"
    assert [s["label"] for s in problem["suggestions"]][:2] == [
        "Gesundavägen 5, 792 90 Sollerön",
        "Gesundavägen 7, 792 90 Sollerön",
    ]


def test_an_address_in_no_zone_is_accepted_and_address_id_works(register, client, db_session):
    items = client.get("/api/v1/addresses", query_string={"q": "Storgatan 8"}).get_json()["items"]
    assert items[0]["label"] == NO_ZONE and items[0]["zones"] == []
    answer = subscribe(client, address=None, address_id=items[0]["id"], email="bo@example.se")
    assert answer["verification"] == {"sms": None, "email": "sent"}


@pytest.mark.parametrize(
    ("phone", "why"),
    [
        ("+47 912 34 567", "mobilnummer i SE"),  # a Norwegian mobile
        # The API's problem details are English (the pages show the Swedish).
        ("08-123 456 78", "not a mobile number"),  # a Stockholm landline
        ("12", "not valid"),
        ("not a number", "not a phone number"),
    ],
)
def test_numbers_that_cannot_sign_up_are_refused_naming_phone(
    register, client, fake_twilio, phone, why
):
    response = client.post("/api/v1/subscriptions", json={"address": HOME, "phone": phone})
    assert response.status_code == 422
    assert response.get_json()["field"] == "phone"
    assert why in response.get_json()["detail"]
    assert fake_twilio.messages == []


def test_allowed_countries_come_from_configuration(dispatch_app, register, client, fake_twilio):
    from alerts.config import settings

    dispatch_app.extensions["varsla_settings"] = settings(dispatch_app).model_copy(
        update={"sms_countries": "SE,NO"}
    )
    subscribe(client, phone="+47 912 34 567")
    assert [m.to for m in fake_twilio.messages] == ["+4791234567"]


def test_bad_bodies_name_the_field(register, client):
    for body, field in [
        ({"phone": PHONE}, "address"),
        ({"address": HOME}, "phone"),
        ({"address": HOME, "phone": PHONE, "language": "de"}, "language"),
        ({"address": HOME, "phone": PHONE, "categories": ["weather"]}, "categories.0"),
        ({"address": HOME, "email": "anna@"}, "email"),
        ({"address": HOME, "phone": PHONE, "colour": "red"}, "colour"),
    ]:
        response = client.post("/api/v1/subscriptions", json=body)
        assert response.status_code == 422, body
        assert response.get_json()["field"] == field, (body, response.get_json())


def test_wrong_expired_and_exhausted_codes_fail(
    dispatch_app, db_session, register, client, fake_twilio
):
    subscribe(client, phone=PHONE)
    code = code_from(fake_twilio, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    problem = verify(client, PHONE, wrong, expect=422).get_json()
    assert problem["field"] == "code" and "not right" in problem["detail"]

    # Expired: ten minutes later the right code no longer works.
    db_session.execute(
        update(VerificationCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    db_session.commit()
    problem = verify(client, PHONE, code, expect=422).get_json()
    assert problem["field"] == "code" and "expired" in problem["detail"]

    # A new code; five wrong tries, then even the right code is refused.
    subscribe(client, phone=PHONE)
    code = code_from(fake_twilio, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        verify(client, PHONE, wrong, expect=422)
    fifth = verify(client, PHONE, wrong, expect=429)
    assert fifth.headers["Retry-After"]
    assert verify(client, PHONE, code, expect=429).get_json()["field"] == "code"
    db_session.expire_all()
    assert db_session.scalar(select(Subscriber.phone_verified_at)) is None


def test_the_sixth_code_for_one_number_within_an_hour_is_refused(register, client, fake_twilio):
    for _ in range(5):
        subscribe(client, phone=PHONE)
    response = client.post("/api/v1/subscriptions", json={"address": HOME, "phone": PHONE})
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 3600
    problem = response.get_json()
    assert problem["field"] == "phone"
    assert "minuter" in problem["detail"] and "För många försök" in problem["detail"]
    assert len(sms_to(fake_twilio, PHONE)) == 5
    # Another number from another address is not held up by this one.
    other = client.post(
        "/api/v1/subscriptions",
        json={"address": HOME, "phone": "0701740606"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert other.status_code == 202


def test_limits_per_ip_prefix_and_installation(dispatch_app, register, client, monkeypatch):
    from alerts.config import settings
    from alerts.residents import limits

    def sign_up(number: int, ip: str):
        return client.post(
            "/api/v1/subscriptions",
            json={"address": HOME, "phone": f"+4670{number:07d}"},
            environ_base={"REMOTE_ADDR": ip},
        )

    monkeypatch.setattr(limits, "PER_IP", 2)
    assert [sign_up(n, "10.0.0.1").status_code for n in range(3)] == [202, 202, 429]
    monkeypatch.setattr(limits, "PER_IP", 100)
    monkeypatch.setattr(limits, "PER_PREFIX", 3)  # the two above and one more
    assert sign_up(10, "10.0.0.3").status_code == 202
    assert sign_up(11, "10.0.0.4").status_code == 429
    assert sign_up(9_000_000, "10.0.0.5").status_code == 202  # another prefix (+467090...)

    dispatch_app.extensions["varsla_settings"] = settings(dispatch_app).model_copy(
        update={"verify_budget": 4}
    )
    refused = sign_up(5_000_000, "10.0.0.6")
    assert refused.status_code == 429
    assert "Tjänsten har skickat så många koder" in refused.get_json()["detail"]


def test_the_manage_link_answer_is_the_same_for_known_and_unknown(
    dispatch_app, db_session, register, client, fake_twilio
):
    subscribe(client, phone=PHONE)
    verify(client, PHONE, code_from(fake_twilio, PHONE))
    fake_twilio.clear()
    known = client.post("/api/v1/subscriptions/manage-link", json={"phone": "070-174 06 05"})
    unknown = client.post("/api/v1/subscriptions/manage-link", json={"phone": "070-174 06 99"})
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    [sms] = [m.body for m in fake_twilio.messages]
    assert [m.to for m in fake_twilio.messages] == [PHONE]
    url = sms.split()[-1]
    assert client.get(url.removeprefix("http://varsla.test")).status_code == 200
    bad = client.post("/api/v1/subscriptions/manage-link", json={"phone": PHONE, "email": "a@b.se"})
    assert bad.status_code == 422


def test_a_resident_from_the_register_who_signs_up_is_merged_not_duplicated(
    dispatch_app, db_session, register, client, fake_twilio
):
    import_residents(
        db_session,
        f'address,phone,email,language\n"{HOME}",{PHONE},,sv\n'.encode(),
        source_label="kundregister",
    )
    db_session.commit()
    imported = db_session.scalar(select(Subscriber.id))
    answer = subscribe(client, address=COTTAGE, phone=PHONE, language="en", categories=["water"])
    verified = verify(client, PHONE, code_from(fake_twilio, PHONE)).get_json()
    assert verified["id"] == imported != answer["id"]
    db_session.expire_all()
    [subscriber] = db_session.scalars(select(Subscriber)).all()
    assert subscriber.legal_basis == "consent"
    assert subscriber.language == "en" and subscriber.category_names == ["water"]
    assert sorted(loc.label for loc in subscriber.locations) == sorted([HOME, COTTAGE])
    consent = db_session.scalars(select(Consent)).one()
    assert consent.subscriber_id == imported
    assert consent.details["address"] == COTTAGE and consent.text_version


def test_unverified_sign_ups_are_purged_after_a_day(
    dispatch_app, db_session, register, client, fake_twilio
):
    from alerts.residents.jobs import purge_unverified_signups

    old = subscribe(client, phone=PHONE)
    subscribe(client, phone="0701740606", environ_base=None) if False else None
    kept = subscribe(client, email="bo@example.se")
    db_session.execute(
        update(Subscriber)
        .where(Subscriber.id == old["id"])
        .values(created_at=datetime.now(UTC) - timedelta(hours=25))
    )
    db_session.commit()
    assert purge_unverified_signups(db_session) == 1
    db_session.commit()
    ids = set(db_session.scalars(select(Subscriber.id)))
    assert ids == {kept["id"]}
    assert db_session.scalars(select(SubscriberLocation.subscriber_id)).all() == [kept["id"]]


def test_a_shared_email_never_costs_a_verified_phone_or_a_double_email(
    dispatch_app, db_session, register, client, desk, fake_twilio, fake_smtp
):
    from tests.delivery import create_subscriber

    create_subscriber(db_session, phone="+46701000001", email="familj@example.se")
    db_session.commit()
    answer = subscribe(client, address=COTTAGE, phone=PHONE, email="familj@example.se")
    verify(client, PHONE, code_from(fake_twilio, PHONE))
    confirm = link_from(fake_smtp, "familj@example.se", "/subscriptions/confirm/")
    assert client.post(confirm.removeprefix("http://varsla.test")).status_code == 200
    db_session.expire_all()
    by_phone = {s.phone: s for s in db_session.scalars(select(Subscriber))}
    assert set(by_phone) == {"+46701000001", PHONE}
    assert by_phone[PHONE].id == answer["id"] and by_phone[PHONE].phone_verified_at is not None
    assert by_phone[PHONE].email is None
    assert sorted(loc.label for loc in by_phone["+46701000001"].locations) == ["", COTTAGE]

    mails_before = len(mails_to(fake_smtp, "familj@example.se"))
    desk.publish(area={"zones": ["bergkarlas"]})
    run_dispatcher(dispatch_app)
    assert len(mails_to(fake_smtp, "familj@example.se")) == mails_before + 1
    assert any("Koka vattnet" in body for body in sms_to(fake_twilio, PHONE))

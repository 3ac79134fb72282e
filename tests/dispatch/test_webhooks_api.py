"""Receipts and inbound SMS (signed, monotonic), the deliveries API, the outbox page, metrics."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from sqlalchemy import select

from alerts.dispatch.outcomes import RetryPolicy
from alerts.models import Delivery, OutboxMessage, Subscriber
from tests.conftest import make_test_app, truncate_all
from tests.delivery import Desk, create_subscriber, provider_config, run_dispatcher
from tests.factories import PASSWORD, api_headers


def _post_signed(client, fake, url: str, params: dict, *, signature: str | None = None):
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.post(
        path,
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature or fake.sign(url, params)},
    )


def _receipt(client, fake, message, status: str, error_code=None, **kw):
    params = fake.callback_params(message.sid, status, error_code)
    return _post_signed(client, fake, message.status_callback, params, **kw)


def _delivery(session, phone: str) -> Delivery:
    session.expire_all()
    return session.scalars(
        select(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Subscriber.phone == phone)
        .order_by(Delivery.id.desc())
    ).first()


def test_receipts_move_forward_only_and_forgeries_are_refused(
    dispatch_app, db_session, desk, fake_twilio
):
    client = dispatch_app.test_client()
    create_subscriber(db_session, phone="+46708000001")
    create_subscriber(db_session, phone="+46708000002")
    db_session.commit()
    desk.publish(channels=["sms"])
    run_dispatcher(dispatch_app)
    first, second = sorted(fake_twilio.messages, key=lambda m: m.to)
    assert _delivery(db_session, first.to).provider_ref == first.sid

    assert _receipt(client, fake_twilio, first, "sent").status_code == 200
    assert _receipt(client, fake_twilio, first, "delivered").status_code == 200
    assert _delivery(db_session, first.to).status == "delivered"
    # Replayed and late receipts change nothing.
    assert _receipt(client, fake_twilio, first, "delivered").get_data(as_text=True) == "ignored\n"
    assert _receipt(client, fake_twilio, first, "sent").status_code == 200
    assert _delivery(db_session, first.to).status == "delivered"
    # Forged: wrong signature, or a signature over other parameters.
    assert (
        _receipt(client, fake_twilio, second, "delivered", signature="bm90IGl0").status_code == 403
    )
    params = fake_twilio.callback_params(second.sid, "sent")
    signed = fake_twilio.sign(second.status_callback, params)
    forged = {**params, "MessageStatus": "delivered"}
    assert (
        _post_signed(
            client, fake_twilio, second.status_callback, forged, signature=signed
        ).status_code
        == 403
    )
    unsigned = client.post(urlsplit(second.status_callback).path, data=params)
    assert unsigned.status_code == 403
    assert _delivery(db_session, second.to).status == "accepted"
    # A signed receipt for a message we never sent is refused as unknown.
    unknown = {**params, "MessageSid": "SM" + "0" * 32}
    url = "http://varsla.test/webhooks/twilio/status"
    assert _post_signed(client, fake_twilio, url, unknown).status_code == 404

    # Undelivered for a transient reason (30003: handset off) sends again, once.
    assert (
        _receipt(client, fake_twilio, second, "undelivered", "30003").get_data(as_text=True)
        == "retry\n"
    )
    run_dispatcher(dispatch_app)
    resent = [m for m in fake_twilio.messages if m.to == second.to]
    assert len(resent) == 2
    assert _delivery(db_session, second.to).attempts == 2
    # The first attempt's late receipt is stale now.
    assert _receipt(client, fake_twilio, second, "delivered").get_data(as_text=True) == "stale\n"
    assert _delivery(db_session, second.to).status == "accepted"
    assert _receipt(client, fake_twilio, resent[1], "undelivered", "30006").status_code == 200
    assert _delivery(db_session, second.to).status == "undelivered"
    assert _delivery(db_session, second.to).error_code == "30006"


def test_inbound_stop_and_start(dispatch_app, db_session, fake_twilio):
    client = dispatch_app.test_client()
    resident = create_subscriber(db_session, phone="+46709000001")
    db_session.commit()
    url = "http://varsla.test/webhooks/twilio/inbound"
    params = {"From": "+46709000001", "To": "Gesunda", "Body": "Sluta", "MessageSid": "SM1"}
    refused = _post_signed(client, fake_twilio, url, params, signature="Zm9yZ2Vk")
    assert refused.status_code == 403
    answer = _post_signed(client, fake_twilio, url, params)
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    assert "<Message>Du får inga fler sms" in answer.get_data(as_text=True)
    db_session.refresh(resident)
    assert resident.sms_opted_out_at is not None
    start = {**params, "Body": "START", "MessageSid": "SM2"}
    answer = _post_signed(client, fake_twilio, url, start)
    db_session.refresh(resident)
    assert resident.sms_opted_out_at is None
    help_answer = _post_signed(
        client, fake_twilio, url, {**params, "Body": "HJÄLP", "MessageSid": "SM3"}
    )
    assert "STOPP" in help_answer.get_data(as_text=True)


def test_deliveries_api_counts_and_failures_and_sms_preview(
    dispatch_app, db_session, desk, fake_twilio
):
    client = dispatch_app.test_client()
    fake_twilio.faults["+46710000002"] = "21211"
    create_subscriber(db_session, phone="+46710000001", email="a@example.se")
    create_subscriber(db_session, phone="+46710000002")
    headers = api_headers(db_session, desk.author)
    db_session.commit()
    notice = desk.publish()
    run_dispatcher(dispatch_app)
    body = client.get(f"/api/v1/notices/{notice.id}/deliveries", headers=headers).get_json()
    assert body["total"] == 3
    assert body["by_channel"] == {"sms": {"accepted": 1, "failed": 1}, "email": {"accepted": 1}}
    assert body["reasons"] == [
        {"channel": "sms", "status": "failed", "error_code": "21211", "count": 1}
    ]
    [failure] = body["failures"]
    assert failure["error_code"] == "21211" and "Invalid 'To'" in failure["error"]
    assert failure["recipient"] == "+467****02"
    assert client.get(f"/api/v1/notices/{notice.id}/deliveries").status_code == 401

    preview = client.get(f"/api/v1/notices/{notice.id}/sms-preview", headers=headers).get_json()
    sv = preview["languages"]["sv"]
    assert sv["encoding"] == "GSM-7" and sv["segments"] == 1
    assert sv["body"].startswith("Koka vattnet i Gesunda")
    assert preview["languages"]["en"]["body"].startswith("Boil water")

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'varsla_deliveries{channel="sms",status="failed"} 1' in metrics


def test_deliveries_api_says_why_deliveries_wait_for_another_try(
    dispatch_app, db_session, desk, fake_twilio
):
    """An operator whose provider is down sees why, before the attempts run out."""
    client = dispatch_app.test_client()
    fake_twilio.faults["+46710000002"] = "503"
    create_subscriber(db_session, phone="+46710000001")
    create_subscriber(db_session, phone="+46710000002")
    headers = api_headers(db_session, desk.author)
    db_session.commit()
    notice = desk.publish(channels=["sms"])
    run_dispatcher(
        dispatch_app, retry=RetryPolicy(max_attempts=6, base_s=600, max_s=900)
    )  # the next try is far off

    body = client.get(f"/api/v1/notices/{notice.id}/deliveries", headers=headers).get_json()
    assert body["by_channel"] == {"sms": {"accepted": 1, "pending": 1}}
    assert body["reasons"] == [
        {"channel": "sms", "status": "pending", "error_code": "20503", "count": 1}
    ]


def test_without_providers_messages_land_in_the_outbox_marked_not_sent(database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, **provider_config(None, None))
    with app.app_context():
        from alerts.extensions import db

        session = db.sessionmaker()
        try:
            desk = Desk(session)
            create_subscriber(session, phone="+46711000001", email="c@example.se", language="en")
            session.commit()
            desk.publish()
            counts = run_dispatcher(app)
            assert counts == {"accepted": 2}
            outbox = session.scalars(select(OutboxMessage).order_by(OutboxMessage.channel)).all()
            assert [(m.channel, m.recipient) for m in outbox] == [
                ("email", "c@example.se"),
                ("sms", "+46711000001"),
            ]
            assert outbox[0].subject == "Boil water in Gesunda"
            client = app.test_client()
            client.post(
                "/console/login", data={"email": "author@test.varsla.se", "password": PASSWORD}
            )
            page = client.get("/console/outbox").get_data(as_text=True)
            assert "NOT SENT — no SMS/email provider configured" in page
            assert "+46711000001" in page and "Boil water in Gesunda" in page
        finally:
            session.close()
            db.session.close()
            truncate_all(db.engine)
            db.engine.dispose()

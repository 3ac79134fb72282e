"""A Twilio receipt that overtakes the worker: the same outcome whichever arrives first.

Twilio may POST the status callback of a message before the worker that sent
it has recorded that Twilio accepted it, while the row is still ``sending``
under the worker's lease. An "undelivered" for a transient reason must then
still bring the SMS again (or fail it when out of attempts), and anything
else the receipt says must survive the worker's record.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select

from alerts.dispatch.claim import claim_batch
from alerts.dispatch.outcomes import TRANSIENT_RECEIPT_CODES, SendReport, apply_reports
from alerts.dispatch.worker import DispatcherSettings
from alerts.models import Delivery, Notice, Subscriber
from channels.base import DeliveryResult, Outcome

from .conftest import create_subscriber, run_dispatcher

PHONE = "+46712000001"
STATUS_URL = "http://varsla.test/webhooks/twilio/status"


def _post_receipt(app, fake, url: str, sid: str, status: str, error_code: str | None) -> str:
    """POST a receipt signed as Twilio signs it; returns what the webhook answered."""
    params = {
        "AccountSid": fake.account_sid,
        "ApiVersion": "2010-04-01",
        "From": "Gesunda",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": PHONE,
    }
    if error_code is not None:
        params["ErrorCode"] = error_code
    parts = urlsplit(url)
    response = app.test_client().post(
        f"{parts.path}?{parts.query}",
        data=urlencode(params),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": fake.sign(url, params)},
    )
    assert response.status_code == 200
    return response.get_data(as_text=True).strip()


def _delivery(session, revision_number: int = 1) -> Delivery:
    session.expire_all()
    return session.scalars(
        select(Delivery)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Subscriber.phone == PHONE, Delivery.revision_number == revision_number)
    ).one()


def _sent_to_resident(fake_twilio) -> list[str]:
    return [m.body for m in fake_twilio.messages if m.to == PHONE]


def _publish(db_session, desk, **payload) -> Notice:
    create_subscriber(db_session, phone=PHONE)
    db_session.commit()
    return desk.publish(channels=["sms"], **payload)


def _send_with_receipt(
    app, db_session, fake_twilio, code: str, *, receipt_first: bool, meanwhile=None
) -> str:
    """Claim the resident's delivery, and record Twilio's acceptance and its receipt.

    ``receipt_first``: the receipt comes while the row is still sending (the race);
    otherwise after the worker's record (the usual order). ``meanwhile`` is called
    while the send is out. Returns the webhook's answer.
    """
    [claimed] = claim_batch(db_session, "worker-a", 10, lease_s=60)
    db_session.commit()
    if meanwhile is not None:
        meanwhile()
    sid = "SM" + secrets.token_hex(16)
    url = f"{STATUS_URL}?ref={claimed.id}.{claimed.attempt}"
    policy = DispatcherSettings.from_config(app.config).retry
    report = SendReport(claimed, DeliveryResult(Outcome.ACCEPTED, provider_ref=sid))
    if receipt_first:
        answer = _post_receipt(app, fake_twilio, url, sid, "undelivered", code)
        if code in TRANSIENT_RECEIPT_CODES:
            assert _delivery(db_session).status == "sending"  # left to the lease holder
    apply_reports(db_session, "worker-a", [report], policy)
    db_session.commit()
    if not receipt_first:
        answer = _post_receipt(app, fake_twilio, url, sid, "undelivered", code)
    return answer


@pytest.mark.parametrize("receipt_first", [True, False], ids=["receipt_first", "record_first"])
@pytest.mark.parametrize(
    ("code", "status"),
    [("30005", "undelivered"), ("30006", "undelivered"), ("21610", "opted_out")],
)
def test_permanent_undelivered_is_not_sent_again(
    dispatch_app, db_session, desk, fake_twilio, code, status, receipt_first
):
    _publish(db_session, desk)
    answer = _send_with_receipt(
        dispatch_app, db_session, fake_twilio, code, receipt_first=receipt_first
    )
    assert answer == status

    delivery = _delivery(db_session)
    assert (delivery.status, delivery.error_code) == (status, code)
    assert delivery.error == f"Twilio undelivered ({code})"
    assert delivery.provider_ref is not None and delivery.lease_owner is None
    resident = db_session.scalars(select(Subscriber).where(Subscriber.phone == PHONE)).one()
    assert (resident.sms_opted_out_at is not None) == (code == "21610")
    run_dispatcher(dispatch_app)
    assert _sent_to_resident(fake_twilio) == []

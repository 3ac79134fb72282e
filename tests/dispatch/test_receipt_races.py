"""A Twilio receipt that overtakes the worker: the same outcome whichever arrives first.

Twilio may POST the status callback of a message before the worker that sent
it has recorded that Twilio accepted it, while the row is still ``sending``
under the worker's lease. An "undelivered" for a transient reason must then
still bring the SMS again (or fail it when out of attempts), and anything
else the receipt says must survive the worker's record.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select, update

from alerts.config import settings as settings_of
from alerts.dispatch.channels_config import channel_factories
from alerts.dispatch.claim import claim_batch, reclaim_expired
from alerts.dispatch.outcomes import SendReport, apply_reports
from alerts.dispatch.worker import Dispatcher, DispatcherSettings
from alerts.models import Delivery, Notice, Subscriber
from channels.base import DeliveryResult, Outcome
from channels.providers.twilio import TRANSIENT_RECEIPT_ERROR_CODES
from tests.delivery import create_subscriber, expand_all, run_dispatcher

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
    notice = desk.publish(channels=["sms"], **payload)
    expand_all(db_session)  # its delivery row, as a dispatcher writes it
    return notice


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
    policy = DispatcherSettings.from_app(app).retry
    report = SendReport(claimed, DeliveryResult(Outcome.ACCEPTED, provider_ref=sid))
    if receipt_first:
        answer = _post_receipt(app, fake_twilio, url, sid, "undelivered", code)
        if code in TRANSIENT_RECEIPT_ERROR_CODES:
            assert _delivery(db_session).status == "sending"  # left to the lease holder
    apply_reports(db_session, "worker-a", [report], policy)
    db_session.commit()
    if not receipt_first:
        answer = _post_receipt(app, fake_twilio, url, sid, "undelivered", code)
    return answer


@pytest.mark.parametrize("receipt_first", [True, False], ids=["receipt_first", "record_first"])
def test_transient_undelivered_sends_the_sms_again(
    dispatch_app, db_session, desk, fake_twilio, receipt_first
):
    _publish(db_session, desk)
    before = datetime.now(UTC)
    answer = _send_with_receipt(
        dispatch_app, db_session, fake_twilio, "30003", receipt_first=receipt_first
    )
    assert answer == "retry"

    delivery = _delivery(db_session)
    assert delivery.status == "pending"
    # Backoff with jitter: VARSLA_RETRY_BASE_S 0.05 gives 25-50 ms after the first attempt.
    assert before + timedelta(seconds=0.025) <= delivery.not_before
    assert delivery.not_before <= datetime.now(UTC) + timedelta(seconds=0.05)
    assert delivery.provider_ref is None
    assert delivery.lease_owner is None and delivery.lease_expires_at is None
    assert (delivery.error_code, delivery.error) == ("30003", "Twilio undelivered (30003)")

    run_dispatcher(dispatch_app)
    [body] = _sent_to_resident(fake_twilio)
    assert body.startswith("Koka vattnet i Gesunda")
    delivery = _delivery(db_session)
    assert (delivery.status, delivery.attempts) == ("accepted", 2)
    assert delivery.error_code is None


@pytest.mark.parametrize("receipt_first", [True, False], ids=["receipt_first", "record_first"])
def test_transient_undelivered_on_the_last_attempt_fails(
    dispatch_app, db_session, desk, fake_twilio, receipt_first
):
    notice = _publish(db_session, desk)
    # Two attempts already went (VARSLA_MAX_ATTEMPTS is 3): the claim makes the third.
    db_session.execute(update(Delivery).where(Delivery.notice_id == notice.id).values(attempts=2))
    db_session.commit()
    answer = _send_with_receipt(
        dispatch_app, db_session, fake_twilio, "30008", receipt_first=receipt_first
    )
    assert answer == "failed"

    delivery = _delivery(db_session)
    assert (delivery.status, delivery.attempts, delivery.error_code) == ("failed", 3, "30008")
    assert delivery.error == "gave up after 3 attempts: Twilio undelivered (30008)"
    assert delivery.lease_owner is None
    run_dispatcher(dispatch_app)
    assert _sent_to_resident(fake_twilio) == []
    assert _delivery(db_session).status == "failed"


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


def test_replayed_transient_receipt_changes_nothing(dispatch_app, db_session, desk, fake_twilio):
    _publish(db_session, desk)
    [claimed] = claim_batch(db_session, "worker-a", 10, lease_s=60)
    db_session.commit()
    sid = "SM" + secrets.token_hex(16)
    url = f"{STATUS_URL}?ref={claimed.id}.{claimed.attempt}"
    assert _post_receipt(dispatch_app, fake_twilio, url, sid, "undelivered", "30003") == "retry"
    # Twilio repeats a callback it thinks we did not take; an older "sent" overtook it.
    assert _post_receipt(dispatch_app, fake_twilio, url, sid, "undelivered", "30003") == "ignored"
    assert _post_receipt(dispatch_app, fake_twilio, url, sid, "sent", None) == "ignored"
    policy = DispatcherSettings.from_app(dispatch_app).retry
    report = SendReport(claimed, DeliveryResult(Outcome.ACCEPTED, provider_ref=sid))
    apply_reports(db_session, "worker-a", [report], policy)
    db_session.commit()
    queued = _delivery(db_session)
    assert queued.status == "pending"

    assert _post_receipt(dispatch_app, fake_twilio, url, sid, "undelivered", "30003") == "ignored"
    again = _delivery(db_session)
    assert (again.status, again.not_before, again.provider_ref) == (
        "pending",
        queued.not_before,
        None,
    )


@pytest.mark.parametrize("receipt_first", [True, False], ids=["receipt_first", "record_first"])
def test_an_expired_notice_is_not_sent_again(
    dispatch_app, db_session, desk, fake_twilio, receipt_first
):
    in_an_hour = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    notice = _publish(db_session, desk, expires=in_an_hour)

    def expire() -> None:
        db_session.execute(
            update(Notice)
            .where(Notice.id == notice.id)
            .values(expires=datetime.now(UTC) - timedelta(seconds=1))
        )
        db_session.commit()

    _send_with_receipt(
        dispatch_app,
        db_session,
        fake_twilio,
        "30003",
        receipt_first=receipt_first,
        meanwhile=expire,
    )
    run_dispatcher(dispatch_app)  # a claim settles what is still queued
    assert _sent_to_resident(fake_twilio) == []
    delivery = _delivery(db_session)
    assert delivery.status == "dropped" and delivery.lease_owner is None
    assert "expired" in delivery.error


@pytest.mark.parametrize("receipt_first", [True, False], ids=["receipt_first", "record_first"])
def test_after_the_all_clear_only_the_all_clear_is_sent(
    dispatch_app, db_session, desk, fake_twilio, receipt_first
):
    notice = _publish(db_session, desk)
    _send_with_receipt(
        dispatch_app,
        db_session,
        fake_twilio,
        "30003",
        receipt_first=receipt_first,
        meanwhile=lambda: desk.cancel(notice),
    )
    run_dispatcher(dispatch_app)  # writes the all-clear's rows, then sends
    [body] = _sent_to_resident(fake_twilio)
    assert body.startswith("AVBLÅST: Faran över i Gesunda")
    original = _delivery(db_session, revision_number=1)
    assert original.status == "dropped" and "superseded" in original.error
    assert _delivery(db_session, revision_number=2).status == "accepted"


class _CallsBackBeforeAnswering:
    """Twilio's side of the race: the receipt reaches us before the worker hears "accepted"."""

    def __init__(self, channel, app, fake, codes: list[str]):
        self.channel, self.app, self.fake, self.codes = channel, app, fake, codes

    def __getattr__(self, name):
        return getattr(self.channel, name)

    def send(self, recipient, message):
        result = self.channel.send(recipient, message)
        if result.outcome is Outcome.ACCEPTED and self.codes:
            sent = self.fake.get(result.provider_ref)
            code = self.codes.pop(0)
            _post_receipt(self.app, self.fake, sent.status_callback, sent.sid, "undelivered", code)
        return result

    async def send_async(self, recipient, message):
        # The dispatcher's sender runs on an event loop; the receipt is posted from a
        # thread, as Twilio's would arrive on another connection, before the answer.
        return await asyncio.to_thread(self.send, recipient, message)


def _dispatch_with_early_receipts(app, fake_twilio, codes: list[str]) -> None:
    factories = channel_factories(settings_of(app))
    sms = factories["sms"]
    factories["sms"] = lambda: _CallsBackBeforeAnswering(sms(), app, fake_twilio, codes)
    settings = DispatcherSettings.from_app(app, concurrency=1)
    Dispatcher(app, settings, factories=factories).run(until_idle=True, idle_wait_s=1.0)


def test_worker_sends_again_after_an_early_handset_off_receipt(
    dispatch_app, db_session, desk, fake_twilio
):
    _publish(db_session, desk)
    _dispatch_with_early_receipts(dispatch_app, fake_twilio, ["30003"])
    first, second = _sent_to_resident(fake_twilio)
    assert first == second and first.startswith("Koka vattnet i Gesunda")
    delivery = _delivery(db_session)
    assert (delivery.status, delivery.attempts, delivery.error_code) == ("accepted", 2, None)


def test_worker_gives_up_after_early_receipts_use_up_the_attempts(
    dispatch_app, db_session, desk, fake_twilio
):
    _publish(db_session, desk)
    _dispatch_with_early_receipts(dispatch_app, fake_twilio, ["30003", "30008", "30003", "30003"])
    assert len(_sent_to_resident(fake_twilio)) == 3  # VARSLA_MAX_ATTEMPTS
    delivery = _delivery(db_session)
    assert (delivery.status, delivery.error_code) == ("failed", "30003")
    assert delivery.error == "gave up after 3 attempts: Twilio undelivered (30003)"


def test_after_a_worker_died_the_next_attempts_receipts_count(
    dispatch_app, db_session, desk, fake_twilio
):
    """A transient receipt marked the row, then its worker died before recording the send.
    The reclaimed row's next attempt has a new SID: its receipts must not look stale."""
    _publish(db_session, desk)
    [claimed] = claim_batch(db_session, "worker-a", 10, lease_s=60)
    db_session.commit()
    dead_sid = "SM" + secrets.token_hex(16)
    dead_url = f"{STATUS_URL}?ref={claimed.id}.{claimed.attempt}"
    assert _post_receipt(dispatch_app, fake_twilio, dead_url, dead_sid, "undelivered", "30003") == (
        "retry"
    )
    # worker-a is gone; its lease runs out and the scheduler takes the row back.
    db_session.execute(
        update(Delivery)
        .where(Delivery.id == claimed.id)
        .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    reclaimed = reclaim_expired(db_session)
    db_session.commit()
    assert reclaimed == 1 and _delivery(db_session).provider_ref is None

    run_dispatcher(dispatch_app)
    [message] = [m for m in fake_twilio.messages if m.to == PHONE]
    delivery = _delivery(db_session)
    assert (delivery.status, delivery.attempts) == ("accepted", 2)
    url = f"{STATUS_URL}?ref={delivery.id}.2"
    assert _post_receipt(dispatch_app, fake_twilio, url, message.sid, "delivered", None) == (
        "delivered"
    )

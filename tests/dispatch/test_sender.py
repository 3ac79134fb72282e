"""The sender: claimed batches go out on an event loop, bounded, once each, and are recorded.

Through the real Twilio SDK (``messages.create_async``) against the fake Twilio
server, and SMTP (smtplib, a thread per connection) against aiosmtpd; the fakes count what a resident would
receive, how many requests were in flight at once and how many SMTP
connections carried the messages.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from alerts.dispatch.worker import Dispatcher, DispatcherSettings
from alerts.models import Delivery, Subscriber
from tests.conftest import running_app
from tests.delivery import add_residents, create_subscriber, provider_config, run_dispatcher


@pytest.fixture
def dispatch_app(database_url, tmp_path, fake_twilio, fake_smtp):
    """As tests.delivery's, with a patient Twilio timeout: on a busy shared machine a slow
    answer past 0.5 s is sent again (rightly: Twilio may not have it), which is not what
    these tests count. Four SMTP connections per dispatcher."""
    config = provider_config(fake_twilio, fake_smtp) | {
        "VARSLA_TWILIO_TIMEOUT_S": 5.0,
        "VARSLA_SMTP_CONNECTIONS": 4,
    }
    with running_app(database_url, tmp_path, **config) as app:
        yield app


def _statuses(session, notice) -> Counter[str]:
    session.expire_all()
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.notice_id == notice.id)
        .group_by(Delivery.status)
    ).all()
    return Counter({status: count for status, count in rows})


def test_every_sms_is_sent_once_and_recorded_with_bounded_concurrency(
    dispatch_app, db_session, desk, fake_twilio
):
    phones = add_residents(db_session, 60)
    fake_twilio.faults.update({phones[0]: "21211", phones[1]: "500"})
    fake_twilio.latency_s = 0.1  # long enough for requests to overlap
    db_session.commit()
    notice = desk.publish(channels=["sms"])

    run_dispatcher(dispatch_app, concurrency=8)

    received = Counter(m.to for m in fake_twilio.messages)
    assert set(received) == set(phones[2:]) and set(received.values()) == {1}
    assert 2 < fake_twilio.max_in_flight <= 8  # in parallel, never more than allowed
    assert _statuses(db_session, notice) == {"accepted": 58, "failed": 2}
    rows = {
        phone: delivery
        for delivery, phone in db_session.execute(
            select(Delivery, Subscriber.phone)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.notice_id == notice.id)
        )
    }
    sids = {m.to: m.sid for m in fake_twilio.messages}
    assert all(rows[phone].provider_ref == sids[phone] for phone in phones[2:])
    assert (rows[phones[0]].error_code, rows[phones[0]].attempts) == ("21211", 1)
    assert (rows[phones[1]].error_code, rows[phones[1]].attempts) == ("20500", 3)


def test_the_shared_rate_holds_on_the_event_loop(dispatch_app, db_session, desk, fake_twilio):
    add_residents(db_session, 30)
    db_session.commit()
    desk.publish(channels=["sms"])
    started = time.time()
    run_dispatcher(dispatch_app, concurrency=50, rates={"sms": 10.0, "email": 0.0})

    times = sorted(m.created for m in fake_twilio.messages)
    assert len(times) == 30
    # 10 a second with a burst of one second's worth: by any moment, at most the burst and
    # what has refilled since the start went out; 30 took at least 2 s.
    assert all(n <= 10 + 10 * (t - started) for n, t in enumerate(times, start=1))
    assert times[-1] - started >= 1.9


def test_email_batch_reuses_a_few_connections_in_parallel(
    dispatch_app, db_session, desk, fake_smtp
):
    addresses = [f"boende{n}@example.se" for n in range(40)]
    for address in addresses:
        create_subscriber(db_session, email=address)
    db_session.commit()
    fake_smtp.latency_s = 0.03
    notice = desk.publish(channels=["email"])

    run_dispatcher(dispatch_app, concurrency=16)

    received = Counter(mail.rcpt_tos[0] for mail in fake_smtp.received)
    assert set(received) == set(addresses) and set(received.values()) == {1}
    # VARSLA_SMTP_CONNECTIONS (4) connections at most, more than one used, each reused.
    assert 2 <= fake_smtp.session_count <= 4
    assert _statuses(db_session, notice) == {"accepted": 40}


def test_an_smtp_connection_dropped_mid_batch_loses_nothing(
    dispatch_app, db_session, desk, fake_smtp
):
    addresses = [f"boende{n}@example.se" for n in range(60)]
    for address in addresses:
        create_subscriber(db_session, email=address)
    db_session.commit()
    fake_smtp.latency_s = 0.02
    notice = desk.publish(channels=["email"])

    def drop_while_sending() -> None:
        for _ in range(3):
            while len(fake_smtp.received) < 10:
                time.sleep(0.005)
            fake_smtp.drop_connections()
            time.sleep(0.15)

    dropper = threading.Thread(target=drop_while_sending, daemon=True)
    dropper.start()
    run_dispatcher(dispatch_app, concurrency=16)
    dropper.join(5)

    received = Counter(mail.rcpt_tos[0] for mail in fake_smtp.received)
    assert set(received) == set(addresses)  # nobody lost
    # A drop can only repeat a message whose reply it cut off: one per connection at most.
    assert sum(received.values()) - len(addresses) <= 3 * 4
    assert _statuses(db_session, notice) == {"accepted": 60}
    assert fake_smtp.session_count > 1  # the drops really forced new connections


def test_a_worker_stopped_mid_batch_records_what_it_sent_and_sends_nothing_twice(
    dispatch_app, db_session, desk, fake_twilio
):
    phones = add_residents(db_session, 120)
    db_session.commit()
    fake_twilio.latency_s = 0.1
    notice = desk.publish(channels=["sms"])
    settings = DispatcherSettings.from_app(dispatch_app, concurrency=10, batch_size=20)
    dispatcher = Dispatcher(dispatch_app, settings)
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    thread.start()
    while len(fake_twilio.messages) < 15:
        time.sleep(0.005)
    dispatcher.stop()
    thread.join(30)
    assert not thread.is_alive()

    statuses = _statuses(db_session, notice)
    sent_before = len(fake_twilio.messages)
    assert statuses["sending"] == 0  # what was in flight was finished and recorded
    assert statuses["accepted"] == sent_before < 120
    assert statuses["pending"] == 120 - sent_before

    run_dispatcher(dispatch_app, concurrency=10)
    received = Counter(m.to for m in fake_twilio.messages)
    assert set(received) == set(phones) and set(received.values()) == {1}
    assert _statuses(db_session, notice) == {"accepted": 120}

"""Erasing a resident (GDPR): nothing of theirs stays, nothing more reaches them."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from alerts.models import Delivery, OutboxMessage, Subscriber, SubscriberLocation
from tests.delivery import count_rows, create_subscriber, expand_all, run_dispatcher


@pytest.fixture
def dispatch_app(outbox_app):
    """Email lands in the local outbox here: no SMTP server is configured."""
    return outbox_app


def test_an_erased_resident_leaves_no_trace_and_gets_no_all_clear(
    dispatch_app, db_session, desk, fake_twilio
):
    anna = create_subscriber(db_session, phone="+46701000001", email="anna@example.se")
    bo = create_subscriber(db_session, phone="+46701000002")
    db_session.commit()
    anna_id, bo_id = anna.id, bo.id
    notice = desk.publish()
    run_dispatcher(dispatch_app)
    assert sorted(m.to for m in fake_twilio.messages) == ["+46701000001", "+46701000002"]
    # Email has no provider here: the local outbox keeps a copy, with Anna's address.
    assert count_rows(db_session, OutboxMessage, OutboxMessage.recipient == "anna@example.se") == 1

    result = dispatch_app.test_cli_runner().invoke(
        args=["residents", "erase", "--phone", "070-100 00 01", "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert "Erased 1 resident: 1 address, 2 deliveries, 1 local outbox message." in result.output
    assert count_rows(db_session, Subscriber, Subscriber.id == anna_id) == 0
    assert (
        count_rows(db_session, SubscriberLocation, SubscriberLocation.subscriber_id == anna_id) == 0
    )
    assert count_rows(db_session, Delivery, Delivery.subscriber_id == anna_id) == 0
    assert count_rows(db_session, OutboxMessage, OutboxMessage.recipient == "anna@example.se") == 0
    assert count_rows(db_session, Delivery, Delivery.subscriber_id == bo_id) == 1

    fake_twilio.clear()
    desk.cancel(db_session.get(type(notice), notice.id))
    run_dispatcher(dispatch_app)
    assert [m.to for m in fake_twilio.messages] == ["+46701000002"]


def test_erasing_someone_unknown_says_so(dispatch_app):
    runner = dispatch_app.test_cli_runner()
    result = runner.invoke(args=["residents", "erase", "--email", "nobody@example.se", "--yes"])
    assert result.exit_code == 1
    assert "No resident with that phone number or email address" in result.output
    result = runner.invoke(args=["residents", "erase", "--phone", "12", "--yes"])
    assert result.exit_code == 2
    assert "not a" in result.output


def test_a_delivery_whose_resident_vanished_is_dropped_not_sent(
    dispatch_app, db_session, desk, fake_twilio
):
    """Deliveries have no foreign key to subscribers: a row can outlive its resident
    when the erasure races a publish. The dispatcher must settle it, not choke on it."""
    gone = create_subscriber(db_session, phone="+46701000001")
    create_subscriber(db_session, phone="+46701000002")
    db_session.commit()
    notice = desk.publish()
    expand_all(db_session)
    db_session.execute(
        delete(SubscriberLocation).where(SubscriberLocation.subscriber_id == gone.id)
    )
    db_session.execute(delete(Subscriber).where(Subscriber.id == gone.id))
    db_session.commit()

    run_dispatcher(dispatch_app)

    assert [m.to for m in fake_twilio.messages] == ["+46701000002"]
    db_session.expire_all()
    statuses = dict(
        db_session.execute(
            select(Delivery.subscriber_id, Delivery.status).where(Delivery.notice_id == notice.id)
        ).all()
    )
    assert statuses[gone.id] == "dropped"

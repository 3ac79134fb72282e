"""Who was sent what is forgotten a set time after a notice ended; the notice stays public."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from alerts.dispatch.retention import purge_expired
from alerts.models import Delivery, Notice, OutboxMessage
from alerts.scheduling import run_all_once
from tests.conftest import running_app
from tests.delivery import count_rows, create_subscriber, provider_config, run_dispatcher


@pytest.fixture
def dispatch_app(outbox_app):
    """Email lands in the local outbox here: no SMTP server is configured."""
    return outbox_app


def _sent_and_ended(app, session, desk) -> tuple[Notice, Notice]:
    create_subscriber(session, phone="+46701000001", email="anna@example.se")
    session.commit()
    ended = desk.publish()
    run_dispatcher(app)
    desk.cancel(session.get(Notice, ended.id))
    run_dispatcher(app)
    live = desk.publish()
    run_dispatcher(app)
    return ended, live


def test_deliveries_of_a_long_ended_notice_are_forgotten(dispatch_app, db_session, desk):
    ended, live = _sent_and_ended(dispatch_app, db_session, desk)
    assert count_rows(db_session, Delivery, Delivery.notice_id == ended.id) == 4  # alert, all-clear
    assert count_rows(db_session, OutboxMessage) == 3  # the emails, kept locally

    just_before = ended.ended_at + timedelta(days=365) - timedelta(seconds=1)
    assert not purge_expired(db_session, days=365, now=just_before)
    assert not purge_expired(db_session, days=0, now=ended.ended_at + timedelta(days=9999))

    purged = purge_expired(db_session, days=365, now=ended.ended_at + timedelta(days=366))
    db_session.commit()
    assert (purged.deliveries, purged.outbox_messages) == (4, 3)  # the live one's copy is old too
    assert count_rows(db_session, Delivery, Delivery.notice_id == ended.id) == 0
    assert count_rows(db_session, Delivery, Delivery.notice_id == live.id) == 2
    assert count_rows(db_session, Notice, Notice.id == ended.id) == 1  # the notice stays public


def test_the_scheduler_purges_with_the_configured_retention(database_url, tmp_path, fake_twilio):
    config = provider_config(fake_twilio, None) | {"VARSLA_DELIVERY_RETENTION_DAYS": 1 / 86400}
    with running_app(database_url, tmp_path, **config) as app:
        from alerts.extensions import db
        from tests.delivery import Desk

        session = db.sessionmaker()
        desk = Desk(session)
        ended, live = _sent_and_ended(app, session, desk)
        time.sleep(1.1)  # the retention is one second
        run_all_once(app)
        assert count_rows(session, Delivery, Delivery.notice_id == ended.id) == 0
        assert count_rows(session, Delivery, Delivery.notice_id == live.id) == 2
        session.close()

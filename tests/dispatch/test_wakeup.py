"""An idle dispatcher starts sending when a notice is published, not at its next poll."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from alerts.dispatch.wakeup import CHANNEL, Listener
from alerts.dispatch.worker import Dispatcher, DispatcherSettings
from tests.conftest import running_app
from tests.delivery import Desk, create_subscriber, provider_config

#: Far longer than any wake-up may take: a send within it was not the poll's doing.
POLL_S = 60.0


def _wait_for(predicate, timeout_s: float = 10.0) -> float | None:
    """Seconds until ``predicate()`` held, or None if it never did."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.01)
    return None


def test_an_idle_dispatcher_sends_as_soon_as_a_notice_is_published(
    dispatch_app, db_session, desk, fake_twilio
):
    create_subscriber(db_session, phone="+46701000001")
    db_session.commit()
    settings = DispatcherSettings.from_app(dispatch_app, concurrency=2, poll_s=POLL_S)
    dispatcher = Dispatcher(dispatch_app, settings)
    thread = threading.Thread(target=dispatcher.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # it has looked, found nothing, and sleeps for POLL_S
        desk.publish(channels=["sms"])
        waited = _wait_for(lambda: fake_twilio.messages)
        assert waited is not None and waited < POLL_S / 6, waited
        assert [m.to for m in fake_twilio.messages] == ["+46701000001"]
    finally:
        dispatcher.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.fixture
def pg_app(pg_url, tmp_path, fake_twilio):
    with running_app(pg_url, tmp_path, **provider_config(fake_twilio, None)) as app:
        yield app


@pytest.mark.postgres
def test_postgres_wakes_workers_elsewhere_at_commit_only(pg_app, pg_url):
    """Workers on other hosts hear of new deliveries by NOTIFY, sent when the publishing
    transaction commits, and never for one that rolled back."""
    from sqlalchemy.engine import make_url

    from alerts.extensions import db

    wake = threading.Event()
    listener = Listener(make_url(pg_url), wake, check_every_s=0.2).start()
    try:
        assert _wait_for(wake.is_set) is not None  # connected and listening
        wake.clear()
        session = db.sessionmaker()
        desk = Desk(session)
        create_subscriber(session, phone="+46701000001")
        session.commit()

        session.execute(text(f"NOTIFY {CHANNEL}"))
        session.rollback()
        assert _wait_for(wake.is_set, timeout_s=1.0) is None

        desk.publish(channels=["sms"])
        assert _wait_for(wake.is_set) is not None
        session.close()
    finally:
        listener.stop()

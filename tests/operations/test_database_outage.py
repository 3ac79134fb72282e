"""Workers ride out a database that drops their connections (a restart, a failover)."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from alerts.dispatch.worker import Dispatcher, DispatcherSettings
from tests.conftest import running_app
from tests.delivery import (
    Desk,
    add_residents,
    provider_config,
    start_workers,
    statuses,
    stop_workers,
    wait_until_sent,
)
from tests.fakes.twilio_server import FakeTwilio


def test_the_dispatcher_waits_out_database_errors_and_loses_nothing(
    dispatch_app, db_session, desk, fake_twilio, monkeypatch
):
    phones = add_residents(db_session, 30)
    notice = desk.publish(channels=["sms"])
    settings = DispatcherSettings.from_app(
        dispatch_app, concurrency=4, batch_size=10, poll_s=0.05, outage_wait_s=0.05
    )
    dispatcher = Dispatcher(dispatch_app, settings)
    failures = {"claim": 2, "record": 2}
    claim, record = dispatcher._claim, dispatcher._record

    def flaky(name, real):
        def call(*args, **kwargs):
            if failures[name] > 0:
                failures[name] -= 1
                raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(dispatcher, "_claim", flaky("claim", claim))
    # _record retries three times itself; fail it past that, as a longer outage would.
    failures["record"] = 4
    monkeypatch.setattr(dispatcher, "_record", flaky("record", record))
    dispatcher.run(until_idle=True, idle_wait_s=0.5)

    assert failures == {"claim": 0, "record": 0}
    assert statuses(db_session, notice) == {"accepted": 30}
    sent = Counter(m.to for m in fake_twilio.messages)
    assert sorted(sent) == sorted(phones) and set(sent.values()) == {1}


@pytest.mark.postgres
def test_workers_survive_their_connections_being_terminated(pg_url, tmp_path):
    """A shortened bench/faults.py postgres: every connection to the database is killed
    (what a restart does to clients) again and again while two workers send."""
    with (
        FakeTwilio(latency_s=0.02) as fake,
        running_app(pg_url, tmp_path, **provider_config(fake, None)),
    ):
        from alerts.extensions import db

        session = db.sessionmaker()
        desk = Desk(session)
        phones = add_residents(session, 800)
        workers = start_workers(2, pg_url, fake, "--concurrency", "8", "--batch-size", "20")
        try:
            time.sleep(3)
            notice = desk.publish(channels=["sms"])
            session.close()
            terminated = 0
            while len(fake.messages) < 700 and terminated < 20:
                with db.require_engine().connect() as conn:
                    terminated += 1
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                    conn.commit()
                time.sleep(0.3)
            session = db.sessionmaker()
            wait_until_sent(session, notice, workers, timeout_s=90)
            assert all(w.poll() is None for w in workers), "a worker exited"
        finally:
            outputs = stop_workers(workers)
        assert terminated >= 3, "the outage did not happen during the sends"
        assert statuses(session, notice) == {"accepted": 800}, outputs
        sent = Counter(m.to for m in fake.messages)
        assert set(sent) == set(phones), "lost"
        # A send whose outcome could not be recorded before its lease ran out may go twice;
        # with the default lease (120 s) and a short outage, none does.
        assert set(sent.values()) == {1}, "duplicated"
        session.close()

"""The fault scenarios of bench/faults.py, shortened to seconds.

A provider outage (500s, then timeouts) with a short backoff; the SMTP server
down and back; the embedded SQLite default on a full or read-only disk. (Workers
SIGKILLed during a fan-out: tests/dispatch/test_workers_postgres.py.)
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections import Counter

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from alerts.db import make_engine
from alerts.dispatch.outcomes import RetryPolicy
from alerts.extensions import db
from alerts.migrate import upgrade
from alerts.models import Delivery, FanoutJob, Notice
from tests.conftest import make_test_app, running_app
from tests.delivery import (
    Desk,
    add_residents,
    expand_all,
    provider_config,
    run_dispatcher,
    statuses,
)
from tests.factories import api_headers
from tests.fakes.smtp_server import FakeSmtp
from tests.operations.outage import Outage

RESIDENTS = 20


@pytest.mark.parametrize("fault", ["500", "timeout"])
def test_provider_outage_then_recovery_everything_sent_once_backoff_honoured(
    dispatch_app, db_session, desk, fake_twilio, fault
):
    outage = fake_twilio.faults = Outage()
    phones = add_residents(db_session, RESIDENTS)
    outage_s, base_s, max_s = 1.5, 0.2, 0.4
    outage.start(fault)
    notice = desk.publish(channels=["sms"])
    # From the first send: on a busy CI machine the dispatcher took longer to start than the
    # outage lasted, and met none of it.
    outage.schedule([(fault, outage_s)], from_first_request=True)

    run_dispatcher(
        dispatch_app,
        retry=RetryPolicy(max_attempts=30, base_s=base_s, max_s=max_s),
        # Room for every first try at once: with fewer, timed-out sends held the slots and
        # on a busy machine some first tries fell after the outage.
        concurrency=RESIDENTS,
    )

    assert statuses(db_session, notice) == {"accepted": RESIDENTS}
    sent = Counter(m.to for m in fake_twilio.messages)
    assert sorted(sent) == sorted(phones) and set(sent.values()) == {1}, "lost or duplicated"
    # Backoff: a delivery waits at least base/2, then base, then max/2 between tries (equal
    # jitter), so in the outage each tries at most 1 + outage / (base / 2) times; without
    # backoff 20 sends in flight would have made thousands of requests.
    assert RESIDENTS <= outage.during <= RESIDENTS * (1 + outage_s / (base_s / 2))
    assert outage.outside == RESIDENTS


def test_smtp_server_down_and_back(database_url, tmp_path):
    smtp = FakeSmtp()  # its port is chosen, nothing listens yet
    config = provider_config(None, smtp)
    with running_app(database_url, tmp_path, **config) as app:
        from alerts.extensions import db

        session = db.sessionmaker()
        desk = Desk(session)
        emails = [f"r{n}@example.se" for n in range(10)]
        from tests.delivery import create_subscriber

        for email in emails:
            create_subscriber(session, email=email)
        session.commit()
        notice = desk.publish(channels=["email"])
        threading.Timer(1.0, smtp.start).start()
        try:
            run_dispatcher(app, retry=RetryPolicy(max_attempts=30, base_s=0.2, max_s=0.4))
            assert statuses(session, notice) == {"accepted": 10}
            received = Counter(r for mail in smtp.received for r in mail.rcpt_tos)
            assert sorted(received) == sorted(emails) and set(received.values()) == {1}
        finally:
            session.close()
            smtp.stop()


# --- the embedded default on a disk that will not take writes -------------------------


def _seeded_sqlite(tmp_path, residents: int):
    """A migrated SQLite file with the desk, residents and an approved notice; its URL."""
    url = f"sqlite:///{tmp_path / 'varsla.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = make_test_app(url, tmp_path)
    with app.app_context():
        from alerts.extensions import db

        session = db.sessionmaker()
        desk = Desk(session)
        add_residents(session, residents)
        notice = desk.approved(channels=["sms"])
        headers = api_headers(session, desk.approver)
        session.commit()
        notice_id = str(notice.id)
        session.close()
        db.engine.dispose()
    return url, notice_id, headers


def _state(url: str, notice_id: str) -> tuple[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        status = conn.scalar(select(Notice.status).where(Notice.id == uuid.UUID(notice_id)))
        rows = conn.scalar(select(func.count()).select_from(Delivery))
    engine.dispose()
    return str(status), rows


def _job_state(url: str) -> tuple[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        state, chunks = conn.execute(select(FanoutJob.state, FanoutJob.chunks)).one()
    engine.dispose()
    return str(state), chunks


def test_disk_full_sqlite_fan_out_waits_for_space_and_nothing_is_half_written(tmp_path):
    """The publish writes only its fan-out job, which fits where 3,000 deliveries do not: a
    chunk the worker cannot write fails whole and is written once the disk has room."""
    url, notice_id, headers = _seeded_sqlite(tmp_path, 3000)
    engine = make_engine(url)
    limit = {"pages": None}

    @event.listens_for(engine, "connect")
    def _small_disk(dbapi_conn, _record) -> None:
        if limit["pages"] is not None:
            dbapi_conn.execute(f"PRAGMA max_page_count = {limit['pages']}")

    with engine.connect() as conn:
        used = conn.exec_driver_sql("PRAGMA page_count").scalar()
    limit["pages"] = used + 2  # no room for 3,000 delivery rows
    engine.dispose()
    app = make_test_app(url, tmp_path, VARSLA_ENGINE=engine)
    client = app.test_client()
    with app.app_context():
        response = client.post(f"/api/v1/notices/{notice_id}/publish", json={}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        session = db.sessionmaker()
        with pytest.raises(OperationalError, match="full"):
            expand_all(session)
        session.close()
        assert client.get("/").status_code == 200  # reading still works
        engine.dispose()
    assert _state(url, notice_id) == ("active", 0)
    assert _job_state(url) == ("pending", 0)  # nothing of the failed chunk was kept

    limit["pages"] = None  # the operator frees space
    with app.app_context():
        session = db.sessionmaker()
        expand_all(session)
        session.close()
        engine.dispose()
    assert _state(url, notice_id) == ("active", 3000)
    assert _job_state(url) == ("done", 2)  # 1,000 first, then the rest


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a tmpfs of our own when root may mount one (remountable read-only), else
    a plain folder (made read-only by its mode); (folder, mounted)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = os.geteuid() == 0 and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield folder, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


def test_read_only_sqlite_publish_is_refused_clearly_and_nothing_is_half_written(
    tmp_path, small_disk
):
    folder, mounted = small_disk
    url, notice_id, headers = _seeded_sqlite(folder, 50)
    database = folder / "varsla.sqlite3"
    # Checkpoint, so the file alone holds everything.
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        database.chmod(0o444)
        folder.chmod(0o555)
    try:
        app = make_test_app(url, tmp_path)
        client = app.test_client()
        with app.app_context():
            response = client.post(f"/api/v1/notices/{notice_id}/publish", json={}, headers=headers)
            assert response.status_code == 503, response.get_data(as_text=True)
            detail = response.get_json()["detail"]
            assert "read-only" in detail or "cannot be opened" in detail, detail
            assert "Nothing was saved" in detail
            from alerts.extensions import db

            db.require_engine().dispose()
    finally:
        if mounted:
            subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
        else:
            folder.chmod(0o755)
            database.chmod(0o644)
    assert _state(url, notice_id) == ("approved", 0)

"""Several ``varsla worker`` processes keep to one VARSLA_SMS_RATE together, not each."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from alerts.models import Delivery, Subscriber, SubscriberLocation
from tests.conftest import running_app
from tests.fakes.twilio_server import FakeTwilio

from .conftest import GESUNDA_LON_LAT, Desk, provider_config

ROOT = Path(__file__).resolve().parents[2]
RESIDENTS = 120
WORKERS = 3
RATE = 20  # SMS per second for the installation
BURST = max(1, RATE)  # what the bucket holds when full


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def pg_app(pg_url, tmp_path, twilio):
    with running_app(pg_url, tmp_path, **provider_config(twilio, None)) as app:
        yield app


def _residents(session) -> set[str]:
    phones = [f"+4673{n:07d}" for n in range(RESIDENTS)]
    now = datetime.now(UTC)
    ids = session.scalars(
        insert(Subscriber).returning(Subscriber.id),
        [{"phone": phone, "language": "sv", "verified_at": now} for phone in phones],
    ).all()
    session.execute(
        insert(SubscriberLocation),
        [{"subscriber_id": i, "lon": GESUNDA_LON_LAT[0], "lat": GESUNDA_LON_LAT[1]} for i in ids],
    )
    session.commit()
    return set(phones)


@pytest.mark.postgres
def test_workers_together_keep_to_the_installations_sms_rate(pg_app, pg_url, twilio):
    from alerts.db import db

    session = db.sessionmaker()
    desk = Desk(session)
    phones = _residents(session)
    env = {
        **os.environ,
        "VARSLA_DATABASE_URL": pg_url,
        "VARSLA_SECRET_KEY": "test-secret",
        "VARSLA_BASE_URL": "http://varsla.test",
        "VARSLA_SMS_RATE": str(RATE),
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM": "Gesunda",
        "VARSLA_TWILIO_API_URL": twilio.url,
    }
    # A small claim window, so every worker holds some of the rows and sends all along.
    command = [
        sys.executable, "-m", "flask", "--app", "wsgi", "worker",
        "--concurrency", "4", "--batch-size", "4",
    ]  # fmt: skip
    workers = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(WORKERS)
    ]
    outputs: list[str] = []
    try:
        for worker in workers:  # all are up before the alert goes out
            assert worker.stdout is not None
            banner = ""
            while not banner.startswith("worker "):
                line = worker.stdout.readline().decode()
                assert line, "a worker exited before it started"
                banner = line
        notice = desk.publish(channels=["sms"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            session.expire_all()
            open_rows = session.scalar(
                select(func.count()).where(
                    Delivery.notice_id == notice.id, Delivery.status.in_(["pending", "sending"])
                )
            )
            if open_rows == 0:
                break
            assert all(w.poll() is None for w in workers), "a worker died"
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                outputs.append(worker.communicate(timeout=20)[0].decode())
            except subprocess.TimeoutExpired:
                worker.kill()
                outputs.append("(did not stop on SIGTERM)\n" + worker.communicate()[0].decode())

    session.expire_all()
    statuses = dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.notice_id == notice.id)
            .group_by(Delivery.status)
        ).all()
    )
    assert statuses == {"accepted": RESIDENTS}, "\n".join(o[-2000:] for o in outputs)
    messages = twilio.messages
    assert Counter(m.to for m in messages) == Counter(phones)  # every SMS once
    sent_by = [re.search(r"stopped: .*'accepted': (\d+)", out) for out in outputs]
    assert all(match and int(match[1]) > 0 for match in sent_by), outputs  # all three sent

    created = sorted(m.created for m in messages)
    seconds = created[-1] - created[0]
    rate = (len(created) - BURST) / seconds
    print(
        f"\n{len(created)} SMS from {WORKERS} workers in {seconds:.2f} s: {rate:.1f}/s after the burst"
    )
    assert rate <= 1.15 * RATE
    session.close()

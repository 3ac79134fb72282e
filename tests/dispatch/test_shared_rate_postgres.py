"""Several ``varsla worker`` processes keep to one VARSLA_SMS_RATE together, not each."""

from __future__ import annotations

import re
from collections import Counter

import pytest

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


@pytest.mark.postgres
def test_workers_together_keep_to_the_installations_sms_rate(pg_app, pg_url, twilio):
    from alerts.extensions import db

    session = db.sessionmaker()
    desk = Desk(session)
    phones = add_residents(session, RESIDENTS)
    # A small claim window, so every worker holds some of the rows and sends all along.
    workers = start_workers(
        WORKERS, pg_url, twilio, "--concurrency", "4", "--batch-size", "4", sms_rate=RATE
    )
    try:
        for worker in workers:  # all are up before the alert goes out
            assert worker.stdout is not None
            banner = ""
            while not banner.startswith("worker "):
                line = worker.stdout.readline().decode()
                assert line, "a worker exited before it started"
                banner = line
        notice = desk.publish(channels=["sms"])
        wait_until_sent(session, notice, alive=workers)
    finally:
        outputs = stop_workers(workers)

    assert statuses(session, notice) == {"accepted": RESIDENTS}, "\n".join(
        o[-2000:] for o in outputs
    )
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

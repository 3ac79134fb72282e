"""Fixtures for dispatch tests: local Twilio and SMTP servers, an app wired to them, residents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from alerts.dispatch import fanout
from alerts.models import Delivery, FanoutJob, FanoutState, Notice, Subscriber, SubscriberLocation
from alerts.notices.operations import (
    approve_notice,
    cancel_notice,
    create_notice,
    publish_notice,
    submit_notice,
    update_notice,
)
from alerts.notices.schemas import CancelIn, NoticeChangesIn, NoticeIn
from tests.conftest import running_app
from tests.factories import GESUNDA_BOX, create_operator, create_zone, notice_payload
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_server import FakeTwilio

ROOT = Path(__file__).resolve().parents[1]

#: The tests' Twilio timeout, and how long the fake's "timeout" fault keeps a request:
#: well past it, so that fault is a timeout however busy the machine.
TWILIO_TIMEOUT_S = 2.0
TIMEOUT_FAULT_S = 4.0

#: Inside the Gesunda test zone.
GESUNDA_LON_LAT = ((GESUNDA_BOX[0] + GESUNDA_BOX[2]) / 2, (GESUNDA_BOX[1] + GESUNDA_BOX[3]) / 2)


@pytest.fixture
def fake_twilio():
    with FakeTwilio(timeout_sleep_s=TIMEOUT_FAULT_S, retry_after_s=0) as fake:
        yield fake


@pytest.fixture
def fake_smtp():
    with FakeSmtp() as fake:
        yield fake


def provider_config(fake_twilio: FakeTwilio | None, fake_smtp: FakeSmtp | None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "VARSLA_SMS_RATE": 0.0,  # unlimited: tests measure behaviour, not pacing
        "VARSLA_EMAIL_RATE": 0.0,
        "VARSLA_RETRY_BASE_S": 0.05,
        "VARSLA_RETRY_MAX_S": 0.2,
        "VARSLA_MAX_ATTEMPTS": 3,
        # Long enough for a loaded CI machine: at 0.5 s an answer that came late was a
        # timeout, the send was tried again, and the fake counted one SMS twice.
        "VARSLA_TWILIO_TIMEOUT_S": TWILIO_TIMEOUT_S,
        "VARSLA_MAIL_FROM": "Gesunda vatten <varsla@varsla.test>",
    }
    if fake_twilio is not None:
        config.update(
            TWILIO_ACCOUNT_SID=fake_twilio.account_sid,
            TWILIO_AUTH_TOKEN=fake_twilio.auth_token,
            TWILIO_FROM="Gesunda",
            VARSLA_TWILIO_API_URL=fake_twilio.url,
        )
    if fake_smtp is not None:
        config["VARSLA_SMTP_URL"] = fake_smtp.url
    return config


@pytest.fixture
def dispatch_app(database_url, tmp_path, fake_twilio, fake_smtp):
    """The app on the suite's database, sending SMS to FakeTwilio and email to FakeSmtp."""
    with running_app(database_url, tmp_path, **provider_config(fake_twilio, fake_smtp)) as app:
        yield app


@pytest.fixture
def outbox_app(database_url, tmp_path, fake_twilio):
    """SMS to FakeTwilio, email to the local outbox (no SMTP configured)."""
    with running_app(database_url, tmp_path, **provider_config(fake_twilio, None)) as app:
        yield app


@pytest.fixture
def db_session(dispatch_app):
    from alerts.extensions import db

    session = db.sessionmaker()
    yield session
    session.close()


def create_subscriber(
    session,
    *,
    phone: str | None = None,
    email: str | None = None,
    language: str = "sv",
    lon_lat: tuple[float, float] = GESUNDA_LON_LAT,
    verified: bool = True,
    **fields: Any,
) -> Subscriber:
    now = datetime.now(UTC) if verified else None
    fields.setdefault("phone_verified_at", now if phone else None)
    fields.setdefault("email_verified_at", now if email else None)
    subscriber = Subscriber(phone=phone, email=email, language=language, verified_at=now, **fields)
    subscriber.locations.append(SubscriberLocation(lon=lon_lat[0], lat=lon_lat[1]))
    session.add(subscriber)
    session.flush()
    return subscriber


class Desk:
    """Two operators who write, approve and publish notices (the two-person rule)."""

    def __init__(self, session):
        self.session = session
        create_zone(session)
        self.author = create_operator(session, "author", "author@test.varsla.se")
        self.approver = create_operator(session, "approver", "approver@test.varsla.se")
        session.commit()

    def _release(self, notice: Notice) -> Notice:
        approve_notice(self.session, notice, by=self.approver)
        publish_notice(self.session, notice, by=self.approver)
        self.session.commit()
        return notice

    def publish(self, **payload: Any) -> Notice:
        notice = create_notice(
            self.session, NoticeIn.model_validate(notice_payload(**payload)), by=self.author
        )
        submit_notice(self.session, notice, by=self.author)
        return self._release(notice)

    def publish_approved(self, notice: Notice) -> Notice:
        publish_notice(self.session, notice, by=self.approver)
        self.session.commit()
        return notice

    def approved(self, **payload: Any) -> Notice:
        """A notice written, submitted and approved: one publish call from going out."""
        notice = create_notice(
            self.session, NoticeIn.model_validate(notice_payload(**payload)), by=self.author
        )
        submit_notice(self.session, notice, by=self.author)
        approve_notice(self.session, notice, by=self.approver)
        self.session.commit()
        return notice

    def update(self, notice: Notice, **changes: Any) -> Notice:
        update_notice(self.session, notice, NoticeChangesIn.model_validate(changes), by=self.author)
        return self._release(notice)

    def cancel(self, notice: Notice) -> Notice:
        cancel_notice(self.session, notice, CancelIn(), by=self.author)
        return self._release(notice)


@pytest.fixture
def desk(db_session) -> Desk:
    return Desk(db_session)


def run_dispatcher(app, *, owner: str | None = None, **overrides: Any) -> dict[str, int]:
    """Dispatch until nothing is due (retries with a short backoff included), as the
    worker ``owner`` (default: a new one)."""
    from alerts.dispatch.worker import Dispatcher, DispatcherSettings

    # A short poll: tests drain retries whose backoff is a few tens of milliseconds.
    settings = DispatcherSettings.from_app(app, **{"concurrency": 4, "poll_s": 0.05, **overrides})
    return Dispatcher(app, settings, owner=owner).run(until_idle=True, idle_wait_s=1.0)


def expand_all(session, **options: Any) -> list[fanout.Expanded]:
    """Expand every open fan-out job, as a dispatcher does before sending (one chunk per
    transaction); what each chunk did."""
    return fanout.expand_all(session, "tests", **options)


def open_fanout_jobs(session, notice: Notice | None = None) -> int:
    """Fan-out jobs (of ``notice``) not yet expanded to their end."""
    session.expire_all()
    where = [FanoutJob.state.in_([FanoutState.PENDING, FanoutState.EXPANDING])]
    if notice is not None:
        where.append(FanoutJob.notice_id == notice.id)
    return session.scalar(select(func.count()).select_from(FanoutJob).where(*where))


def add_residents(session, count: int) -> list[str]:
    """``count`` verified SMS subscribers in Gesunda, in bulk; their numbers."""
    phones = [f"+4673{n:07d}" for n in range(count)]
    now = datetime.now(UTC)
    ids = session.scalars(
        insert(Subscriber).returning(Subscriber.id),
        [
            {"phone": phone, "language": "sv", "verified_at": now, "phone_verified_at": now}
            for phone in phones
        ],
    ).all()
    lon, lat = GESUNDA_LON_LAT
    session.execute(
        insert(SubscriberLocation), [{"subscriber_id": i, "lon": lon, "lat": lat} for i in ids]
    )
    session.commit()
    return phones


def start_workers(
    count: int, database_url: str, fake_twilio: FakeTwilio, *options: str, sms_rate: float = 0
) -> list[subprocess.Popen]:
    """``count`` ``varsla worker`` processes sending SMS to ``fake_twilio``."""
    env = {
        **os.environ,
        "VARSLA_DATABASE_URL": database_url,
        "VARSLA_SECRET_KEY": "test-secret",
        "VARSLA_BASE_URL": "http://varsla.test",
        "VARSLA_SMS_RATE": str(sms_rate),
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
        "TWILIO_FROM": "Gesunda",
        "VARSLA_TWILIO_API_URL": fake_twilio.url,
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *options]
    return [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(count)
    ]


def wait_until_sent(
    session, notice: Notice, alive: list[subprocess.Popen], timeout_s: float = 60
) -> None:
    """Until ``notice``'s fan-out is written and none of its deliveries is pending or
    sending; every process in ``alive`` must stay up meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        session.expire_all()
        open_rows = open_fanout_jobs(session, notice) + session.scalar(
            select(func.count()).where(
                Delivery.notice_id == notice.id, Delivery.status.in_(["pending", "sending"])
            )
        )
        if open_rows == 0:
            return
        assert all(w.poll() is None for w in alive), "a worker died"
        time.sleep(0.2)


def stop_workers(workers: list[subprocess.Popen]) -> list[str]:
    """SIGTERM the workers still running, and the output of each."""
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    outputs = []
    for worker in workers:
        try:
            outputs.append(worker.communicate(timeout=20)[0].decode())
        except subprocess.TimeoutExpired:
            worker.kill()
            outputs.append("(did not stop on SIGTERM)\n" + worker.communicate()[0].decode())
    return outputs


def statuses(session, notice: Notice) -> dict[str, int]:
    """How many of the notice's deliveries are in each status."""
    session.expire_all()
    return dict(
        session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.notice_id == notice.id)
            .group_by(Delivery.status)
        ).all()
    )


def count_rows(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where))

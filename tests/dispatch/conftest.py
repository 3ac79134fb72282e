"""Fixtures for dispatch tests: local Twilio and SMTP servers, an app wired to them, residents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.models import Notice, Subscriber, SubscriberLocation
from alerts.notices import (
    approve_notice,
    cancel_notice,
    create_notice,
    publish_notice,
    submit_notice,
    update_notice,
)
from alerts.schemas import CancelIn, NoticeChangesIn, NoticeIn
from tests.conftest import running_app
from tests.factories import GESUNDA_BOX, create_operator, create_zone, notice_payload
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_server import FakeTwilio

#: Inside the Gesunda test zone.
GESUNDA_LON_LAT = ((GESUNDA_BOX[0] + GESUNDA_BOX[2]) / 2, (GESUNDA_BOX[1] + GESUNDA_BOX[3]) / 2)


@pytest.fixture
def fake_twilio():
    with FakeTwilio(timeout_sleep_s=2, retry_after_s=0) as fake:
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
        "VARSLA_TWILIO_TIMEOUT_S": 0.5,
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
def db_session(dispatch_app):
    from alerts.db import db

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
    subscriber = Subscriber(
        phone=phone,
        email=email,
        language=language,
        verified_at=datetime.now(UTC) if verified else None,
        **fields,
    )
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


def run_dispatcher(app, **overrides: Any) -> dict[str, int]:
    """Dispatch until nothing is due (retries with a short backoff included)."""
    from alerts.dispatch.worker import Dispatcher, DispatcherSettings

    # A short poll: tests drain retries whose backoff is a few tens of milliseconds.
    settings = DispatcherSettings.from_config(
        app.config, **{"concurrency": 4, "poll_s": 0.05, **overrides}
    )
    return Dispatcher(app, settings).run(until_idle=True, idle_wait_s=1.0)
